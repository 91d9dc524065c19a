"""The text report and the notebook table of a :class:`~.global_result.GlobalFitResult`:
the outcome and stop reason, the shared parameters with standard errors and correlations,
chi-square overall and per data set (all of them with ``full=True``, else the first and the
worst few), and the findings."""
from __future__ import annotations

import numpy as np

from ..analysis.html_parts import escape, findings_html, number, table, wrap

#: Data sets listed in the brief report (the worst by reduced chi-square, then the first).
BRIEF_ROWS = 10


def _rows(result, full: bool) -> list[int]:
    K = len(result.names)
    if full or K <= BRIEF_ROWS:
        return list(range(K))
    worst = np.argsort(-np.nan_to_num(result.redchi_sets, nan=-np.inf), kind="stable")
    return sorted(set(worst[:BRIEF_ROWS // 2].tolist()) | set(range(BRIEF_ROWS // 2)))


def report(result, full: bool = False) -> str:
    K = len(result.names)
    state = "converged (certified)" if result.success else "NOT converged"
    lines = [f"Global fit of {K} data sets ({int(np.sum(result.npoints))} points, "
             f"{result.x.size} parameters): {state}",
             f"  {result.stop_reason.name}: {result.message}",
             f"  chi-square {result.chisqr:.6g}, reduced chi-square {result.redchi:.6g} "
             f"({result.nfree} degrees of freedom), {result.nit} iterations, "
             f"{result.nfev} evaluations",
             "  covariance " + ("from sigma as given (absolute_sigma=True)"
                                if result.absolute_sigma else
                                "scaled by the reduced chi-square"),
             "", "Shared parameters:"]
    for name, v, s in zip(result.shared_names, result.shared_values, result.shared_stderr):
        rel = f" ({100 * s / abs(v):.3g} %)" if v != 0 and np.isfinite(s) else ""
        lines.append(f"  {name:>12} = {v:.10g} +/- {s:.4g}{rel}")
    ns = len(result.shared_names)
    if ns > 1:
        lines.append("Correlations of the shared parameters:")
        for i in range(ns):
            for j in range(i + 1, ns):
                lines.append(f"  C({result.shared_names[i]}, {result.shared_names[j]}) = "
                             f"{result.shared_correl[i, j]:+.4f}")
    rows = _rows(result, full)
    lines += ["", "Data sets" + ("" if len(rows) == K else
                                 f" (the first {BRIEF_ROWS // 2} and the worst "
                                 f"{BRIEF_ROWS // 2} of {K}; full=True for all)") + ":"]
    for k in rows:
        params = ", ".join(f"{p}={v:.6g}+/-{s:.2g}" for p, v, s in zip(
            result.local_names[k], result.local_values[k], result.local_stderr_values[k]))
        lines.append(f"  {str(result.names[k]):>10}: {result.npoints[k]} points, "
                     f"chi2 {result.chisqr_sets[k]:.5g}, redchi {result.redchi_sets[k]:.4g}"
                     + (f"; {params}" if params else ""))
    lines += ["", "Findings:"]
    lines += [f"  {f}" for f in result.diagnosis] or ["  none"]
    if full and result.events:
        lines += ["", "Events:"] + [f"  {e}" for e in result.events]
    return "\n".join(lines)


def html(result) -> str:
    state = "converged" if result.success else "not converged"
    color = "#1b7a1b" if result.success else "#b00020"
    head = (f"<p style=\"margin:0.2em 0\"><b style=\"color:{color}\">{escape(state)}</b> "
            f"&mdash; <code>{escape(result.stop_reason.name)}</code>: "
            f"{escape(result.message)}</p><p style=\"margin:0.2em 0\">{len(result.names)} data "
            f"sets, chi-square {number(result.chisqr)}, reduced chi-square "
            f"{number(result.redchi)}, {result.nit} iterations</p>")
    shared = table(["shared parameter", "value", "std. error"],
                   [[escape(n), number(v, 10), number(s, 4)] for n, v, s in
                    zip(result.shared_names, result.shared_values, result.shared_stderr)],
                   [False, True, True])
    rows = []
    for k in _rows(result, False):
        rows.append([escape(result.names[k]), str(int(result.npoints[k])),
                     number(result.chisqr_sets[k]), number(result.redchi_sets[k], 4),
                     escape(", ".join(f"{p}={v:.6g}" for p, v in zip(
                         result.local_names[k], result.local_values[k])))])
    sets = table(["data set", "points", "chi-square", "reduced", "local parameters"], rows,
                 [False, True, True, True, False])
    return wrap("GlobalFitResult", head, shared, sets,
                "<p style=\"margin:0.2em 0\"><b>Findings</b></p>",
                findings_html(result.diagnosis))
