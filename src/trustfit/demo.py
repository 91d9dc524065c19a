"""``trustfit demo``: the textbook example from its three starts, every trustfit method and
every SciPy method side by side, in the same run."""
from __future__ import annotations

import warnings

import numpy as np
import scipy.optimize

from . import examples
from ._least_squares import METHODS, least_squares


def _row(tool: str, method: str, cost: float, x: np.ndarray, iterations: str, stop: str) -> str:
    mark = "*" if abs(cost - examples.MINIMUM_COST) <= 1e-5 * examples.MINIMUM_COST else " "
    xs = " ".join(f"{v:10.4g}" for v in x)
    return f"  {tool:8s} {method:7s} {cost:12.6g}{mark} {xs}  {iterations:>6s}  {stop}"


def run_table(out=print) -> list[dict]:
    """Fit the textbook example from each start with every method; print and return rows."""
    rows = []
    for x0 in examples.STARTS:
        out(f"\nstart x0 = {x0.tolist()}   (* = global minimum, cost {examples.MINIMUM_COST})")
        out(f"  {'tool':8s} {'method':7s} {'cost':>12s}  {'x1':>10s} {'x2':>10s} {'x3':>10s} "
            f"{'x4':>10s}  {'iters':>6s}  stop reason")
        for method in METHODS:
            settings = dict(examples.ARTICLE_SETTINGS, method=method)
            r = least_squares(examples.residuals, x0, jac=examples.jacobian, **settings)
            out(_row("trustfit", method, r.cost, r.x, str(r.nit), r.stop_reason.name))
            rows.append(dict(tool="trustfit", method=method, x0=x0.tolist(), cost=r.cost,
                             x=r.x.tolist(), nit=r.nit, stop=r.stop_reason.name))
        r = least_squares(examples.residuals, x0)
        restarts = sum(e.startswith("rescue restart") for e in r.events)
        out(_row("trustfit", "default", r.cost, r.x, str(r.nit),
                 f"{r.stop_reason.name} (no jac; {restarts} rescue restarts)"))
        rows.append(dict(tool="trustfit", method="default", x0=x0.tolist(), cost=r.cost,
                         x=r.x.tolist(), nit=r.nit, stop=r.stop_reason.name))
        for method in ("lm", "trf", "dogbox"):
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                r = scipy.optimize.least_squares(examples.residuals, x0, jac=examples.jacobian,
                                                 method=method)
            out(_row("scipy", method, r.cost, r.x, f"{r.nfev}ev", r.message[:60]))
            rows.append(dict(tool="scipy", method=method, x0=x0.tolist(), cost=r.cost,
                             x=r.x.tolist(), nfev=r.nfev, stop=r.message))
    return rows


def main() -> int:
    print("trustfit demo: y = x3*exp(x1*t) + x4*exp(x2*t), t = 0, 2, ..., 20 "
          "(Madsen, Nielsen & Tingleff 2004)")
    print("trustfit with the article's settings (gtol = xtol = 1e-5, at most 1000 iterations, "
          "no rescue), and trustfit's default call (no Jacobian, rescue on); SciPy with its "
          "defaults and the same analytic Jacobian.")
    run_table()
    return 0
