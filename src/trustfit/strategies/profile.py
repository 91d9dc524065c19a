"""Profile-likelihood intervals (Bates & Watts 1988, sec. 6.1): for each parameter, re-fit the
others with it held fixed, and find where the profiled cost crosses the likelihood-ratio
threshold. A strategy over solving, not a pure function of the result: it runs the solver
(:mod:`trustfit.solve`) again, once per trial value.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import optimize, stats

from ..analysis.uncertainty import covariance
from ..core.result import FitResult
from ..solve.methods import solve

__all__ = ["profile_intervals"]


def profile_intervals(result: FitResult, fun: Callable[[np.ndarray], np.ndarray],
                      level: float = 0.95, absolute_sigma: bool | None = None,
                      params: list[int] | None = None, max_widths: float = 64.0) -> np.ndarray:
    """Profile-likelihood intervals, shape ``(n, 2)``: the values of ``x_j`` at which the
    cost, minimised over the other parameters with ``x_j`` fixed, rises to the threshold

    * ``S(x_j) = S_min * (1 + F(1, m - n; level) / (m - n))`` with the variance estimated
      (the likelihood-ratio / profile-t interval of Bates & Watts 1988, sec. 6.1), or
    * ``S(x_j) = S_min + chi2(1; level)`` with ``absolute_sigma=True``,

    where ``S = 2 F`` is the sum of squared (weighted) residuals. This is the one function in
    this module that evaluates the model: ``fun(x)`` must return the same residuals the fit
    used. For each side it steps out in multiples of the standard error until the threshold
    is crossed (at most ``max_widths`` standard errors; ``±inf`` if it never is, meaning the
    data do not bound the parameter on that side), then finds the crossing with Brent's
    method. Bounds of the fit are respected. Parameters not in ``params`` get ``nan``.
    """
    if absolute_sigma is None:
        absolute_sigma = bool(result.absolute_sigma)
    x_hat = np.asarray(result.x, dtype=float)
    m, n = np.shape(result.jac)
    dof = m - n
    s_min = 2.0 * result.cost
    if absolute_sigma:
        target = s_min + float(stats.chi2.ppf(level, 1))
    elif dof > 0:
        target = s_min * (1.0 + float(stats.f.ppf(level, 1, dof)) / dof)
    else:
        raise ValueError("profile intervals need m > n (no degrees of freedom left).")
    se = covariance(result, absolute_sigma).stderr
    lb, ub = result.bounds if result.bounds is not None else (np.full(n, -np.inf),
                                                              np.full(n, np.inf))
    out = np.full((n, 2), np.nan)
    for j in (range(n) if params is None else params):
        others = [k for k in range(n) if k != j]
        guess = {"x": x_hat[others].copy()}

        def profile(v: float) -> float:
            if not others:
                r = np.asarray(fun(np.array([v])), dtype=float)
                return float(r @ r) - target

            def sub(z):
                x = x_hat.copy()
                x[j] = v
                x[others] = z
                return fun(x)

            z0 = np.clip(guess["x"], lb[others], ub[others])
            fit = solve(sub, z0, (lb[others], ub[others]))
            guess["x"] = fit.x
            return 2.0 * fit.cost - target

        width = se[j] if se[j] > 0 and np.isfinite(se[j]) else max(abs(x_hat[j]), 1.0) * 1e-3
        for side, sign in ((0, -1.0), (1, 1.0)):
            guess["x"] = x_hat[others].copy()
            limit = lb[j] if sign < 0 else ub[j]
            inner, k = x_hat[j], 1.0
            found = None
            while k <= max_widths:
                outer = x_hat[j] + sign * k * width
                if (sign < 0 and outer <= limit) or (sign > 0 and outer >= limit):
                    outer = limit
                if profile(outer) > 0:
                    found = outer
                    break
                if outer == limit:
                    break
                inner, k = outer, 2.0 * k
            if found is None:
                out[j, side] = limit if np.isfinite(limit) and outer == limit else sign * np.inf
                continue
            guess["x"] = x_hat[others].copy()
            out[j, side] = optimize.brentq(profile, inner, found, xtol=1e-10 * max(
                abs(x_hat[j]), width), rtol=1e-10)
    return out
