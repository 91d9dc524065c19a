"""Brief and full text reports of a :class:`~trustfit.FitResult` (Ceres' ``BriefReport`` /
``FullReport``, lmfit's ``fit_report``).

* brief: the stop reason and what it means, cost and reduced chi-square, the parameter table
  (value, standard error, 95% asymptotic interval; "undetermined" for parameters in a
  direction the data do not determine), correlations above ``CORRELATION = 0.9``, the
  findings (one line each) and what trustfit did (rescue, polish; without the per-restart
  details);
* full: also the run (iterations, evaluations, step kinds), goodness of fit (chi2, dof, R^2,
  AIC, BIC), the covariance rank and cut-off, every finding with its advice and value against
  its threshold, and what the rescue layer did.

A layer over the result: it reads the result, computes statistics and the diagnosis, and
never runs the fit.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from ..core import validate as check
from .diagnostics import NULL_COMPONENT, diagnose
from .uncertainty import confidence_intervals, covariance, goodness_of_fit
from ..core.events import RescueRestart
from ..core.result import FitResult
from ..core.sparse_linalg import is_large

CORRELATION = 0.9
LEVEL = 0.95

MEANING = {
    "GRADIENT": "the gradient vanished: a stationary point, normally a minimum.",
    "COST": "the cost stopped decreasing: a minimum to within ftol.",
    "ROUNDING": "no step can lower the cost in floating point any more: a minimum to "
                "machine precision.",
    "STEP": "the steps became negligible; a minimum unless the diagnosis says the point is "
            "not stationary.",
    "MAX_NFEV": "the fit was cut off; the best point so far is returned, not a minimum.",
    "MAX_ITER": "the fit was cut off; the best point so far is returned, not a minimum.",
    "CALLBACK": "the callback asked to stop; the point is where the fit was, not a minimum.",
    "LINE_SEARCH_FAILED": "the search direction did not decrease the cost; not a minimum.",
    "NO_PROGRESS": "no acceptable step could be found; not a minimum.",
    "STALLED": "a test fired, but the point is not stationary: not a minimum (see the "
               "findings).",
    "DEGENERATE": "a test fired where the parameters are not determined: a symmetric or "
                  "rank-deficient point; see the findings for which parameters.",
}


def _names(result: FitResult) -> list[str]:
    if not isinstance(result, FitResult):
        raise TypeError(f"report needs a FitResult, got {type(result).__name__}.")
    names = check.param_names(result.param_names, result.x.size)
    return names if names is not None else [f"x[{j}]" for j in range(result.x.size)]


def _g(v: float) -> str:
    return f"{v:.6g}" if np.isfinite(v) else str(v)


def html(result: FitResult) -> str:
    """The brief report as an HTML block for notebooks (:mod:`trustfit.analysis.html`)."""
    from .html import fit_result_html

    return fit_result_html(result, MEANING)


def report(result: FitResult, full: bool = False) -> str:
    """The text report; ``full=False`` gives the brief one. Numbers beyond the range of
    floats (a relative error of 1e-300 / 1e-10) print as ``inf``, without a warning."""
    with np.errstate(all="ignore"):
        return _report(result, full)


def _report(result: FitResult, full: bool) -> str:
    names = _names(result)
    try:
        cov = covariance(result)
    except ValueError as exc:  # a sparse Jacobian too large to densify: values only
        if not is_large(result.jac):
            raise
        return _report_without_covariance(result, full, names, str(exc))
    ci = confidence_intervals(result, LEVEL, cov=cov)
    gof = goodness_of_fit(result)
    diagnosis = diagnose(result)
    lines = _status_lines(result)
    lines.append(f"Cost {_g(result.cost)} (chi-square {_g(gof.chi2)}, reduced "
                 f"{_g(gof.redchi)}, {gof.nobs} residuals, {gof.nparams} parameters).")
    if full:
        kinds = Counter(h.step_kind for h in result.history)
        kinds_text = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        lines.append(f"Run: {result.nit} iterations ({kinds_text or 'none'}), {result.nfev} "
                     f"evaluations, {result.nfev_fd} more for finite differences "
                     f"(jac: {result.jac_method}), {result.njev} Jacobians.")
        lines.append(f"Goodness of fit: dof {gof.dof}, R^2 {_g(gof.r2)}, AIC {_g(gof.aic)}, "
                     f"BIC {_g(gof.bic)}.")
        lines.append(f"Covariance: rank {cov.rank} of {result.x.size} (cut-off "
                     f"{cov.rcond:.2g} of the largest singular value of the column-scaled "
                     f"Jacobian), residual variance {_g(cov.residual_variance)}"
                     f"{' (absolute sigma)' if result.absolute_sigma else ''}.")
    width = max(9, max(len(n) for n in names))
    lines.append("")
    lines.append(f"{'Parameter':<{width}}  {'Value':>14}  {'Std. error':>11}  "
                 f"{'Rel.':>7}  {int(LEVEL * 100)}% interval")
    se = cov.stderr
    # Parameters in an undetermined direction have no standard error of their own (the
    # pseudo-inverse only describes the determined combinations): shown as such.
    undetermined = (np.any(np.abs(cov.null_space) >= NULL_COMPONENT, axis=1)
                    if cov.rank_deficient else np.zeros(len(names), dtype=bool))
    for j, name in enumerate(names):
        rel = se[j] / abs(result.x[j]) if result.x[j] != 0 else np.nan
        rel_text = f"{100 * rel:6.2g}%" if np.isfinite(rel) else "      -"
        flag = ""
        if result.active_mask[j] != 0:
            flag = "  at bound"
        elif result.x0 is not None and result.x[j] == result.x0[j]:
            flag = "  at initial value"
        if undetermined[j]:
            lines.append(f"{name:<{width}}  {result.x[j]:>14.7g}  {'undetermined':>11}  "
                         f"{'-':>7}  -{flag}")
            continue
        lines.append(f"{name:<{width}}  {result.x[j]:>14.7g}  {se[j]:>11.4g}  {rel_text}  "
                     f"[{ci[j, 0]:.6g}, {ci[j, 1]:.6g}]{flag}")
    if cov.rank_deficient:
        lines.append("  (rank-deficient Jacobian: the data do not determine the parameters "
                     "marked undetermined, only combinations of them; see rank_deficient "
                     "below. The covariance matrix is the pseudo-inverse.)")
    corr = cov.correlation
    pairs = [(abs(corr[i, j]), i, j) for i in range(len(names)) for j in range(i + 1, len(names))
             if np.isfinite(corr[i, j]) and abs(corr[i, j]) > CORRELATION]
    if pairs:
        lines.append("")
        lines.append(f"Correlations above {CORRELATION}:")
        for _, i, j in sorted(pairs, reverse=True):
            lines.append(f"  {names[i]}, {names[j]}: {corr[i, j]:+.4f}")
    lines.append("")
    if len(diagnosis) == 0:
        lines.append("Findings: none.")
    else:
        lines.append("Findings:")
        for f in diagnosis:
            lines.append(f"  [{f.severity}] {f.code}: {f.message}")
            if full:
                lines.append(f"      advice: {f.advice}")
                numbers = [f"{label} {v:.4g}" for label, v in (("value", f.value),
                                                               ("threshold", f.threshold))
                           if np.isfinite(v)]
                if numbers:
                    lines.append("      " + ", ".join(numbers))
    if result.events:
        lines.append("")
        lines.append("What trustfit did:")
        events = (result.events if full else
                  [e for e in result.events if not isinstance(e, RescueRestart)])
        for e in events:
            lines.append(f"  {e}")
    return "\n".join(lines)


def _status_lines(result: FitResult) -> list[str]:
    """The report's first lines: the status, the stop reason and what it means."""
    reason = result.stop_reason
    status = "converged" if result.success else ("usable, not converged" if reason.usable
                                                 else "not usable")
    return [f"Fit with method '{result.method}': {status}.",
            f"Stop reason {reason.name}: {result.message}",
            f"  Meaning: {MEANING.get(reason.name, '')}"]


def _report_without_covariance(result: FitResult, full: bool, names: list[str],
                               why: str) -> str:
    """The report of a fit whose covariance is not formed (a sparse or operator Jacobian
    beyond :func:`~trustfit.analysis.uncertainty.dense_jacobian`'s limits): the status, the
    values and the findings, and why there are no standard errors."""
    lines = _status_lines(result)
    lines.append(f"Cost {_g(result.cost)} ({result.fun.size} residuals, {result.x.size} "
                 f"parameters, {result.nit} iterations, {result.nfev} evaluations).")
    lines.append(f"Standard errors: none; {why}")
    shown = names if full or len(names) <= 20 else names[:10]
    width = max(9, max(len(n) for n in shown))
    lines.append("")
    lines.append(f"{'Parameter':<{width}}  {'Value':>14}")
    for j, name in enumerate(shown):
        lines.append(f"{name:<{width}}  {result.x[j]:>14.7g}")
    if len(shown) < len(names):
        lines.append(f"... {len(names) - len(shown)} more (report(full=True) lists them all)")
    lines.append("")
    diagnosis = diagnose(result)
    lines.append("Findings: none." if len(diagnosis) == 0 else "Findings:")
    for f in diagnosis:
        lines.append(f"  [{f.severity}] {f.code}: {f.message}")
    return "\n".join(lines)
