"""Vectorized numpy Levenberg-Marquardt for models that cannot be compiled.

Same algorithm, same stopping rules and same stop codes as the compiled kernel
(:mod:`._kernel`), written over a set of curves at once.  It is not lockstep: after
every iteration the curves that stopped are removed from the active set, so each
curve does exactly the iterations it would do alone (its iterates do not depend on the
other curves), only the per-iteration numpy overhead is shared.

The model is called as ``f(x, *cols)`` where each ``cols[k]`` is an ``(Na, 1)`` column of
parameter values and ``x`` is ``(m,)`` or ``(Na, m)``; the result must broadcast to
``(Na, m)``.  Ordinary numpy expressions (``a * np.exp(-b * x) + c``) do.  A model that
does not broadcast is called curve by curve (slow, but correct).  Without an analytic
Jacobian (``jac(x, *cols) -> (Na, m, n)``) the Jacobian is a forward difference with
step ``sqrt(eps) * max(|p_k|, 1)``.
"""

from __future__ import annotations

import numpy as np

from ..steps.lm_rules import (
    cost_converged,
    damping_exhausted,
    damping_start,
    gain_accepted,
    nielsen_accept,
    nielsen_reject,
)


def _call_model(func, X, P):
    """f on Na curves: X (Na or 1, m) for one independent variable (k=1)."""
    Na = P.shape[0]
    cols = [P[:, k : k + 1] for k in range(P.shape[1])]
    x = X[0] if X.shape[0] == 1 else X
    try:
        out = np.asarray(func(x, *cols), dtype=float)
        out = np.broadcast_to(out, (Na, X.shape[1]))
        return out
    except Exception:
        out = np.empty((Na, X.shape[1]))
        for i in range(Na):
            xi = X[0] if X.shape[0] == 1 else X[i]
            out[i] = func(xi, *P[i])
        return out


def _model_and_jac(bm, X, P):
    f = _call_model(bm.func, X, P)
    n = P.shape[1]
    if bm.jac_func is not None:
        cols = [P[:, k : k + 1] for k in range(n)]
        x = X[0] if X.shape[0] == 1 else X
        J = np.asarray(bm.jac_func(x, *cols), dtype=float)
        J = np.broadcast_to(J, (P.shape[0], X.shape[1], n))
        return f, J
    J = np.empty((P.shape[0], X.shape[1], n))
    eps = np.sqrt(np.finfo(float).eps)
    for k in range(n):
        step = eps * np.maximum(np.abs(P[:, k]), 1.0)
        Pk = P.copy()
        Pk[:, k] += step
        J[:, :, k] = (_call_model(bm.func, X, Pk) - f) / step[:, None]
    return f, J


def _accum(bm, X, Y, W, P):
    f, J = _model_and_jac(bm, X, P)
    if getattr(bm, "noise", "") == "poisson":  # deviance residuals of counts (._poisson)
        from ._poisson_residuals import deviance_and_jacobian

        r, J = deviance_and_jacobian(f, J, Y, np.broadcast_to(W, Y.shape))
    else:
        r = (f - Y) * W
        J = J * W[:, :, None]
    F = 0.5 * np.einsum("ij,ij->i", r, r)
    A = np.einsum("ijk,ijl->ikl", J, J)
    g = np.einsum("ijk,ij->ik", J, r)
    return F, A, g


def _chol_solve(M, mu, rhs, S=None):
    """Batched Cholesky solve of ``(M + mu diag(S)) h = rhs`` (``S`` (Na, n): Moré's
    scaling ``D^2``; None: ``mu I``); ok[i] False when not PD."""
    Na, n, _ = M.shape
    L = np.zeros_like(M)
    ok = np.ones(Na, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for a in range(n):
            for b in range(a + 1):
                s = M[:, a, b] + ((mu if S is None else mu * S[:, a]) if a == b else 0.0)
                for c in range(b):
                    s = s - L[:, a, c] * L[:, b, c]
                if a == b:
                    ok &= s > 0.0
                    L[:, a, a] = np.sqrt(np.where(s > 0.0, s, 1.0))
                else:
                    L[:, a, b] = s / L[:, b, b]
        out = np.empty((Na, n))
        for a in range(n):
            s = rhs[:, a].copy()
            for c in range(a):
                s -= L[:, a, c] * out[:, c]
            out[:, a] = s / L[:, a, a]
        for a in range(n - 1, -1, -1):
            s = out[:, a].copy()
            for c in range(a + 1, n):
                s -= L[:, c, a] * out[:, c]
            out[:, a] = s / L[:, a, a]
    return ok, out, L


def gradient_small(A, g, F, gtol):
    """The kernel's gradient test (MINPACK's): ``|g_j| <= gtol ||J_j|| ||r||`` for every
    j, with ``||J_j||^2 = A_jj`` and ``||r||^2 = 2F`` (NaN fails)."""
    with np.errstate(invalid="ignore", over="ignore"):
        lim = (gtol * gtol * 2.0 * F)[:, None] * np.diagonal(A, axis1=1, axis2=2)
        return np.all(g * g <= lim, axis=1)  # squared, as the kernel


def step_small(A, x, h, xtol):
    """The kernel's step test (:func:`trustfit.stopping.step_test`): ``|h_j| D_j <= xtol
    (|x_j| D_j + xtol ||D x||)`` for every j, ``D_j = ||J_j|| = sqrt(A_jj)``."""
    d = np.sqrt(np.diagonal(A, axis1=1, axis2=2))
    floor = xtol * np.sqrt(np.sum((d * x) ** 2, axis=1))
    with np.errstate(invalid="ignore"):
        return np.all(np.abs(h) * d <= xtol * (np.abs(x) * d + floor[:, None]), axis=1)


def screen_ratios(norms, res, x, x0):
    """The kernel's ratios for the certificate's screens (``_curve_results``): with the
    column norms ``||J_j||``, the residual's ``||r||`` and the effects ``e_j = ||J_j||
    max(|x_j|, |x0_j|)`` (1 for a size 0), the smallest ``e_j / (sum e + ||r||)`` and
    ``||r|| / sum e``, as columns of a (K, 2) array."""
    size = np.maximum(np.abs(x), np.abs(x0))
    with np.errstate(all="ignore"):
        effect = norms * np.where(size > 0.0, size, 1.0)
        total = effect.sum(axis=1)
        return np.stack([effect.min(axis=1) / (total + res), res / total], axis=1)


def scale_start(diag):
    """:func:`trustfit.steps.lm_rules.scale_start` on arrays: ``D^2 = diag(J^T J)``, 1 for a
    zero or non-finite column."""
    return np.where((diag > 0.0) & (diag < np.inf), diag, 1.0)


def scale_update(d2, diag):
    """:func:`trustfit.steps.lm_rules.scale_update` on arrays: the running maximum, a
    non-finite diagonal ignored."""
    return np.where((diag > d2) & (diag < np.inf), diag, d2)


def fit_numpy(bm, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau, absolute_sigma):
    """Vectorized LM; same outputs as ``_kernel.run_kernel``.  X is (nx, 1, m)."""
    if X.shape[1] != 1:
        raise ValueError("the numpy fallback supports one independent variable")
    X2 = X[:, 0, :]
    N, m = Y.shape
    n = P0.shape[1]
    P = np.array(np.broadcast_to(P0, (N, n)), dtype=float)
    Wf = np.broadcast_to(W, (N, m))
    Xf = X2 if X2.shape[0] == 1 else X2
    out_F = np.full(N, np.nan)
    out_nit = np.zeros(N, dtype=np.int64)
    out_reason = np.zeros(N, dtype=np.int64)
    out_se = np.full((N, n), np.nan)
    out_rcond = np.full(N, np.nan)

    valid = np.isfinite(Y).all(1) & np.isfinite(Wf).all(1)
    if X2.shape[0] > 1:
        valid &= np.isfinite(X2).all(1)
    if getattr(bm, "noise", "") == "poisson":  # all-zero counts: no estimate with positive means
        from ._poisson_residuals import all_zero_rows

        valid &= ~all_zero_rows(Y)
    out_reason[~valid] = 5
    P[~valid] = np.nan
    goodp = np.isfinite(P).all(1)
    out_reason[valid & ~goodp] = 8
    idx = np.nonzero(valid & goodp)[0]

    def xsel(ii):
        return Xf if Xf.shape[0] == 1 else Xf[ii]

    Aall = np.zeros((N, n, n))
    gall = np.zeros((N, n))
    out_stats = np.full((N, 4), np.nan)  # for the certificate, as the kernel's
    if idx.size:
        with np.errstate(all="ignore"):
            F, A, g = _accum(bm, xsel(idx), Y[idx], Wf[idx], P[idx])
        finite = np.isfinite(F)
        out_reason[idx[~finite]] = 6
        out_F[idx] = F
        Aall[idx] = A
        gall[idx] = g
        keep = finite.copy()
        done = keep & gradient_small(A, g, F, gtol)
        out_reason[idx[done]] = 1
        keep &= ~done
        idx, F, A, g = idx[keep], F[keep], A[keep], g[keep]
        # damped with Moré's scaling S = D^2 (lm_rules), mu relative to the scaled matrix
        S = scale_start(np.diagonal(A, axis1=1, axis2=2))
        with np.errstate(invalid="ignore"):
            dmax = np.max(np.diagonal(A, axis1=1, axis2=2) / S, axis=1, initial=0.0)
        mu = np.array([damping_start(tau, float(d)) for d in dmax], dtype=float)
        nu = np.full(idx.size, 2.0)
        nit = np.zeros(idx.size, dtype=np.int64)
    while idx.size:
        nit += 1
        stop = np.zeros(idx.size, dtype=np.int64)
        ok, h, _ = _chol_solve(A, mu, -g, S)
        x = P[idx]
        xt = x + np.where(ok[:, None], h, 0.0)
        if bounded:
            xt = np.clip(xt, LB, UB)
        h = xt - x
        small = ok & step_small(A, x, h, xtol)
        stop[small] = 2
        trial = ok & ~small
        accepted = np.zeros(idx.size, dtype=bool)
        if trial.any():
            ti = np.nonzero(trial)[0]
            with np.errstate(all="ignore"):
                Ft, At, gt = _accum(bm, xsel(idx[ti]), Y[idx[ti]], Wf[idx[ti]], xt[ti])
                hh = h[ti]
                pred = -np.einsum("ij,ij->i", g[ti], hh) - 0.5 * np.einsum(
                    "ij,ijk,ik->i", hh, A[ti], hh
                )
                dF = F[ti] - Ft
                acc = gain_accepted(F[ti], Ft, pred)
                rho = np.where(acc, dF / np.where(pred > 0, pred, 1.0), 0.0)
                cost_done = cost_converged(F[ti], Ft, pred, ftol)
            ai = ti[acc]
            accepted[ai] = True
            P[idx[ai]] = xt[ai]
            F[ai] = Ft[acc]
            A[ai] = At[acc]
            g[ai] = gt[acc]
            S[ai] = scale_update(S[ai], np.diagonal(At[acc], axis1=1, axis2=2))
            stop[ti[cost_done]] = 3  # accepted or not (a rejected step keeps the point)
            gstop = (~cost_done[acc]) & gradient_small(At[acc], gt[acc], Ft[acc], gtol)
            stop[ai[gstop]] = 1
            mu[ai] = nielsen_accept(mu[ai], rho[acc])
            nu[ai] = 2.0
        rej = ~accepted & (stop == 0)
        mu[rej], nu[rej] = nielsen_reject(mu[rej], nu[rej])
        for i in np.nonzero(rej)[0]:  # relative to the scaled matrix's unit diagonal
            if damping_exhausted(float(mu[i]), 1.0):
                stop[i] = 7
        stop[(stop == 0) & (nit >= maxiter)] = 4
        fin = stop > 0
        if fin.any():
            fi = idx[fin]
            out_reason[fi] = stop[fin]
            out_F[fi] = F[fin]
            out_nit[fi] = nit[fin]
            Aall[fi] = A[fin]
            gall[fi] = g[fin]
        keep = ~fin
        idx, F, A, g, mu, nu, nit = idx[keep], F[keep], A[keep], g[keep], mu[keep], nu[keep], nit[keep]
        S = S[keep]

    # standard errors, rcond and the certificate's statistics, as in the kernel
    good = np.isin(out_reason, (1, 2, 3, 4, 7)) & np.isfinite(out_F)
    gi = np.nonzero(good)[0]
    if gi.size:
        A = Aall[gi]
        d = np.diagonal(A, axis1=1, axis2=2)
        with np.errstate(invalid="ignore"):
            out_stats[gi, 2:] = screen_ratios(np.sqrt(d), np.sqrt(2.0 * out_F[gi]), P[gi],
                                              np.broadcast_to(P0, (N, n))[gi])
        out_stats[gi, 1] = np.inf  # until a factorization says otherwise
        pos = (d > 0).all(1)
        out_rcond[gi[~pos]] = 0.0
        gi, A, d = gi[pos], A[pos], d[pos]
        with np.errstate(all="ignore"):
            S = A / np.sqrt(d[:, :, None] * d[:, None, :])
            ok, _, L = _chol_solve(S, 0.0, np.zeros((gi.size, n)))
        out_rcond[gi[~ok]] = 0.0
        gi, S, d, L = gi[ok], S[ok], d[ok], L[ok]
        lmin = np.min(np.diagonal(L, axis1=1, axis2=2), axis=1)
        out_rcond[gi] = lmin * lmin
        e = gall[gi] / np.sqrt(d)
        _, h, _ = _chol_solve(S, 0.0, e)
        Fg = out_F[gi]
        with np.errstate(all="ignore"):
            out_stats[gi, 0] = np.where(Fg > 0, 0.5 * np.einsum("ij,ij->i", e, h) / Fg, 0.0)
        dof = m - n
        if absolute_sigma:
            s2 = np.ones(gi.size)
        elif dof > 0:
            s2 = 2.0 * out_F[gi] / dof
        else:
            s2 = np.full(gi.size, np.nan)
        trace = np.zeros(gi.size)
        for a in range(n):
            e = np.zeros((gi.size, n))
            e[:, a] = 1.0
            _, h, _ = _chol_solve(S, 0.0, e)
            trace += h[:, a]
            with np.errstate(all="ignore"):
                out_se[gi, a] = np.sqrt(s2 * h[:, a] / d[:, a])
        out_stats[gi, 1] = np.sqrt(n * trace)  # the kernel's bound on cond(J D^-1)
    return P, out_F, out_nit, out_reason, out_se, out_rcond, out_stats
