"""Models from expression strings, with exact Jacobians; and from Python callables.

``Model("x3*exp(x1*t) + x4*exp(x2*t)")`` parses the string safely (see
:mod:`trustfit.models._safe_parse`: it is data, never executed), builds a sympy
expression, differentiates it symbolically with respect to every parameter, and
compiles value and Jacobian to numpy functions with ``sympy.lambdify`` (common
subexpressions are shared through ``cse=True``).  An exact Jacobian costs one
compile and saves the solver ``n`` extra model evaluations per step, and it
has no finite-difference truncation error, which matters near a minimum where
steps are small.

Parameter order
---------------
``param_names`` is in *natural sort* order: names are compared piece by piece,
digit runs as numbers, so ``x1 < x2 < x10`` and ``"x3*exp(x1*t) + x4*exp(x2*t)"``
gives ``['x1', 'x2', 'x3', 'x4']`` -- the order a person numbering parameters
meant.  It depends only on the set of names, never on how the formula is
written, so rewriting a formula keeps the order of its vector.  Pass ``params``
(a list of names, or a mapping of names to defaults) to choose another order.
A model made with :meth:`Model.from_callable` uses the order of the function's
signature instead, as ``scipy.optimize.curve_fit`` does.

Shapes
------
``x`` is a 1-D array of ``m`` points for one independent variable; for several
(``independent=("x", "y")``) it is a sequence of arrays, one per variable
(e.g. an array of shape ``(k, m)``).  ``eval`` returns ``(m,)`` and
``jacobian`` returns ``(m, n)``, broadcast to full length even where a
derivative is constant.  Parameter values are a sequence in ``param_names``
order or a mapping (a dict or :class:`~trustfit.models.Parameters`).

Numerics are quiet: evaluation runs under ``np.errstate(all="ignore")`` and a
bad region shows up as ``inf``/``nan`` in the result for the solver to handle,
not as warnings.

sympy is imported only when an expression model is built.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._budget import check_budget
from ._build import build_sympy
from ._safe_parse import _Source, free_names, unique_names, validate
from .parameters import Parameter, Parameters

__all__ = ["FitProblem", "Model", "natural_key"]

# Lambdify namespaces: SciPy first so that erf/erfc map to scipy.special.
_MODULES = ["scipy", "numpy"]


def natural_key(name: str) -> tuple:
    """Sort key comparing digit runs as numbers: ``x2 < x10``.

    Names are identifiers, so ``re.split`` yields text at even positions and
    digits at odd positions for every name, and the keys always compare.
    Ties (names differing only in case or leading zeros) fall back to the name.
    """
    parts = re.split(r"(\d+)", name)
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts)), name


def _import_sympy():
    try:
        import sympy
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("expression models need sympy: pip install 'trustfit[models]' "
                          "(or use Model.from_callable, which does not)") from None
    return sympy


@dataclass(frozen=True)
class FitProblem:
    """A model and data reduced to what a least-squares solver takes.

    ``fun(xv)`` gives residuals ``(f - y)/sigma`` and ``jac(xv)`` their Jacobian
    (``None`` means "use finite differences") as functions of the *varying*
    parameters only; ``x0`` and ``bounds`` are in the same order as
    ``names``.  ``params_at(xv)`` turns a solution back into Parameters, fixed
    ones held at their values.
    """

    fun: Callable[[np.ndarray], np.ndarray]
    jac: Callable[[np.ndarray], np.ndarray] | None
    x0: np.ndarray
    bounds: tuple[np.ndarray, np.ndarray]
    names: list[str]
    params: Parameters

    def params_at(self, x_varying: Any) -> Parameters:
        return self.params.updated(x_varying)


class Model:
    """A model ``f(x; params)`` built from an expression string.

    Parameters
    ----------
    expr : str
        The formula, e.g. ``"x3*exp(x1*t) + x4*exp(x2*t)"``.  Allowed: numbers,
        ``+ - * / **`` (``^`` also means power), the functions
        ``exp log ln log10 sqrt sin cos tan asin acos atan`` (also spelled
        ``arcsin arccos arctan``) ``sinh cosh tanh abs erf erfc``, and the
        constants ``pi`` and ``e``.  Every other name is a parameter, except
        the independent variable(s).  Anything else raises ``ValueError``.
    independent : str or sequence of str
        Name(s) of the independent variable(s); each must appear in ``expr``.
    params : sequence of str, or mapping, optional
        Fixes the order of ``param_names`` (it must name exactly the
        parameters).  As a mapping ``name -> number or Parameter`` it also
        gives the defaults that :meth:`make_params` starts from.
    name : str, optional
        A short name shown in ``repr`` (the library models set it).
    guess : callable, optional
        ``guess(x, y) -> dict`` of data-driven initial values; see :meth:`guess`.
    """

    #: Expression models always have an exact Jacobian; ``from_callable`` models set None.
    has_jacobian = True

    def __init__(self, expr: str, independent: str | Sequence[str] = "t",
                 params: Sequence[str] | Mapping[str, Any] | None = None, *,
                 name: str | None = None, guess: Callable | None = None):
        sympy = _import_sympy()
        from ._edges import edge_safe_diff  # u**b*log(u) is its limit 0 at u = 0, b > 0
        tree = validate(expr)
        indep = unique_names(independent, "independent variable", "independent")
        names = free_names(tree)
        absent = [v for v in indep if v not in names]
        if absent:
            others = [n for n in names if n not in indep]
            raise ValueError(f"model expression {expr!r}: the independent variable "
                             f"{absent[0]!r} does not appear in it (its names are {others}); "
                             f"pass independent=... with the variable's name")
        pnames = sorted((n for n in names if n not in indep), key=natural_key)
        if not pnames:
            raise ValueError(f"model expression {expr!r} has no parameters to fit")
        check_budget(tree, _Source(expr), indep)  # bounds sympy's work before it starts
        self._defaults = Parameters()
        if params is not None:
            pnames = self._order_from(params, pnames, expr)

        self.expr_text = expr
        self.name = name
        self._guess = guess
        self.independent_names = indep
        self.param_names = pnames
        self.independent_symbols = [sympy.Symbol(v, real=True) for v in indep]
        self.param_symbols = [sympy.Symbol(p, real=True) for p in pnames]
        symbols = dict(zip(indep + pnames, self.independent_symbols + self.param_symbols,
                           strict=True))
        try:
            self.expr = build_sympy(tree, symbols, expr)
            self.jacobian_exprs = [edge_safe_diff(self.expr, s) for s in self.param_symbols]
        except RecursionError:  # MAX_DEPTH should prevent it; never let it escape raw
            raise ValueError(f"model expression {expr!r} is too deeply nested for sympy"
                             ) from None
        self._f = self._j = None  # compiled lazily: building a model stays cheap

    def _order_from(self, params, pnames, expr):
        if isinstance(params, Mapping):
            self._defaults = Parameters(params)
            order = list(self._defaults)
        elif isinstance(params, str):
            raise ValueError(f"params must be a sequence of names or a mapping, got the "
                             f"string {params!r} (write params=[{params!r}])")
        else:
            order = unique_names(params, "parameter", "params")
        if set(order) != set(pnames):
            missing = [p for p in pnames if p not in order]
            extra = [p for p in order if p not in pnames]
            raise ValueError(f"params must name exactly the parameters of {expr!r} "
                             f"({pnames}); missing {missing}, not in the expression {extra}")
        return order

    # -- pickling: keep the recipe, drop the compiled functions ------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_f"] = state["_j"] = None
        return state

    def _compile(self):
        sympy = _import_sympy()
        # Rename every symbol to a generated name (_a0, _a1, ...) before printing:
        # a user's name may equal a function the printed code calls (a parameter
        # called 'sign' would shadow numpy's sign in d|u|/dp = sign(u)).  One
        # xreplace is linear in the expression size; lambdify's own dummify=True
        # does the same job quadratically (20 s for a 300-parameter model).
        public = self.param_symbols + self.independent_symbols
        safe = [sympy.Symbol(f"_a{i}", real=True) for i in range(len(public))]
        rename = dict(zip(public, safe, strict=True))
        value = self.expr.xreplace(rename)
        jac = [d.xreplace(rename) for d in self.jacobian_exprs]
        self._f = sympy.lambdify(safe, value, modules=_MODULES)
        self._j = sympy.lambdify(safe, jac, modules=_MODULES, cse=True)

    # -- argument handling ---------------------------------------------------------
    @property
    def nparams(self) -> int:
        return len(self.param_names)

    def _pvec(self, params: Any) -> np.ndarray:
        n = self.nparams
        if isinstance(params, Mapping):
            missing = [p for p in self.param_names if p not in params]
            if missing:
                raise ValueError(f"params is missing values for {missing} "
                                 f"(the parameters are {self.param_names})")
            vals = []
            for p in self.param_names:
                v = params[p]
                v = v.value if isinstance(v, Parameter) else v
                if v is None:
                    raise ValueError(f"params: parameter {p!r} has no value")
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

    # -- evaluation ----------------------------------------------------------------
    def eval(self, params: Any, x: Any) -> np.ndarray:
        """Model values at ``x``: shape ``(m,)``."""
        if self._f is None:
            self._compile()
        p = self._pvec(params)
        xs, m = self._xs(x)
        with np.errstate(all="ignore"):
            out = self._f(*p, *xs)
        return np.array(np.broadcast_to(np.asarray(out, dtype=float), (m,)))

    def __call__(self, x: Any, *params: float) -> np.ndarray:
        """``model(x, *params)``: the ``f(x, *p)`` form ``curve_fit`` takes."""
        return self.eval(params, x)

    def jacobian(self, params: Any, x: Any) -> np.ndarray:
        """Exact derivatives ``d f(x_i) / d p_j``: shape ``(m, n)``."""
        if self._j is None:
            self._compile()
        p = self._pvec(params)
        xs, m = self._xs(x)
        jac = np.empty((m, self.nparams))
        with np.errstate(all="ignore"):
            cols = self._j(*p, *xs)
        for j, col in enumerate(cols):
            jac[:, j] = col  # broadcasts constant derivatives to full length
        return jac

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
        jac = self.jacobian(params, x)
        _, s = self._data(y, sigma, jac.shape[0])
        return jac if s is None else jac / s[:, None]

    # -- parameters -------------------------------------------------------------------
    def make_params(self, **values: Any) -> Parameters:
        """Parameters for this model, in ``param_names`` order.

        Each keyword is a parameter name with a number (the initial value, the
        model's default bounds kept), a :class:`Parameter`, or a dict of
        Parameter fields (``value``, ``min``, ``max``, ``vary``).  Parameters
        not given keep the model's defaults (value ``None`` if it has none).
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
                bad = [k for k in v if k not in ("value", "min", "max", "vary")]
                if bad:
                    raise ValueError(f"make_params: {n}={dict(v)!r} has unknown field "
                                     f"{bad[0]!r}; fields are value, min, max, vary")
                for k, fv in v.items():
                    setattr(p, k, fv)
            elif v is not None:
                p.value = v
            out.add(p.check(need_value=False))
        return out

    def guess(self, x: Any, y: Any) -> dict[str, float]:
        """Data-driven initial values ``{name: value}`` from samples ``(x, y)``.

        Only models given a ``guess`` function have one (all library models do).
        """
        if self._guess is None:
            raise NotImplementedError(f"{self!r} has no guess(); give initial values with "
                                      f"make_params(...), or build it with guess=...")
        xa = np.asarray(x, dtype=float)
        ya = np.asarray(y, dtype=float)
        if xa.ndim != 1 or ya.shape != xa.shape:
            raise ValueError(f"guess: x and y must be 1-D arrays of the same length, got "
                             f"shapes {xa.shape} and {ya.shape}")
        ok = np.isfinite(xa) & np.isfinite(ya)
        if ok.sum() < self.nparams:
            raise ValueError(f"guess: need at least {self.nparams} finite (x, y) points for "
                             f"{self.nparams} parameters, got {int(ok.sum())}")
        order = np.argsort(xa[ok], kind="stable")
        with np.errstate(all="ignore"):
            g = self._guess(xa[ok][order], ya[ok][order])
        out = {n: float(g[n]) for n in self.param_names}
        bad = [n for n, v in out.items() if not np.isfinite(v)]
        if bad:  # a guess must never hand the solver a NaN; say so instead
            raise ValueError(f"guess: could not estimate {bad} from these data; give initial "
                             f"values with make_params(...)")
        return out

    def fit_problem(self, x: Any, y: Any, params: Parameters | Mapping[str, Any] | None = None,
                    sigma: Any = None) -> FitProblem:
        """Reduce model + data + Parameters to a solver's ``fun``, ``jac``, ``x0``, ``bounds``.

        ``params`` defaults to :meth:`guess` (library models).  Fixed
        parameters (``vary=False``) are held at their values and left out of
        the vector; their Jacobian columns are dropped.
        """
        if params is None:
            params = self.make_params(**self.guess(x, y))
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
        idx = [i for i, n in enumerate(params) if params[n].vary]
        full = params.full

        def fun(xv):
            return self.residuals(full(xv), x_arg, ya, s)

        jac = None
        if self.has_jacobian:
            def jac(xv):
                return self.residual_jacobian(full(xv), x_arg, ya, s)[:, idx]
        fun.param_names = params.varying  # the solver's messages name Jacobian columns

        return FitProblem(fun, jac, x0, (lower, upper), params.varying, params)

    # -- construction from a callable ----------------------------------------------------
    @classmethod
    def from_callable(cls, f: Callable, param_names: Sequence[str] | None = None, *,
                      name: str | None = None, guess: Callable | None = None) -> Model:
        """A model from a Python function ``f(x, *params)``, as ``curve_fit`` takes.

        Parameter names come from the signature (``def f(x, a, b)`` gives
        ``['a', 'b']``, in signature order) unless ``param_names`` is given,
        which it must be for ``f(x, *p)``.  Such a model has no symbolic
        Jacobian: ``model.jacobian`` and ``model.residual_jacobian`` are
        ``None``, meaning the solver uses finite differences.
        """
        return _CallableModel(f, param_names, name=name, guess=guess)

    def __repr__(self) -> str:
        indep = (repr(self.independent_names[0]) if len(self.independent_names) == 1
                 else repr(tuple(self.independent_names)))
        extra = f", name={self.name!r}" if self.name else ""
        return (f"Model({self.expr_text!r}, independent={indep}, "
                f"params={self.param_names!r}{extra})")


class _CallableModel(Model):
    """A :class:`Model` around ``f(x, *params)``; see :meth:`Model.from_callable`."""

    has_jacobian = False
    jacobian = None
    residual_jacobian = None

    def __init__(self, f, param_names=None, *, name=None, guess=None):
        if not callable(f):
            raise ValueError(f"f must be callable f(x, *params), got {f!r:.80}")
        try:
            sig = inspect.signature(f)
        except (TypeError, ValueError):
            sig = None
        positional = []
        var_positional = False
        if sig is not None:
            for p in sig.parameters.values():
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                    positional.append(p.name)
                elif p.kind is p.VAR_POSITIONAL:
                    var_positional = True
        if param_names is None:
            if sig is None or not positional:
                raise ValueError(f"cannot read f(x, a, b, ...) from the signature of {f!r:.80}; "
                                 f"pass param_names=[...]")
            if len(positional) < 2:
                raise ValueError(f"f{sig} has no parameters after the independent variable"
                                 + ("; with *args, pass param_names=[...]" if var_positional
                                    else ""))
            names = positional[1:]
        else:
            if isinstance(param_names, str):
                raise ValueError(f"param_names must be a sequence of names, got the string "
                                 f"{param_names!r}")
            names = list(param_names)
            if not names:
                raise ValueError("param_names must name at least one parameter, got []")
        self.param_names = unique_names(names, "parameter")
        self.independent_names = [positional[0] if positional else "x"]
        self.func = f
        self.name = name or getattr(f, "__name__", None)
        self._guess = guess
        self._defaults = Parameters()
        self.expr_text = None
        self.expr = None
        self.param_symbols = self.independent_symbols = None
        self.jacobian_exprs = None
        self._f = self._j = None

    def eval(self, params, x):
        p = self._pvec(params)
        xs, m = self._xs(x)
        with np.errstate(all="ignore"):
            out = np.asarray(self.func(xs[0], *p), dtype=float)
        try:
            return np.array(np.broadcast_to(out, (m,)))
        except ValueError:
            raise ValueError(f"{self.name}(x, ...) returned shape {out.shape}; it must return "
                             f"one value per point of x ({m},)") from None

    def __repr__(self) -> str:
        return f"Model.from_callable({self.name}, params={self.param_names!r})"
