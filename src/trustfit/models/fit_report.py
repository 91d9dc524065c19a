"""``ModelResult.fit_report()``: lmfit's report layout (model, fit statistics, variables with
standard errors and initial values, correlations above ``min_correl``), with trustfit's stop
reason, its meaning, and the diagnosis' findings."""
from __future__ import annotations

import numpy as np

from ..analysis.report import MEANING

__all__ = ["fit_report"]


def _g(v) -> str:
    return f"{v:.8g}" if v is not None and np.isfinite(v) else str(v)


def parameter_line(p, init) -> str:
    text = f"{p.name}:  {_g(p.value)}"
    if p.stderr is not None and np.isfinite(p.stderr):
        rel = f" ({100 * abs(p.stderr / p.value):.2f}%)" if p.value else ""
        text += f" +/- {_g(p.stderr)}{rel}"
    elif p.expr is None and p.vary:
        text += " +/- undetermined"
    if p.expr is not None:
        text += f" == '{p.expr}'"
    elif not p.vary:
        text += " (fixed)"
    elif init is not None:
        text += f" (init = {init:.8g})"
    return text


def fit_report(res, min_correl: float = 0.1, show_correl: bool = True) -> str:
    r = res.result
    lines = ["[[Model]]", f"    {res.model!r}", "[[Fit Statistics]]",
             f"    # fitting method   = {res.method}",
             f"    # function evals   = {res.nfev}",
             f"    # data points      = {res.ndata}",
             f"    # variables        = {res.nvarys}",
             f"    chi-square         = {_g(res.chisqr)}",
             f"    reduced chi-square = {_g(res.redchi)}",
             f"    Akaike info crit   = {_g(res.aic)}",
             f"    Bayesian info crit = {_g(res.bic)}",
             f"    R-squared          = {_g(res.rsquared)}",
             "[[Stop]]",
             f"    {r.stop_reason.name}: {r.message}",
             f"    Meaning: {MEANING.get(r.stop_reason.name, '')}",
             "[[Variables]]"]
    for n, p in res.params.items():
        lines.append("    " + parameter_line(p, res.init_params[n].value))
    if show_correl:
        pairs = []
        names = res.var_names
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                c = (res.params[a].correl or {}).get(b)
                if c is not None and np.isfinite(c) and abs(c) >= min_correl:
                    pairs.append((abs(c), a, b, c))
        if pairs:
            lines.append(f"[[Correlations]] (unreported correlations are < {min_correl:.3f})")
            for _, a, b, c in sorted(pairs, reverse=True):
                lines.append(f"    C({a}, {b}) = {c:+.4f}")
    findings = list(res.diagnosis)
    lines.append("[[Findings]]" + ("" if findings else " none"))
    for f in findings:
        lines.append(f"    [{f.severity}] {f.code}: {f.message}")
    return "\n".join(lines)
