"""``noise='poisson'`` in :func:`trustfit.curve_fit` and :func:`trustfit.fit`: Poisson maximum
likelihood for counts, on trustfit's least-squares solvers.

The fit minimises ``1/2 sum r_i^2`` over the deviance residuals of
:mod:`trustfit.kinds.poisson`, which is maximum likelihood, through :func:`trustfit.least_squares`
(every method, bounds, the certificate, the polish, the rescue). The model must stay positive:

* at the caller's ``p0`` a mean that is not positive and finite is a ``ValueError`` naming the
  points;
* at a trial point (or a rescue start) the residuals are ``nan``: a rejected step, never an
  error.

``ydata`` must be counts: finite, non-negative whole numbers (zeros welcome); ``sigma`` is
refused (the variance of a count is its mean). ``pcov`` is the inverse Fisher information at
the optimum (:mod:`trustfit.kinds.poisson`), a flagged pseudo-inverse where it is singular
(the result's ``fun`` and ``jac`` are Fisher scoring's linearisation there, see
:class:`PoissonResult`, so every layer over the result sees the same numbers);
``absolute_sigma`` does not apply (the variance is known), over-dispersion shows in the
deviance and Pearson p-values.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ..analysis.diagnostics import check_rank
from ..analysis.uncertainty import covariance
from ..core import validate as check
from ..core.differentiation import finite_difference_jacobian
from ..core.problem import real_jacobian
from ..core.events import CovariancePseudoInverse
from ..core.result import FitResult
from ..kinds import poisson
from ..strategies.multistart import StartDesign
from ._shared import curve_fit_return, signature_names
from .least_squares import solve_with_design


@dataclass(frozen=True)
class PoissonResult(FitResult):
    """A :class:`trustfit.FitResult` with ``mu`` (the fitted means), ``pcov`` and ``stderr``
    (inverse Fisher information), ``rank_deficient``, ``deviance``, ``deviance_pvalue``,
    ``pearson_chi2``, ``pearson_pvalue``, ``dof``, ``notes`` (e.g. the low-count warning in
    words), ``deviance_residuals`` and ``residual_function`` (``p -> deviance residuals``).

    ``cost`` is half the deviance, the objective minimised. ``fun`` and ``jac`` are Fisher
    scoring's linearisation at the solution, the Pearson residuals ``(mu - y) / sqrt(mu)`` and
    their Jacobian ``(dmu/dp) / sqrt(mu)``: ``jac^T fun`` is the gradient of the negative
    log-likelihood (zero at the maximum) and ``jac^T jac`` the Fisher information, so
    :func:`trustfit.analysis.uncertainty.covariance`, ``report()`` and the diagnosis give
    the maximum-likelihood standard errors (``1/2 ||fun||^2`` is half Pearson's chi-square).
    ``profile_intervals(result, result.residual_function, absolute_sigma=True)``
    (:mod:`trustfit.strategies.profile`) gives likelihood-ratio intervals."""

    mu: np.ndarray | None = None
    pcov: np.ndarray | None = None
    stderr: np.ndarray | None = None
    rank_deficient: bool = False
    deviance: float = float("nan")
    deviance_pvalue: float = float("nan")
    pearson_chi2: float = float("nan")
    pearson_pvalue: float = float("nan")
    dof: int = 0
    notes: tuple[str, ...] = ()
    residual_function: Callable | None = None
    deviance_residuals: np.ndarray | None = None


def _counts(ydata: Any) -> np.ndarray:
    y = np.asarray(ydata)
    if np.iscomplexobj(y) or y.dtype.kind not in "biuf":
        raise ValueError(f"ydata must be counts (real numbers), got dtype {y.dtype}.")
    y = y.astype(float).ravel()
    if y.size == 0:
        raise ValueError("ydata must not be empty.")
    bad = np.flatnonzero(~np.isfinite(y) | (y < 0) | (y != np.round(y)))
    if bad.size:
        raise ValueError(f"with noise='poisson' ydata must be counts (whole numbers >= 0); "
                         f"ydata[{bad[0]}] = {float(y[bad[0]])!r} ({bad.size} such values).")
    return y


def poisson_fit(f: Callable, xdata: Any, ydata: Any, p0: Any = None, *,
                jac: Callable | str | None = None, bounds: Any = (-np.inf, np.inf),
                method: str | None = None, param_names: tuple[str, ...] | None = None,
                **kwargs: Any) -> PoissonResult:
    """Poisson maximum-likelihood fit of counts ``ydata`` with means ``f(xdata, *p)`` (module
    docstring); further keyword arguments go to :func:`trustfit.least_squares`."""
    check.function("f", f)
    y = _counts(ydata)
    m = y.size
    names: Sequence[str] | None = param_names if param_names is not None else signature_names(f)
    if p0 is None:
        if not names:
            raise ValueError("p0 is needed when f takes its parameters as *args.")
        p0 = np.ones(len(names))
    p0 = check.starting_point(p0)
    if param_names is not None:
        names = check.param_names(param_names, p0.size)
    elif names is not None and len(names) != p0.size:
        names = None

    def means(p: np.ndarray) -> np.ndarray:
        out = np.asarray(check.returned_numbers("f", f(xdata, *p)))
        if np.iscomplexobj(out) or out.size != m:
            raise ValueError(f"f must return {m} real means, got shape {out.shape} "
                             f"({out.dtype}).")
        return out.astype(float, copy=False).ravel()

    with np.errstate(all="ignore"):
        bad = poisson.nonpositive_start(means(p0))
    if bad.size:
        raise ValueError(f"the model predicts non-positive or non-finite counts at p0 at the "
                         f"points {bad[:10].tolist()}{' ...' if bad.size > 10 else ''}; "
                         "Poisson means must be positive: choose p0 so that f > 0 there.")

    def residuals(p: np.ndarray) -> np.ndarray:
        mu = means(p)
        if poisson.nonpositive_start(mu).size:
            return np.full(m, np.nan)  # outside the model's domain: a rejected step
        return poisson.deviance_residuals(y, mu)

    if callable(jac):
        def jacobian(p: np.ndarray) -> np.ndarray:
            mu = means(p)
            J_mu = real_jacobian(check.returned_numbers("jac", jac(xdata, *p)), m, p.size)
            return J_mu * poisson.residual_slope(y, mu)[:, None]
        solver_jac: Callable | str = jacobian
    else:
        solver_jac = "2-point" if jac is None else jac
    if "maxfev" in kwargs:
        kwargs["max_nfev"] = kwargs.pop("maxfev")
    plan = StartDesign(param_names=tuple(names) if names is not None else None)
    base = solve_with_design(plan, residuals, p0, jac=solver_jac, bounds=bounds,
                             method=method, **kwargs)
    known: dict[str, Any] = {}
    if base.jac_method == "2-point":  # as curve_fit: central differences for the covariance
        lb, ub = cast("tuple[np.ndarray, np.ndarray]", base.bounds)  # every run records them
        with np.errstate(all="ignore"):
            J, evals = finite_difference_jacobian(residuals, base.x, base.fun, "3-point", lb, ub)
        if np.all(np.isfinite(J)):
            known.update(jac=J, grad=J.T @ base.fun, jac_method="3-point",
                         nfev_fd=base.nfev_fd + evals)
    fields = {name: getattr(base, name) for name in FitResult.__dataclass_fields__}
    fields.update(known, param_names=tuple(names) if names is not None else None, ydata=y,
                  absolute_sigma=True, residual_function=residuals)
    with np.errstate(all="ignore"):
        mu = means(fields["x"])
    fields["mu"] = mu
    events = tuple(fields["events"])
    if poisson.nonpositive_start(mu).size == 0:
        fields.update(poisson.statistics(y, mu, p0.size))
        # Fisher scoring's linearisation at the solution (module docstring)
        jac_pearson = fields["jac"] / poisson.pearson_factor(y, mu)[:, None]
        fun_pearson = (mu - y) / np.sqrt(mu)
        with np.errstate(all="ignore"):
            grad = jac_pearson.T @ fun_pearson
        fields.update(deviance_residuals=fields["fun"], jac=jac_pearson, fun=fun_pearson,
                      grad=grad)
        cov = covariance(PoissonResult(**fields), absolute_sigma=True)
        fields.update(pcov=cov.matrix, stderr=cov.stderr, rank_deficient=cov.rank_deficient)
        if cov.rank_deficient:
            finding = check_rank(PoissonResult(**fields), fields["param_names"])
            text = finding[0].message if finding else "the Fisher information is singular."
            events += (CovariancePseudoInverse(text),)
    notes = [poisson.low_count_note(y)]
    if not base.success and poisson.nonpositive_start(mu).size == 0:
        notes.append(poisson.boundary_note(y, mu))
    # The result, built once.
    return PoissonResult(**{**fields, "events": events},
                         notes=tuple(note for note in notes if note))


def poisson_curve_fit(f: Callable, xdata: Any, ydata: Any, p0: Any, sigma: Any,
                      absolute_sigma: bool, check_finite: bool | None, bounds: Any,
                      method: str | None, jac: Any, *, warning: type[Warning],
                      nan_policy: str | None = None, full_output: bool | None = None,
                      **kwargs: Any):
    """:func:`trustfit.curve_fit` (``full_output`` given) or :func:`trustfit.fit` (``None``)
    with ``noise='poisson'``: SciPy's conventions, the work done by :func:`poisson_fit`."""
    if sigma is not None:
        raise ValueError("sigma does not apply with noise='poisson': the variance of a count "
                         "is its mean.")
    if nan_policy not in (None, "raise"):
        raise ValueError(f"nan_policy={nan_policy!r} is not supported with noise='poisson'.")
    del absolute_sigma, check_finite  # the variance is known; the counts are always checked
    result = poisson_fit(f, xdata, ydata, p0, jac=jac, bounds=bounds, method=method, **kwargs)
    if full_output is None:
        return result
    return curve_fit_return(result, full_output, warning)
