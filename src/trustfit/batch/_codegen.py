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
second accumulates ``F``, ``A`` and ``g`` in scalar locals (unrolled,
``n(n+1)/2 + n`` of them, kept in registers) in the order j = 1..m.  Everything is
float64 and compiled with ``fastmath=False`` (no reassociation, no FMA contraction),
so the results are IEEE-reproducible: the same on every thread, chunk and worker.

Raises :class:`CodegenError` when sympy's Python printer cannot express a function
(the caller then falls back to the vectorized numpy path).
"""

from __future__ import annotations

import hashlib
import textwrap

# Bump when the generated code changes meaning: it is part of the cache key.
CODEGEN_VERSION = "3"
LANES = 1  # 2, 4, 8 measured no faster on this machine


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


def _tree(names):
    while len(names) > 1:
        names = [f"({names[i]} + {names[i + 1]})" if i + 1 < len(names) else names[i]
                 for i in range(0, len(names), 2)]
    return names[0]


def generate_accum_source(bm, lanes: int = LANES) -> str:
    """Return the numba source of ``_accum`` for the symbolic model ``bm``.

    Signature of the generated function::

        _accum(p, X, xi, Y, i, W, wi, A, g, B) -> F

    ``p`` (n,) parameters; ``X`` (nx, k, m) independent variables, row ``xi``;
    ``Y`` (N, m) data, row ``i``; ``W`` (nw, m) weights ``1/sigma``, row ``wi``;
    ``A`` (n, n) and ``g`` (n,) outputs; ``B`` (n + 1, m) scratch.  Returns ``F = 1/2 sum r^2``; NaN/inf
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
    body += ["m = Y.shape[1]", "for j in range(m):"]
    inner = [f"tf_x{c} = X[xi, {c}, j]" for c in range(k)]
    inner += lines
    inner += ["wj = W[wi, j]", f"B[0, j] = ({fcode} - Y[i, j]) * wj"]
    inner += [f"B[{a + 1}, j] = ({dcode[a]}) * wj" for a in range(n)]
    body += ["    " + s for s in inner]
    # accumulation in LANES interleaved partial sums (point j goes to lane j % LANES),
    # combined pairwise at the end: a fixed order (deterministic on any CPU) that the
    # SLP vectorizer can pack into SIMD registers.
    quants = ["F"] + [f"a_{a}_{b}" for a in range(n) for b in range(a, n)]
    quants += [f"g_{a}" for a in range(n)]
    body += [f"{q}_{l} = 0.0" for q in quants for l in range(lanes)]
    body += [f"mv = m - m % {lanes}", f"for j0 in range(0, mv, {lanes}):"]
    inner = []
    for l in range(lanes):
        inner += [f"r_{l} = B[0, j0 + {l}]"] + [f"d_{a}_{l} = B[{a + 1}, j0 + {l}]" for a in range(n)]
    for l in range(lanes):
        inner += [f"F_{l} += r_{l} * r_{l}"]
        inner += [f"a_{a}_{b}_{l} += d_{a}_{l} * d_{b}_{l}" for a in range(n) for b in range(a, n)]
        inner += [f"g_{a}_{l} += d_{a}_{l} * r_{l}" for a in range(n)]
    body += ["    " + s for s in inner]
    body += ["for j in range(mv, m):"]
    inner = ["r_0 = B[0, j]"] + [f"d_{a}_0 = B[{a + 1}, j]" for a in range(n)]
    inner += ["F_0 += r_0 * r_0"]
    inner += [f"a_{a}_{b}_0 += d_{a}_0 * d_{b}_0" for a in range(n) for b in range(a, n)]
    inner += [f"g_{a}_0 += d_{a}_0 * r_0" for a in range(n)]
    body += ["    " + s for s in inner]
    for q in quants:
        body.append(f"{q} = " + _tree([f"{q}_{l}" for l in range(lanes)]))
    for a in range(n):
        for b in range(a, n):
            body.append(f"A[{a}, {b}] = a_{a}_{b}")
            if a != b:
                body.append(f"A[{b}, {a}] = a_{a}_{b}")
    body += [f"g[{a}] = g_{a}" for a in range(n)]
    body += ["return 0.5 * F"]
    src = "def _accum(p, X, xi, Y, i, W, wi, A, g, B):\n" + textwrap.indent("\n".join(body), "    ")
    return src


def generate_eval_source(bm) -> str:
    """Source of ``_eval(p, X, xi, out)``: model values only (used for predictions)."""
    import sympy

    psub = {s: sympy.Symbol(f"tf_p{i}", real=True) for i, s in enumerate(bm.param_symbols)}
    xsub = {s: sympy.Symbol(f"tf_x{i}", real=True) for i, s in enumerate(bm.independent_symbols)}
    expr = bm.expr.xreplace({**psub, **xsub})
    pr = _printer()
    code = pr.doprint(expr)
    body = [f"tf_p{a} = p[{a}]" for a in range(len(psub))]
    body += ["for j in range(out.shape[0]):"]
    body += [f"    tf_x{c} = X[xi, {c}, j]" for c in range(len(xsub))]
    body += [f"    out[j] = {code}"]
    return "def _eval(p, X, xi, out):\n" + textwrap.indent("\n".join(body), "    ")
