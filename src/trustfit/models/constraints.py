"""Parameter constraints: ``Parameter(expr="2*a")`` makes a parameter a function of others.

lmfit's ``expr`` constraints, read by the same whitelist parser as model expressions
(:mod:`._safe_parse`: data, never executed; no ``eval``, no ``sympify``) and built into sympy
(:mod:`._build`). A constraint may use the expression language's functions and constants and
the names of *other* parameters of the same :class:`~.parameters.Parameters`; chains
(``c = 2*b``, ``b = a + 1``) are evaluated in dependency order, and a cycle is a
``ValueError`` naming it.

A constrained parameter is not fitted. Its derivative enters the fit through the chain rule:
with ``p = P(z)`` the full parameter vector as a function of the fitted ones ``z``,
``d r / d z = (d r / d p) (d P / d z)``, and ``d P / d z`` is built row by row in dependency
order from the constraints' exact symbolic gradients (:meth:`Constraints.derivative`).
The compiled constraints are cached by their text, so re-evaluating them costs one call each.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._build import build_sympy
from ._safe_parse import free_names, validate

__all__ = ["Constraints", "constraints_of"]

_MODULES = ["scipy", "numpy"]


@dataclass(frozen=True)
class _Compiled:
    target: int              # index of the constrained parameter
    refs: tuple[int, ...]    # indices of the parameters it reads
    value: Callable          # value(*p[refs])
    grad: Callable           # grad(*p[refs]) -> list of d value / d p[refs]


class Constraints:
    """The compiled constraints of a parameter list, in dependency order."""

    def __init__(self, names: tuple[str, ...], exprs: tuple[tuple[str, str], ...]):
        import sympy

        index = {n: i for i, n in enumerate(names)}
        parsed = {}
        for target, text in exprs:
            try:
                tree = validate(text)
            except ValueError as exc:
                first = str(exc).splitlines()[0]
                raise ValueError(f"parameter {target!r}: expr {text!r}: {first}") from None
            refs = free_names(tree)
            unknown = [r for r in refs if r not in index]
            if unknown:
                raise ValueError(f"parameter {target!r}: expr {text!r} names {unknown[0]!r}, "
                                 f"which is not a parameter (the parameters are "
                                 f"{list(names)})")
            if target in refs:
                raise ValueError(f"parameter {target!r}: expr {text!r} refers to itself")
            parsed[target] = (text, tree, refs)
        order = _dependency_order(parsed)
        self.compiled: list[_Compiled] = []
        for target in order:
            text, tree, refs = parsed[target]
            symbols = {r: sympy.Symbol(r, real=True) for r in refs}
            expr = build_sympy(tree, symbols, text)
            args = [symbols[r] for r in refs]
            grads = [sympy.diff(expr, s) for s in args]
            self.compiled.append(_Compiled(
                index[target], tuple(index[r] for r in refs),
                sympy.lambdify(args, expr, modules=_MODULES),
                sympy.lambdify(args, grads, modules=_MODULES)))

    def fill(self, full: np.ndarray) -> None:
        """Write the constrained entries of the full parameter vector, in place."""
        with np.errstate(all="ignore"):
            for c in self.compiled:
                full[c.target] = float(c.value(*full[list(c.refs)]))

    def apply(self, params) -> dict[str, float]:
        """The constrained parameters' values from the others' current values."""
        names = list(params)
        full = np.array([np.nan if params[n].value is None or params[n].expr is not None
                         else float(params[n].value) for n in names])
        self.fill(full)
        return {names[c.target]: float(full[c.target]) for c in self.compiled}

    def derivative(self, full: np.ndarray, free: list[int]) -> np.ndarray:
        """``d P / d z``: shape ``(len(full), len(free))``; rows of fitted parameters are unit
        rows, fixed ones zero, constrained ones the chain rule through their references."""
        D = np.zeros((full.size, len(free)))
        D[free, np.arange(len(free))] = 1.0
        with np.errstate(all="ignore"):
            for c in self.compiled:
                g = np.asarray(c.grad(*full[list(c.refs)]), dtype=float).reshape(-1)
                D[c.target] = g @ D[list(c.refs)]
        return D


def _dependency_order(parsed: dict) -> list[str]:
    """Constrained names so that each comes after the constrained names it reads; a cycle is
    a ``ValueError`` naming it."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise ValueError(f"parameter constraints form a cycle: {' -> '.join(cycle)}")
        state[name] = 1
        for ref in parsed[name][2]:
            if ref in parsed:
                visit(ref, path + [name])
        state[name] = 2
        order.append(name)

    for name in parsed:
        visit(name, [])
    return order


_CACHE: dict[tuple, Constraints] = {}


def constraints_of(params) -> Constraints:
    """The compiled constraints of ``params`` (cached by names and constraint texts)."""
    names = tuple(params)
    exprs = tuple((n, params[n].expr) for n in names if params[n].expr is not None)
    key = (names, exprs)
    found = _CACHE.get(key)
    if found is None:
        found = Constraints(names, exprs)
        if len(_CACHE) >= 256:
            _CACHE.clear()
        _CACHE[key] = found
    return found
