"""Checks for a model given as a sympy expression (``fit_batch(expr, ...)``).

A sympy expression is built by the caller's own code, but its *names* may come
from data (``sympy.Symbol(header)``) and end up in generated source, and its
size decides how long differentiation and compilation take.  So before any work:

* every symbol's name (free symbols, parameters, independent variables) passes
  :func:`~trustfit.models.names.validate_name`;
* undefined functions (``sympy.Function('f')(t)``) are refused: their name is
  printed into generated code, and there is nothing to compile them to;
* the expression is a finite real function (no ``zoo``, ``nan``, ``oo``, ``I``,
  no number that overflows a float): :func:`._build.not_finite_real`;
* its symbolic work is within :data:`._budget.MAX_WORK`, estimated on the sympy
  tree with the same terms and weights as for expression strings.
"""

from __future__ import annotations

from ._budget import MAX_WORK, WEIGHTS
from .names import validate_name

__all__ = ["check_sympy_model"]


def check_sympy_model(expr, params, independent) -> None:
    """Refuse a sympy model (``ValueError``, ``TypeError``) before any work on it.

    ``params`` and ``independent`` are the parameter and independent-variable
    symbols in order.
    """
    import sympy
    from sympy.core.function import AppliedUndef

    from ._build import not_finite_real

    if not isinstance(expr, sympy.Expr):
        raise TypeError(f"model: a sympy model must be an expression (sympy.Expr), got "
                        f"{type(expr).__name__}")
    for role, symbols in (("parameter", params), ("independent variable", independent)):
        for s in symbols:
            validate_name(getattr(s, "name", s), role)
    known = {getattr(s, "name", s) for s in (*params, *independent)}
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, AppliedUndef):
            raise ValueError(f"model: the undefined function {type(node).__name__!r} cannot "
                             f"be compiled; write it out with sympy's own functions")
        name = getattr(node, "name", None)
        if isinstance(name, str):
            validate_name(name, "model symbol")
            if isinstance(node, sympy.Symbol) and name not in known:
                raise ValueError(f"model: the symbol {name!r} is neither a parameter nor an "
                                 f"independent variable (pass params=[...] or "
                                 f"independent=...)")
    problem = not_finite_real(expr)
    if problem is not None:
        raise ValueError(f"model: the expression is not a finite real function: {problem}")
    names = {getattr(s, "name", s) for s in params}
    work = _work(expr, names)
    if work > MAX_WORK:
        raise ValueError(f"model: the expression is too large for the symbolic work budget "
                         f"(an estimated {work / 1e6:.2g} s to differentiate and compile, more "
                         f"than the limit of {MAX_WORK / 1e6:.2g} s)")


def _work(expr, names: set) -> float:
    """The work estimate of :mod:`._budget` on a sympy tree (iterative post-order)."""
    import sympy

    sum_args = product_args = grown = active = 0
    info: dict = {}  # node -> (parameters in it, size)
    stack = [(expr, False)]
    while stack:
        node, done = stack.pop()
        if node in info:
            continue
        if not done:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in info)
            continue
        params = frozenset().union(*(info[a][0] for a in node.args)) if node.args else (
            frozenset([node.name]) if isinstance(node, sympy.Symbol) and node.name in names
            else frozenset())
        size = 1 + sum(info[a][1] for a in node.args)
        n, k = len(params), len(node.args)
        if isinstance(node, sympy.Symbol) and params:
            grown += 1
        elif isinstance(node, sympy.Add):
            sum_args += k * n
        elif isinstance(node, sympy.Mul):
            product_args += k * k * n
            grown += sum(len(info[a][0]) * (size - info[a][1]) for a in node.args)
        elif node.args and n:
            grown += n * (size + 1)
            active += 1
        info[node] = (params, size)
    return sum(w * c for w, c in zip(WEIGHTS, (sum_args, product_args, grown, active),
                                     strict=True))
