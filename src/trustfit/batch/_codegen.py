"""sympy -> numba source for one model: a single fused pass over the data points.

For a model ``f(x; p)`` with parameters ``p = (p_1 .. p_n)`` and one curve
``(x_j, y_j, w_j)``, ``j = 1..m`` (``w_j = 1/sigma_j``), the generated function
``_accum`` computes, in ONE loop over ``j`` and without storing the Jacobian,

    r_j = w_j (f(x_j; p) - y_j),          J_jk = w_j df/dp_k (x_j; p)
    F   = 1/2 sum_j r_j^2
    A   = J^T J  (n x n, symmetric),      g = J^T r  (n)

which is everything a Levenberg-Marquardt iteration needs (Madsen, Nielsen & Tingleff,
*Methods for non-linear least squares problems*, 2nd ed., IMM DTU 2004, sec. 3.2): the
step solves ``(A + mu I) h = -g`` and the predicted reduction is
``L(0) - L(h) = -g^T h - 1/2 h^T A h`` (since ``||J h||^2 = h^T A h``).

The model and all n partial derivatives go through one ``sympy.cse`` so that shared
subexpressions (for ``x3 exp(x1 t) + x4 exp(x2 t)`` the two exponentials) are evaluated
once per point.  The pass is split in two loops over the points: the first computes
``r_j`` and ``J_j.`` into a small per-thread scratch ``B`` (n + 1, m) and has no
loop-carried dependence, so LLVM vectorizes it (``exp`` is the kernel's own branch-free
``tf_exp``, which vectorizes, where ``math.exp`` is a libm call that does not); the
second (``_reduce``) accumulates ``F``, ``A`` and ``g`` in locals (unrolled,
``n(n+1)/2 + n`` of them).  Everything is float64.  The model pass is compiled with
``fastmath={"contract"}`` (FMA contraction only: no reassociation, no NaN/inf
assumptions); the reduction also allows reassociation (``fastmath={"reassoc",
"contract"}``), so LLVM may sum in SIMD partial sums: the order of those sums and the
choice of fused multiply-adds are fixed by the compiled code, hence results are
reproducible on every thread, chunk and worker running the same binary on the same CPU
type, but may differ in the last bits between CPUs with different vector widths or
without FMA.

Raises :class:`CodegenError` when sympy's Python printer cannot express a function
(the caller then falls back to the vectorized numpy path).
"""

from __future__ import annotations

import hashlib
import textwrap

# Bump when the generated code changes meaning: it is part of the cache key.
CODEGEN_VERSION = "7"

# The sums of the reduction may be reassociated so that LLVM vectorizes them (measured
# 15.2 -> 11.8 ns per point for exp2 on this machine); both passes allow FMA contraction
# (a*b + c in one rounding: the exp polynomial and the products; exp2 serial kernel
# 74k -> 97k fits/s at m=64).  Neither flag allows anything that is not reproducible:
# no NaN/inf assumptions, no reciprocal approximations.
ACCUM_DECORATOR = '@njit(cache=True, _nrt=False, fastmath={"contract"}, nogil=True, error_model="numpy")'
REDUCE_DECORATOR = '@njit(cache=True, _nrt=False, fastmath={"reassoc", "contract"}, nogil=True, error_model="numpy")'


class CodegenError(RuntimeError):
    """The model cannot be turned into numba source."""


def _printer():
    from sympy.printing.pycode import PythonCodePrinter

    class _P(PythonCodePrinter):
        # Keep integer powers as repeated multiplication for small exponents:
        # numba's float ** int is a loop; x*x is one instruction.
        def _print_Pow(self, expr, rational=False):
            b, e = expr.as_base_exp()
            if e.is_Integer and 2 <= int(e) <= 4:
                s = self.parenthesize(b, 100)
                return "(" + "*".join([s] * int(e)) + ")"
            if e.is_Integer and -4 <= int(e) <= -1:
                s = self.parenthesize(b, 100)
                return "(1.0/(" + "*".join([s] * (-int(e))) + "))"
            return super()._print_Pow(expr, rational=rational)

        # exp through the kernel's own vectorizable exp (see _kernel.tf_exp)
        def _print_exp(self, expr):
            return "tf_exp(" + self._print(expr.args[0]) + ")"

    return _P({"standard": "python3", "fully_qualified_modules": True, "strict": True})


def model_key(bm) -> str:
    """Stable cache key of a symbolic model (expression, parameter and variable order)."""
    import sympy

    text = "|".join(
        [
            CODEGEN_VERSION,
            sympy.srepr(bm.expr),
            ",".join(sympy.srepr(s) for s in bm.param_symbols),
            ",".join(sympy.srepr(s) for s in bm.independent_symbols),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def generate_accum_source(bm) -> str:
    """Return the numba source (with decorators) of ``_accum`` and its ``_reduce``.

    Signature of the generated function::

        _accum(p, Xp, Yp, Wp, A, g, B) -> F

    ``p`` (n,) parameters; ``Xp`` (k, mp) independent variables, ``Yp`` (mp,) data and
    ``Wp`` (mp,) weights ``1/sigma`` of one curve, padded by the caller from m to
    ``mp`` points (a multiple of 4, so the vectorized loop has no scalar remainder) with
    weight 0, data 0 and the last x (each padding point adds exact zeros while the
    model is finite at the last x, and a non-finite F otherwise, as the last point
    itself does); ``A`` (n, n) and ``g`` (n,) outputs; ``B`` (n + 1, mp) scratch.  Returns ``F = 1/2 sum r^2``; NaN/inf
    propagate into F (the LM rejects such trial points).
    """
    import sympy

    n = len(bm.param_symbols)
    k = len(bm.independent_symbols)
    psub = {s: sympy.Symbol(f"tf_p{i}", real=True) for i, s in enumerate(bm.param_symbols)}
    xsub = {s: sympy.Symbol(f"tf_x{i}", real=True) for i, s in enumerate(bm.independent_symbols)}
    free = bm.expr.free_symbols - set(psub) - set(xsub)
    if free:
        raise CodegenError(f"model has symbols that are neither parameters nor variables: {free}")
    expr = bm.expr.xreplace({**psub, **xsub})
    pnew = [psub[s] for s in bm.param_symbols]
    derivs = [sympy.diff(expr, p) for p in pnew]
    reps, reduced = sympy.cse([expr] + derivs, symbols=sympy.numbered_symbols("tf_c"))
    pr = _printer()
    lines = []
    try:
        for sym, sub in reps:
            lines.append(f"{sym} = {pr.doprint(sub)}")
        fcode = pr.doprint(reduced[0])
        dcode = [pr.doprint(d) for d in reduced[1:]]
    except Exception as exc:  # strict printer: unsupported function
        raise CodegenError(f"cannot print model for numba: {exc}") from exc
    for code in lines + [fcode] + dcode:
        if "Not supported" in code:
            raise CodegenError(f"cannot print model for numba: {code}")

    body = []
    body += [f"tf_p{a} = p[{a}]" for a in range(n)]
    body += ["m = Yp.shape[0]", "for j in range(m):"]
    inner = [f"tf_x{c} = Xp[{c}, j]" for c in range(k)]
    inner += lines
    inner += ["wj = Wp[j]", f"B[0, j] = ({fcode} - Yp[j]) * wj"]
    inner += [f"B[{a + 1}, j] = ({dcode[a]}) * wj" for a in range(n)]
    body += ["    " + s for s in inner]
    body += ["return _reduce(B, A, g, m)"]
    accum = "def _accum(p, Xp, Yp, Wp, A, g, B):\n" + textwrap.indent("\n".join(body), "    ")

    body = ["F = 0.0"]
    body += [f"a_{a}_{b} = 0.0" for a in range(n) for b in range(a, n)]
    body += [f"g_{a} = 0.0" for a in range(n)]
    body += ["for j in range(m):"]
    inner = ["r = B[0, j]"] + [f"d_{a} = B[{a + 1}, j]" for a in range(n)]
    inner += ["F += r * r"]
    inner += [f"a_{a}_{b} += d_{a} * d_{b}" for a in range(n) for b in range(a, n)]
    inner += [f"g_{a} += d_{a} * r" for a in range(n)]
    body += ["    " + s for s in inner]
    for a in range(n):
        for b in range(a, n):
            body.append(f"A[{a}, {b}] = a_{a}_{b}")
            if a != b:
                body.append(f"A[{b}, {a}] = a_{a}_{b}")
    body += [f"g[{a}] = g_{a}" for a in range(n)]
    body += ["return 0.5 * F"]
    reduce = "def _reduce(B, A, g, m):\n" + textwrap.indent("\n".join(body), "    ")
    return (
        f"{REDUCE_DECORATOR}\n{reduce}\n\n\n{ACCUM_DECORATOR}\n{accum}"
    )
