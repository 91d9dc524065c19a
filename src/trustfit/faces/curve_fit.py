"""``trustfit.curve_fit`` (SciPy's signature and return values) and ``trustfit.fit`` (the full
result), built on :func:`trustfit.least_squares`.

The residuals are ``(f(xdata, *p) - ydata) / sigma`` for a 1-D ``sigma``, and
``L^-1 (f(xdata, *p) - ydata)`` for a 2-D ``sigma`` (the covariance of ``ydata``,
``sigma = L L^T``), as in SciPy. The covariance of the parameters is computed by
:func:`trustfit.analysis.uncertainty.covariance` (SVD with an explicit rank cut-off: a pseudo-inverse,
flagged by a :class:`FitWarning` that names the undetermined combination, never ``inf``).

When no Jacobian is given, the solver's final polish (:mod:`trustfit.solve.polish`) leaves a
fourth-order central-difference Jacobian at the solution, and that is what the covariance
uses. Where the polish did not run (the fit did not converge, or ``polish=False``), the
Jacobian at the solution is evaluated once more with ``'3-point'`` central differences (error
O(h^2), about 1e-11 relative instead of 1e-8 for forward differences) for the covariance
only, and ``result.events`` says so.
"""
from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import linalg

from ..analysis.diagnostics import check_rank
from ..analysis.uncertainty import covariance
from ..core import validate as check
from ..strategies.multistart import StartDesign
from .least_squares import solve_with_design
from ..core.differentiation import finite_difference_jacobian
from ..core.events import JacobianReevaluated
from ..core.problem import real_jacobian
from ..core.result import FitResult, StopReason
from . import _curve_fit_args as conventions
from ._shared import signature_names


_FIT_WARNING_DOC = """A fit returned an answer that needs care (for example a rank-deficient
    covariance). A subclass of SciPy's ``OptimizeWarning`` (itself a ``UserWarning``), so
    filters written for SciPy's warnings catch trustfit's."""

if TYPE_CHECKING:
    from scipy.optimize import OptimizeWarning

    class FitWarning(OptimizeWarning):
        __doc__ = _FIT_WARNING_DOC

_made: list[type] = []


def fit_warning() -> type[Warning]:
    """:class:`FitWarning`, made on first use. It subclasses SciPy's ``OptimizeWarning``,
    whose module ``scipy.optimize`` takes longer to import than numpy and ``scipy.linalg``
    together; so ``import trustfit`` does not import it, and ``trustfit.FitWarning`` (this
    module's ``__getattr__``, PEP 562) or the first warning does. One class, always."""
    if not _made:
        from scipy.optimize import OptimizeWarning

        _made.append(type("FitWarning", (OptimizeWarning,),
                          {"__doc__": _FIT_WARNING_DOC, "__module__": __name__}))
    return _made[0]


def __getattr__(name: str) -> Any:
    if name == "FitWarning":
        return fit_warning()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _real_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a float array, or a ``ValueError`` naming ``name``: complex values would
    lose their imaginary part in the cast (NumPy only warns), and so would text."""
    a = np.asarray(value)
    if np.iscomplexobj(a):
        hint = ("; fit the real and imaginary parts as separate residuals" if name == "ydata"
                else "")
        raise ValueError(f"{name} must be real numbers, got complex values (dtype "
                         f"{a.dtype}){hint}.")
    try:
        return a.astype(float, copy=False)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got dtype {a.dtype}.") from None


def _whitening(sigma: Any, m: int):
    """A function mapping ``f - y`` (and Jacobian rows) to weighted residuals."""
    if sigma is None:
        return lambda r: r, None
    s = _real_array("sigma", sigma)
    if s.shape == (m,):
        if np.any(s <= 0) or not np.all(np.isfinite(s)):
            raise ValueError("sigma must be positive and finite.")
        # In place on a 1-D r: the callers pass a fresh array of differences (m = 1e6:
        # one 8 MB temporary less per evaluation); a Jacobian is the caller's, so copied.
        return (lambda r: np.divide(r, s, out=r) if r.ndim == 1 else r / s[:, None]), s
    if s.shape == (m, m):
        try:
            L = linalg.cholesky(s, lower=True)
        except linalg.LinAlgError:
            raise ValueError("sigma (a covariance matrix) must be positive definite.") from None
        return (lambda r: linalg.solve_triangular(L, r, lower=True)), None
    raise ValueError(f"sigma must have shape ({m},) or ({m}, {m}), got {s.shape}.")


def _clean(xdata: Any, ydata: Any, nan_policy: str | None, check_finite: bool | None):
    ydata = np.atleast_1d(_real_array("ydata", ydata))
    if ydata.size == 0:
        raise ValueError("`ydata` must not be empty! ydata must be a non-empty 1-D array.")
    if ydata.ndim != 1:
        raise ValueError(f"ydata must be a non-empty 1-D array, got shape {ydata.shape}.")
    x_is_array = isinstance(xdata, np.ndarray) or isinstance(xdata, (list, tuple))
    if x_is_array:
        xdata = _real_array("xdata", xdata)
    return conventions.check_data(xdata, ydata, x_is_array, nan_policy, check_finite)


def fit(f: Callable, xdata: Any, ydata: Any, p0: Any = None, sigma: Any = None,
        absolute_sigma: bool = False, check_finite: bool | None = None,
        bounds: Any = (-np.inf, np.inf), method: str | None = None,
        jac: Callable | str | None = None, *, nan_policy: str | None = None,
        param_names: tuple[str, ...] | None = None, **kwargs: Any) -> FitResult:
    """Fit ``ydata ≈ f(xdata, *p)`` and return the full :class:`FitResult`.

    Arguments as :func:`curve_fit`; ``param_names`` names the parameters (default: from
    ``f``'s signature). Further keyword arguments go to :func:`trustfit.least_squares`
    (``rescue``, ``starts``, ``max_nfev``, ``ftol``, ...; SciPy's ``maxfev`` is accepted as
    ``max_nfev``). The result carries ``param_names``, ``ydata``, ``sigma`` and
    ``absolute_sigma``, so ``result.report()`` and :mod:`trustfit.analysis.uncertainty` use them.
    """
    sigma_x, noise = kwargs.pop("sigma_x", None), kwargs.pop("noise", "gaussian")
    if sigma_x is not None or noise != "gaussian":  # errors in x, counts: faces/data_kinds.py
        from .data_kinds import dispatch
        return dispatch(f, xdata, ydata, p0, sigma, absolute_sigma, check_finite, bounds,
                        method, jac, sigma_x=sigma_x, noise=noise, warning=fit_warning(),
                        nan_policy=nan_policy, param_names=param_names, **kwargs)
    return _fit(f, xdata, ydata, p0, sigma, absolute_sigma, check_finite, bounds, method, jac,
                nan_policy, param_names, kwargs)[0]


def _fit(f, xdata, ydata, p0, sigma, absolute_sigma, check_finite, bounds, method, jac,
         nan_policy, param_names, kwargs):
    """:func:`fit`, also returning the weighted residuals ``f(xdata, *p) - ydata`` at the
    solution (SciPy's ``fvec``) and the robust loss (None for least squares)."""
    check.function("f", f)
    if "args" in kwargs:
        raise ValueError("'args' is not a supported keyword argument. curve_fit calls "
                         "f(xdata, *params); bind other arguments with functools.partial or "
                         "a closure.")
    loss = conventions.robust_loss(kwargs)
    xdata, ydata, keep = _clean(xdata, ydata, nan_policy, check_finite)
    sigma = conventions.omit_sigma(sigma, keep)
    names = param_names if param_names is not None else signature_names(f)
    if p0 is None:
        count = len(param_names) if param_names is not None else conventions.parameter_count(f)
        p0 = conventions.feasible_start(bounds, count)
    p0 = np.atleast_1d(np.asarray(p0, dtype=float))
    if ydata.size == 1:  # SciPy broadcasts one ydata value against the model's values
        with np.errstate(all="ignore"):
            probe = np.size(check.returned_numbers("f", f(xdata, *p0)))
        ydata = np.full(max(probe, 1), ydata[0])
    sigma = conventions.scalar_sigma(sigma, ydata.size)
    if param_names is not None:
        names = check.param_names(param_names, p0.size)
    elif names is not None and len(names) != p0.size:
        names = None
    m = ydata.size
    whiten, sigma1d = _whitening(sigma, m)
    if "maxfev" in kwargs:
        kwargs["max_nfev"] = kwargs.pop("maxfev")

    def residuals(p):
        model = f(xdata, *p)
        if type(model) is np.ndarray and model.dtype == np.float64 and model.ndim == 1:
            return whiten(model - ydata)  # the common case, which the checks below pass
        model = check.returned_numbers("f", model)
        if np.iscomplexobj(model) and not np.iscomplexobj(p):
            raise ValueError("f returned complex values; the model must be real (the "
                             "complex-step Jacobian, jac='cs', is the one place where f is "
                             "called with complex parameters and may return complex values).")
        # Complex only inside jac='cs''s evaluations, which read the imaginary part.
        return whiten(model.ravel() - ydata)

    if callable(jac):
        def jacobian(p):
            return whiten(real_jacobian(check.returned_numbers("jac", jac(xdata, *p)), m,
                                        p.size))
        solver_jac: Callable | str = jacobian
    else:
        solver_jac = "2-point" if jac is None else jac
    # a multi-start names the parameters in its events
    plan = StartDesign(param_names=tuple(names) if names is not None else None)
    result = solve_with_design(plan, residuals, p0, jac=solver_jac, bounds=bounds,
                               method=method, **kwargs)
    # The final result, built once: what the solver returned, with what only fit() knows.
    known: dict[str, Any] = dict(param_names=tuple(names) if names is not None else None,
                                 ydata=ydata, sigma=sigma1d, absolute_sigma=bool(absolute_sigma))
    with np.errstate(all="ignore"):
        fvec = result.fun if loss is None else residuals(result.x)
    if result.jac_method == "2-point":
        lb, ub = result.bounds
        with np.errstate(all="ignore"):
            J, evals = finite_difference_jacobian(residuals, result.x, fvec, "3-point",
                                                  lb, ub)
            if loss is not None:  # the robust residuals' Jacobian (trustfit.core.loss)
                J = loss.residuals_and_weights(fvec)[1][:, None] * J
            grad = J.T @ result.fun
        if np.all(np.isfinite(J)):
            known.update(jac=J, grad=grad, jac_method="3-point",
                         nfev_fd=result.nfev_fd + evals,
                         events=(*result.events, JacobianReevaluated("3-point", evals)))
    return dataclasses.replace(result, **known), fvec, loss


def curve_fit(f: Callable, xdata: Any, ydata: Any, p0: Any = None, sigma: Any = None,
              absolute_sigma: bool = False, check_finite: bool | None = None,
              bounds: Any = (-np.inf, np.inf), method: str | None = None,
              jac: Callable | str | None = None, *, full_output: bool = False,
              nan_policy: str | None = None, **kwargs: Any):
    """Use non-linear least squares to fit a function ``f`` to data: SciPy's
    ``scipy.optimize.curve_fit`` signature and return values, trustfit's solvers.

    Returns ``popt, pcov`` (and ``infodict, mesg, ier`` with ``full_output=True``; ``infodict``
    holds ``leastsq``'s ``nfev, fvec, fjac, ipvt, qtf`` and ``result``, the full
    :class:`FitResult`). SciPy's conventions (:mod:`trustfit.faces._curve_fit_args`):
    ``p0=None`` starts at SciPy's feasible point, ``sigma`` may be a scalar, one ``ydata``
    value is broadcast, ``check_finite`` and ``nan_policy`` act in SciPy's order, ``args`` is
    refused as SciPy refuses it. ``loss`` and ``f_scale`` (keyword arguments, as in SciPy)
    fit with a robust loss; ``pcov`` is then stated as SciPy states it,
    ``(J_T^T J_T)^-1 sum(C^2 rho) / (m - n)`` with Triggs et al.'s weights
    ``J_T = sqrt(max(rho' + 2 rho'' z, eps)) J`` (outliers whose loss is flat carry no
    curvature); with ``absolute_sigma=True`` without the factor.
    ``pcov`` comes from the SVD of the Jacobian with an explicit rank cut-off
    (:func:`trustfit.analysis.uncertainty.covariance`): when the Jacobian is rank deficient it is the
    pseudo-inverse and a :class:`FitWarning` names the undetermined combination; it is never
    ``inf``. Like SciPy, a fit that did not converge raises ``RuntimeError``; ``rescue=True``
    (default) first restarts from perturbed points when the fit stalls. A fit that stopped
    at a degenerate point (``StopReason.DEGENERATE``: a rank-deficient or nearly
    rank-deficient model) returns its answer with a :class:`FitWarning` instead, as SciPy does
    for a singular covariance.
    """
    sigma_x, noise = kwargs.pop("sigma_x", None), kwargs.pop("noise", "gaussian")
    if sigma_x is not None or noise != "gaussian":  # errors in x, counts: faces/data_kinds.py
        from .data_kinds import dispatch
        return dispatch(f, xdata, ydata, p0, sigma, absolute_sigma, check_finite, bounds,
                        method, jac, sigma_x=sigma_x, noise=noise, warning=fit_warning(),
                        nan_policy=nan_policy, full_output=full_output, **kwargs)
    result, fvec, loss = _fit(f, xdata, ydata, p0, sigma, absolute_sigma, check_finite,
                              bounds, method, jac, nan_policy, None, kwargs)
    degenerate = result.stop_reason is StopReason.DEGENERATE
    if not (result.success or degenerate):
        raise RuntimeError(f"Optimal parameters not found: {result.message}")
    cov = (covariance(result) if loss is None else covariance(
        result, jac=conventions.curvature_jacobian(loss, fvec, result.jac)))
    if degenerate and not cov.rank_deficient:
        names = ", ".join(f.code for f in result.diagnosis) or "none"
        warnings.warn(f"{result.message} Findings: {names} (see trustfit.fit(...).report()).",
                      fit_warning(), stacklevel=2)
    if cov.rank_deficient:
        finding = check_rank(result, result.param_names)
        text = finding[0].message if finding else "the Jacobian is rank deficient."
        warnings.warn(f"{text} pcov is the pseudo-inverse.", fit_warning(), stacklevel=2)
    if np.isnan(cov.residual_variance) and not result.absolute_sigma:
        warnings.warn(f"No degrees of freedom left ({result.fun.size} residuals, rank "
                      f"{cov.rank}): the scale of the errors is unknown and pcov is nan; pass "
                      "sigma with absolute_sigma=True if the errors are known.", fit_warning(),
                      stacklevel=2)
    pcov = cov.matrix
    if not full_output:
        return result.x, pcov
    return result.x, pcov, conventions.infodict(result, fvec), result.message, result.status
