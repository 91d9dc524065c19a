"""``model.fit(data, params, x=...)``: lmfit's model workflow on trustfit's solvers.

The arguments are lmfit's ``Model.fit``: the measurements first, then Parameters (or a mapping,
or nothing: then the model's guess where it has one), ``weights`` (lmfit's: the residual is
``(model - data) * weights``, so ``weights = 1/sigma``) or ``sigma``, ``method``, and the
independent variable(s) and parameter values as keywords (``x=x``, ``amp=5``). The fit is
:func:`trustfit.least_squares` on the model's exact Jacobian (finite differences for a callable
model), so every certificate, diagnosis and rescue of a single fit applies; the covariance is
scaled by the reduced chi-square (lmfit's ``scale_covar=True``, SciPy's
``absolute_sigma=False``) unless ``scale_covar=False``.

Data frames: with ``frame=`` (a pandas DataFrame, or any mapping of columns) every argument
given as a string (``data``, the independent variables, ``weights``, ``sigma``) names a column
of it; pandas Series are taken as their values.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from .data_kinds import NOISE, kind_fit
from .parameters import Parameter, Parameters

__all__ = ["fit_model", "solver_method"]

#: lmfit's method names that mean a least-squares solver, and trustfit's meaning for them.
LMFIT_METHODS = {"leastsq": "lm", "least_squares": None}
#: lmfit's scalar minimizers: not least squares, refused with advice.
SCALAR_METHODS = ("nelder", "lbfgsb", "powell", "cg", "newton", "cobyla", "bfgs", "tnc",
                  "trust-ncg", "trust-exact", "trust-krylov", "trust-constr", "dogleg-scalar",
                  "slsqp", "differential_evolution", "brute", "basinhopping", "ampgo",
                  "shgo", "dual_annealing", "emcee")


def solver_method(method: str | None) -> str | None:
    """trustfit's method for ``method`` (lmfit's ``'leastsq'`` is ``'lm'``,
    ``'least_squares'`` the default); trustfit's own names pass through."""
    if method is None or not isinstance(method, str):
        return method
    key = method.lower()
    if key in LMFIT_METHODS:
        return LMFIT_METHODS[key]
    if key in SCALAR_METHODS:
        raise ValueError(f"method={method!r}: trustfit solves least-squares problems only; "
                         f"use method='leastsq' (Levenberg-Marquardt), 'least_squares' or "
                         f"None (trustfit's default, 'auto'), and multistart=... or "
                         f"starts=N for a global search")
    return method


def _column(value: Any, frame: Any, argument: str) -> Any:
    """A column of ``frame`` when ``value`` is its name; a pandas object as its values."""
    if isinstance(value, str):
        if frame is None:
            raise TypeError(f"{argument}={value!r} is a column name; pass the table as "
                            f"frame=... (a pandas DataFrame or a mapping of columns)")
        try:
            value = frame[value]
        except (KeyError, IndexError):
            columns = list(getattr(frame, "columns", frame))
            raise ValueError(f"{argument}={value!r}: no such column (the columns are "
                             f"{columns})") from None
    if hasattr(value, "to_numpy") and not isinstance(value, np.ndarray):
        value = value.to_numpy()
    return value


def _independent(model, kws: dict, frame: Any) -> dict[str, np.ndarray]:
    out = {}
    alias = (len(model.independent_names) == 1 and "x" not in model.independent_names
             and "x" not in model.param_names)
    for name in model.independent_names:
        if name in kws:
            out[name] = _column(kws.pop(name), frame, name)
        elif alias and "x" in kws:
            out[name] = _column(kws.pop("x"), frame, "x")
        else:
            raise TypeError(f"fit needs the independent variable {name!r}: "
                            f"model.fit(data, params, {name}=...)")
    return out


def _start(model, params: Any, values: dict, data: np.ndarray, x: Any) -> Parameters:
    """The Parameters to start from: ``params`` (or the model's guess, or its defaults), then
    the keyword values on top (lmfit: keywords override ``params``)."""
    if params is None:
        need = [n for n in model.param_names
                if n not in values and (n not in model._defaults
                                        or model._defaults[n].value is None)]
        if need and model._guess is not None and len(model.independent_names) == 1:
            start = model.guess(data, x=x)
        else:
            start = model.make_params()
    elif isinstance(params, Parameters):
        extra = [n for n in params if n not in model.param_names]
        if extra:
            raise ValueError(f"params has {extra}, which are not parameters of this model "
                             f"(its parameters are {model.param_names})")
        start = model.make_params(**{n: params[n] for n in model.param_names if n in params})
    elif isinstance(params, Mapping):
        start = model.make_params(**dict(params))
    else:
        raise TypeError(f"params must be Parameters, a mapping of names to values, or None; "
                        f"got {type(params).__name__}")
    for name, v in values.items():
        p = start[name]
        if isinstance(v, Parameter):
            start.add(v.copy())
        elif isinstance(v, Mapping):
            p.set(**v)
        else:
            p.set(value=v)
    missing = [n for n, p in start.items() if p.value is None and p.expr is None]
    if missing:
        raise ValueError(f"no initial value for {missing}: give them as keywords "
                         f"(model.fit(data, {missing[0]}=...)), in params, or with "
                         f"make_params(...)")
    return start


def _sigma(weights: Any, sigma: Any, frame: Any, m: int) -> np.ndarray | None:
    if weights is not None and sigma is not None:
        raise TypeError("give weights (lmfit's: 1/sigma) or sigma, not both")
    if weights is not None:
        w = np.asarray(_column(weights, frame, "weights"), dtype=float)
        if not np.all(np.isfinite(w) & (w > 0)):
            raise ValueError("weights must be positive and finite at every point (they are "
                             "1/sigma); drop the points that should not count")
        return np.broadcast_to(1.0 / w, (m,)).copy() if w.ndim == 0 else 1.0 / w
    if sigma is not None:
        return np.asarray(_column(sigma, frame, "sigma"), dtype=float)
    return None


def _finite(argument: str, values: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"{argument} has {bad.size} non-finite value(s) (first at index "
                         f"{bad[0]}: {values.flat[bad[0]]!r}); drop those points before "
                         f"fitting (lmfit's nan_policy='raise')")


def fit_model(model, data: Any, params: Any = None, *, weights: Any = None,
              sigma: Any = None, method: str | None = None, frame: Any = None,
              scale_covar: bool = True, max_nfev: int | None = None,
              fit_kws: Mapping[str, Any] | None = None, nan_policy: str | None = None,
              sigma_x: Any = None, noise: str = "gaussian", **kws: Any):
    """Fit ``model`` to ``data`` and return a :class:`~.result.ModelResult`.

    ``kws`` hold the independent variable(s) by name (``x=...``; for a model of ``t``, ``t=``
    or ``x=``) and initial values by parameter name (a number, a dict of Parameter fields,
    or a Parameter). ``fit_kws`` go to :func:`trustfit.least_squares` (``rescue``,
    ``starts``, tolerances, ...).

    ``sigma_x`` (errors in x: orthogonal distance regression, :func:`trustfit.odr`; a scalar,
    one per point, or one per independent variable) and ``noise='poisson'`` (counts: Poisson
    maximum likelihood) fit the data kinds of :mod:`.data_kinds`; ``fit_kws`` then go to
    :func:`trustfit.odr` or the Poisson fit, and the result's ``result`` is theirs
    (``result.delta``, ``result.x_adjusted``; also ``ModelResult.delta`` and
    ``.x_adjusted``).
    """
    from ..faces.least_squares import least_squares
    from .result import ModelResult

    if nan_policy not in (None, "raise"):
        raise ValueError(f"nan_policy={nan_policy!r}: trustfit raises on NaN data; drop NaN "
                         f"points before fitting")
    xs = _independent(model, kws, frame)
    unknown = [k for k in kws if k not in model.param_names]
    if unknown:
        raise TypeError(f"fit() got an unexpected keyword argument {unknown[0]!r} (the "
                        f"model's parameters are {model.param_names}, its independent "
                        f"variables {model.independent_names})")
    y = np.asarray(_column(data, frame, "data"), dtype=float)
    _finite("data", y)
    for name, values in xs.items():
        _finite(name, np.asarray(values, dtype=float))
    x_arg = xs[model.independent_names[0]] if len(xs) == 1 else [xs[n] for n in xs]
    start = _start(model, params, kws, y, x_arg)
    s = _sigma(weights, sigma, frame, y.size)
    problem = model.fit_problem(x_arg, y, start, sigma=s)
    options = dict(fit_kws or {})
    options.setdefault("max_nfev", max_nfev)
    if not isinstance(noise, str) or noise not in NOISE:
        raise ValueError(f"noise must be 'gaussian' or 'poisson', got {noise!r}.")
    if sigma_x is not None or noise != "gaussian":
        if method is not None:
            raise ValueError(f"method={method!r} does not apply with sigma_x or "
                             "noise='poisson' (their fits choose their own solver)")
        sx = None if sigma_x is None else _column(sigma_x, frame, "sigma_x")
        result = kind_fit(model, problem, x_arg, y, s, sx, noise, scale_covar, options)
        result = dataclasses.replace(result, ydata=y, sigma=s)
    else:
        result = least_squares(problem.fun, problem.x0,
                               jac=problem.jac if problem.jac is not None else "2-point",
                               bounds=problem.bounds, method=solver_method(method), **options)
        result = dataclasses.replace(result, param_names=tuple(problem.names),
                                     ydata=y, sigma=s, absolute_sigma=not scale_covar)
    return ModelResult(model, result, problem, start, y, xs, s, method)
