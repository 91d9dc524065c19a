"""``FitResult._repr_html_``: the brief report as an HTML table for notebooks.

The same content as :func:`trustfit.analysis.report.report` (brief): the outcome and stop
reason with its meaning, cost and reduced chi-square, the parameters with standard errors and
95% intervals ("undetermined" in a direction the data do not determine), and the findings.
"""
from __future__ import annotations

import numpy as np

from ..core import validate as check
from .diagnostics import NULL_COMPONENT, diagnose
from .html_parts import escape, findings_html, number, table, wrap
from ..core.sparse_linalg import is_large
from .uncertainty import confidence_intervals, covariance, goodness_of_fit

__all__ = ["fit_result_html"]

LEVEL = 0.95


def fit_result_html(result, meaning: dict[str, str]) -> str:
    """The HTML block; ``meaning`` maps a stop reason's name to its plain-words meaning
    (:data:`trustfit.analysis.report.MEANING`)."""
    with np.errstate(all="ignore"):
        names = check.param_names(result.param_names, result.x.size)
        names = names if names is not None else [f"x[{j}]" for j in range(result.x.size)]
        try:
            cov = covariance(result)
        except ValueError:  # a sparse Jacobian too large to densify: values only
            if not is_large(result.jac):
                raise
            cov = None
        ci = confidence_intervals(result, LEVEL, cov=cov) if cov is not None else None
        gof = goodness_of_fit(result)
        undetermined = (np.any(np.abs(cov.null_space) >= NULL_COMPONENT, axis=1)
                        if cov is not None and cov.rank_deficient
                        else np.zeros(len(names), dtype=bool))
        rows = []
        for j, name in enumerate(names):
            if cov is None or ci is None:
                rows.append([escape(name), number(result.x[j], 8), "not formed", "-"])
                continue
            if undetermined[j]:
                rows.append([escape(name), number(result.x[j], 8), "undetermined", "-"])
                continue
            rows.append([escape(name), number(result.x[j], 8), number(cov.stderr[j], 4),
                         f"[{number(ci[j, 0])}, {number(ci[j, 1])}]"])
        reason = result.stop_reason
        state = "converged" if result.success else ("usable, not converged" if reason.usable
                                                    else "not usable")
        color = "#1b7a1b" if result.success else "#b00020"
        head = (f"<p style=\"margin:0.2em 0\"><b style=\"color:{color}\">{escape(state)}</b> "
                f"&mdash; <code>{escape(reason.name)}</code>: {escape(result.message)}<br>"
                f"<span style=\"color:#555\">{escape(meaning.get(reason.name, ''))}</span></p>"
                f"<p style=\"margin:0.2em 0\">cost {number(result.cost)}, reduced chi-square "
                f"{number(gof.redchi)}, {gof.nobs} residuals, {result.nfev} evaluations</p>")
        params = table(["parameter", "value", "std. error", f"{int(LEVEL * 100)}% interval"],
                       rows, [False, True, True, False])
        return wrap(f"FitResult (method '{escape(result.method)}')", head, params,
                    "<p style=\"margin:0.2em 0\"><b>Findings</b></p>",
                    findings_html(diagnose(result)))
