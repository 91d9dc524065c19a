"""sympy -> numba source for one model: a single fused pass over the data points.

For a model ``f(x; p)`` with parameters ``p = (p_1 .. p_n)`` and one curve
``(x_j, y_j, w_j)``, ``j = 1..m`` (``w_j = 1/sigma_j``), the generated function
``_accum`` computes, in ONE loop over ``j`` and without storing the Jacobian,

    r_j = w_j (f(x_j; p) - y_j),          J_jk = w_j df/dp_k (x_j; p)
    F   = 1/2 sum_j r_j^2
    A   = J^T J  (n x n, symmetric),      g = J^T r  (n)

which is everything a Levenberg-Marquardt iteration needs (Madsen, Nielsen & Tingleff,
*Methods for non-linear least squares problems*, 2nd ed., IMM DTU 2004, sec. 3.2): the
step solves ``(A + mu D^2) h = -g`` (Moré's scaling D) and the predicted reduction is
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
CODEGEN_VERSION = "8"

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
    """Stable cache key of a symbolic model (expression, parameter and variable order).

    Remembered on ``bm``: printing the expression costs ~1 ms, and every chunk's
    kernel lookup and rescue pass asks for the key."""
    import sympy

    key = bm.__dict__.get("_model_key")
    if key is not None:
        return key
    from trustfit.models._edges import EDGES_VERSION

    text = "|".join(
        [
            CODEGEN_VERSION + "." + EDGES_VERSION,
            sympy.srepr(bm.expr),
            ",".join(sympy.srepr(s) for s in bm.param_symbols),
            ",".join(sympy.srepr(s) for s in bm.independent_symbols),
        ]
    )
    key = hashlib.sha256(text.encode()).hexdigest()[:24]
    bm.__dict__["_model_key"] = key
    return key


def _renamed(bm):
    """The model with parameters renamed ``tf_p{i}`` and variables ``tf_x{i}`` (names the
    generated code uses); returns (expression, new parameter symbols in order)."""
    import sympy

    psub = {s: sympy.Symbol(f"tf_p{i}", real=True) for i, s in enumerate(bm.param_symbols)}
    xsub = {s: sympy.Symbol(f"tf_x{i}", real=True) for i, s in enumerate(bm.independent_symbols)}
    free = bm.expr.free_symbols - set(psub) - set(xsub)
    if free:
        raise CodegenError(f"model has symbols that are neither parameters nor variables: {free}")
    return bm.expr.xreplace({**psub, **xsub}), [psub[s] for s in bm.param_symbols]


def _cse_code(exprs):
    """One ``sympy.cse`` over ``exprs``; returns (assignment lines of the shared
    subexpressions, source of each reduced expression)."""
    import sympy

    reps, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("tf_c"))
    pr = _printer()
    try:
        lines = [f"{sym} = {pr.doprint(sub)}" for sym, sub in reps]
        codes = [pr.doprint(e) for e in reduced]
    except Exception as exc:  # strict printer: unsupported function
        raise CodegenError(f"cannot print model for numba: {exc}") from exc
    for code in lines + codes:
        if "Not supported" in code:
            raise CodegenError(f"cannot print model for numba: {code}")
    return lines, codes


def _store_symmetric(target, acc, n):
    """Lines storing the accumulators ``{acc}_a_b`` (a <= b) into both triangles of the
    n x n array ``target``."""
    lines = []
    for a in range(n):
        for b in range(a, n):
            lines.append(f"{target}[{a}, {b}] = {acc}_{a}_{b}")
            if a != b:
                lines.append(f"{target}[{b}, {a}] = {acc}_{a}_{b}")
    return lines


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
    from trustfit.models._edges import edge_safe_diff

    n = len(bm.param_symbols)
    k = len(bm.independent_symbols)
    expr, pnew = _renamed(bm)
    lines, codes = _cse_code([expr] + [edge_safe_diff(expr, p) for p in pnew])
    fcode, dcode = codes[0], codes[1:]

    body = []
    body += [f"tf_p{a} = p[{a}]" for a in range(n)]
    body += ["m = Yp.shape[0]", "for j in range(m):"]
    inner = [f"tf_x{c} = Xp[{c}, j]" for c in range(k)]
    inner += lines
    poisson = getattr(bm, "noise", "gaussian") == "poisson"
    if poisson:  # deviance residuals of counts (._codegen_poisson)
        from ._codegen_poisson import point_lines

        inner += point_lines(fcode, dcode)
    else:
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
    body += _store_symmetric("A", "a", n)
    body += [f"g[{a}] = g_{a}" for a in range(n)]
    body += ["return 0.5 * F"]
    reduce = "def _reduce(B, A, g, m):\n" + textwrap.indent("\n".join(body), "    ")
    helper = ""
    if poisson:
        from ._codegen_poisson import DEVIANCE_SOURCE, fisher_source

        helper = (DEVIANCE_SOURCE + "\n\n\n" + fisher_source(lines, fcode, dcode, k)
                  + "\n\n\n")
    return (
        f"{helper}{REDUCE_DECORATOR}\n{reduce}\n\n\n{ACCUM_DECORATOR}\n{accum}"
    )


def linear_parameters(bm) -> list[int]:
    """Indices of parameters the model is jointly linear in (in parameter order).

    ``p`` is taken when ``df/dp`` contains neither ``p`` nor any parameter already
    taken; so ``f = phi_0 + sum_l c_l phi_l`` with every ``phi`` free of the ``c``.  For
    ``x3 exp(x1 t) + x4 exp(x2 t)``: x3, x4; for ``a exp(-(t-mu)^2/(2 s^2)) + c``: a, c.
    """
    import sympy

    syms = list(bm.param_symbols)
    lin: list[int] = []
    for i, p in enumerate(syms):
        d = sympy.diff(bm.expr, p)
        if d.has(p) or any(d.has(syms[j]) for j in lin):
            continue
        lin.append(i)
    return lin


def varpro_layout(bm):
    """Split of the parameters for variable projection: (nonlinear, linear) index lists.

    None when the model is not separable (no linear or no nonlinear parameter).
    Remembered on ``bm`` (sympy differentiation, asked for on every call).
    """
    if "_varpro_layout" in bm.__dict__:
        return bm.__dict__["_varpro_layout"]
    lin = linear_parameters(bm)
    nl = [i for i in range(len(bm.param_symbols)) if i not in lin]
    layout = (nl, lin) if lin and nl else None
    bm.__dict__["_varpro_layout"] = layout
    return layout


def _varpro_parts(bm):
    """What both variable-projection generators need: the parameter split, one cse over
    the basis ``phi_0..phi_q`` and its non-zero derivatives ``d phi_l / d theta_k``
    (``drows``: (l, k, expr), stored in rows ``1 + q + i`` of ``B``), and for each
    Jacobian column ``k`` its terms ``(row, l)`` (coefficient 1 for ``l = 0``, else
    ``c_{l-1}``)."""
    import sympy

    from trustfit.models._edges import edge_safe_diff

    layout = varpro_layout(bm)
    if layout is None:
        raise CodegenError("model is not separable (needs linear and nonlinear parameters)")
    nl, lin = layout
    p = len(nl)
    expr, P = _renamed(bm)
    cs = [P[i] for i in lin]
    ths = [P[i] for i in nl]
    phis = [expr.xreplace({c: 0 for c in cs})] + [sympy.diff(expr, c) for c in cs]
    drows = []
    for l_, ph in enumerate(phis):
        for kk, th in enumerate(ths):
            d = edge_safe_diff(ph, th)
            if d != 0:
                drows.append((l_, kk, d))
    lines, codes = _cse_code(phis + [d for _, _, d in drows])
    terms: dict[int, list[tuple[int, int]]] = {kk: [] for kk in range(p)}
    for i, (l_, kk, _) in enumerate(drows):
        terms[kk].append((1 + len(lin) + i, l_))
    return nl, lin, len(bm.independent_symbols), lines, codes, len(drows), terms


def _jacobian_column(terms, row):
    """Source of one Jacobian column from its (row, l) terms; ``row(r)`` prints B's row."""
    if not terms:
        return "0.0"
    return " + ".join(row(r) if l_ == 0 else f"c_{l_ - 1} * {row(r)}" for r, l_ in terms)


def generate_varpro_source(bm) -> str:
    """Numba source of the model part of the variable-projection kernel.

    With the linear parameters ``c`` (q of them) and the nonlinear ``theta`` (p), the
    model is ``f = phi_0(theta) + sum_l c_l phi_l(theta)``.  Generated functions:

    ``_vp_basis(th, Xp, Yp, Wp, B)``: one vectorizable pass over the points that stores
    the weighted ``u = w (y - phi_0)``, ``w phi_l`` and every symbolically non-zero
    ``w d phi_l / d theta_k`` (``l = 0..q``) in rows of the scratch ``B``.

    ``_vp_gram(B, G, b, m)``: ``G = Phi^T Phi`` (q x q) and ``b = Phi^T u``; the caller
    solves ``G c = b`` (the optimal linear parameters at ``theta``).

    ``_vp_full(B, c, Ar, g, Xm, m) -> F``: with that ``c``: residuals ``r = Phi c - u``,
    the Jacobian columns ``J_k = d phi_0/d theta_k + sum_l c_l d phi_l / d theta_k``,
    ``Ar = J^T J`` (p x p), ``g = J^T r`` and ``Xm = J^T Phi``; returns
    ``F = 1/2 ||r||^2``.  (``Phi^T r``, the gradient in ``c``, is zero at the optimal
    ``c`` and not accumulated.)

    ``_vp_assemble(Ar, Xm, G, g, Af, gf)``: the full normal matrix ``Af`` of
    ``[J_theta, Phi]`` and the full gradient ``gf`` (``g`` and zeros) in the original
    parameter order, for the standard errors: once per curve, at the final point.
    """
    nl, lin, k, lines, codes, ndrows, terms = _varpro_parts(bm)
    p, q = len(nl), len(lin)

    body = [f"tf_p{nl[a]} = th[{a}]" for a in range(p)]
    body += ["m = Yp.shape[0]", "for j in range(m):"]
    inner = [f"tf_x{c} = Xp[{c}, j]" for c in range(k)] + lines
    inner += ["wj = Wp[j]", f"B[0, j] = (Yp[j] - ({codes[0]})) * wj"]
    inner += [f"B[{1 + l_}, j] = ({codes[1 + l_]}) * wj" for l_ in range(q)]
    inner += [f"B[{1 + q + i}, j] = ({codes[1 + q + i]}) * wj" for i in range(ndrows)]
    body += ["    " + s for s in inner]
    basis = "def _vp_basis(th, Xp, Yp, Wp, B):\n" + textwrap.indent("\n".join(body), "    ")

    body = [f"G_{a}_{b} = 0.0" for a in range(q) for b in range(a, q)]
    body += [f"b_{a} = 0.0" for a in range(q)]
    body += ["for j in range(m):", "    u = B[0, j]"]
    body += [f"    f_{a} = B[{1 + a}, j]" for a in range(q)]
    body += [f"    G_{a}_{b} += f_{a} * f_{b}" for a in range(q) for b in range(a, q)]
    body += [f"    b_{a} += f_{a} * u" for a in range(q)]
    body += _store_symmetric("G", "G", q)
    body += [f"b[{a}] = b_{a}" for a in range(q)]
    gram = "def _vp_gram(B, G, b, m):\n" + textwrap.indent("\n".join(body), "    ")

    body = [f"c_{a} = c[{a}]" for a in range(q)]
    body += ["F = 0.0"]
    body += [f"a_{a}_{b} = 0.0" for a in range(p) for b in range(a, p)]
    body += [f"x_{a}_{b} = 0.0" for a in range(p) for b in range(q)]
    body += [f"g_{a} = 0.0" for a in range(p)]
    body += ["for j in range(m):"]
    inner = [f"f_{b} = B[{1 + b}, j]" for b in range(q)]
    inner += ["r = " + " + ".join(f"c_{b} * f_{b}" for b in range(q)) + " - B[0, j]"]
    inner += [f"d_{a} = " + _jacobian_column(terms[a], lambda r: f"B[{r}, j]") for a in range(p)]
    inner += ["F += r * r"]
    inner += [f"a_{a}_{b} += d_{a} * d_{b}" for a in range(p) for b in range(a, p)]
    inner += [f"x_{a}_{b} += d_{a} * f_{b}" for a in range(p) for b in range(q)]
    inner += [f"g_{a} += d_{a} * r" for a in range(p)]
    body += ["    " + s for s in inner]
    body += _store_symmetric("Ar", "a", p)
    body += [f"Xm[{a}, {b}] = x_{a}_{b}" for a in range(p) for b in range(q)]
    body += [f"g[{a}] = g_{a}" for a in range(p)]
    body += ["return 0.5 * F"]
    full = "def _vp_full(B, c, Ar, g, Xm, m):\n" + textwrap.indent("\n".join(body), "    ")

    def put(i, j, v):
        return [f"Af[{i}, {j}] = {v}"] + ([f"Af[{j}, {i}] = {v}"] if i != j else [])

    body = []
    for a in range(p):
        for b in range(a, p):
            body += put(nl[a], nl[b], f"Ar[{a}, {b}]")
        for b in range(q):
            body += put(nl[a], lin[b], f"Xm[{a}, {b}]")
        body.append(f"gf[{nl[a]}] = g[{a}]")
    for a in range(q):
        for b in range(a, q):
            body += put(lin[a], lin[b], f"G[{a}, {b}]")
        body.append(f"gf[{lin[a]}] = 0.0")
    assemble = "def _vp_assemble(Ar, Xm, G, g, Af, gf):\n" + textwrap.indent("\n".join(body), "    ")

    split = ["def _vp_split(x, LB, UB, th, lbt, ubt):"]
    split += [f"    th[{a}] = x[{nl[a]}]; lbt[{a}] = LB[{nl[a]}]; ubt[{a}] = UB[{nl[a]}]"
              for a in range(p)]
    join = ["def _vp_join(th, c, x):"]
    join += [f"    x[{nl[a]}] = th[{a}]" for a in range(p)]
    join += [f"    x[{lin[b]}] = c[{b}]" for b in range(q)]
    head = f"NTH = {p}\nNQ = {q}\nNROWS = {1 + q + ndrows}\n"
    small = '@njit(cache=True, _nrt=False, nogil=True, error_model="numpy")'
    return "\n\n\n".join([
        head,
        f"{ACCUM_DECORATOR}\n{basis}",
        f"{REDUCE_DECORATOR}\n{gram}",
        f"{REDUCE_DECORATOR}\n{full}",
        f"{small}\n{assemble}",
        f"{small}\n" + "\n".join(split),
        f"{small}\n" + "\n".join(join),
    ])
