"""Notebook tables (``_repr_html_``) for :class:`Parameters` and :class:`ModelResult`."""
from __future__ import annotations

import numpy as np

from ..analysis.html_parts import escape, findings_html, number, table, wrap

__all__ = ["escape", "model_result_html", "parameters_html"]


def _constraint(p) -> str:
    if p.expr is not None:
        return f"<code>= {escape(p.expr)}</code>"
    return "" if p.vary else "fixed"


def parameters_html(params, init=None) -> str:
    """One row per parameter: value, standard error (after a fit), bounds, fixed/expr."""
    fitted = any(p.stderr is not None for p in params.values())
    header = ["name", "value"] + (["std. error", "rel."] if fitted else []) + \
        (["initial"] if init is not None else []) + ["min", "max", ""]
    rows = []
    for n, p in params.items():
        row = [f"<code>{escape(n)}</code>", number(p.value, 8)]
        if fitted:
            rel = (abs(p.stderr / p.value) if p.stderr is not None and p.value else None)
            row += [number(p.stderr, 4), "-" if rel is None else f"{100 * rel:.3g}%"]
        if init is not None:
            row.append(number(init[n].value) if init[n].expr is None else "")
        row += [number(p.min) if np.isfinite(p.min) else "", number(p.max)
                if np.isfinite(p.max) else "", _constraint(p)]
        rows.append(row)
    numeric = [False, True] + ([True, True] if fitted else []) + \
        ([True] if init is not None else []) + [True, True, False]
    return table(header, rows, numeric)


def model_result_html(res) -> str:
    r = res.result
    color = "#1b7a1b" if r.success else "#b00020"
    state = "converged" if r.success else "not converged"
    head = (f"<p style=\"margin:0.2em 0\"><b style=\"color:{color}\">{state}</b> &mdash; "
            f"<code>{escape(r.stop_reason.name)}</code>: {escape(r.message)}</p>")
    stats = table(["data points", "variables", "chi-square", "reduced chi-square", "R²",
                   "AIC", "BIC", "evaluations"],
                  [[str(res.ndata), str(res.nvarys), number(res.chisqr), number(res.redchi),
                    number(res.rsquared), number(res.aic), number(res.bic), str(res.nfev)]],
                  [True] * 8)
    return wrap(f"Fit of {escape(repr(res.model))}", head, stats,
                parameters_html(res.params, res.init_params),
                "<p style=\"margin:0.2em 0\"><b>Findings</b></p>", findings_html(res.diagnosis))
