"""Build the sympy expression of a validated tree; refuse what is not a finite real.

:func:`build_sympy` maps each node of a tree that :func:`._safe_parse.validate`
accepted (and :func:`._budget.check_budget` bounded) to sympy, node by node.
It keeps sympy's exact arithmetic where that is cheap and harmless, and steps
around the places where exactness costs without helping a float64 evaluation:

* an integer literal beyond 2**53 becomes a Float (float64 cannot tell the
  difference, and ``sqrt(<300-digit integer>)`` would start a factorisation);
* a power of two numbers is folded in floating point (``9**9**9`` is refused as
  an overflow by the budget, never computed exactly); a constant power with an
  exponent beyond 64 in magnitude (``sqrt(2)**-10**300``) is folded to a Float;
* a function of an inexact (Float) or huge constant is evaluated in floating
  point, as the budget did (mpmath's ``erfc(1e300)`` raises ``OverflowError``);
* sums and products are built once from all their terms or factors (pairwise
  ``a*b*c*...`` re-flattens the growing product at every step: quadratic).

Then the whole expression must be a finite real function: sympy's exact
evaluation can turn a constant into complex infinity (``tan(pi/2)``,
``log(cos(pi/2))``), NaN, infinity or an imaginary number, and exact integers
from expanded powers can exceed a float.  Such an expression is refused with an
:class:`~._safe_parse.ExpressionError` naming the innermost subexpression that
is not a finite real number (found by a second, checking pass: the common case
pays for one scan of the result).  Exact rationals too large to print usefully
(beyond 2**64 in numerator or denominator) become Floats.
"""

from __future__ import annotations

import ast
import math

from ._budget import _FLOAT_FUNCTIONS
from ._safe_parse import CONSTANTS, FUNCTIONS, ExpressionError, _left_spine, _Source

__all__ = ["build_sympy", "not_finite_real"]

#: Integer literals beyond this magnitude become Floats.
_EXACT_INT = 2**53

#: Constant powers with a larger exponent are folded to a Float.
_EXACT_EXPONENT = 64

#: Rationals with a larger numerator or denominator become Floats.
_EXACT_RATIONAL = 2**64


def build_sympy(tree: ast.Expression, symbols: dict, text: str = ""):
    """The sympy expression of ``tree``; ``symbols`` maps each free name to its Symbol."""
    src = _Source(text) if text else None
    builder = _Builder(symbols, src, text)
    try:
        expr = builder.conv(tree.body)
        if not_finite_real(expr) is None:
            return _tamed(expr)
        builder.checking = True  # find the innermost culprit, to name it
        builder.conv(tree.body)
        problem = not_finite_real(expr)
        raise builder.failure(f"the expression is not a finite real number: {problem}",
                              tree.body)
    except RecursionError:
        raise ExpressionError(text, "the expression is nested too deeply") from None


def not_finite_real(expr) -> str | None:
    """Why the sympy expression ``expr`` cannot evaluate to finite reals, or None."""
    import sympy

    bad = {sympy.zoo: "it is complex infinity (zoo)", sympy.nan: "it is undefined (nan)",
           sympy.oo: "it is infinite", -sympy.oo: "it is infinite",
           sympy.I: "it is not a real number (it involves the imaginary unit I)"}
    for atom in expr.atoms():
        if atom in bad:
            return bad[atom]
        if atom.is_Number:
            try:
                finite = math.isfinite(float(atom))
            except (OverflowError, TypeError, ValueError):
                finite = False
            if not finite:
                return f"it involves the number {_short(atom)}, which overflows a float"
    if expr.has(sympy.AccumBounds):
        return "it is not a single number (an interval of values)"
    for power in expr.atoms(sympy.Pow):  # e.g. (a - 1 - a)**a, which sympy makes (-1)**a
        if power.base.is_number and not power.exp.is_number and float(power.base) <= 0:
            return (f"it raises {_short(power.base)} to a varying exponent (not real; "
                    f"its derivative involves log({_short(power.base)}))")
    return None


def _short(number) -> str:
    try:
        text = str(number)
    except ValueError:  # an integer past Python's 4300-digit printing limit
        return "an integer of more than 4300 digits"
    return text if len(text) <= 30 else text[:27] + "..."


def _tamed(expr):
    """``expr`` with exact rationals beyond :data:`_EXACT_RATIONAL` as Floats."""
    import sympy

    big = {r: sympy.Float(r) for r in expr.atoms(sympy.Rational)
           if abs(r.p) > _EXACT_RATIONAL or r.q > _EXACT_RATIONAL}
    return expr.xreplace(big) if big else expr


class _Builder:
    def __init__(self, symbols, src, text):
        import sympy

        self.sympy = sympy
        self.symbols = symbols
        self.src = src
        self.text = text
        self.checking = False

    def failure(self, problem, node) -> ValueError:
        if self.src is not None:
            return self.src.error(problem, node)
        return ValueError(problem)

    def segment(self, node) -> str:
        return self.src.segment(node) if self.src is not None else ast.unparse(node)

    def checked(self, node, value):
        """In the checking pass, refuse ``value`` if it is not a finite real."""
        if self.checking:
            problem = not_finite_real(value)
            if problem is not None:
                raise self.failure(f"{self.segment(node)} is not a finite real number: "
                                   f"{problem}", node)
        return value

    def conv(self, node):
        sympy = self.sympy
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, int) and abs(v) <= _EXACT_INT:
                return sympy.Integer(v)
            return sympy.Float(float(v))  # the budget refused what overflows
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return getattr(sympy, CONSTANTS[node.id])
            return self.symbols[node.id]
        if isinstance(node, ast.UnaryOp):
            operand = self.conv(node.operand)
            return self.checked(node, -operand if isinstance(node.op, ast.USub) else operand)
        if isinstance(node, ast.BinOp):
            return self.checked(node, self.chain(node))
        if isinstance(node, ast.Call):
            name = FUNCTIONS[node.func.id]
            arg = self.conv(node.args[0])
            if arg.is_number and (arg.is_Float or abs(float(arg)) > _EXACT_INT):
                # an inexact or huge argument: evaluate in floats, as the budget did
                # (mpmath's erfc(1e300) raises OverflowError; sympy's answer is no better)
                return sympy.Float(_FLOAT_FUNCTIONS[node.func.id](float(arg)))
            value = sympy.log(arg, 10) if name == "log10" else getattr(sympy, name)(arg)
            if arg.is_number:  # a constant call: exact, it may be zoo (tan(pi/2))
                problem = not_finite_real(value)
                if problem is not None:
                    raise self.failure(f"the constant {self.segment(node)} is not a finite "
                                       f"real number: {problem}", node)
            return self.checked(node, value)
        raise self.failure(f"unexpected node {type(node).__name__}", node)  # validate()

    def chain(self, node):
        """A left-deep run of operators, e.g. ``a*b/c + d - e``: each run of terms is
        added once and each run of factors multiplied once."""
        sympy = self.sympy
        first, chain = _left_spine(node)
        value, terms, factors = self.conv(first), None, None
        for op_node in chain:
            right = self.conv(op_node.right)
            op = type(op_node.op)
            if op in (ast.Add, ast.Sub):
                if factors:
                    value, factors = sympy.Mul(*factors), None
                terms = terms or [value]
                terms.append(right if op is ast.Add else -right)
            elif op in (ast.Mult, ast.Div):
                if terms:
                    value, terms = sympy.Add(*terms), None
                factors = factors or [value]
                if op is ast.Div:
                    if right.is_number and right.is_zero:
                        raise self.failure(f"division by zero in {self.segment(op_node)}",
                                           op_node)
                    right = sympy.Pow(right, -1)
                factors.append(right)
            else:
                if terms:
                    value, terms = sympy.Add(*terms), None
                if factors:
                    value, factors = sympy.Mul(*factors), None
                value = self.power(value, right, op_node)
        if terms:
            return sympy.Add(*terms)
        return sympy.Mul(*factors) if factors else value

    def power(self, base, exponent, node):
        sympy = self.sympy
        if base.is_Number and exponent.is_Number:
            value = float(base) ** float(exponent)  # the budget refused what fails here
            if base.is_Integer and exponent.is_Integer and abs(value) < 2.0**63:
                return sympy.Pow(base, exponent)  # small enough to keep exact
            return sympy.Float(value)
        if base.is_number and exponent.is_number:
            try:
                big = abs(float(exponent)) > _EXACT_EXPONENT
                value = float(base) ** float(exponent) if big else None
            except (TypeError, ValueError, OverflowError, ZeroDivisionError):
                raise self.failure(f"the constant {self.segment(node)} is not a finite "
                                   f"real number", node) from None
            if big:
                if isinstance(value, complex) or not math.isfinite(value):
                    raise self.failure(f"the constant {self.segment(node)} is not a finite "
                                       f"real number", node)
                return sympy.Float(value)
        return self.checked(node, sympy.Pow(base, exponent))
