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
``param_names`` is in the order the names are first written in the expression:
``"a*exp(-k*t) + c"`` gives ``['a', 'k', 'c']`` and ``"x3*exp(x1*t) + x4*exp(x2*t)"``
gives ``['x3', 'x1', 'x4', 'x2']`` (lmfit's ``ExpressionModel`` order).  That order is
used everywhere: reports, JSON, a list ``p0``, ``fit_batch``'s columns.  Pass ``params``
(a list of names, or a mapping of names to defaults) to choose another order.  A model
made from a callable uses the order of the function's signature, as
``scipy.optimize.curve_fit`` and lmfit do.  ``prefix="g1_"`` puts a prefix before every
parameter name (for composite models, ``Model + Model``).

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
from numbers import Real
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np

from ._budget import check_budget
from ._build import build_sympy
from ._safe_parse import _Source, free_names, unique_names, validate
from .base import FitProblem, ModelBase
from .names import validate_name
from .parameters import Parameter, Parameters

__all__ = ["CallableModel", "FitProblem", "Model", "natural_key", "written_order"]

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


def written_order(expr: Any, names: Sequence[str]) -> list[str]:
    """``names`` in the order they are first written in ``expr``: the parameter order of
    every model and of ``fit_batch``'s columns.

    ``expr`` is an expression string, or a sympy expression, which has no text of its own:
    then its printed form (``str(expr)``, what the user sees) is read, with the same
    parser. Names not found in it keep their given order, after the others.
    """
    text = expr if isinstance(expr, str) else str(expr)
    try:
        seen = free_names(validate(text))
    except ValueError:  # a printed form outside the expression language (e.g. besselj)
        import ast

        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError:
            return list(names)
        seen = [n.id for n in sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name)),
                                     key=lambda n: (n.lineno, n.col_offset))]
    wanted = list(names)
    first = [n for n in dict.fromkeys(seen) if n in wanted]
    return first + [n for n in wanted if n not in first]


def _import_sympy():
    try:
        import sympy
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("expression models need sympy: pip install 'trustfit[models]' "
                          "(or use Model.from_callable, which does not)") from None
    return sympy


class Model(ModelBase):
    """A model ``f(x; params)`` built from an expression string or a Python callable.

    Parameters
    ----------
    expr : str or callable
        The formula, e.g. ``"x3*exp(x1*t) + x4*exp(x2*t)"``.  Allowed: numbers,
        ``+ - * / **`` (``^`` also means power), the functions
        ``exp log ln log10 sqrt sin cos tan asin acos atan`` (also spelled
        ``arcsin arccos arctan``) ``sinh cosh tanh abs erf erfc``, and the
        constants ``pi`` and ``e``.  Every other name is a parameter, except
        the independent variable(s).  Anything else raises ``ValueError``.
        A callable ``f(x, a, b, ...)`` gives a model as lmfit's ``Model(f)`` does
        (see :class:`CallableModel`): parameters in signature order, finite differences.
    independent : str or sequence of str
        Name(s) of the independent variable(s); each must appear in ``expr``.
        Default ``"t"`` (``"x"`` when the expression has an ``x`` and no ``t``; for a
        callable its first argument). ``independent_vars`` (lmfit's spelling) is the same.
    params : sequence of str, or mapping, optional
        Fixes the order of ``param_names`` (it must name exactly the
        parameters).  As a mapping ``name -> number or Parameter`` it also
        gives the defaults that :meth:`make_params` starts from.
    name : str, optional
        A short name shown in ``repr`` (the library models set it).
    guess : callable, optional
        ``guess(x, y) -> dict`` of data-driven initial values; see :meth:`guess`.
    prefix : str, optional
        Put before every parameter name (``"g1_"``: ``amp`` becomes ``g1_amp``).
    """

    #: Expression models always have an exact Jacobian; callable models set False.
    has_jacobian = True
    # the lambdified value and Jacobian, compiled on first use (None until then)
    _f: Callable[..., Any] | None
    _j: Callable[..., Any] | None

    def __new__(cls, expr: Any = None, *args: Any, **kwargs: Any):
        if cls is Model and callable(expr) and not isinstance(expr, str):
            return super().__new__(CallableModel)
        return super().__new__(cls)

    def __init__(self, expr: str, independent: str | Sequence[str] | None = None,
                 params: Sequence[str] | Mapping[str, Any] | None = None, *,
                 name: str | None = None, guess: Callable | None = None, prefix: str = "",
                 independent_vars: str | Sequence[str] | None = None):
        sympy = _import_sympy()
        from ._edges import edge_safe_diff  # u**b*log(u) is its limit 0 at u = 0, b > 0
        tree, indep, roots, defaults = read_expression(expr, independent, params,
                                                       independent_vars)
        self.prefix = _prefix(prefix)
        self.expr_text = expr
        self.name = name
        self._guess = guess
        self.independent_names = indep
        self.param_names = [self.prefix + r for r in roots]
        self._defaults = _prefixed(defaults, self.prefix)
        self.independent_symbols = [sympy.Symbol(v, real=True) for v in indep]
        self.param_symbols = [sympy.Symbol(p, real=True) for p in self.param_names]
        symbols = dict(zip(indep + roots, self.independent_symbols + self.param_symbols,
                           strict=True))
        try:
            self.expr = build_sympy(tree, symbols, expr)
            self.jacobian_exprs = [edge_safe_diff(self.expr, s) for s in self.param_symbols]
        except RecursionError:  # MAX_DEPTH should prevent it; never let it escape raw
            raise ValueError(f"model expression {expr!r} is too deeply nested for sympy"
                             ) from None
        self._f = self._j = None  # compiled lazily: building a model stays cheap

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

    # -- evaluation ----------------------------------------------------------------
    def eval(self, params: Any, x: Any) -> np.ndarray:
        """Model values at ``x``: shape ``(m,)``."""
        if self._f is None:
            self._compile()
        p = self._pvec(params)
        xs, m = self._xs(x)
        with np.errstate(all="ignore"):
            out = cast(Callable[..., Any], self._f)(*p, *xs)  # compiled above
        return np.array(np.broadcast_to(np.asarray(out, dtype=float), (m,)))

    def jacobian(self, params: Any, x: Any) -> np.ndarray:
        """Exact derivatives ``d f(x_i) / d p_j``: shape ``(m, n)``."""
        if self._j is None:
            self._compile()
        p = self._pvec(params)
        xs, m = self._xs(x)
        jac = np.empty((m, self.nparams))
        with np.errstate(all="ignore"):
            cols = cast(Callable[..., Any], self._j)(*p, *xs)  # compiled above
        for j, col in enumerate(cols):
            jac[:, j] = col  # broadcasts constant derivatives to full length
        return jac

    # -- construction from a callable ----------------------------------------------------
    @classmethod
    def from_callable(cls, f: Callable, param_names: Sequence[str] | None = None, *,
                      name: str | None = None, guess: Callable | None = None,
                      prefix: str = "") -> Model:
        """A model from a Python function ``f(x, *params)``, as ``curve_fit`` takes.

        Parameter names come from the signature (``def f(x, a, b)`` gives
        ``['a', 'b']``, in signature order) unless ``param_names`` is given,
        which it must be for ``f(x, *p)``.  Such a model has no symbolic
        Jacobian: ``model.jacobian`` and ``model.residual_jacobian`` are
        ``None``, meaning the solver uses finite differences.
        """
        return CallableModel(f, param_names=param_names, name=name, guess=guess,
                             prefix=prefix)

    def __repr__(self) -> str:
        indep = (repr(self.independent_names[0]) if len(self.independent_names) == 1
                 else repr(tuple(self.independent_names)))
        extra = f", name={self.name!r}" if self.name else ""
        extra += f", prefix={self.prefix!r}" if self.prefix else ""
        return (f"Model({self.expr_text!r}, independent={indep}, "
                f"params={self.param_names!r}{extra})")


def read_expression(expr: str, independent=None, params=None, independent_vars=None):
    """Everything :class:`Model` reads from the text before sympy: the validated tree, the
    independent variables, the parameters in order and their defaults, with the same errors
    (:mod:`._safe_parse`, :mod:`._budget`).  No sympy: the batch path's numeric models
    (:mod:`._forward`) start from it too."""
    tree = validate(expr)
    names = free_names(tree)
    independent = _independent(independent, independent_vars, names)
    indep = unique_names(independent, "independent variable", "independent")
    absent = [v for v in indep if v not in names]
    if absent:
        others = [n for n in names if n not in indep]
        raise ValueError(f"model expression {expr!r}: the independent variable "
                         f"{absent[0]!r} does not appear in it (its names are {others}); "
                         f"pass independent=... with the variable's name")
    roots = [n for n in names if n not in indep]
    if not roots:
        raise ValueError(f"model expression {expr!r} has no parameters to fit")
    check_budget(tree, _Source(expr), indep)  # bounds sympy's work before it starts
    defaults = Parameters()
    if params is not None:
        roots, defaults = _order_from(params, roots, expr)
    return tree, indep, roots, defaults


def _independent(independent, independent_vars, names):
    if independent is not None and independent_vars is not None:
        raise TypeError("give independent or independent_vars (lmfit's name), not both")
    if independent is None:
        independent = independent_vars
    if independent is None:
        return "x" if "x" in names and "t" not in names else "t"
    return independent


def _prefix(prefix: Any) -> str:
    if not isinstance(prefix, str):
        raise ValueError(f"prefix must be a string such as 'g1_', got {prefix!r}")
    if prefix:
        validate_name(prefix + "a", "prefix")
    return prefix


def _order_from(params, roots, expr):
    defaults = Parameters()
    if isinstance(params, Mapping):
        defaults = Parameters(params)
        order = list(defaults)
    elif isinstance(params, str):
        raise ValueError(f"params must be a sequence of names or a mapping, got the "
                         f"string {params!r} (write params=[{params!r}])")
    else:
        order = unique_names(params, "parameter", "params")
    if set(order) != set(roots):
        missing = [p for p in roots if p not in order]
        extra = [p for p in order if p not in roots]
        raise ValueError(f"params must name exactly the parameters of {expr!r} "
                         f"({roots}); missing {missing}, not in the expression {extra}")
    return order, defaults


def _prefixed(defaults: Parameters, prefix: str) -> Parameters:
    if not prefix:
        return defaults
    out = Parameters()
    for p in defaults.values():
        out.add(prefix + p.name, p.value, p.min, p.max, p.vary, expr=p.expr)
    return out


# -- models from Python callables ---------------------------------------------------------
class CallableModel(Model):
    """A :class:`Model` around a Python function, as lmfit's ``Model(f)`` and SciPy's
    ``curve_fit`` take it.

    ``Model(f)`` with ``def f(x, amp, cen, wid)`` gives the parameters ``amp, cen, wid`` in
    signature order and the independent variable ``x`` (the first argument, unless
    ``independent_vars`` names others). Arguments with a numeric default are parameters with
    that default as their initial value (lmfit's rule); arguments with any other default
    (``None``, a string, a bool) keep their defaults and are not fitted. ``f(x, *p)`` needs
    ``param_names``. Such a model has no symbolic Jacobian: the solver takes finite
    differences.
    """

    has_jacobian = False
    # No Jacobian (has_jacobian False): the methods are removed, so the solver differences.
    jacobian = None  # type: ignore[assignment]
    residual_jacobian = None  # type: ignore[assignment]

    def __init__(self, f, independent=None, params=None, *, name=None, guess=None, prefix="",
                 independent_vars=None, param_names=None, nan_policy=None):
        if not callable(f):
            raise ValueError(f"f must be callable f(x, *params), got {f!r:.80}")
        if independent is not None and independent_vars is not None:
            raise TypeError("give independent or independent_vars (lmfit's name), not both")
        if params is not None and param_names is not None:
            raise TypeError("give params or param_names, not both")
        independent = independent if independent is not None else independent_vars
        names = param_names if param_names is not None else params
        if nan_policy not in (None, "raise"):
            raise ValueError(f"nan_policy={nan_policy!r}: trustfit models raise on NaN data "
                             f"(drop NaN points before fitting)")
        try:
            sig = inspect.signature(f)
        except (TypeError, ValueError):
            sig = None
        args, defaults, var_positional, keyword_only = _arguments(sig)
        if independent is None:
            independent = [args[0]] if args else ["x"]
        indep = unique_names(independent, "independent variable", "independent_vars")
        if names is None:
            if sig is None or not args:
                raise ValueError(f"cannot read f(x, a, b, ...) from the signature of {f!r:.80}; "
                                 f"pass param_names=[...]")
            missing = [v for v in indep if v not in args]
            if missing:
                raise ValueError(f"independent variable {missing[0]!r} is not an argument of "
                                 f"f{sig}")
            roots = [a for a in args if a not in indep and
                     (a not in defaults or _numeric(defaults[a]))]
            if not roots:
                raise ValueError(f"f{sig} has no parameters after the independent variable"
                                 + ("; with *args, pass param_names=[...]" if var_positional
                                    else ""))
            by_keyword = (args[:len(indep) + len(roots)] != indep + roots
                          or any(a in keyword_only for a in indep + roots))
        else:
            if isinstance(names, str):
                raise ValueError(f"param_names must be a sequence of names, got the string "
                                 f"{names!r}")
            roots = list(names)
            if not roots:
                raise ValueError("param_names must name at least one parameter, got []")
            by_keyword = False
        self.prefix = _prefix(prefix)
        roots = unique_names(roots, "parameter")
        self.param_names = [self.prefix + r for r in roots]
        self._roots = roots
        self._by_keyword = by_keyword
        self.independent_names = indep
        self.func = f
        self.name = name or getattr(f, "__name__", None)
        self._guess = guess
        self._defaults = Parameters(Parameter(self.prefix + r, float(defaults[r]))
                                    for r in roots if r in defaults)
        self.expr_text = None
        self.expr = None
        self.param_symbols = self.independent_symbols = None
        self.jacobian_exprs = None
        self._f = self._j = None

    def eval(self, params, x):
        p = self._pvec(params)
        xs, m = self._xs(x)
        with np.errstate(all="ignore"):
            if self._by_keyword:
                kwargs = dict(zip(self.independent_names, xs, strict=True))
                kwargs.update(zip(self._roots, p, strict=True))
                out = self.func(**kwargs)
            else:
                out = self.func(*xs, *p)
            out = np.asarray(out, dtype=float)
        try:
            return np.array(np.broadcast_to(out, (m,)))
        except ValueError:
            raise ValueError(f"{self.name}(x, ...) returned shape {out.shape}; it must return "
                             f"one value per point of x ({m},)") from None

    def __repr__(self) -> str:
        extra = f", prefix={self.prefix!r}" if self.prefix else ""
        return f"Model({self.name}, params={self.param_names!r}{extra})"


def _numeric(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _arguments(sig):
    """Argument names, their defaults, whether there is ``*args``, the keyword-only ones."""
    args, defaults, var_positional, keyword_only = [], {}, False, set()
    if sig is None:
        return args, defaults, var_positional, keyword_only
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            args.append(p.name)
            if p.default is not p.empty:
                defaults[p.name] = p.default
            if p.kind is p.KEYWORD_ONLY:
                keyword_only.add(p.name)
        elif p.kind is p.VAR_POSITIONAL:
            var_positional = True
    return args, defaults, var_positional, keyword_only
