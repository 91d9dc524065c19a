"""Unrolled small linear algebra for the generated kernel code: ``L D L^T`` factorizations
and solves, the Schur complement of variable projection, the per-curve statistics.

Each generator returns numba source (or lines of it) unrolled for a fixed size n, with
the matrices' entries held in scalars: with n = 2..6 parameters straight-line code is
what makes the kernel's small solves fast.
"""

from __future__ import annotations

import textwrap


def _ldl_lines(n, entry, shift, on_fail):
    """Unrolled square-root-free Cholesky ``M + diag(shift) = L D L^T`` (unit lower L) of an
    n x n symmetric matrix (``shift``: the source of one shift for every pivot, or a
    function of i giving pivot i's): n reciprocals and no square root, which shortens the
    dependency chain of a small solve by about half (a square root and a division per
    pivot cost ~35 cycles of latency, a division ~14).

    ``entry(i, j)`` (i >= j) is the source of ``M[i, j]``; defines scalars ``l_i_j``,
    ``D_i`` and ``J_i = 1 / D_i`` (and ``e_i_j = l_i_j D_j``).  Each pivot is tested
    (``D_i > 0``, False for NaN); on failure the lines ``on_fail`` run at that depth
    (they must leave the block).  ``on_fail=None``: no tests (branch-free; the caller
    tests the pivots ``D_i``).
    """
    lines = []
    for i in range(n):
        for j in range(i):
            terms = "".join(f" - e_{i}_{k} * l_{j}_{k}" for k in range(j))
            lines.append(f"e_{i}_{j} = {entry(i, j)}{terms}")
            lines.append(f"l_{i}_{j} = e_{i}_{j} * J_{j}")
        terms = "".join(f" - e_{i}_{k} * l_{i}_{k}" for k in range(i))
        lines.append(f"D_{i} = {entry(i, i)} + {shift(i) if callable(shift) else shift}{terms}")
        if on_fail is not None:
            lines.append(f"if not (D_{i} > 0.0):")
            lines += ["    " + s for s in on_fail]
        lines.append(f"J_{i} = 1.0 / D_{i}")
    return lines


def _ldl_solve_lines(n, rhs, out):
    """``L D L^T out = rhs`` with the scalars of :func:`_ldl_lines`."""
    lines = []
    for i in range(n):
        terms = "".join(f" - l_{i}_{k} * y_{k}" for k in range(i))
        lines.append(f"y_{i} = {rhs(i)}{terms}")
    for i in range(n - 1, -1, -1):
        terms = "".join(f" - l_{k}_{i} * {out(k)}" for k in range(i + 1, n))
        lines.append(f"{out(i)} = y_{i} * J_{i}{terms}")
    return lines


def generate_damped_step_source(n: int) -> str:
    """``_damped_step(A, g, mu, S, h) -> bool``: solve ``(A + mu diag(S)) h = -g`` (n x n,
    ``S = D^2``: Moré's scaling, :mod:`trustfit.steps.lm_rules`) by an unrolled ``L D L^T``
    factorization; False when ``A + mu diag(S)`` is not numerically positive definite."""
    body = _ldl_lines(n, lambda i, j: f"A[{i}, {j}]", lambda i: f"mu * S[{i}]",
                      ["return False"])
    body += _ldl_solve_lines(n, lambda i: f"-g[{i}]", lambda i: f"h[{i}]")
    body.append("return True")
    return (
        '@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", '
        'inline="always")\n'
        "def _damped_step(A, g, mu, S, h):\n" + textwrap.indent("\n".join(body), "    ")
    )


def _gram_ldl_lines(q, entry, on_fail):
    """``G = L D L^T`` for the q x q Gram matrix (:func:`_ldl_lines`), retried once with a
    ridge of ``1e-13 max diag G`` when G is numerically singular; ``on_fail`` (one line
    that leaves the block) when that fails too."""
    body = [f"dmax = max({', '.join(entry(i, i) for i in range(q))}, 0.0)"]
    body += ["ridge = 0.0", "ok = False", "for attempt in range(2):"]
    chol = _ldl_lines(q, entry, "ridge", ["ridge = 1e-13 * dmax", "continue"])
    body += ["    " + s for s in chol] + ["    ok = True", "    break"]
    return body + ["if not ok:", "    " + on_fail]


def _schur_lines(p, q, xm, ar, out):
    """``A = Ar - Z^T D^-1 Z`` with ``Z = L^-1 Xm^T`` (the factors of
    :func:`_gram_ldl_lines`): the Schur complement of the Gram block in the full normal
    matrix; ``xm(k, l)``, ``ar(a, b)`` and ``out(a, b)`` print the entries."""
    body = []
    for k in range(p):
        for l_ in range(q):
            terms = "".join(f" - l_{l_}_{i} * z_{i}_{k}" for i in range(l_))
            body.append(f"z_{l_}_{k} = {xm(k, l_)}{terms}")
    for a in range(p):
        for b2 in range(a, p):
            zz = " - ".join(f"z_{l_}_{a} * z_{l_}_{b2} * J_{l_}" for l_ in range(q))
            body.append(f"{out(a, b2)} = {ar(a, b2)} - {zz}")
            if a != b2:
                body.append(f"{out(b2, a)} = {out(a, b2)}")
    return body


def generate_varpro_solve_source(q: int, p: int) -> str:
    """``_vp_project(B, G, b, c, A, g, Ar, Xm, m) -> F``, unrolled for q linear and p
    nonlinear parameters: ``c = G^-1 b`` by ``G = L D L^T`` (retried with a ridge of
    ``1e-13 max diag G`` when G is numerically singular; NaN when that fails too), then
    ``_vp_full`` (``Ar = J^T J``) and the Schur complement ``A = Ar - Z^T D^-1 Z`` with
    ``Z = L^-1 (J^T Phi)^T``."""
    body = _gram_ldl_lines(q, lambda i, j: f"G[{i}, {j}]", "return np.nan")
    body += _ldl_solve_lines(q, lambda i: f"b[{i}]", lambda i: f"c[{i}]")
    body += ["F = _vp_full(B, c, Ar, g, Xm, m)"]
    body += _schur_lines(p, q, lambda k, l_: f"Xm[{k}, {l_}]", lambda a, b: f"Ar[{a}, {b}]",
                         lambda a, b: f"A[{a}, {b}]")
    body.append("return F")
    return (
        '@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", '
        'inline="always")\n'
        "def _vp_project(B, G, b, c, A, g, Ar, Xm, m):\n"
        + textwrap.indent("\n".join(body), "    ")
    )


def generate_curve_stats_source(n: int) -> str:
    """``_curve_stats(A, g, F, s2, se) -> (rcond, gn_gain, trace(S^-1))``, unrolled for n
    parameters.

    With ``D = diag(A)^-1/2`` and the factorization ``S = D A D = L P L^T`` (unit lower
    L, pivots P, :func:`_ldl_lines`): ``rcond = min_i P_i`` (the squared smallest pivot
    of the Cholesky factor of S; 0 when A is not numerically positive definite),
    ``gn_gain = 1/2 g^T A^-1 g / F = 1/2 sum_i y_i^2 / P_i / F`` with ``y = L^-1 D g``,
    and the standard errors ``se_i = D_ii sqrt(s2 (S^-1)_ii)`` with
    ``(S^-1)_ii = sum_k ((L^-1)_ki)^2 / P_k``; ``se`` is left untouched (NaN) when A is
    not positive definite, and the trace of ``S^-1`` is then inf."""
    fail = "return 0.0, np.nan, math.inf"
    body = [f"if not (A[{i}, {i}] > 0.0):\n    {fail}" for i in range(n)]
    body += [f"d_{i} = 1.0 / math.sqrt(A[{i}, {i}])" for i in range(n)]
    body += _ldl_lines(n, lambda i, j: f"A[{i}, {j}] * d_{i} * d_{j}", "0.0", [fail])
    body.append("pmin = min(" + ", ".join(f"D_{i}" for i in range(n)) + ", math.inf)")
    for i in range(n):
        terms = "".join(f" - l_{i}_{k} * y_{k}" for k in range(i))
        body.append(f"y_{i} = g[{i}] * d_{i}{terms}")
    body.append("gg = " + " + ".join(f"y_{i} * y_{i} * J_{i}" for i in range(n)))
    body.append("gn = 0.5 * gg / F if F > 0.0 else 0.0")
    for j in range(n):  # V = L^-1 (unit lower), column j below the diagonal
        for i in range(j + 1, n):
            terms = " + ".join(f"l_{i}_{k} * V_{k}_{j}" if k != j else f"l_{i}_{j}"
                               for k in range(j, i))
            body.append(f"V_{i}_{j} = -({terms})")
    for j in range(n):
        sq = " + ".join([f"J_{j}"] + [f"V_{k}_{j} * V_{k}_{j} * J_{k}" for k in range(j + 1, n)])
        body.append(f"q_{j} = {sq}")
        body.append(f"se[{j}] = math.sqrt(s2 * q_{j}) * d_{j}")
    body.append("return pmin, gn, " + " + ".join(f"q_{j}" for j in range(n)))
    return (
        '@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", '
        'inline="always")\n'
        "def _curve_stats(A, g, F, s2, se):\n" + textwrap.indent("\n".join(body), "    ")
    )
