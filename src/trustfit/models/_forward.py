"""A model's numpy value and exact Jacobian straight from its validated tree, without sympy.

Building a :class:`~trustfit.models.Model` runs sympy (build, differentiate, lambdify):
~0.1-0.3 s on first use in a process, more than ``fit_batch`` needs for a hundred curves
on numpy.  :func:`numeric_model` gives the same two functions from the tree of
:func:`._safe_parse.validate` in about a millisecond: the derivatives are formed by the
chain rule on the tree while its code is written (forward mode at code-generation time,
each distinct subexpression once; Griewank & Walther, *Evaluating Derivatives*, 2nd ed.,
SIAM 2008, ch. 3), with sympy's own rules, so each derivative is the expression sympy's
``diff`` forms before it simplifies:

* ``u**c``, ``c`` free of parameters: ``c u**(c-1) u'`` (what sympy's Pow rule reduces to);
  otherwise ``u**c (c' log(u) + c u'/u)`` (sympy's Pow rule), with the logarithm guarded
  at ``u = 0``, ``c > 0`` as :mod:`._edges` guards it (``log(u + ((u == 0) & (c > 0)))``,
  so ``u**c log(u)`` is its limit 0 there);
* ``exp, log, log10, sqrt, sin ... erfc``: their derivatives as sympy writes them
  (``abs``: ``sign(u) u'``, the real symbols' rule), evaluated by the functions lambdify
  uses (numpy; ``erf``, ``erfc`` from scipy.special).

Where sympy's automatic simplification could change what is computed, the tree is not
taken (``None``: the caller builds the sympy model, with its checks and errors):

* a constant part that is not plain arithmetic on numbers, ``pi`` and ``e`` (a constant
  function call such as ``tan(pi/2)``, whose exact value sympy judges), that does not fold
  to a finite float, or that divides by zero; a constant base ``<= 0`` raised to a
  varying power (sympy refuses it);
* a sum in which two terms have the same non-numeric part (sympy collects them: ``a - a``
  is an exact 0), a product in which two factors share a base or two are ``exp``
  (sympy merges them: ``t/t`` is 1, ``exp(a) exp(-a)`` is 1).

Elsewhere the two differ only in rounding, except where sympy's simplification cancels a
factor that is 0 or infinite at a point (``d/dK (x/K)**n`` at ``x = 0``): there the
values computed here are not finite.  :func:`numeric_model`'s callers (the batch numpy
path) evaluate the sympy expressions at exactly the entries that are not finite here
(:class:`trustfit.batch._model.TextModel`), so every finite answer sympy gives is kept.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Sequence
from typing import cast

from ._safe_parse import CONSTANTS, FUNCTIONS, _left_spine

__all__ = ["numeric_model"]

_UNARY_FUNCTIONS = {  # the expression language's function -> numpy/scipy name
    "exp": "exp", "log": "log", "ln": "log", "log10": "log10", "sqrt": "sqrt",
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "arcsin", "arcsin": "arcsin",
    "acos": "arccos", "arccos": "arccos", "atan": "arctan", "arctan": "arctan",
    "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "abs": "abs", "erf": "erf",
    "erfc": "erfc",
}


class _NotTaken(Exception):
    """The tree is outside what this module reproduces; the sympy model is built."""


def numeric_model(tree: ast.Expression, independent: Sequence[str],
                  params: Sequence[str]) -> tuple[Callable, Callable, str] | None:
    """``(f, jac, source)`` for a validated tree, or None (see the module docstring).

    ``f(x_1 .. x_k, p_1 .. p_n)`` and ``jac(...)`` (a list of n derivatives, each an array
    or a number) take numpy arrays that broadcast together; ``source`` is the generated
    Python (executed from memory: it is written here from the validated tree, names of
    the tree appear in it only as positional argument names ``x0.., p0..``)."""
    writer = _Writer(list(independent), list(params))
    try:
        _screen(tree.body, writer)
        value, derivs = writer.node(tree.body)
    except (_NotTaken, RecursionError, OverflowError, ZeroDivisionError, ValueError):
        return None
    args = ", ".join(writer.args)
    cols = [derivs.get(k, "0.0") for k in range(len(params))]
    source = (f"def f({args}):\n{writer.body([value])}    return {value}\n\n"
              f"def jac({args}):\n{writer.body(cols)}    return [{', '.join(cols)}]\n")
    namespace = _namespace()
    exec(compile(source, "<trustfit numeric model>", "exec"), namespace)  # noqa: S102
    return namespace["f"], namespace["jac"], source


def _namespace() -> dict:
    import numpy as np
    from scipy import special

    ns = {name: getattr(np, name) for name in set(_UNARY_FUNCTIONS.values())
          if hasattr(np, name)}
    ns.update(erf=special.erf, erfc=special.erfc, sign=np.sign, __builtins__={})
    return ns


# -- screening: where sympy would simplify -------------------------------------------------
def _names_in(node: ast.AST) -> set[str]:
    """The parameters and variables in ``node`` (not constants, not called functions)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
            and n.id not in CONSTANTS and n.id not in FUNCTIONS}


def _screen(node: ast.AST, writer: _Writer) -> None:
    """Raise :class:`_NotTaken` where sympy's automatic simplification would apply."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, (ast.Add, ast.Sub)):
            keys = [k for t, _ in _flat(sub, (ast.Add, ast.Sub)) if (k := _term_key(t))]
            if len(set(keys)) < len(keys):  # (numbers are summed: no key)
                raise _NotTaken("like terms")
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, (ast.Mult, ast.Div)):
            keys = [k for f, _ in _flat(sub, (ast.Mult, ast.Div))
                    for k in _base_keys(f)]
            if len(set(keys)) < len(keys):
                raise _NotTaken("like bases")
        if isinstance(sub, ast.Call) and not _names_in(sub):
            raise _NotTaken("constant function call")


def _flat(node: ast.AST, ops: tuple) -> list[tuple[ast.AST, bool]]:
    """The operands of a flattened chain of ``ops`` (through parentheses and unary signs
    for sums), each with True when it enters inverted (subtracted or divided)."""
    out: list[tuple[ast.AST, bool]] = []
    stack: list[tuple[ast.AST, bool]] = [(node, False)]
    while stack:
        cur, inv = stack.pop()
        if isinstance(cur, ast.UnaryOp) and ast.Add in ops:
            stack.append((cur.operand, inv ^ isinstance(cur.op, ast.USub)))
        elif isinstance(cur, ast.BinOp) and isinstance(cur.op, ops):
            flip = isinstance(cur.op, (ast.Sub, ast.Div))
            stack.append((cur.left, inv))
            stack.append((cur.right, inv ^ flip))
        else:
            out.append((cur, inv))
    return out


def _term_key(term: ast.AST) -> str:
    """The non-numeric part of a term (numeric factors dropped), as sympy collects it."""
    factors = [f for f, _ in _flat(term, (ast.Mult, ast.Div)) if _names_in(f)]
    return "*".join(sorted(ast.dump(_unsigned(f)) for f in factors))


def _unsigned(node: ast.AST) -> ast.AST:
    while isinstance(node, ast.UnaryOp):
        node = node.operand
    return node


def _base_keys(factor: ast.AST) -> list[str]:
    """Keys of the bases sympy would merge in a product: a power's base, ``exp`` for every
    exponential; constants have none; the factors of an integer power of a product are
    its own (sympy distributes integer powers)."""
    factor = _unsigned(factor)
    if not _names_in(factor):
        return []
    if isinstance(factor, ast.Call) and factor.func.id == "exp":  # type: ignore[attr-defined]
        return ["exp"]
    if isinstance(factor, ast.BinOp) and isinstance(factor.op, ast.Pow):
        base = _unsigned(factor.left)
        if isinstance(base, ast.BinOp) and isinstance(base.op, (ast.Mult, ast.Div)):
            return [k for f, _ in _flat(base, (ast.Mult, ast.Div)) for k in _base_keys(f)]
        return _base_keys(base) if isinstance(base, ast.Call) else [ast.dump(base)]
    if isinstance(factor, ast.BinOp) and isinstance(factor.op, (ast.Mult, ast.Div)):
        return [k for f, _ in _flat(factor, (ast.Mult, ast.Div)) for k in _base_keys(f)]
    return [ast.dump(factor)]


# -- code writing: values and derivatives ---------------------------------------------------
def _fold(node: ast.AST) -> float:
    """A constant subtree in floating point; raises where it is not a finite real."""
    if isinstance(node, ast.Constant):
        value = float(cast(float, node.value))  # validate() let only numbers through
    elif isinstance(node, ast.Name):
        value = math.pi if node.id == "pi" else math.e
    elif isinstance(node, ast.UnaryOp):
        value = _fold(node.operand)
        value = -value if isinstance(node.op, ast.USub) else value
    elif isinstance(node, ast.BinOp):
        a, b = _fold(node.left), _fold(node.right)
        op = type(node.op)
        if op is ast.Add:
            value = a + b
        elif op is ast.Sub:
            value = a - b
        elif op is ast.Mult:
            value = a * b
        elif op is ast.Div:
            value = a / b  # ZeroDivisionError: not taken
        else:
            if a <= 0 and not float(b).is_integer():
                raise _NotTaken("power of a non-positive constant")
            value = a ** b
    else:
        raise _NotTaken("constant call")
    if not math.isfinite(value):
        raise _NotTaken("constant not finite")
    return value


_TEMP = re.compile(r"\bt\d+\b")


def _is_number(code: str) -> bool:
    try:
        float(code)
    except ValueError:
        return False
    return True


def _mul(x: str, y: str) -> str:
    """``x*y`` without multiplying by one."""
    return y if x == "1.0" else x if y == "1.0" else f"{x}*{y}"


class _Writer:
    """Straight-line code for a tree's value and its derivatives by every parameter."""

    def __init__(self, independent: list[str], params: list[str]):
        self.index = {name: k for k, name in enumerate(params)}
        self.arg = {name: f"x{i}" for i, name in enumerate(independent)}
        self.arg.update({name: f"p{k}" for k, name in enumerate(params)})
        self.args = [f"x{i}" for i in range(len(independent))] + \
            [f"p{k}" for k in range(len(params))]
        self.lines: list[str] = []
        self.memo: dict[str, tuple[str, dict[int, str]]] = {}

    def temp(self, code: str) -> str:
        if code.isidentifier() or _is_number(code):
            return code
        name = f"t{len(self.lines)}"
        self.lines.append(f"{name} = {code}")
        return name

    def body(self, results: list[str]) -> str:
        """The lines that ``results`` need (each temporary is ``t<its line>``)."""
        need = {int(m[1:]) for r in results for m in _TEMP.findall(r)}
        for i in range(len(self.lines) - 1, -1, -1):
            if i in need:
                need.update(int(m[1:]) for m in _TEMP.findall(self.lines[i].split("=", 1)[1]))
        return "".join(f"    {self.lines[i]}\n" for i in sorted(need))

    def node(self, node: ast.AST) -> tuple[str, dict[int, str]]:
        """``(value, {parameter index: derivative})``: code names or literals; a missing
        index is a derivative that is exactly zero."""
        key = ast.dump(node)
        done = self.memo.get(key)
        if done is None:
            done = self.memo[key] = self._node(node)
        return done

    def _node(self, node: ast.AST) -> tuple[str, dict[int, str]]:
        if not _names_in(node):
            return repr(_fold(node)), {}
        if isinstance(node, ast.Name):
            k = self.index.get(node.id)
            return self.arg[node.id], ({} if k is None else {k: "1.0"})
        if isinstance(node, ast.UnaryOp):
            v, d = self.node(node.operand)
            if isinstance(node.op, ast.UAdd):
                return v, d
            return self.temp(f"-{v}"), {k: self.temp(f"-{dk}") for k, dk in d.items()}
        if isinstance(node, ast.Call):
            return self._call(node.func.id, *self.node(node.args[0]))  # type: ignore[attr-defined]
        if isinstance(node, ast.BinOp):
            first, chain = _left_spine(node)
            value, derivs = self.node(first)
            for op_node in chain:
                value, derivs = self._binary(type(op_node.op), op_node, value, derivs)
            return value, derivs
        raise _NotTaken(type(node).__name__)

    def _binary(self, op, op_node, a, da):
        right = op_node.right
        b, db = self.node(right)
        if op is ast.Add or op is ast.Sub:
            sign = "+" if op is ast.Add else "-"
            d = dict(da)
            for k, dk in db.items():
                d[k] = self.temp(f"{d[k]} {sign} {dk}") if k in d else \
                    (dk if sign == "+" else self.temp(f"-{dk}"))
            return self.temp(f"{a} {sign} {b}"), d
        if op is ast.Mult:
            d = {}
            for k in sorted(set(da) | set(db)):
                parts = ([_mul(da[k], b)] if k in da else []) + \
                    ([_mul(a, db[k])] if k in db else [])
                d[k] = self.temp(" + ".join(parts))
            return self.temp(f"{a}*{b}"), d
        if op is ast.Div:
            if not _names_in(right) and _fold(right) == 0.0:
                raise _NotTaken("division by zero")
            d = {}
            for k in sorted(set(da) | set(db)):
                parts = ([f"{da[k]}/{b}"] if k in da else []) + \
                    ([f"- {a}*{db[k]}/{b}**2"] if k in db else [])
                d[k] = self.temp(" ".join(parts))
            return self.temp(f"{a}/{b}"), d
        return self._power(op_node, a, da, b, db)

    def _power(self, op_node, u, du, c, dc):
        base, expo = op_node.left, op_node.right
        if not _names_in(base) and _names_in(expo) and _fold(base) <= 0:
            raise _NotTaken("varying power of a non-positive constant")
        value = self.temp(f"{u}**{c}")
        d = {}
        if not dc:  # sympy: c u**(c-1) u'
            if not _names_in(expo) and _fold(expo) == 0.0:
                return value, {}
            lower = repr(_fold(expo) - 1.0) if not _names_in(expo) else \
                self.temp(f"{c} - 1.0")
            for k, duk in du.items():
                d[k] = self.temp(_mul(f"{c}*{u}**{lower}", duk))
            return value, d
        # sympy's Pow rule u**c (c' log(u) + c u'/u); log guarded at u = 0 (see _edges)
        log_u = self.temp(f"log({u} + (({u} == 0) & ({c} > 0)))")
        for k in sorted(set(du) | set(dc)):
            parts = ([f"{dc[k]}*{log_u}"] if k in dc else []) + \
                ([f"{c}*{du[k]}/{u}"] if k in du else [])
            d[k] = self.temp(f"{value}*({' + '.join(parts)})")
        return value, d

    def _call(self, name, u, du):
        fn = _UNARY_FUNCTIONS[name]
        value = self.temp(f"{fn}({u})")
        if not du:
            return value, {}
        outer = {  # d fn(u) / du, as sympy writes it
            "exp": value,
            "log": f"1.0/{u}",
            "log10": f"1.0/({u}*{math.log(10.0)!r})",
            "sqrt": f"0.5/{value}",
            "sin": f"cos({u})",
            "cos": f"-sin({u})",
            "tan": f"({value}**2 + 1.0)",
            "arcsin": f"1.0/sqrt(1.0 - {u}**2)",
            "arccos": f"-1.0/sqrt(1.0 - {u}**2)",
            "arctan": f"1.0/({u}**2 + 1.0)",
            "sinh": f"cosh({u})",
            "cosh": f"sinh({u})",
            "tanh": f"(1.0 - {value}**2)",
            "abs": f"sign({u})",
            "erf": f"{2.0 / math.sqrt(math.pi)!r}*exp(-{u}**2)",
            "erfc": f"{-2.0 / math.sqrt(math.pi)!r}*exp(-{u}**2)",
        }[fn]
        slope = self.temp(outer)
        return value, {k: self.temp(_mul(slope, duk)) for k, duk in du.items()}
