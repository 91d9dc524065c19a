"""Generated source of the lane-interleaved variable-projection passes (see
:mod:`._kernel_lanes`): ``LN`` curves at once, vectorized across curves."""

from __future__ import annotations

import textwrap

from ._codegen import _jacobian_column, _varpro_parts
from ._codegen_linalg import _ldl_lines, _ldl_solve_lines, _schur_lines


LANE_DECORATOR = '@njit(cache=True, _nrt=False, fastmath={"contract"}, nogil=True, error_model="numpy")'
LANE_INLINE = ('@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", '
               'inline="always")')
LANE_PLAIN = '@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy")'


def generate_varpro_lane_source(bm) -> str:
    """Numba source of the lane-interleaved variable-projection passes (see the kernel's
    docstring): ``LN`` curves at once, every per-point array stored lane-last so that the
    innermost loop runs over the lanes (independent, hence vectorized without
    reassociation: every curve sees the same arithmetic in every lane).

    ``_ln_basis(TT, XL, YL, WL, B, mp)``: rows of ``B`` (NROWS, mp, LN) as in
    :func:`generate_varpro_source`, at ``theta = TT[:, lane]``.
    ``_ln_gram(B, GL, mp)``: ``GL`` (NGACC, LN): the upper triangle of ``G = Phi^T Phi``,
    then ``b = Phi^T u``.
    ``_ln_full(B, CL, FL, mp)``: with ``c = CL[:, lane]``, ``FL`` (NFACC, LN): ``||r||^2``,
    the upper triangle of ``Ar = J^T J``, ``Xm = J^T Phi`` (row-major) and ``g = J^T r``.
    ``_lnv_project(GL, CL, RD, OK, GF)``: ``c = G^-1 b`` into ``CL`` for every lane, with
    G shifted by the lane's ridge ``RD``, branch-free (vectorized across lanes); ``OK`` is
    0.0 where a pivot failed (the caller retries that lane with a ridge through
    ``_ln_project1``); ``GF``: the factors of G.  ``_lnv_schur(GF, FL, AL)``: the Schur
    complement from those factors, lane-last into ``AL``.  ``_lnv_step(...)``: every
    lane's damped step, trial point, |h|^2, |x|^2, predicted decrease and Gauss-Newton
    gain (``_ln_step1`` for one lane).  ``_ln_take_trial`` copies an accepted trial
    point's results into the lane's current state (``AC``, ``GC`` lane-last; ``Ar``,
    ``Xm``, ``c``, ``G`` lane-major, read once per curve).
    """
    nl, lin, k, lines, codes, ndrows, terms = _varpro_parts(bm)
    p, q = len(nl), len(lin)
    gidx: dict[tuple[int, int], int] = {}
    for a in range(q):
        for b in range(a, q):
            gidx[(a, b)] = len(gidx)
    ngacc = len(gidx) + q
    fa: dict[tuple[int, int], int] = {}
    for a in range(p):
        for b in range(a, p):
            fa[(a, b)] = 1 + len(fa)
    fx = {(a, b): 1 + len(fa) + a * q + b for a in range(p) for b in range(q)}
    fg = {a: 1 + len(fa) + p * q + a for a in range(p)}
    nfacc = 1 + len(fa) + p * q + p

    def gl(i, j):  # G's entry (i, j) in GL
        return f"GL[{gidx[(min(i, j), max(i, j))]} * LN + l]"

    def pivots_ok(n):
        return " & ".join(f"(D_{i} > 0.0)" for i in range(n))

    # G's factors J_i = 1/D_i and l_i_j, kept per lane from the projection for the Schur
    # complement
    factors = [f"J_{i}" for i in range(q)] + [f"l_{i}_{j}" for i in range(q) for j in range(i)]

    # basis: the per-curve pass with a lane loop inside the point loop
    body = ["for j in range(mp):", "    o = j * (NROWS * LN)", "    for l in range(LN):"]
    inner = [f"tf_p{nl[a]} = TT[{a}, l]" for a in range(p)]
    inner += [f"tf_x{c} = XL[{c}, j, l]" for c in range(k)] + lines
    inner += ["wj = WL[j, l]", f"B[o + l] = (YL[j, l] - ({codes[0]})) * wj"]
    inner += [f"B[o + {(1 + l_)} * LN + l] = ({codes[1 + l_]}) * wj" for l_ in range(q)]
    inner += [f"B[o + {1 + q + i} * LN + l] = ({codes[1 + q + i]}) * wj" for i in range(ndrows)]
    body += ["        " + s for s in inner]
    basis = "def _ln_basis(TT, XL, YL, WL, B, mp):\n" + textwrap.indent("\n".join(body), "    ")

    body = [f"for r in range({ngacc} * LN):", "    GL[r] = 0.0"]
    body += ["for j in range(mp):", "    o = j * (NROWS * LN)", "    for l in range(LN):",
             "        u = B[o + l]"]
    inner = [f"f_{a} = B[o + {1 + a} * LN + l]" for a in range(q)]
    inner += [f"GL[{gidx[(a, b)]} * LN + l] += f_{a} * f_{b}" for a in range(q) for b in range(a, q)]
    inner += [f"GL[{len(gidx) + a} * LN + l] += f_{a} * u" for a in range(q)]
    body += ["        " + s for s in inner]
    gram = "def _ln_gram(B, GL, mp):\n" + textwrap.indent("\n".join(body), "    ")

    body = [f"for r in range({nfacc} * LN):", "    FL[r] = 0.0"]
    body += ["for j in range(mp):", "    o = j * (NROWS * LN)", "    for l in range(LN):"]
    inner = [f"c_{b} = CL[{b} * LN + l]" for b in range(q)]
    inner += [f"f_{b} = B[o + {1 + b} * LN + l]" for b in range(q)]
    inner += ["r = " + " + ".join(f"c_{b} * f_{b}" for b in range(q)) + " - B[o + l]"]
    inner += [f"d_{a} = " + _jacobian_column(terms[a], lambda r: f"B[o + {r} * LN + l]")
              for a in range(p)]
    inner += ["FL[l] += r * r"]
    inner += [f"FL[{fa[(a, b)]} * LN + l] += d_{a} * d_{b}" for a in range(p) for b in range(a, p)]
    inner += [f"FL[{fx[(a, b)]} * LN + l] += d_{a} * f_{b}" for a in range(p) for b in range(q)]
    inner += [f"FL[{fg[a]} * LN + l] += d_{a} * r" for a in range(p)]
    body += ["        " + s for s in inner]
    full = "def _ln_full(B, CL, FL, mp):\n" + textwrap.indent("\n".join(body), "    ")

    # projection and Schur complement of one lane, branch-free (the Gram matrix shifted
    # by the lane's ridge RD[l], 0 unless the lane needed it): the loops over the lanes
    # (_lnv_project, _lnv_schur) vectorize; OK[l] = 0.0 flags a failed factorization
    body = _ldl_lines(q, gl, "RD[l]", None)
    body += _ldl_solve_lines(q, lambda i: f"GL[{len(gidx) + i} * LN + l]", lambda i: f"c_{i}")
    body += [f"CL[{i} * LN + l] = c_{i}" for i in range(q)]
    body += [f"GF[{i} * LN + l] = {v}" for i, v in enumerate(factors)]
    body += [f"OK[l] = 1.0 if {pivots_ok(q)} else 0.0"]
    project = "def _ln_project1(GL, CL, RD, OK, GF, l):\n" + textwrap.indent("\n".join(body), "    ")
    vproject = ("def _lnv_project(GL, CL, RD, OK, GF):\n    for l in range(LN):\n"
                "        _ln_project1(GL, CL, RD, OK, GF, l)")
    dmax = "def _ln_gram_dmax(GL, l):\n    return max(" + ", ".join(
        gl(i, i) for i in range(q)) + ", 0.0)"

    body = [f"{v} = GF[{i} * LN + l]" for i, v in enumerate(factors)]
    body += _schur_lines(p, q, lambda kk, l_: f"FL[{fx[(kk, l_)]} * LN + l]",
                         lambda a, b: f"FL[{fa[(a, b)]} * LN + l]",
                         lambda a, b: f"AL[{a * p + b} * LN + l]")
    schur = "def _ln_schur1(GF, FL, AL, l):\n" + textwrap.indent("\n".join(body), "    ")
    vschur = ("def _lnv_schur(GF, FL, AL):\n    for l in range(LN):\n"
              "        _ln_schur1(GF, FL, AL, l)")

    # an accepted trial point: its lane-last results into the lane's current state
    body = []
    for a in range(p):
        body.append(f"GC[{a} * LN + l] = FL[{fg[a]} * LN + l]")
        for b in range(p):
            body.append(f"AC[{a * p + b} * LN + l] = AL[{a * p + b} * LN + l]")
            body.append(f"Ar[l, {a}, {b}] = FL[{fa[(min(a, b), max(a, b))]} * LN + l]")
        for b in range(q):
            body.append(f"Xm[l, {a}, {b}] = FL[{fx[(a, b)]} * LN + l]")
    for a in range(q):
        body.append(f"c[l, {a}] = CL[{a} * LN + l]")
        for b in range(q):
            body.append(f"G[l, {a}, {b}] = {gl(a, b)}")
    take = ("def _ln_take_trial(l, Ar, Xm, c, G, GL, CL, FL, AL, AC, GC):\n"
            + textwrap.indent("\n".join(body), "    "))

    # the LM step of one lane from its current point (lane-last AC, GC, THL; Moré's
    # scaling D^2 in SC), branch-free as _lm_one computes it: damped step, trial point
    # (projected on the bounds), |h|^2, |x|^2, predicted decrease, and the Gauss-Newton
    # gain; OKS/OKG flag failed pivots
    body = _ldl_lines(p, lambda i, j: f"AC[{i * p + j} * LN + l]",
                      lambda i: f"MU[l] * SC[{i} * LN + l]", None)
    body += _ldl_solve_lines(p, lambda i: f"-GC[{i} * LN + l]", lambda i: f"h_{i}")
    body.append(f"OKS[l] = 1.0 if {pivots_ok(p)} else 0.0")
    body += ["hn2 = 0.0", "xn2 = 0.0"]
    for a in range(p):
        body += [f"t_{a} = THL[{a} * LN + l]", f"xa_{a} = t_{a} + h_{a}", "if bounded:",
                 f"    xa_{a} = LBT[{a}] if xa_{a} < LBT[{a}] else (UBT[{a}] if xa_{a} > UBT[{a}] else xa_{a})",
                 f"    h_{a} = xa_{a} - t_{a}",
                 f"XT[{a} * LN + l] = xa_{a}", f"hn2 += h_{a} * h_{a}", f"xn2 += t_{a} * t_{a}"]
    body += ["HN2[l] = hn2", "XN2[l] = xn2", "pr = 0.0"]
    for a in range(p):
        body.append("s = 0.0")
        body += [f"s += AC[{a * p + b} * LN + l] * h_{b}" for b in range(p)]
        body.append(f"pr += -GC[{a} * LN + l] * h_{a} - 0.5 * h_{a} * s")
    body.append("PR[l] = pr")
    gn = _ldl_lines(p, lambda i, j: f"AC[{i * p + j} * LN + l]", "0.0", None)
    gn += _ldl_solve_lines(p, lambda i: f"-GC[{i} * LN + l]", lambda i: f"hg_{i}")
    body += gn
    body.append(f"OKG[l] = 1.0 if {pivots_ok(p)} else 0.0")
    body.append("gn = 0.0")
    body += [f"gn -= 0.5 * GC[{a} * LN + l] * hg_{a}" for a in range(p)]
    body.append("GN[l] = gn")
    step1 = ("def _ln_step1(AC, GC, THL, MU, SC, LBT, UBT, bounded, XT, HN2, XN2, PR, GN, OKS, OKG, l):\n"
             + textwrap.indent("\n".join(body), "    "))
    vstep = ("def _lnv_step(AC, GC, THL, MU, SC, LBT, UBT, bounded, XT, HN2, XN2, PR, GN, OKS, OKG):\n"
             "    for l in range(LN):\n"
             "        _ln_step1(AC, GC, THL, MU, SC, LBT, UBT, bounded, XT, HN2, XN2, PR, GN, OKS, OKG, l)")

    return "\n\n\n".join([
        f"NGACC = {ngacc}\nNFACC = {nfacc}\nNGF = {len(factors)}\n",
        f"{LANE_DECORATOR}\n{basis}",
        f"{LANE_DECORATOR}\n{gram}",
        f"{LANE_DECORATOR}\n{full}",
        f"{LANE_INLINE}\n{project}",
        f"{LANE_PLAIN}\n{vproject}",
        f"{LANE_INLINE}\n{dmax}",
        f"{LANE_INLINE}\n{schur}",
        f"{LANE_PLAIN}\n{vschur}",
        f"{LANE_INLINE}\n{take}",
        f"{LANE_INLINE}\n{step1}",
        f"{LANE_PLAIN}\n{vstep}",
    ])
