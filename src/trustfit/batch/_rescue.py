"""Rescue of stalled curves: detect, restart from deterministic perturbed points, keep the best.

Why curves stall
----------------
Many curve models have *exchangeable parameters*: a permutation ``sigma`` of the
parameters leaves the model unchanged, ``f(x; sigma p) = f(x; p)``.  For
``x3 exp(x1 t) + x4 exp(x2 t)`` swapping ``(x1, x3)`` with ``(x2, x4)`` does.  On the
fixed-point set ``x1 = x2`` the two exponentials merge, the Jacobian columns of ``x3``
and ``x4`` coincide (``J^T J`` is singular), and the gradient along the direction that
would separate the rates vanishes by symmetry: local methods started from one fixed
point for all curves end in that valley on ~1-5 % of curves (a saddle or a poor local
minimum), however tight their tolerances.

What is done
------------
1. Symmetries are found numerically once per model: every permutation of the
   parameters (n <= 7) is tested on random parameter and variable values.
2. A curve is a candidate when it did not converge (iteration budget or damping
   overflow), when its scaled normal matrix is numerically singular (``rcond`` below
   ``rcond_tol``), when a Gauss-Newton step from its end point predicts a relative
   decrease above ``gain_factor * ftol`` (it stopped short, typically on ftol after a
   tiny, heavily damped step along a flat valley), or when for some symmetry the
   parameters it moves are pairwise equal to ``sym_rtol``.
3. Each candidate is refitted (same kernel, same options) from a fixed list of starts:
   for each symmetry and spread ``s`` in ``SPREADS``, pairs ``(a, sigma(a))`` whose values
   nearly coincide are split multiplicatively around their mean ``c``
   (``c e^{+s}``, ``c e^{-s}``) and pairs that differ are set to their mean (the
   amplitudes of merged terms share the total); the end point itself (a restart with
   fresh damping); plus the curve's start and end point with fixed multiplicative
   jitter (seeded, ``1 + 0.3 u`` with ``u`` from ``numpy.random.default_rng(20240611)``).
   The starts depend only on the curve's own numbers, never on its index or its
   chunk, so results do not depend on chunking.
4. The refits use the same method and options except ftol and xtol, 100x tighter (a
   restart in a flat valley would otherwise stop short again); the best refit replaces
   the original only when its cost is lower by more than a relative ``1e-12``.

Certified curves with an undetermined parameter
-----------------------------------------------
A local minimum is stationary, so the certificate cannot refuse it: ``success`` there is
a false success as soon as a lower minimum exists.  Where the model has several minima
of nearly equal cost is predictable from the fit itself: along a parameter whose
standard error exceeds its size, ``se_j > |x_j|`` (the data do not fix even its sign),
the cost rises by only about one unit of the residual variance per standard error, so
its shape along that parameter is set by the noise, and the noise has several features a
weak term can fit.  On the benchmark's exp2 curves (``x3 exp(x1 t) + x4 exp(x2 t)``,
10^4 curves) the certified curves away from the lowest cost found (6; cost up to 12 %
above it) were all of one kind: one term's amplitude near zero and its rate undetermined
(``se > |rate|``, condition 10-90, share below 1e-4), the weak term fitting a noise
feature at the head of the curve, while a lower minimum has it fitting one at the tail (a
growing exponential with a tiny amplitude) or merge with the other term.  The rescue's
usual starts reach four of them, and starts from the batch's consensus (quantiles of the
certified curves' parameters) would make a curve's result depend on its chunk (results
depend on the curve alone: dask == in memory); a restart one standard deviation either
side along the least determined combination of the parameters (:func:`explore_starts`)
reaches a lower cost for each of the six, for variable projection and for
Levenberg-Marquardt on all parameters.

So a certified curve with such a parameter (:func:`undetermined`: among those the fit
starts from, the nonlinear ones for variable projection, whose linear starts are not
used) is refitted from those two points, and the lower cost wins as for every rescue: a
lower certified minimum replaces it (``success`` at the lower cost), a lower point that
the certificate refuses replaces it too (the curve is then not ``success``: a point
that is stationary but not at the lowest cost found is not certified).  Measured on the
benchmark's 10^4 exp2 curves (``bench/batch.py --scale-only --quick``): 7.8 % flagged
(none of the Gaussian curves), two refits each; certified away from the lowest cost 7 ->
0 at y times 1, 1e-6 and 1e6; at the optimum 99.65 % -> 99.71 %; ``success`` 98.95 % ->
98.45 %: 61 curves moved to a lower certified minimum, 50 to a lower point (0.4-14 %,
median 2.3 %, below their certified local minimum) that the certificate refuses
(``STALLED``; in half of them a weak term's rate runs off to the edge of the float range,
35.7 for t up to 10); the exp2 fit took 1.65x as long (best of 4 at N = 10^5, loaded
machine).

The screen ``se_j / |x_j|`` and the starts (steps of one standard deviation, measured
in the parameters' sizes) are free of the units of the data, of sigma and of the
parameters (``se_j`` has the units of ``x_j`` and scales with the data exactly as
``x_j`` does); the screen, like :func:`trustfit.stopping
.parameter_scale`'s sizes, measures a parameter from zero, so an offset moved by a
baseline changes which curves are screened, never what is accepted (the lower cost).
The rule is the same in both backends (it reads the pass's results only).
"""

from __future__ import annotations

import itertools

import numpy as np

SPREADS = (0.35, 0.8)
N_JITTER = 1
_SYM_CACHE: dict = {}


def find_symmetries(bm, max_params: int = 7) -> list[tuple[int, ...]]:
    """Non-identity parameter permutations that leave the model unchanged (numerically)."""
    if bm.symbolic:
        from ._codegen import model_key

        key = model_key(bm)
        if key in _SYM_CACHE:
            return _SYM_CACHE[key]
    else:  # plain callable: cache on the model object (no stable key across objects)
        cached = getattr(bm, "_symmetries", None)
        if cached is not None:
            return cached
    n = bm.n_params
    syms: list[tuple[int, ...]] = []
    if n <= max_params and n >= 2:
        rng = np.random.default_rng(7)
        f = model_evaluator(bm)
        trials = []
        for _ in range(2):
            p = rng.uniform(0.3, 1.3, n) * rng.choice([-1.0, 1.0], n)
            x = rng.uniform(0.1, 2.0, (bm.n_independent, 7))
            with np.errstate(all="ignore"):
                y = f(p, x)
            trials.append((p, x, y))
        for perm in itertools.permutations(range(n)):
            if perm == tuple(range(n)):
                continue
            same = True
            for p, x, y in trials:
                with np.errstate(all="ignore"):
                    yp = f(p[list(perm)], x)
                if not (np.all(np.isfinite(y)) and np.allclose(yp, y, rtol=1e-10, atol=1e-12)):
                    same = False
                    break
            if same:
                syms.append(perm)
    # keep only involutions made of transpositions (pair swaps), shortest first
    syms = [s for s in syms if all(s[s[a]] == a for a in range(n))]
    syms.sort(key=lambda s: sum(1 for a in range(n) if s[a] != a))
    if bm.symbolic:
        _SYM_CACHE[key] = syms
    else:
        bm._symmetries = syms
    return syms


def model_evaluator(bm):
    """f(p, x) -> values, for p (n,) and x (k, m); a symbolic model's numpy function when
    it has one (``bm.func``: the numpy path's, or an expression string's, which needs no
    sympy: :mod:`._text_model`)."""
    if bm.symbolic and bm.func is None:
        import sympy

        fn = sympy.lambdify(
            list(bm.param_symbols) + list(bm.independent_symbols), bm.expr, ["scipy", "numpy"]
        )
        return lambda p, x: np.broadcast_to(
            np.asarray(fn(*p, *x), dtype=float), x.shape[1:]
        )
    return lambda p, x: np.broadcast_to(np.asarray(bm.func(x[0], *p), dtype=float),
                                        x.shape[1:])


def candidates(params, reason, rcond, gn_gain, syms, ftol, rcond_tol=1e-10, sym_rtol=1e-3,
               gain_factor=10.0, varpro=False):
    """Masks (full, short, split) of curves to rescue.

    ``full``: not converged, not certified (stalled or degenerate, :mod:`._certify`),
    numerically singular, or on a symmetry's fixed set.
    ``short``: converged and well conditioned but a Gauss-Newton step predicts a
    relative decrease above ``gain_factor * ftol``.  Both are refitted from every start
    of :func:`starts` (a restart from the end point alone measured worse).
    ``split``: refitted from the starts that split the exchangeable pairs only.

    ``varpro=True`` (the fit eliminated the linear parameters): ``full`` holds only the
    curves that did not converge, and those that ended on a symmetry's fixed set *and*
    stopped short (``gn_gain`` above ``gain_factor * ftol``: a stall there shows as
    near-equal rates, cancelling amplitudes and a Gauss-Newton gain near 1); ``split``
    the curves whose end on the fixed set the certificate refused (two merged rates,
    amplitudes cancelling, a condition number of 1e14 and more: the splitting starts are
    the ones that leave it).  A refused end elsewhere is not rescued: on the benchmark's
    exp2 curves it is a rate so fast that it shapes the first point only, where the
    rescue finds nothing lower; 3.7 % of the curves end so at m = 11, and refitting them
    from every start doubled the time.  Measured before the certificate, on the same
    data (10^5 curves from the common start, m = 64 and 11): no curve ending on the
    fixed set was off the optimum (705 and 1,891 ended there, true rates that close);
    the singular and stopped-short tests of LM selected 1,100 and 6,000 curves of which
    7 and 77 were off the optimum, and refitting them all raised the share at the
    optimum from 99.935 % to 99.940 % (m = 64) and 99.873 % to 99.913 % (m = 11) for
    20 % and 60 % more time.
    """
    from ._certify import DEGENERATE_CODE, NOT_CONVERGED_CODES, STALLED_CODE, succeeded

    full = (reason == NOT_CONVERGED_CODES[0]) | (reason == NOT_CONVERGED_CODES[1])
    refused = (reason == STALLED_CODE) | (reason == DEGENERATE_CODE)  # by the certificate
    ok = succeeded(reason)
    with np.errstate(invalid="ignore"):
        stopped_short = ok & (gn_gain > gain_factor * max(ftol, 1e-12))
        if not varpro:
            full |= refused | (ok & (rcond < rcond_tol))
    split = np.zeros_like(ok)
    short = np.zeros_like(ok) if varpro else stopped_short
    for s in syms:
        moved = [a for a in range(len(s)) if s[a] > a]
        if not moved:
            continue
        close = np.zeros(params.shape[0], dtype=bool)
        for a in moved:
            b = s[a]
            pa, pb = params[:, a], params[:, b]
            with np.errstate(invalid="ignore"):
                close |= np.abs(pa - pb) <= sym_rtol * np.maximum(np.abs(pa), np.abs(pb))
        if varpro:
            full |= close & stopped_short
            split |= close & refused
        else:
            full |= close & ok
    return full, short & ~full, split & ~full


def undetermined(params, stderr, codes, free):
    """Mask of the certified curves (:func:`._certify.succeeded`) with a parameter among
    ``free`` (index list) whose standard error exceeds its magnitude,
    ``se_j > |x_j|``.  Non-finite or zero standard errors never flag."""
    from ._certify import succeeded

    free = list(free)
    if not free:
        return np.zeros(params.shape[0], dtype=bool)
    se, x = stderr[:, free], np.abs(params[:, free])
    with np.errstate(invalid="ignore"):
        loose = np.isfinite(se) & (se > x)
    return succeeded(codes) & loose.any(axis=1)


def explore_starts(bm, X, Y, W, p_end, F, free):
    """The two restarts of curves with an undetermined parameter, shape (2, K, n), and a
    mask (K,) of the curves that have them: the end point moved one standard deviation
    down and up along the least determined combination of the ``free`` parameters.

    That combination is the principal axis of their covariance in units of their sizes,
    ``D^-1 C D^-1`` with ``C = s^2 [(J^T J)^-1]_ff`` (the marginal covariance of the free
    parameters: the linear ones, solved for by variable projection, are integrated out),
    ``D = diag(|x_f|)`` and ``s^2 = 2F / (m - n)``; the step is ``+-sqrt(lambda) D v`` for
    its largest eigenpair ``(lambda, v)``.  Moving along it, not along one parameter, reaches
    the neighbouring minima when the weak term's parameters are undetermined together (for
    Levenberg-Marquardt on all of exp2's parameters, the amplitude and the rate).  ``J``
    is the weighted Jacobian at the end point (:func:`._certify.model_and_jacobian`); a
    curve whose ``J`` is not finite or is rank-deficient gets no restart."""
    K, n = p_end.shape
    out = np.repeat(p_end[None], 2, axis=0)
    ok = np.zeros(K, dtype=bool)
    if not K:
        return out, ok
    free = list(free)
    J = weighted_jacobian(bm, X, W, p_end)
    with np.errstate(all="ignore"):
        good = np.isfinite(J).all(axis=(1, 2))
        J[~good] = 0.0
        # (J^T J)^-1 through the Cholesky factor of the unit-diagonal S = Dc^-1 J^T J Dc^-1
        # (the column scaling keeps the squaring harmless at the certified conditions):
        # C / s^2 = G G^T with G = Dc^-1 L^-T; its free rows, in units of the sizes
        A = np.matmul(np.swapaxes(J, 1, 2), J)
        dc = np.sqrt(np.diagonal(A, axis1=1, axis2=2))
        good &= (dc > 0.0).all(axis=1)
        dc = np.where(good[:, None], dc, 1.0)
        Linv, pivot = _inverse_cholesky(A / dc[:, :, None] / dc[:, None, :])
        good &= pivot > n * EPS
        d = np.abs(p_end[:, free])
        good &= (d > 0.0).all(axis=1)
        G = (np.swapaxes(Linv, 1, 2) / dc[:, :, None])[:, free, :]
        G = G / np.where(good[:, None], d, 1.0)[:, :, None]
        lam, vec = _top_eigenpair(np.matmul(G, np.swapaxes(G, 1, 2)))
        s2 = 2.0 * F / max(Y.shape[1] - n, 1)
        step = np.sqrt(lam * s2)[:, None] * vec * d
        ok = good & np.isfinite(step).all(axis=1)
    step = np.where(ok[:, None], step, 0.0)
    out[0][:, free] -= step
    out[1][:, free] += step
    return out, ok


EPS = float(np.finfo(float).eps)
_JACOBIANS: dict = {}


def weighted_jacobian(bm, X, W, P):
    """The weighted Jacobian (K, m, n) at the parameters ``P`` (K, n); ``X`` (1 or K, k,
    m), ``W`` (1 or K, m).  For a symbolic model, its derivatives (as the certificate
    forms them) evaluated with their common subexpressions shared (one ``exp`` per term
    instead of one per derivative); otherwise :func:`._certify.model_and_jacobian`."""
    if not bm.symbolic:
        from ._certify import model_and_jacobian

        with np.errstate(all="ignore"):
            return model_and_jacobian(bm, X, P)[1] * W[:, :, None]
    from ._codegen import model_key

    key = model_key(bm)
    fn = _JACOBIANS.get(key)
    if fn is None:
        import sympy

        from ._certify import _derivative

        args = list(bm.independent_symbols) + list(bm.param_symbols)
        fn = sympy.lambdify(args, [_derivative(bm.expr, q) for q in bm.param_symbols],
                            ["scipy", "numpy"], cse=True)
        _JACOBIANS[key] = fn
    K, m = P.shape[0], X.shape[2]
    J = np.empty((K, m, P.shape[1]))
    with np.errstate(all="ignore"):
        cols = fn(*[X[:, c, :] for c in range(X.shape[1])],
                  *[P[:, j : j + 1] for j in range(P.shape[1])])
        for j, col in enumerate(cols):
            J[:, :, j] = np.broadcast_to(np.asarray(col, dtype=float), (K, m)) * W
    return J


def _inverse_cholesky(S):
    """``(L^-1, min pivot)`` for the Cholesky factors ``S = L L^T`` of a stack of
    symmetric (K, n, n) matrices, vectorized across the stack (n is small: loops over
    n, numpy over K; LAPACK's per-matrix calls cost more here).  NaN where ``S`` is not
    positive definite; the pivots are the ``L_jj^2``."""
    K, n, _ = S.shape
    L = np.zeros_like(S)
    pivot = np.full(K, np.inf)
    with np.errstate(all="ignore"):
        for j in range(n):
            dj = S[:, j, j] - np.einsum("kc,kc->k", L[:, j, :j], L[:, j, :j])
            pivot = np.minimum(pivot, np.where(dj > 0.0, dj, -np.inf))
            L[:, j, j] = np.sqrt(np.where(dj > 0.0, dj, np.nan))
            for i in range(j + 1, n):
                L[:, i, j] = (S[:, i, j] - np.einsum("kc,kc->k", L[:, i, :j],
                                                      L[:, j, :j])) / L[:, j, j]
        inv = np.zeros_like(S)
        for i in range(n):  # forward substitution: L^-1 lower triangular
            inv[:, i, i] = 1.0 / L[:, i, i]
            for j in range(i):
                inv[:, i, j] = -np.einsum("kc,kc->k", L[:, i, j:i], inv[:, j:i, j]) / L[:, i, i]
    return inv, pivot


def _top_eigenpair(M, iterations=40):
    """Largest eigenvalue and its unit eigenvector of a stack of symmetric positive
    semi-definite (K, f, f) matrices, by power iteration from the column with the largest
    diagonal (the direction sought dominates when a parameter is undetermined); in closed
    form for 2 x 2 (two nonlinear parameters, the common case of variable projection)."""
    K, f, _ = M.shape
    with np.errstate(all="ignore"):
        size = np.trace(M, axis1=1, axis2=2)  # >= lambda_max: the iterates stay near 1
        M = M / np.where(size > 0.0, size, 1.0)[:, None, None]
        if f == 2:
            a, b, c = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
            lam = 0.5 * (a + c) + np.hypot(0.5 * (a - c), b)
            # (b, lam - a) and (lam - c, b) are both eigenvectors; the longer is accurate
            u = np.stack([b, lam - a], axis=1)
            w = np.stack([lam - c, b], axis=1)
            nu, nw = np.linalg.norm(u, axis=1), np.linalg.norm(w, axis=1)
            v = np.where((nu >= nw)[:, None], u, w)
            n_v = np.maximum(nu, nw)
            # both zero: a multiple of the identity, every direction is an eigenvector
            v = np.where((n_v > 0.0)[:, None], v / np.where(n_v > 0.0, n_v, 1.0)[:, None],
                         np.array([1.0, 0.0]))
            return lam * size, v
        v = np.take_along_axis(M, np.argmax(np.diagonal(M, axis1=1, axis2=2), axis=1)
                               [:, None, None], axis=2)[:, :, 0]
        for _ in range(iterations):
            v = v / np.linalg.norm(v, axis=1, keepdims=True)
            v = np.sum(M * v[:, None, :], axis=2)
        lam = np.linalg.norm(v, axis=1)
        return lam * size, v / lam[:, None]


def n_split_starts(syms) -> int:
    """How many of :func:`starts`' starts (the first ones) split exchangeable pairs."""
    return len(syms[:2]) * len(SPREADS)


def starts(p_end, p_start, syms):
    """Deterministic restart points, shape (K, Nc, n)."""
    Nc, n = p_end.shape
    out = []
    for s in syms[:2]:
        moved = [a for a in range(n) if s[a] > a]
        for spread in SPREADS:
            q = p_end.copy()
            for a in moved:
                b = s[a]
                pa, pb = p_end[:, a], p_end[:, b]
                c = 0.5 * (pa + pb)
                with np.errstate(invalid="ignore"):
                    close = np.abs(pa - pb) <= 0.05 * np.maximum(np.abs(pa), np.abs(pb))
                big = np.abs(c) > 1e-12
                qa = np.where(big, c * np.exp(spread), c + spread)
                qb = np.where(big, c * np.exp(-spread), c - spread)
                q[:, a] = np.where(close, qa, c)
                q[:, b] = np.where(close, qb, c)
            out.append(q)
    out.append(p_end.copy())  # plain restart: fresh damping from where it stopped
    rng = np.random.default_rng(20240611)
    u = rng.uniform(-1.0, 1.0, (N_JITTER, n))
    for k in range(N_JITTER):
        out.append(p_start * (1.0 + 0.3 * u[k]))
        out.append(p_end * (1.0 - 0.3 * u[k]))
    return np.stack(out)
