"""A budget on the symbolic work a model expression asks for, checked before sympy.

The length limit alone does not bound the work:
``a*t*exp(1e300*1e300*1e300*1e300*1e300)`` (38 characters) makes sympy evaluate
``exp(1e1500)``, and the
Jacobian of ``p0*p1*...*p199*t`` (891 characters) is 200 products of 200 factors.
:func:`check_budget` walks the validated tree once, before any sympy object is
built, and refuses with an :class:`~._safe_parse.ExpressionError` that names the
subexpression:

1. **Constants.**  Every constant subexpression (no free names) is folded in
   floating point, in the order sympy will fold it: literals, powers, calls,
   and the numeric part of each flattened sum and product (sympy multiplies
   ``a*1e300*1e300`` to ``1e600*a``).  A result that overflows, divides by
   zero, leaves the function's domain (``log(0)``, ``sqrt(-1)``, ``asin(2)``)
   or is complex (``(-8)**(1/3)``) is refused.  After this, every number sympy
   sees is below ~1.8e308 in magnitude, so its own exact arithmetic is cheap.
2. **Degree.**  Integer powers multiply out exactly in sympy
   (``(3*t)**64 -> 3**64 * t**64``), and nested powers multiply their
   exponents.  The *degree* (``t`` is 1, a product adds degrees, a sum takes the
   largest, ``u**k`` multiplies by ``|k|``) is at most :data:`MAX_DEGREE`, so no
   exact integer grows past ~10^6 bits.
3. **Work.**  An estimate of sympy's time to build, differentiate and print the
   model, as a weighted sum over the tree (``k`` the number of arguments of a
   flattened sum or product, ``P(u)`` the parameters in ``u``):

   * ``k |P|`` per sum: ``diff`` with respect to each parameter visits every term;
   * ``k^2 |P|`` per product: sympy's product rule (the general Leibniz rule) takes
     ``k`` derivatives and builds ``k`` products of ``k`` factors, per parameter;
   * ``D``, the number of nodes of the Jacobian, summed over the parameters
     (``f(u)`` adds ``|u|`` per parameter, a product its size per factor holding
     the parameter): each must be built, printed and compiled;
   * the number of calls, powers and quotients that depend on a parameter: each
     costs sympy's assumption system a few milliseconds when it is built and
     differentiated (about 5 ms, the largest single cost measured).

   :data:`WEIGHTS` are microseconds of CPU per unit, fitted by linear programming
   as an *upper envelope* of 75 timed models from 18 families (sums of
   Gaussians, exponentials, Lorentzians, damped cosines, polynomials, long
   products, quotients, nested functions, towers of powers; ``bench/parse_budget.py``
   lists them), timed cold (fresh symbols) in a warm process.  The estimate is at
   most :data:`MAX_WORK` (0.4 s, plus ~0.2 s fixed cost), so the slowest accepted
   model takes about 0.6 s of CPU; what is refused is refused in milliseconds.
   At the limit: a sum of 22 Gaussians (66 parameters), of 50 exponentials, of 90
   ``a_i*t*b_i`` terms (180 parameters); a product of 28 parameters.
"""

from __future__ import annotations

import ast
import math
from typing import cast
from collections.abc import Iterable

__all__ = ["MAX_DEGREE", "MAX_WORK", "check_budget"]

#: Largest degree (see the module docstring) of an expression.
MAX_DEGREE = 1024

#: Largest estimated work, in microseconds of CPU (see the module docstring).
MAX_WORK = 400_000

#: Microseconds of CPU per unit of: sum arguments, product arguments, Jacobian
#: nodes, calls/powers/quotients on a parameter (see the module docstring).
WEIGHTS = (22.0, 14.0, 37.0, 4800.0)

_FLOAT_FUNCTIONS = {
    "exp": math.exp, "log": math.log, "ln": math.log, "log10": math.log10,
    "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "asin": math.asin, "arcsin": math.asin, "acos": math.acos, "arccos": math.acos,
    "atan": math.atan, "arctan": math.atan, "sinh": math.sinh, "cosh": math.cosh,
    "tanh": math.tanh, "abs": abs, "erf": math.erf, "erfc": math.erfc,
}
_FLOAT_CONSTANTS = {"pi": math.pi, "e": math.e}


class _Node:
    """What the walk knows of a subtree: its float value when constant, the
    parameters in it, its degree and its number of nodes."""

    __slots__ = ("value", "params", "degree", "size")

    def __init__(self, value, params, degree, size):
        self.value = value  # float, or None when the subtree has a free name
        self.params = params  # frozenset of parameter names
        self.degree = degree
        self.size = size


def check_budget(tree: ast.Expression, src, independent: Iterable[str] = ()) -> float:
    """Refuse ``tree`` if it breaks one of the three bounds; return its work.

    ``src`` is the parser's source object (its ``error(problem, node)`` builds
    the :class:`~._safe_parse.ExpressionError` and ``segment(node)`` gives the
    text of a node as written).  Names in ``independent`` are not parameters:
    nothing is differentiated with respect to them.
    """
    walker = _Walker(src, frozenset(independent))
    info = walker.node(tree.body)
    work = sum(w * c for w, c in zip(WEIGHTS, walker.parts(), strict=True))
    if work > MAX_WORK:
        raise src.error(f"the model is too large for the symbolic work budget: "
                        f"{len(info.params)} parameters in {info.size} operations need an "
                        f"estimated {work / 1e6:.2g} s to differentiate and compile, more "
                        f"than the limit of {MAX_WORK / 1e6:.2g} s; fit fewer parameters at "
                        f"once, or use Model.from_callable with your own function")
    return work


def work_parts(tree: ast.Expression, src, independent: Iterable[str] = ()) -> tuple:
    """The terms that :data:`WEIGHTS` weigh, for calibration (bench/parse_budget.py)."""
    walker = _Walker(src, frozenset(independent))
    walker.node(tree.body)
    return walker.parts()


class _Walker:
    def __init__(self, src, independent: frozenset):
        self.src = src
        self.independent = independent
        # sums over the nodes; see the module docstring
        self.sum_args = self.product_args = self.grown = self.active = 0

    def parts(self) -> tuple:
        return (self.sum_args, self.product_args, self.grown, self.active)

    def made(self, node: _Node) -> _Node:
        """Count a call or power that depends on a parameter."""
        self.active += bool(node.params)
        return node

    def node(self, node: ast.AST) -> _Node:
        if isinstance(node, ast.Constant):
            return _Node(_literal(node.value, node, self), frozenset(), 0, 1)
        if isinstance(node, ast.Name):
            if node.id in _FLOAT_CONSTANTS:
                return _Node(_FLOAT_CONSTANTS[node.id], frozenset(), 0, 1)
            if node.id in self.independent:
                return _Node(None, frozenset(), 1, 1)
            self.grown += 1
            return _Node(None, frozenset([node.id]), 1, 1)
        if isinstance(node, ast.UnaryOp):
            inner = self.node(node.operand)
            value = None if inner.value is None else (
                -inner.value if isinstance(node.op, ast.USub) else inner.value)
            return _Node(value, inner.params, inner.degree, inner.size + 1)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, (ast.Add, ast.Sub)):
                return self.chain(node, _terms(node), add=True)
            if isinstance(node.op, (ast.Mult, ast.Div)):
                return self.chain(node, _factors(node), add=False)
            return self.power(node)
        raise self.src.error(f"unexpected node {type(node).__name__}", node)  # validate()

    def call(self, node: ast.Call) -> _Node:
        arg = self.node(node.args[0])
        value = None
        if arg.value is not None:  # validate() admits only calls of a named function
            value = self.fold(node, _FLOAT_FUNCTIONS[cast(ast.Name, node.func).id], arg.value)
        size, n = arg.size + 1, len(arg.params)
        self.grown += n * (size + 1)
        return self.made(_Node(value, arg.params, 0 if value is not None else 1, size))

    def power(self, node: ast.BinOp) -> _Node:
        base, expo = self.node(node.left), self.node(node.right)
        params = base.params | expo.params
        size = base.size + expo.size + 1
        self.grown += len(params) * (size + 3)
        if base.value is not None and expo.value is not None:
            value = self.fold(node, _float_power, base.value, expo.value)
            return _Node(value, params, 0, size)
        if base.value is not None and base.value <= 0.0:
            # c**p with c < 0 is complex for most p, and its derivative c**p*log(c) is
            # complex for every p; 0**p is 0 or undefined, its derivative zoo
            raise self.src.error(f"the power {self.src.segment(node)} raises "
                                 f"{'zero' if base.value == 0.0 else 'a negative number'} to "
                                 f"a varying exponent: not a real function", node)
        degree = base.degree * max(1.0, abs(expo.value)) if expo.value is not None else (
            max(base.degree, 1))
        if degree > MAX_DEGREE:
            raise self.src.error(f"the powers in {self.src.segment(node)} multiply out to "
                                 f"degree {degree:.3g}, more than the limit of {MAX_DEGREE}",
                                 node)
        return self.made(_Node(None, params, degree, size))

    def chain(self, node: ast.BinOp, members, add: bool) -> _Node:
        """A flattened sum (``members``: (node, negated)) or product ((node, inverted))."""
        infos = [(self.node(m), flag) for m, flag in members]
        params = frozenset().union(*(i.params for i, _ in infos))
        k = len(infos)
        size = 1 + sum(i.size for i, _ in infos)
        const = 0.0 if add else 1.0
        constant = all(i.value is not None for i, _ in infos)
        # sympy folds the numbers of a sum or product together, wherever they stand
        what = None if constant else (f"the {'sum' if add else 'product'} of the numbers "
                                      f"in {self.src.segment(node)}")
        for info, flag in infos:
            if info.value is None:
                continue
            if add:
                const = self.fold(node, _sum, const, -info.value if flag else info.value,
                                  what=what)
            elif flag and info.value == 0.0:
                raise self.src.error(f"division by zero in {self.src.segment(node)}", node)
            else:
                const = self.fold(node, _product, const,
                                  1.0 / info.value if flag else info.value, what=what)
        if add:
            degree = max(i.degree for i, _ in infos)
            self.sum_args += k * len(params)
        else:
            degree = sum(i.degree for i, _ in infos)
            self.product_args += k * k * len(params)
            self.grown += sum(len(i.params) * (size - i.size) for i, _ in infos)
            self.active += sum(1 for i, inverted in infos if inverted and i.params)
        if degree > MAX_DEGREE:
            raise self.src.error(f"the product {self.src.segment(node)} has degree "
                                 f"{degree:.3g}, more than the limit of {MAX_DEGREE}", node)
        return _Node(const if constant else None, params, degree, size)

    def fold(self, node: ast.AST, fn, *args: float, what: str | None = None) -> float:
        """``fn(*args)`` in floating point, or refuse ``node`` saying why not.
        ``what`` names the folded quantity (default: the constant ``node``)."""
        what = what or f"the constant {self.src.segment(node)}"
        problem = None
        try:
            value = fn(*args)
        except OverflowError:
            problem = "overflows a float"
        except ZeroDivisionError:
            problem = "divides by zero"
        except ValueError:
            problem = "is not a finite real number (outside the function's domain)"
        else:
            if isinstance(value, complex):
                problem = "is not a real number"
            elif not math.isfinite(value):
                problem = "overflows a float"
        if problem is not None:
            raise self.src.error(f"{what} {problem}", node)
        return float(value)


def _literal(value, node, walker) -> float:
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        shown = str(value)[:20] + "..." if isinstance(value, int) else "a number"
        raise walker.src.error(f"the number {shown} is too large for a float", node)
    return v


def _float_power(base: float, expo: float) -> float:
    return base ** expo


def _sum(a: float, b: float) -> float:
    return a + b


def _product(a: float, b: float) -> float:
    return a * b


def _flatten(node: ast.AST, ops: tuple, inverse: type) -> list[tuple[ast.AST, bool]]:
    """The operands of a chain of ``ops`` as sympy flattens it, each with True where the
    ``inverse`` operation applies to it (an odd number of subtractions or divisions)."""
    out, stack = [], [(node, False)]
    while stack:
        n, flag = stack.pop()
        if isinstance(n, ast.BinOp) and isinstance(n.op, ops):
            stack.append((n.right, flag ^ isinstance(n.op, inverse)))
            stack.append((n.left, flag))
        else:
            out.append((n, flag))
    return out


def _terms(node: ast.AST) -> list[tuple[ast.AST, bool]]:
    """The terms of a sum, each with its sign (True: negated)."""
    return _flatten(node, (ast.Add, ast.Sub), ast.Sub)


def _factors(node: ast.AST) -> list[tuple[ast.AST, bool]]:
    """The factors of a product, each with True if it divides."""
    return _flatten(node, (ast.Mult, ast.Div), ast.Div)
