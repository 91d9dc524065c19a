"""Derivatives that stay finite at the edge of their domain: ``u**b * log(u)`` at ``u = 0``.

Differentiating a power with respect to its exponent gives a logarithm,
``d/db u**b = u**b log(u)``.  The stretched exponential ``a exp(-(t/tau)**beta) + c``
and the Hill curve ``top x**n / (K**n + x**n) + bottom`` are finite at ``t = 0`` and
``x = 0``, and so are their derivatives: for ``b > 0``,

    lim_{u -> 0+} u**b log(u)**k = 0          (every k >= 0; l'Hopital, k times)

but evaluated in floating point the product is ``0 * (-inf) = NaN``, which makes the
whole Jacobian row NaN, and a solver cannot take a single step from any start.

:func:`guard_edges` rewrites an expression so that floating point gives the limit.  In
every product that holds a power ``u**b`` (``b`` not known to be ``<= 0``; ``u`` itself
counts as ``u**1``) it replaces each ``log(u)`` that enters the product polynomially
(as a factor, raised to a positive integer power, or inside a sum or product of such)
by ``EdgeLog(u, b)``: ``log(u)``, except ``0`` where ``u == 0`` and ``b > 0``.  This is
scipy.special.xlogy's convention (``xlogy(0, 0) = 0``) carried to ``u**b``.  Then

* at ``u = 0``, ``b > 0``: ``u**b * P(EdgeLog) = 0 * P(0) = 0``, the limit, whenever the
  polynomial's other coefficients are finite there (and NaN/inf when they are not:
  a genuinely infinite derivative stays non-finite, it is never made finite);
* at ``u = 0``, ``b <= 0``: the guard is off, ``u**b log(u)`` is ``-inf``/NaN as before --
  there the function itself (``u**b``, ``b < 0``) or the derivative (``b = 0``:
  ``log(u) -> -inf``) is not finite, and must not be reported as if it were;
* everywhere else the expression is unchanged to the last bit: the printed code is
  ``log(u + ((u == 0) & (b > 0)))`` and ``u + 0`` is ``u``.

The guard costs two comparisons, an ``and`` and an addition per evaluation: no branch,
so numba's loops still vectorize where they did.  ``EdgeLog`` prints itself through
sympy's Python printers (``_pythoncode``: ``math.log`` for the batch kernels' printer;
``_numpycode``: ``numpy.log``/``log`` for ``lambdify``), so no printer needs to know it.

:func:`edge_safe_diff` (``guard_edges(sympy.diff(expr, p))``) is the one place where
trustfit forms symbolic derivatives for evaluation: the expression models' Jacobian
(:mod:`trustfit.models.expression`) and the batch kernels (:mod:`trustfit.batch._codegen`).

The rewrite is linear in the size of the expression (each distinct subexpression is
visited once).
"""

from __future__ import annotations

import sympy
from sympy.core.function import ArgumentIndexError

__all__ = ["EDGES_VERSION", "EdgeLog", "edge_safe_diff", "guard_edges"]

#: Part of the batch kernels' cache key: bump when the rewrite changes generated code.
EDGES_VERSION = "1"


class _EdgeGuard(sympy.Function):
    """``1`` where ``u == 0`` and ``b > 0``, else ``0`` -- only ever printed inside
    :class:`EdgeLog`'s ``log(u + guard)``; never built by users."""

    nargs = 2

    def _pythoncode(self, printer):
        u, b = self.args
        at_zero = f"({printer._print(u)} == 0)"
        if b.is_positive:
            return at_zero
        return f"({at_zero} & ({printer._print(b)} > 0))"

    _numpycode = _pythoncode  # NumPyPrinter/SciPyPrinter (lambdify) look for this name


class EdgeLog(sympy.Function):
    """``log(u)``, continued by ``0`` at ``u = 0`` when ``b > 0``: the logarithm in
    ``u**b log(u)``, whose limit at ``u -> 0+`` is ``0`` for ``b > 0`` (see the module).

    Evaluates to plain ``log(u)`` whenever ``u`` is known to be non-zero or ``b`` known to
    be ``<= 0``; its derivative is ``log``'s (``1/u``) so that further differentiation
    stays correct away from ``u = 0``.
    """

    nargs = 2

    @classmethod
    def eval(cls, u, b):
        if u.is_zero:
            if b.is_positive:
                return sympy.S.Zero
            if b.is_nonpositive:
                return sympy.log(u)
            return None
        if u.is_zero is False or b.is_nonpositive:
            return sympy.log(u)
        return None

    def fdiff(self, argindex=1):
        if argindex == 1:
            return 1 / self.args[0]
        if argindex == 2:
            return sympy.S.Zero
        raise ArgumentIndexError(self, argindex)

    def _eval_rewrite_as_log(self, u, b, **kwargs):
        return sympy.log(u)

    def _eval_is_real(self):
        return self.args[0].is_positive or None

    def _pythoncode(self, printer):
        u, b = self.args
        # log(u + guard) through the printer's own log (math.log, numpy.log, ...);
        # evaluate=False keeps sympy from reordering or folding the sum
        return printer._print(sympy.log(sympy.Add(u, _EdgeGuard(u, b), evaluate=False)))

    _numpycode = _pythoncode


def _powers(product) -> dict:
    """``{u: b}`` for the factors ``u**b`` of ``product`` (``u`` counts as ``u**1``) that
    may vanish as ``u -> 0``: ``b`` not known to be ``<= 0``, ``u`` not a logarithm."""
    out = {}
    for factor in product.args:
        base, exponent = factor.as_base_exp()
        if isinstance(base, (sympy.log, EdgeLog)) or base.is_number:
            continue
        if exponent.is_nonpositive:
            continue
        out[base] = exponent
    return out


def _replace_logs(expr, powers: dict):
    """``expr`` with ``log(u)`` -> ``EdgeLog(u, powers[u])`` where ``expr`` is polynomial in
    the logarithm: through sums, products and positive integer powers only (never inside
    another function, where ``log(u) -> 0`` would change the value)."""
    if isinstance(expr, sympy.log):
        u = expr.args[0]
        return EdgeLog(u, powers[u]) if u in powers else expr
    if expr.is_Add or expr.is_Mul:
        args = [_replace_logs(a, powers) for a in expr.args]
        return expr.func(*args) if args != list(expr.args) else expr
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        base = _replace_logs(expr.base, powers)
        return base**expr.exp if base is not expr.base else expr
    return expr


def _guard_product(product):
    powers = _powers(product)
    if not powers:
        return product
    # the powers u**b themselves come back unchanged (b is not a positive integer, or u
    # holds no log): only logs entering the product polynomially are replaced
    args = [_replace_logs(factor, powers) for factor in product.args]
    if args == list(product.args):
        return product
    return sympy.Mul(*args)


def guard_edges(expr):
    """``expr`` with every ``u**b * P(log(u))`` guarded so that its value at ``u = 0`` is
    the limit ``0`` when ``b > 0`` (see the module docstring); unchanged elsewhere."""
    memo: dict = {}

    def walk(e):
        if e.is_Atom or not e.args:
            return e
        done = memo.get(e)
        if done is not None:
            return done
        args = tuple(walk(a) for a in e.args)
        new = e.func(*args) if args != e.args else e
        if new.is_Mul:
            new = _guard_product(new)
        memo[e] = new
        return new

    return walk(sympy.sympify(expr))


def edge_safe_diff(expr, symbol):
    """``d expr / d symbol``, guarded by :func:`guard_edges`."""
    return guard_edges(sympy.diff(expr, symbol))
