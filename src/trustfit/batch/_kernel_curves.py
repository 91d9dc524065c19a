"""One curve after another: each row's data, its fit and its results.

``fit_parallel`` (chunks of rows over threads) and ``fit_serial`` are the entry points
:func:`._kernel.run_kernel` calls; see :mod:`._kernel` for what is computed.
"""

import math

import numpy as np
from numba import prange

from ._kernel_bind import kernel
from ._kernel_slots import (
    FULL_A,
    FULL_G,
    _solve_one,
    _start_unused,
    _stats,
    _workspace,
)


@kernel(_nrt=False, nogil=True, error_model="numpy", inline="always")
def _curve_results(i, A, g, F, reason, m, absolute_sigma, se, out_se, out_rcond, out_stats,
                   x, X0, r0, ws):
    # row i's statistics from its final full normal matrix A and gradient g (see the
    # module docstring; s^2 = 2F/(m - n), 1 with absolute_sigma); NaN where they do not
    # exist (model not finite at the start, or a non-finite cost).  out_stats[i], for
    # the certificate (trustfit.batch._certify): gn_gain, a bound on the condition
    # number of the column-scaled Jacobian (inf when A is not numerically positive
    # definite), and with the effects e_j = ||J_j|| size_j (size_j = max(|x_j|, |x0_j|),
    # |x_j| for a parameter whose start is not used, 1 for 0; x0 = X0[r0]): the smallest
    # e_j / (sum e + ||r||) and ||r|| / sum e
    n = x.shape[0]
    for a in range(n):
        se[a] = np.nan
    rc = np.nan
    gn = np.nan
    tr = np.nan
    for a in range(4):
        out_stats[i, a] = np.nan
    if reason != 6 and math.isfinite(F):
        dof = m - n
        if absolute_sigma:
            s2 = 1.0
        elif dof > 0:
            s2 = 2.0 * F / dof
        else:
            s2 = np.nan
        rc, gn, tr = _stats(A, g, F, s2, se, ws)
        total = 0.0
        least = math.inf
        for a in range(n):
            size = abs(x[a]) if _start_unused(a) else max(abs(x[a]), abs(X0[r0, a]))
            e = math.sqrt(A[a, a]) * (size if size > 0.0 else 1.0)
            total += e
            least = min(least, e)
        res = math.sqrt(2.0 * F)
        out_stats[i, 2] = least / (total + res)
        out_stats[i, 3] = res / total
    for a in range(n):
        out_se[i, a] = se[a]
    out_rcond[i] = rc
    out_stats[i, 0] = gn
    # cond(J D^-1)^2 = cond(S) <= n trace(S^-1) (S = D^-1 A D^-1 has unit diagonal, so
    # its largest eigenvalue is at most n and its smallest at least 1 / trace(S^-1))
    out_stats[i, 1] = math.sqrt(n * tr)


@kernel(_nrt=False, nogil=True, error_model="numpy", inline="always")
def _reject_row(i, xi, wi, pi, X, Y, W, P0, x, out_p, out_F, out_nit, out_reason, out_se,
                out_rcond, out_stats):
    # x <- the start of row i; True (and the row's results written) when the row cannot
    # be fitted: non-finite data, sigma or x (5), or non-finite start (8)
    m = Y.shape[1]
    ok = True
    for j in range(m):
        if not (math.isfinite(Y[i, j]) and math.isfinite(W[wi, j])):
            ok = False
            break
    if ok and X.shape[0] > 1:
        for c in range(X.shape[1]):
            for j in range(m):
                if not math.isfinite(X[xi, c, j]):
                    ok = False
    good = True
    n = x.shape[0]
    for a in range(n):
        x[a] = P0[pi, a]
        if not math.isfinite(x[a]):
            good = False
    if ok and good:
        return False
    for a in range(n):
        out_p[i, a] = x[a] if ok else np.nan
        out_se[i, a] = np.nan
    out_rcond[i] = np.nan
    for a in range(4):
        out_stats[i, a] = np.nan
    out_F[i] = np.nan
    out_nit[i] = 0
    out_reason[i] = 8 if ok else 5
    return True


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _pad_x(X, xi, Xp):
    # row xi of X into Xp, the padding points repeating the last x
    m = X.shape[2]
    for c in range(X.shape[1]):
        for j in range(m):
            Xp[c, j] = X[xi, c, j]
        for j in range(m, Xp.shape[1]):
            Xp[c, j] = X[xi, c, m - 1]


@kernel(fastmath=False, nogil=True, error_model="numpy")
def _fit_range(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
               absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats,
               model):
    # one curve after another: the scratch here, the loop in _fit_range_loop
    m = Y.shape[1]
    # the curve's points padded to a multiple of 4 (see _accum): weight 0, data 0, last x
    mp = (m + 3) // 4 * 4
    n = P0.shape[1]
    _fit_range_loop(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
                    absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond,
                    out_stats, np.empty(n), np.empty(n), np.zeros((X.shape[1], mp)),
                    np.zeros(mp), np.zeros(mp), _workspace(mp, n, model))


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _fit_range_loop(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
                    absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond,
                    out_stats, x, se, Xp, Yp, Wp, ws):
    # without reference counting (it only indexes arrays): with it, every call and
    # view in the loop took an atomic increment and decrement (~7 % of gauss m=64)
    m = Y.shape[1]
    A, g = ws[FULL_A], ws[FULL_G]
    if X.shape[0] == 1:
        _pad_x(X, 0, Xp)
    if W.shape[0] == 1:
        for j in range(m):
            Wp[j] = W[0, j]
    for i in range(i0, i1):
        xi = i if X.shape[0] > 1 else 0
        wi = i if W.shape[0] > 1 else 0
        pi = i if P0.shape[0] > 1 else 0
        if _reject_row(i, xi, wi, pi, X, Y, W, P0, x, out_p, out_F, out_nit, out_reason,
                       out_se, out_rcond, out_stats):
            continue
        if X.shape[0] > 1:
            _pad_x(X, xi, Xp)
        if W.shape[0] > 1:
            for j in range(m):
                Wp[j] = W[wi, j]
        for j in range(m):
            Yp[j] = Y[i, j]
        F, nit, reason = _solve_one(x, Xp, Yp, Wp, LB, UB, bounded, maxiter, gtol,
                                    xtol, ftol, tau, ws)
        for a in range(x.shape[0]):
            out_p[i, a] = x[a]
        out_F[i] = F
        out_nit[i] = nit
        out_reason[i] = reason
        _curve_results(i, A, g, F, reason, m, absolute_sigma, se, out_se, out_rcond, out_stats,
                       x, P0, pi, ws)


@kernel(fastmath=False, nogil=True, error_model="numpy", parallel=True)
def fit_parallel(X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
                 absolute_sigma, block, out_p, out_F, out_nit, out_reason, out_se, out_rcond,
                 out_stats, model):
    N = Y.shape[0]
    nb = (N + block - 1) // block
    for b in prange(nb):
        i0 = b * block
        i1 = min(N, i0 + block)
        _fit_range(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
                   absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats,
                   model)


@kernel(fastmath=False, nogil=True, error_model="numpy")
def fit_serial(X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
               absolute_sigma, block, out_p, out_F, out_nit, out_reason, out_se, out_rcond,
               out_stats, model):
    _fit_range(0, Y.shape[0], X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
               absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats,
               model)
