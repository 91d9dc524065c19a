"""What every model shares, whatever defines it (an expression, a callable, a sum or product of
models): parameter vectors and mappings, the independent variable(s), residuals, Parameters
with defaults and hints, data-driven guesses, the reduction to a solver's problem, and the
lmfit-shaped :meth:`ModelBase.fit` (:mod:`.fitting`).

A subclass sets ``param_names``, ``independent_names``, ``name``, ``_guess``, ``_defaults``
(a :class:`Parameters` of defaults), ``has_jacobian``, and defines ``eval(params, x)`` and,
where it has one, ``jacobian(params, x)``.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from .parameters import Parameter, Parameters

__all__ = ["CompositeModel", "FitProblem", "ModelBase"]

_FIELDS = ("value", "min", "max", "vary", "expr")


@dataclass(frozen=True)
class FitProblem:
    """A model and data reduced to what a least-squares solver takes.

    ``fun(xv)`` gives residuals ``(f - y)/sigma`` and ``jac(xv)`` their Jacobian
    (``None`` means "use finite differences") as functions of the *varying*
    parameters only; ``x0`` and ``bounds`` are in the same order as
    ``names``.  ``params_at(xv)`` turns a solution back into Parameters, fixed
    ones held at their values and constrained ones computed.
    """

    fun: Callable[[np.ndarray], np.ndarray]
    jac: Callable[[np.ndarray], np.ndarray] | None
    x0: np.ndarray
    bounds: tuple[np.ndarray, np.ndarray]
    names: list[str]
    params: Parameters

    def params_at(self, x_varying: Any) -> Parameters:
        return self.params.updated(x_varying)


class ModelBase:
    """The machinery shared by :class:`~trustfit.models.Model` and its kinds."""

    has_jacobian = True
    prefix = ""
    # Set by every subclass (the module docstring); declared here for the type checker.
    param_names: list[str]
    independent_names: list[str]
    _guess: Callable[..., Any] | None
    _defaults: Parameters
    eval: Callable[[Any, Any], np.ndarray]
    jacobian: Callable[[Any, Any], np.ndarray] | None

    @property
    def nparams(self) -> int:
        return len(self.param_names)

    # -- argument handling ---------------------------------------------------------
    def _pvec(self, params: Any) -> np.ndarray:
        n = self.nparams
        if isinstance(params, Mapping):
            missing = [p for p in self.param_names if p not in params]
            if missing:
                raise ValueError(f"params is missing values for {missing} "
                                 f"(the parameters are {self.param_names})")
            if isinstance(params, Parameters) and params.constrained:
                full = dict(zip(params, params.full(params.to_arrays()[0]), strict=True))
                return np.array([full[p] for p in self.param_names], dtype=float)
            vals = []
            for name in self.param_names:
                v = params[name]
                v = v.value if isinstance(v, Parameter) else v
                if v is None:
                    raise ValueError(f"params: parameter {name!r} has no value")
                vals.append(v)
            return np.asarray(vals, dtype=float)
        try:
            p = np.asarray(params, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"params must be {n} numbers (in the order {self.param_names}) "
                             f"or a mapping of names to values, got {params!r:.80}") from None
        if p.shape != (n,):
            raise ValueError(f"params must have one value per parameter ({n}: "
                             f"{self.param_names}), got shape {p.shape}")
        return p

    def _xs(self, x: Any) -> tuple[list[np.ndarray], int]:
        """The independent variable(s) as float arrays, and the number of points."""
        k = len(self.independent_names)
        if k == 1:
            xa = np.atleast_1d(np.asarray(x, dtype=float))
            if xa.ndim != 1:
                raise ValueError(f"x must be a 1-D array of points for the independent "
                                 f"variable {self.independent_names[0]!r}, got shape {xa.shape}")
            return [xa], xa.shape[0]
        if isinstance(x, Mapping):
            x = [x[v] for v in self.independent_names]
        if len(x) != k:
            raise ValueError(f"x must hold {k} arrays, one per independent variable "
                             f"{self.independent_names}, got {len(x)}")
        xs = [np.atleast_1d(np.asarray(xi, dtype=float)) for xi in x]
        try:
            shape = np.broadcast_shapes(*(xi.shape for xi in xs))
        except ValueError:
            raise ValueError(f"x: the arrays for {self.independent_names} have shapes "
                             f"{[xi.shape for xi in xs]} that do not broadcast") from None
        if len(shape) != 1:
            raise ValueError(f"x: each independent variable must be a 1-D array, "
                             f"got shapes {[xi.shape for xi in xs]}")
        return [np.broadcast_to(xi, shape) for xi in xs], shape[0]

    def _data(self, y: Any, sigma: Any, m: int) -> tuple[np.ndarray, np.ndarray | None]:
        ya = np.asarray(y, dtype=float)
        if ya.shape != (m,):
            raise ValueError(f"y must have one value per point of x (shape ({m},)), "
                             f"got shape {ya.shape}")
        if sigma is None:
            return ya, None
        s = np.asarray(sigma, dtype=float)
        if s.ndim == 0:
            s = np.full(m, float(s))
        if s.shape != (m,):
            raise ValueError(f"sigma must be a number or have one value per point "
                             f"(shape ({m},)), got shape {s.shape}")
        if not np.all(np.isfinite(s) & (s > 0)):
            bad = s[~(np.isfinite(s) & (s > 0))][0]
            raise ValueError(f"sigma must be positive and finite everywhere, found {bad!r}")
        return ya, s

    def __call__(self, x: Any, *params: float) -> np.ndarray:
        """``model(x, *params)``: the ``f(x, *p)`` form ``curve_fit`` takes."""
        return self.eval(params, x)

    def residuals(self, params: Any, x: Any, y: Any, sigma: Any = None) -> np.ndarray:
        """Weighted residuals ``r = (f(x; p) - y) / sigma``: shape ``(m,)``.

        The solver minimises ``0.5 * sum(r**2)``; ``sigma`` (a number or one
        value per point, positive) defaults to 1.
        """
        f = self.eval(params, x)
        ya, s = self._data(y, sigma, f.shape[0])
        r = f - ya
        return r if s is None else r / s

    def residual_jacobian(self, params: Any, x: Any, y: Any, sigma: Any = None) -> np.ndarray:
        """Jacobian of :meth:`residuals`: ``J / sigma[:, None]``, shape ``(m, n)``.

        Takes the same arguments as :meth:`residuals`, so the pair can be given
        to a solver as ``fun``/``jac`` with the same ``args=(x, y, sigma)``.
        """
        # never None here: a model without a Jacobian sets residual_jacobian = None too
        jacobian = cast(Callable[[Any, Any], np.ndarray], self.jacobian)
        jac = jacobian(params, x)
        _, s = self._data(y, sigma, jac.shape[0])
        return jac if s is None else jac / s[:, None]

    # -- parameters -------------------------------------------------------------------
    def make_params(self, **values: Any) -> Parameters:
        """Parameters for this model, in ``param_names`` order.

        Each keyword is a parameter name with a number (the initial value, the
        model's default bounds kept), a :class:`Parameter`, or a dict of
        Parameter fields (``value``, ``min``, ``max``, ``vary``, ``expr``).  Parameters
        not given keep the model's defaults and hints (value ``None`` if it has none).
        """
        unknown = [k for k in values if k not in self.param_names]
        if unknown:
            raise ValueError(f"make_params: {unknown[0]!r} is not a parameter of this model "
                             f"(the parameters are {self.param_names})")
        out = Parameters()
        for n in self.param_names:
            p = self._defaults[n].copy() if n in self._defaults else Parameter(n)
            v = values.get(n)
            if isinstance(v, Parameter):
                if v.name != n:
                    raise ValueError(f"make_params: keyword {n!r} was given a Parameter "
                                     f"named {v.name!r}")
                p = v.copy()
            elif isinstance(v, Mapping):
                bad = [k for k in v if k not in _FIELDS]
                if bad:
                    raise ValueError(f"make_params: {n}={dict(v)!r} has unknown field "
                                     f"{bad[0]!r}; fields are {', '.join(_FIELDS)}")
                for k, fv in v.items():
                    setattr(p, k, fv)
            elif v is not None:
                p.value = v
            out.add(p.check(need_value=False))
        if out.constrained:
            out._constraints()  # a constraint naming no parameter is refused here, at once
        return out

    def set_param_hint(self, name: str, **fields: Any) -> None:
        """Defaults for one parameter that :meth:`make_params` starts from (lmfit's
        ``set_param_hint``): ``value``, ``min``, ``max``, ``vary``, ``expr``."""
        if name not in self.param_names:
            raise ValueError(f"set_param_hint: {name!r} is not a parameter of this model "
                             f"(the parameters are {self.param_names})")
        bad = [k for k in fields if k not in _FIELDS]
        if bad:
            raise ValueError(f"set_param_hint: unknown field {bad[0]!r}; fields are "
                             f"{', '.join(_FIELDS)}")
        p = self._defaults[name].copy() if name in self._defaults else Parameter(name)
        for k, v in fields.items():
            setattr(p, k, v)
        self._defaults.add(p.check(need_value=False))

    def guess(self, data: Any, *args: Any, x: Any = None, **kws: Any) -> Parameters:
        """Data-driven initial values from measurements ``data`` at ``x`` (lmfit's order:
        ``model.guess(y, x=x)``), as :class:`Parameters` with the model's bounds.

        ``x`` is keyword-only: trustfit's earlier ``guess(x, y)`` took the two arrays the
        other way round, and two positional arrays cannot tell which order was meant.
        Only models given a ``guess`` function have one (all library models do).
        """
        if args:
            raise TypeError("guess(data, x=x): pass x by keyword; the measurements come "
                            "first (lmfit's order), and guess(a, b) with two arrays is refused "
                            "because trustfit's earlier guess(x, y) took them the other way "
                            "round")
        if kws:
            raise TypeError(f"guess() got an unexpected keyword argument {next(iter(kws))!r}")
        return self.make_params(**self._guess_values(x, data))

    def _guess_values(self, x: Any, y: Any) -> dict[str, float]:
        if self._guess is None:
            raise NotImplementedError(f"{self!r} has no guess(); give initial values with "
                                      f"make_params(...), or build it with guess=...")
        if x is None:
            raise TypeError("guess(data, x=x): x is required")
        xa = np.asarray(x, dtype=float)
        ya = np.asarray(y, dtype=float)
        if xa.ndim != 1 or ya.shape != xa.shape:
            raise ValueError(f"guess: x and data must be 1-D arrays of the same length, got "
                             f"shapes {xa.shape} and {ya.shape}")
        ok = np.isfinite(xa) & np.isfinite(ya)
        if ok.sum() < self.nparams:
            raise ValueError(f"guess: need at least {self.nparams} finite (x, y) points for "
                             f"{self.nparams} parameters, got {int(ok.sum())}")
        order = np.argsort(xa[ok], kind="stable")
        with np.errstate(all="ignore"):
            g = self._guess(xa[ok][order], ya[ok][order])
        out = {self.prefix + n if self.prefix + n in self.param_names else n: float(v)
               for n, v in g.items()}
        out = {n: out[n] for n in self.param_names}
        bad = [n for n, v in out.items() if not np.isfinite(v)]
        if bad:  # a guess must never hand the solver a NaN; say so instead
            raise ValueError(f"guess: could not estimate {bad} from these data; give initial "
                             f"values with make_params(...)")
        return out

    # -- the solver's problem ----------------------------------------------------------
    def fit_problem(self, x: Any, y: Any, params: Parameters | Mapping[str, Any] | None = None,
                    sigma: Any = None) -> FitProblem:
        """Reduce model + data + Parameters to a solver's ``fun``, ``jac``, ``x0``, ``bounds``.

        ``params`` defaults to :meth:`guess` (library models).  Fixed parameters
        (``vary=False``) are held at their values and constrained ones (``expr``) computed;
        both are left out of the vector, their Jacobian columns entering through the chain
        rule (:meth:`.constraints.Constraints.derivative`).
        """
        if params is None:
            params = self.guess(y, x=x)
        elif not isinstance(params, Parameters):
            params = self.make_params(**dict(params))
        if list(params) != self.param_names:
            raise ValueError(f"params must hold exactly this model's parameters in order "
                             f"{self.param_names}, got {list(params)}")
        params = params.copy()
        x0, lower, upper = params.to_arrays()
        xs, m = self._xs(x)
        x_arg = xs[0] if len(xs) == 1 else xs
        ya, s = self._data(y, sigma, m)
        idx = [i for i, n in enumerate(params) if params[n].free]
        full = params.full
        chain = params._constraints() if params.constrained else None

        def fun(xv):
            return self.residuals(full(xv), x_arg, ya, s)

        jac = None
        if self.has_jacobian:
            def jac(xv):
                p = full(xv)
                J = self.residual_jacobian(p, x_arg, ya, s)
                return J[:, idx] if chain is None else J @ chain.derivative(p, idx)
        # the solver's messages name Jacobian columns (a function attribute: dynamic)
        fun.param_names = params.varying  # type: ignore[attr-defined]

        return FitProblem(fun, jac, x0, (lower, upper), params.varying, params)

    def fit(self, data: Any, params: Parameters | Mapping[str, Any] | None = None,
            weights: Any = None, method: str | None = None, **kws: Any):
        """Fit the model to ``data``, lmfit's way: see :func:`.fitting.fit_model`."""
        from .fitting import fit_model

        return fit_model(self, data, params, weights=weights, method=method, **kws)

    def fit_global(self, datasets: Any, shared: Any = (), p0: Any = None, **kws: Any):
        """Fit this model to many data sets at once, ``shared`` parameters common to all:
        :func:`trustfit.fit_global` with this model."""
        from .global_fit import fit_global

        return fit_global(self, datasets, shared, p0, **kws)

    # -- composite models ----------------------------------------------------------------
    @property
    def components(self) -> list:
        """The models this one is made of (itself, unless it is a composite)."""
        return [self]

    def __add__(self, other):
        return CompositeModel(self, other, "+")

    def __sub__(self, other):
        return CompositeModel(self, other, "-")

    def __mul__(self, other):
        return CompositeModel(self, other, "*")

    def __truediv__(self, other):
        return CompositeModel(self, other, "/")

    def _repr_html_(self) -> str:
        from .html import escape

        return f"<code>{escape(repr(self))}</code>"


# -- composite models -------------------------------------------------------------------
_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


class CompositeModel(ModelBase):
    """``left op right`` for two models and ``op`` one of ``+ - * /``: lmfit's
    ``CompositeModel`` (``Model(gaussian, prefix="g1_") + Model(line)``).

    The parameters are the left model's followed by the right one's (a name in both is a
    ``ValueError``: give one of them a ``prefix``); the independent variables must be the
    same. Values combine pointwise; so do exact Jacobians, by the sum and product rules
    (``d(f g) = g df + f dg``, ``d(f / g) = df / g - f dg / g**2``). Where both sides are
    expression models the composite also carries the combined sympy expression, so
    ``fit_batch`` compiles it like any other.
    """

    def __init__(self, left, right, op):
        if not isinstance(left, ModelBase) or not isinstance(right, ModelBase):
            other = right if isinstance(left, ModelBase) else left
            raise TypeError(f"models combine only with models ({op}), got "
                            f"{type(other).__name__}; write a number as part of an expression "
                            f"model instead")
        if op not in _OPS:
            raise ValueError(f"op must be one of {list(_OPS)}, got {op!r}")
        shared = [n for n in left.param_names if n in right.param_names]
        if shared:
            raise ValueError(f"the two models share the parameter name(s) {shared}: give one "
                             f"of them a prefix, e.g. Model(..., prefix='p1_')")
        if list(left.independent_names) != list(right.independent_names):
            raise ValueError(f"the two models have different independent variables "
                             f"({left.independent_names} and {right.independent_names})")
        self.left, self.right, self.op = left, right, op
        self.prefix = ""
        self.independent_names = list(left.independent_names)
        self.param_names = list(left.param_names) + list(right.param_names)
        self.name = f"({left.name or 'model'} {op} {right.name or 'model'})"
        self._guess = None
        self._defaults = Parameters(list(left._defaults.values())
                                    + list(right._defaults.values()))
        self.has_jacobian = bool(left.has_jacobian and right.has_jacobian)
        if not self.has_jacobian:
            self.jacobian = self.residual_jacobian = None
        self.expr_text = None
        symbolic = left.expr is not None and right.expr is not None
        self.expr = _OPS[op](left.expr, right.expr) if symbolic else None
        self.param_symbols = (list(left.param_symbols) + list(right.param_symbols)
                              if symbolic else None)
        self.independent_symbols = list(left.independent_symbols) if symbolic else None
        self.jacobian_exprs = None
        self._f = self._j = None

    @property
    def components(self) -> list:
        return self.left.components + self.right.components

    def _split(self, params):
        p = self._pvec(params)
        k = self.left.nparams
        return p[:k], p[k:]

    def eval(self, params, x):
        pl, pr = self._split(params)
        with np.errstate(all="ignore"):
            return _OPS[self.op](self.left.eval(pl, x), self.right.eval(pr, x))

    def jacobian(self, params, x):
        pl, pr = self._split(params)
        jl, jr = self.left.jacobian(pl, x), self.right.jacobian(pr, x)
        with np.errstate(all="ignore"):
            if self.op in "+-":
                return np.hstack([jl, jr if self.op == "+" else -jr])
            fl, fr = self.left.eval(pl, x), self.right.eval(pr, x)
            if self.op == "*":
                return np.hstack([jl * fr[:, None], jr * fl[:, None]])
            return np.hstack([jl / fr[:, None], -jr * (fl / fr**2)[:, None]])

    def __repr__(self) -> str:
        return f"({self.left!r} {self.op} {self.right!r})"
