"""``BatchResult._repr_html_``: a notebook summary of a batch fit.

Counts per stop reason (with ``success`` and the meaning of each), the diagnosis counts, the
per-parameter median and 5-95 % range over the converged curves, the curves' non-finite
derivative notes, and, where matplotlib is installed, a histogram of one parameter over the
converged curves as an inline PNG (drawn on a bare ``matplotlib.figure.Figure``: no pyplot,
no backend touched).
"""
from __future__ import annotations

import base64
import io

import numpy as np

from ..analysis.html_parts import escape, number, table, wrap
from ..core.result import StopReason

__all__ = ["batch_result_html", "histogram_png"]


def histogram_png(values: np.ndarray, name: str, bins: int = 40) -> bytes | None:
    """A small PNG histogram of ``values`` (finite ones), or None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    fig = Figure(figsize=(4.2, 2.4), layout="constrained")
    ax = fig.subplots()
    ax.hist(v, bins=bins, color="#4c78a8")
    ax.set_xlabel(name)
    ax.set_ylabel("curves")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def batch_result_html(res, param: str | None = None) -> str:
    summary = res.summary()
    reasons: dict[StopReason, int] = {}
    for r in res.stop_reason:
        reasons.setdefault(r, 0)
        reasons[r] += 1
    stop_rows = [[f"<code>{escape(r.name)}</code>", "yes" if r.converged else "no", str(c)]
                 for r, c in sorted(reasons.items(), key=lambda kv: -kv[1])]
    ok = np.asarray(res.success, dtype=bool)
    param_rows = []
    with np.errstate(all="ignore"):
        for k, name in enumerate(res.param_names):
            col = res.params[ok, k]
            col = col[np.isfinite(col)]
            if col.size:
                lo, med, hi = np.percentile(col, [5, 50, 95])
            else:
                lo = med = hi = np.nan
            param_rows.append([f"<code>{escape(name)}</code>", number(med), number(lo),
                               number(hi)])
    parts = [f"<p style=\"margin:0.2em 0\">{summary['n_curves']} curves, method "
             f"<code>{escape(res.method)}</code>, backend <code>{escape(res.backend)}</code>: "
             f"<b>{summary['n_success']}</b> converged, {summary['n_rescued']} rescued</p>",
             table(["stop reason", "success", "curves"], stop_rows, [False, False, True]),
             table(["parameter", "median (converged)", "5 %", "95 %"], param_rows,
                   [False, True, True, True])]
    if summary["diagnosis"]:
        parts.append(table(["diagnosis", "curves"],
                           [[escape(k), str(v)] for k, v in summary["diagnosis"].items()],
                           [False, True]))
    for note in summary.get("nonfinite", []):
        parts.append(f"<p style=\"margin:0.2em 0;color:#a36100\">{escape(note)}</p>")
    name = param if param is not None else (res.param_names[0] if res.param_names else None)
    if name is not None and ok.any():
        png = histogram_png(res.params[ok, res.param_names.index(name)], name)
        if png is not None:
            data = base64.b64encode(png).decode("ascii")
            parts.append(f'<img alt="histogram of {escape(name)}" '
                         f'src="data:image/png;base64,{data}">')
    return wrap("BatchResult", *parts)
