"""Small HTML pieces for notebooks' ``_repr_html_`` (Jupyter shows a result as a table).

Pure string building with every user-given text escaped; imports nothing from trustfit, so the
diagnosis, the report layer and the model and batch layers can all use it. The output is one
``<div>`` with inline styles only (notebooks strip ``<style>`` blocks from untrusted output).
"""
from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["escape", "findings_html", "number", "table", "wrap"]

_TABLE = "border-collapse:collapse;margin:0.3em 0;font-size:0.92em"
_CELL = "padding:0.15em 0.7em;border-bottom:1px solid #ddd;text-align:{align}"
_SEVERITY_COLORS = {"error": "#b00020", "warning": "#a36100", "info": "#1f5fa0"}


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def number(v: Any, digits: int = 6) -> str:
    """A number for a table cell: ``digits`` significant digits, ``-`` for None/NaN."""
    if v is None:
        return "-"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return escape(v)
    if math.isnan(f):
        return "-"
    return escape(f"{f:.{digits}g}")


def table(header: Sequence[str], rows: Iterable[Sequence[str]],
          numeric: Sequence[bool] | None = None) -> str:
    """An HTML table; cells are already-escaped HTML. ``numeric`` columns align right."""
    numeric = numeric or [False] * len(header)
    head = "".join(f'<th style="{_CELL.format(align="right" if n else "left")}">'
                   f"{escape(h)}</th>" for h, n in zip(header, numeric, strict=True))
    body = []
    for row in rows:
        cells = "".join(f'<td style="{_CELL.format(align="right" if n else "left")}">{c}</td>'
                        for c, n in zip(row, numeric, strict=True))
        body.append(f"<tr>{cells}</tr>")
    return f'<table style="{_TABLE}"><tr>{head}</tr>{"".join(body)}</table>'


def findings_html(findings: Iterable) -> str:
    """The findings (objects with ``severity``, ``code``, ``message``, ``advice``) as a list,
    or "No findings." """
    items = []
    for f in findings:
        color = _SEVERITY_COLORS.get(f.severity, "#333")
        advice = f"<br><span style=\"color:#555\">{escape(f.advice)}</span>" if f.advice else ""
        items.append(f'<li><b style="color:{color}">{escape(f.severity)}</b> '
                     f"<code>{escape(f.code)}</code>: {escape(f.message)}{advice}</li>")
    if not items:
        return "<p>No findings.</p>"
    return f'<ul style="margin:0.2em 0;padding-left:1.4em">{"".join(items)}</ul>'


def wrap(title: str, *parts: str) -> str:
    """One block: a bold title line, then the parts."""
    return (f'<div style="font-family:sans-serif;line-height:1.35">'
            f"<p style=\"margin:0.2em 0\"><b>{title}</b></p>{''.join(parts)}</div>")
