"""Global fits: one model (or one per data set) fitted to many data sets at once, some
parameters shared by all, the others each data set's own.

The fit is trustfit's Levenberg-Marquardt loop on the stacked problem with each data set's
local parameters eliminated from every step by QR (:mod:`trustfit.kinds.global_linalg`: the
Schur complement on the shared parameters in square-root form, Triggs et al. 2000; the exact
dense step in time and memory linear in the number of data sets), certified on the whole
problem as every trustfit fit (:mod:`trustfit.kinds.global_certify`). The public entry point
is :func:`trustfit.fit_global` (:mod:`trustfit.models.global_fit`, which also builds
expression models); this face takes models already built: :class:`trustfit.Model` objects,
callables ``f(x, a, b, ...)`` or :class:`~trustfit.kinds.global_problem.GroupModel`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core import validate as check
from ..core.events import CovariancePseudoInverse
from ..kinds.global_certify import Covariance
from ..kinds.global_checks import findings
from ..kinds.global_loop import GlobalRun, NonFiniteGlobalStart, run
from ..kinds.global_problem import GlobalProblem
from ..solve.methods import ROUNDING_LEVEL
from . import global_args as args
from .global_result import GlobalFitResult

#: ``method`` values accepted: all mean trustfit's Levenberg-Marquardt on the eliminated
#: problem (the only method with the block elimination).
METHODS = (None, "lm", "auto", "trf")


def fit_global(model: Any, datasets: Any, shared: Any = (), p0: Any = None,
               bounds: Any = None, sigma: Any = None, method: str | None = None, *,
               absolute_sigma: bool = False, ftol: float | None = 1e-15,
               xtol: float | None = 1e-15, gtol: float | None = 1e-15,
               max_nfev: int | None = None, max_iter: int | None = None,
               tau: float = 1e-3) -> GlobalFitResult:
    """Fit ``model`` to every data set of ``datasets`` at once, ``shared`` parameters common
    to all (see :func:`trustfit.fit_global` for the arguments)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r}: a global fit runs trustfit's Levenberg-"
                         "Marquardt with the local parameters eliminated; use None or 'lm'.")
    if not isinstance(absolute_sigma, bool):
        raise TypeError(f"absolute_sigma must be True or False, got {absolute_sigma!r}.")
    sets = args.datasets(datasets, sigma)
    keys = [d.name for d in sets]
    models, index = args.models_for(model, len(sets), keys)
    shared_names = args.shared_names(shared, models)
    lay = args.layout(shared_names, models, index)
    if p0 is None:
        raise ValueError("p0 is required: start values for every parameter, as a mapping "
                         "name -> one number (all data sets) or one number per data set.")
    theta0 = args.start(p0, lay, models, index, keys)
    lb, ub = args.box(bounds, lay, models, index, keys)
    if np.any((theta0 < lb) | (theta0 > ub)):
        j = int(np.flatnonzero((theta0 < lb) | (theta0 > ub))[0])
        raise ValueError(f"p0 is outside the bounds for {args._theta_name(lay, keys, j)}: "
                         f"{theta0[j]!r} not in [{lb[j]!r}, {ub[j]!r}].")
    options: dict[str, Any] = dict(ftol=check.tolerance("ftol", ftol), xtol=check.tolerance("xtol", xtol),
                   gtol=check.tolerance("gtol", gtol), tau=check.positive_float("tau", tau),
                   rounding=ROUNDING_LEVEL,
                   max_iter=check.positive_int_or_none("max_iter", max_iter))
    widest = max(len(m.names) for m in models)
    max_nfev = check.positive_int_or_none("max_nfev", max_nfev)
    problem = GlobalProblem(models, args.build_groups(sets, models, index, lay),
                            len(shared_names), lay.n, len(sets))
    try:
        outcome = run(problem, theta0, lb, ub,
                      max_nfev=max_nfev if max_nfev is not None else 100 * widest
                      * (widest + 1), **options)
    except NonFiniteGlobalStart as exc:
        raise ValueError(str(exc)) from None
    return _result(outcome, problem, sets, keys, lay, models, index, absolute_sigma)


def _result(out: GlobalRun, problem: GlobalProblem, sets, keys, lay: args.Layout, models,
            index, absolute_sigma: bool) -> GlobalFitResult:
    K, ns, n = len(sets), len(lay.shared), lay.n
    theta = out.theta
    cov = Covariance(out.lin, out.noise)
    chisqr_sets, nu_used = np.zeros(K), np.zeros(K)
    residuals: list[np.ndarray] = [np.empty(0)] * K
    for g, r in zip(problem.groups, out.residuals):
        chisqr_sets[g.members] = np.einsum("gm,gm->g", r, r)
        for i, k in enumerate(g.members):
            residuals[k] = r[i]  # a view of the group's array, which only it keeps
    up = np.ldexp(1.0, 2 * out.lin.e)
    for b, L, W in zip(out.lin.blocks, cov.local, cov.W):
        nl = b.g.n_local
        p = nl + ns
        S = np.empty((b.R.shape[0], p, p))  # (l_k, s) covariance, user units, unscaled
        S[:, :nl, :nl] = L + np.einsum("gij,jk,glk->gil", W, cov.shared, W)
        S[:, :nl, nl:] = -np.einsum("gij,jk->gik", W, cov.shared)
        S[:, nl:, :nl] = np.swapaxes(S[:, :nl, nl:], 1, 2)
        S[:, nl:, nl:] = cov.shared
        Rp = b.R[:, :p, :p]
        nu_used[b.g.members] = np.einsum("gjk,gij,gik->g", S, Rp, Rp) * up  # tr(S R^T R)
    npoints = np.array([d.y.size for d in sets])
    chisqr = float(np.sum(chisqr_sets))
    nfree = problem.m_total - n
    redchi = chisqr / nfree if nfree > 0 else float("nan")
    scale = 1.0 if absolute_sigma else redchi
    variances = np.clip(cov.variances() * scale, 0.0, None)
    stderr = np.sqrt(variances)
    nu_sets = npoints - nu_used
    with np.errstate(all="ignore"):
        redchi_sets = np.where(nu_sets > 0, chisqr_sets / nu_sets, np.nan)
        d = np.sqrt(np.diag(cov.shared))
        correl = cov.shared / np.outer(d, d) if ns else np.zeros((0, 0))
    model_has = np.array([[s in models[index[k]].names for s in lay.shared]
                          for k in range(K)], dtype=bool).reshape(K, ns)
    found = findings(out.lin, keys, chisqr_sets, nu_sets, model_has, lay.shared,
                     absolute_sigma, out.degenerate_sets)
    events = out.events
    if cov.rank_deficient:
        events += (CovariancePseudoInverse("a block of the Jacobian is rank deficient: the "
                                           "covariance is a pseudo-inverse."),)
    local_values, local_err = [], []
    for k in range(K):
        sl = slice(lay.local_start[k], lay.local_start[k] + len(lay.local_names[k]))
        local_values.append(theta[sl].copy())
        local_err.append(stderr[sl].copy())

    def evaluate(k: int, x: Any) -> np.ndarray:
        xa = np.asarray(x, dtype=float)
        xs = (xa[None, :],) if xa.ndim == 1 else tuple(v[None, :] for v in xa)
        with np.errstate(all="ignore"):
            return models[index[k]].values(theta[lay.pidx[k]][None, :], xs)[0]

    return GlobalFitResult(
        x=theta.copy(), x0=out.theta0, names=tuple(keys), shared_names=tuple(lay.shared),
        local_names=tuple(tuple(v) for v in lay.local_names),
        shared_values=theta[:ns].copy(), shared_stderr=stderr[:ns].copy(),
        shared_correl=correl, local_values=tuple(local_values),
        local_stderr_values=tuple(local_err), stderr=stderr, chisqr_sets=chisqr_sets,
        redchi_sets=redchi_sets, nu_sets=nu_sets, npoints=npoints, chisqr=chisqr,
        redchi=redchi, nfree=nfree, cost=out.cost, stop_reason=out.stop_reason,
        stop_value=out.stop_value, nit=out.nit, nfev=out.nfev, njev=out.njev,
        nfev_fd=out.nfev_fd, method="global-lm", jac_method=out.jac_method,
        absolute_sigma=absolute_sigma, rank_deficient=cov.rank_deficient, findings=found,
        history=out.history, events=events, residuals=tuple(residuals),
        data=tuple((d.x[0] if len(d.x) == 1 else np.stack(d.x), d.y, d.sigma) for d in sets),
        evaluate=evaluate, _covariance=cov, _scale=scale)
