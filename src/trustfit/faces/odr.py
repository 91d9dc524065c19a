"""``trustfit.odr``: orthogonal distance regression, errors in x and in y.

Minimises ``sum_i ((y_i - f(x_i + delta_i, p)) / sigma_y,i)^2 + sum_ij (delta_ij /
sigma_x,ij)^2`` over the parameters ``p`` and the corrections ``delta`` (Boggs, Byrd & Schnabel
1987), with trustfit's Levenberg-Marquardt loop and the corrections eliminated from every step
(:mod:`trustfit.kinds.odr_linalg`: O(m n^2) per iteration, O(m n) memory), certified on the
full problem, and the rescue restarts of :mod:`trustfit.strategies.rescue` when it stalls.

Arguments are validated here, at the boundary; each error names the argument, the value and
the rule. The covariance follows :func:`trustfit.curve_fit`'s rule: with
``absolute_sigma=False`` it is ``s2 (J_red^T J_red)^+`` with ``s2 = chi2 / (m - rank)`` (ODRPACK's
``res_var``, ``chi2`` the full weighted sum of squares over x and y), with ``True`` the
unscaled ``(J_red^T J_red)^+``, so switching between a fit with and without ``sigma_x`` never
changes what the covariance means. ``J_red`` is the reduced Jacobian, the Schur complement of
the corrections (:mod:`trustfit.kinds.odr_linalg`); where it is rank deficient the covariance
is the pseudo-inverse of :func:`trustfit.analysis.uncertainty.covariance`, flagged
(``rank_deficient``, an event, a warning from :func:`trustfit.curve_fit`), never zeros.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
import dataclasses
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ..analysis.diagnostics import check_rank
from ..analysis.uncertainty import covariance
from ..core import validate as check
from ..core.events import CovariancePseudoInverse, StartRejected
from ..core.result import FitResult, StopReason
from ..kinds.odr_implicit import ImplicitModel
from ..kinds.odr_loop import NonFiniteOdrStart, OdrModel, OdrRun, run
from ..solve.methods import ROUNDING_LEVEL
from ..strategies.multistart import StartDesign
from ..strategies.rescue import rescue as rescue_layer
from ._shared import curve_fit_return, signature_names
from .least_squares import solve_with_design


@dataclass(frozen=True)
class ODRResult(OdrRun):
    """The result of :func:`odr`: a :class:`trustfit.FitResult` (``x`` the parameters,
    ``success`` certified on the full problem) with ``delta`` (the corrections, the shape of
    the x given), ``x_adjusted = x + delta``, ``pcov``, ``stderr``, ``rank_deficient`` (the
    covariance is then the flagged pseudo-inverse), ``res_var`` (``chi2 / (m - rank)``),
    ``residual_y = (f(x_adjusted) - y) / sigma`` and ``residual_x = delta / sigma_x``."""

    x_adjusted: np.ndarray | None = None
    #: implicit=True: the corrections to y and the adjusted y
    delta_y: np.ndarray | None = None
    y_adjusted: np.ndarray | None = None
    #: 'odr' (explicit, y = f(x, p)) or 'odr-implicit' (g(x, y, p) = 0)
    method_kind: str = "odr"
    pcov: np.ndarray | None = None
    stderr: np.ndarray | None = None
    rank_deficient: bool = False
    res_var: float = float("nan")


def _real(name: str, value: Any) -> np.ndarray:
    a = np.asarray(value)
    if np.iscomplexobj(a) or a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be real numbers, got dtype {a.dtype}.")
    a = a.astype(float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no NaN or inf).")
    return a


def _positive(name: str, a: np.ndarray) -> np.ndarray:
    if np.any(a <= 0):
        raise ValueError(f"{name} must be positive (a standard deviation), got a minimum of "
                         f"{float(np.min(a))!r}; for x known exactly fit without sigma_x.")
    return a


def _sigma_x(value: Any, k: int, m: int) -> np.ndarray:
    """``sigma_x`` as a (k, m) array: a scalar, one per point (``(m,)`` for one variable),
    one per variable (``(k,)``, k > 1) or one per variable and point (``(k, m)``)."""
    if value is None:
        raise ValueError("sigma_x is required: the standard deviation of the errors in x, in "
                         "the units of x (a scalar, one per point or one per variable).")
    s = _positive("sigma_x", _real("sigma_x", value))
    if s.ndim == 0:
        return np.full((k, m), float(s))
    if k == 1 and s.shape in ((m,), (1, m)):
        return s.reshape(1, m).copy()
    if k > 1 and s.shape == (k,):
        return np.repeat(s[:, None], m, axis=1)
    if s.shape == (k, m):
        return s.copy()
    shapes = "(), (m,)" if k == 1 else "(), (k,) (one per variable), (k, m)"
    raise ValueError(f"sigma_x must have shape {shapes} with k={k} variables and m={m} "
                     f"points, got {s.shape}.")


def odr(f: Callable, x: Any, y: Any, p0: Any = None, sigma: Any = None, sigma_x: Any = None,
        absolute_sigma: bool = False, *, jac: Callable | str | None = None,
        jac_x: Callable | None = None, implicit: bool = False, ftol: float | None = 1e-15,
        xtol: float | None = 1e-15, gtol: float | None = 1e-15, max_nfev: int | None = None,
        max_iter: int | None = None, tau: float = 1e-3, rescue: bool = True, seed: int = 0,
        param_names: tuple[str, ...] | None = None, bounds: Any = None) -> ODRResult:
    """Orthogonal distance regression of ``y ≈ f(x, *p)`` with errors in ``x`` and ``y``.

    Parameters
    ----------
    f : ``f(x, *p)``, one value per point; called with x of the shape given (``(m,)`` for one
        independent variable, ``(k, m)`` for ``k``). With ``implicit=True``: ``g(x, y, *p)``,
        zero on the curve (a circle: ``(x - a)**2 + (y - b)**2 - r**2``), fitted by the
        exact weighted distances of the points to it (:mod:`trustfit.kinds.odr_implicit`);
        the result adds ``delta_y`` and ``y_adjusted``.
    x, y : the data, ``(m,)`` or ``(k, m)``, and ``(m,)``.
    p0 : the start (default: ones, when ``f``'s signature names the parameters).
    sigma : standard deviations of ``y`` (scalar or ``(m,)``; ``None``: 1).
    sigma_x : standard deviations of ``x`` (required): a scalar, ``(m,)`` for one variable,
        ``(k,)`` (one per variable) or ``(k, m)``.
    absolute_sigma : as in :func:`trustfit.curve_fit` (the module docstring).
    jac, jac_x : ``jac(x, *p) -> (m, n)`` and ``jac_x(x, *p) -> (m,)`` or ``(k, m)``, the
        derivatives of ``f``; default central differences (:mod:`trustfit.kinds.odr_loop`).
    ftol, xtol, gtol, max_nfev, max_iter, tau : as in :func:`trustfit.least_squares`
        (``max_nfev`` counts model evaluations at trial points; default ``100 n (n + 1)``).
    rescue, seed : restarts from perturbed parameters when the run stalls
        (:mod:`trustfit.strategies.rescue`); the corrections restart at zero.
    bounds : ``(lb, ub)`` on the parameters (scalars or one per parameter, as in
        :func:`trustfit.least_squares`; the corrections are not bounded). With a finite
        bound the corrections are eliminated exactly for each ``p`` (the foot points of
        :mod:`trustfit.kinds.odr_implicit` on ``g = f(x, p) - y``, whose residuals and
        Jacobian are the reduced problem's) and :func:`trustfit.least_squares` solves for
        ``p`` within the box, with its certificate of a bound-constrained minimum; the
        derivatives are then central differences (``jac``, ``jac_x`` do not apply).

    Returns
    -------
    :class:`ODRResult`.
    """
    check.function("f", f)
    if jac is not None and not callable(jac):
        check.choice("jac", jac, ("2-point", "3-point"))  # both: central differences
        jac = None
    if jac_x is not None and not callable(jac_x):
        raise TypeError(f"jac_x must be callable or None, got {jac_x!r}.")
    xa = _real("x", x)
    ya = _real("y", y)
    if ya.ndim != 1 or ya.size == 0:
        raise ValueError(f"y must be a non-empty 1-D array, got shape {ya.shape}.")
    m = ya.size
    one_d = xa.ndim == 1
    X = xa.reshape(1, -1) if one_d else xa
    if X.ndim != 2 or X.shape[1] != m:
        raise ValueError(f"x must have shape ({m},) or (k, {m}) to match y, got {xa.shape}.")
    k = X.shape[0]
    if sigma is None:
        sy = np.ones(m)
    else:
        sy = _positive("sigma", _real("sigma", sigma))
        if sy.ndim == 0:
            sy = np.full(m, float(sy))
        elif sy.shape != (m,):
            raise ValueError(f"sigma must be a scalar or have shape ({m},) with sigma_x "
                             f"(a covariance matrix of y is not supported), got {sy.shape}.")
    sx = _sigma_x(sigma_x, k, m)
    names: Sequence[str] | None = param_names if param_names is not None else signature_names(f)
    if implicit is True and param_names is None and names is not None:
        names = names[1:]  # g(x, y, *p)
    if p0 is None:
        if not names:
            raise ValueError("p0 is needed when f takes its parameters as *args.")
        p0 = np.ones(len(names))
    p0 = check.starting_point(p0)
    n = p0.size
    if param_names is not None:
        names = check.param_names(param_names, n)
    elif names is not None and len(names) != n:
        names = None
    options: dict[str, Any] = dict(
        ftol=check.tolerance("ftol", ftol), xtol=check.tolerance("xtol", xtol),
        gtol=check.tolerance("gtol", gtol), tau=check.positive_float("tau", tau),
        rounding=ROUNDING_LEVEL)
    max_nfev = check.positive_int_or_none("max_nfev", max_nfev)
    max_iter = check.positive_int_or_none("max_iter", max_iter)
    if max_nfev is None:
        max_nfev = 100 * n * (n + 1)
    if not isinstance(rescue, bool):
        raise TypeError(f"rescue must be True or False, got {rescue!r}.")
    box = None if bounds is None else check.box(bounds, p0)
    if box is not None and np.all(np.isinf(box[0])) and np.all(np.isinf(box[1])):
        box = None  # no finite bound: the structured loop
    if implicit is not False and implicit is not True:
        raise TypeError(f"implicit must be True or False, got {implicit!r}.")
    if implicit or box is not None:
        if jac is not None or jac_x is not None:
            raise ValueError(f"jac and jac_x do not apply with "
                             f"{'implicit=True' if implicit else 'bounds'} (the derivatives "
                             "of the foot-point problem are taken by central differences).")
        solver = dict(options, max_nfev=max_nfev, max_iter=max_iter, rescue=rescue, seed=seed)
        if box is not None:
            solver["bounds"] = box
        if implicit:
            return _implicit(f, X, ya, p0, sy, sx, one_d, names, absolute_sigma, solver)
        return _implicit(_as_implicit(f), X, ya, p0, sy, sx, one_d, names, absolute_sigma,
                         solver, explicit=True)
    model = OdrModel(f, X, ya, sy, sx, one_d, n, jac if callable(jac) else None, jac_x)

    def run_once(start: np.ndarray, nfev_left: int | None = None,
                 iter_left: int | None = None) -> OdrRun:
        try:
            return run(model, start, max_nfev=max_nfev if nfev_left is None else nfev_left,
                       max_iter=max_iter if iter_left is None else iter_left, **options)
        except NonFiniteOdrStart as exc:
            if np.array_equal(start, p0):
                raise ValueError(str(exc)) from None
            return _rejected(start, exc, m)

    result = run_once(p0)
    if rescue:
        # one of run_once's runs
        result = cast(OdrRun, rescue_layer(run_once, result, seed=seed, max_nfev=max_nfev,
                                           max_iter=max_iter))
    return _finish(result, X, one_d, names, absolute_sigma)


def _as_implicit(f: Callable) -> Callable:
    """``g(x, y, *p) = f(x, *p) - y``: an explicit model as the curve ``g = 0``, whose
    weighted foot points are the explicit problem's corrections (``y' = f(x + delta)``)."""
    def g(x, y, *p):
        return np.asarray(f(x, *p), dtype=float) - y
    return g


def _implicit(g: Callable, X: np.ndarray, y: np.ndarray, p0: np.ndarray, sy: np.ndarray,
              sx: np.ndarray, one_d: bool, names, absolute_sigma: bool, options: dict,
              explicit: bool = False) -> ODRResult:
    """``implicit=True``: exact foot points for each ``p`` (:mod:`trustfit.kinds.odr_implicit`),
    least squares in ``p`` on the signed weighted distances. ``explicit``: ``g`` is
    :func:`_as_implicit` of an explicit model with bounds; the result is the explicit one's
    (``delta``, ``x_adjusted``, ``residual_y = (f(x_adjusted) - y) / sigma``)."""
    model = ImplicitModel(g, np.vstack([X, y[None, :]]), np.vstack([sx, sy[None, :]]) ** 2,
                          one_d)
    bad = np.flatnonzero(~np.isfinite(model.residuals(p0)))
    if bad.size:
        curve = "y = f(x, p0)" if explicit else "g(x, y, p0) = 0"
        raise ValueError(f"no point of {curve} was found near the data points "
                         f"{bad[:10].tolist()}{' ...' if bad.size > 10 else ''} (the model "
                         "not finite there, or the projection did not converge); choose p0 "
                         "so that the curve passes near the data.")
    rounding = options.pop("rounding")
    del rounding  # least_squares' own rounding test
    plan = StartDesign(param_names=tuple(names) if names is not None else None)
    fit = solve_with_design(plan, model.residuals, p0, jac=model.jacobian, **options)
    fields = {name: getattr(fit, name) for name in FitResult.__dataclass_fields__}
    delta, r, _, _ = model.project(fit.x)
    k = X.shape[0]
    result = ODRResult(**fields, method_kind="odr" if explicit else "odr-implicit",
                       delta=delta[0].copy() if one_d else delta[:k].copy(),
                       delta_y=None if explicit else delta[k].copy(),
                       y_adjusted=None if explicit else y + delta[k],
                       residual_y=delta[k] / sy,
                       residual_x=(delta[:k] / sx)[0] if one_d else delta[:k] / sx)
    return _finish(result, X, one_d, names, absolute_sigma)


def _rejected(start: np.ndarray, exc: Exception, m: int) -> OdrRun:
    n = start.size
    return OdrRun(x=start.copy(), cost=np.inf, fun=np.full(m, np.nan),
                  jac=np.full((m, n), np.nan), grad=np.full(n, np.nan), optimality=np.inf,
                  active_mask=np.zeros(n, dtype=int), nfev=1, njev=0, nit=0, method="odr",
                  stop_reason=StopReason.NO_PROGRESS, stop_value=np.nan, x0=start.copy(),
                  bounds=(np.full(n, -np.inf), np.full(n, np.inf)),
                  events=(StartRejected(tuple(float(v) for v in start), str(exc)),))


def _finish(run_result: OdrRun, X: np.ndarray, one_d: bool, names, absolute_sigma: bool
            ) -> ODRResult:
    fields = {name: getattr(run_result, name) for name in run_result.__dataclass_fields__}
    names = tuple(names) if names is not None else None
    draft = ODRResult(**{**fields, "param_names": names,
                         "absolute_sigma": bool(absolute_sigma)})
    cov = covariance(draft, absolute_sigma=True)
    dof = draft.fun.size - cov.rank
    res_var = 2.0 * draft.cost / dof if dof > 0 else float("nan")
    pcov = cov.matrix if absolute_sigma else cov.matrix * res_var
    events = tuple(draft.events)
    if cov.rank_deficient:
        finding = check_rank(draft, names)
        text = finding[0].message if finding else "the reduced Jacobian is rank deficient."
        events += (CovariancePseudoInverse(text),)
    # The result, built once from the run and what the covariance adds.
    return dataclasses.replace(
        draft, x_adjusted=(X[0] if one_d else X) + draft.delta, res_var=res_var, pcov=pcov,
        stderr=np.sqrt(np.clip(np.diag(pcov), 0.0, None)),
        rank_deficient=cov.rank_deficient, events=events)


def odr_curve_fit(f: Callable, xdata: Any, ydata: Any, p0: Any, sigma: Any,
                  absolute_sigma: bool, check_finite: bool | None, bounds: Any,
                  method: str | None, jac: Any, *, sigma_x: Any, warning: type[Warning],
                  nan_policy: str | None = None, full_output: bool | None = None,
                  **kwargs: Any):
    """:func:`trustfit.curve_fit` (``full_output`` given) or :func:`trustfit.fit` (``None``)
    with ``sigma_x``: SciPy's conventions (``RuntimeError`` when the fit did not converge,
    ``warning`` when ``pcov`` is a pseudo-inverse), the work done by :func:`odr`."""
    if method not in (None, "lm", "auto", "trf"):
        raise ValueError(f"method={method!r} is not supported with sigma_x: orthogonal "
                         "distance regression runs Levenberg-Marquardt ('lm').")
    if nan_policy not in (None, "raise"):
        raise ValueError(f"nan_policy={nan_policy!r} is not supported with sigma_x.")
    del check_finite  # the data are always checked
    if "maxfev" in kwargs:
        kwargs["max_nfev"] = kwargs.pop("maxfev")
    result = odr(f, xdata, ydata, p0, sigma, sigma_x, absolute_sigma, jac=jac, bounds=bounds,
                 **kwargs)
    if full_output is None:
        return result
    return curve_fit_return(result, full_output, warning)
