"""Interleaved lanes for ``method='varpro'`` with few points per curve (see :mod:`._kernel`).

``fit_parallel_lanes`` and ``fit_serial_lanes`` are the entry points.
"""

import math

import numpy as np

from trustfit.steps.lm_rules import (
    cost_converged,
    damping_exhausted,
    damping_start,
    gain_accepted,
    nielsen_accept,
    nielsen_reject,
    scale_start,
    scale_update,
)

from ._kernel_bind import entry_variant, kernel
from ._kernel_curves import _curve_results, _reject_row, fit_parallel, fit_serial
from ._kernel_slots import (
    MORE_SCALING,
    NFACC,
    NGACC,
    NGF,
    NP,
    NQ,
    NROWS,
    NTH,
    _ln_basis,
    _ln_full,
    _ln_gram,
    _ln_gram_dmax,
    _ln_project1,
    _ln_step1,
    _ln_take_trial,
    _lnv_project,
    _lnv_schur,
    _lnv_step,
    _vp_assemble,
    _vp_join,
    _vp_split,
    _workspace,
)


# Curves interleaved per thread by the varpro kernel (a multiple of the vector width;
# measured on exp2 m=11: 8 lanes 3.6, 16 lanes 2.0, 32 lanes 2.2 us per fit).
LN = 16
# Lanes (fit_*_lanes) only while the scratch B (m * NROWS * LN doubles) stays within
# 24 KiB of L1: measured, lanes win at m <= 32 (exp2 m=11 -21 %, m=32 -14 %, gauss m=16
# -23 %) and lose at m = 64 (+12 %: B spills to L2); beyond that, one curve after
# another (fit_parallel, fit_serial).  See uses_lanes.
LANE_MAX_B = 192


@kernel(_nrt=False, nogil=True, error_model="numpy")
def _ln_load(lane, i, i1, X, Y, W, P0, XL, YL, WL, TT, THL, x, th, lbt, ubt, LB, UB,
             out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats):
    # The next fittable curve from row i into lane `lane`: its points and its start theta.
    # Rows with non-finite data (5) or start (8) are reported and skipped.  Returns (row
    # loaded or -1 when none is left, next row).
    m = Y.shape[1]
    while i < i1:
        xi = i if X.shape[0] > 1 else 0
        wi = i if W.shape[0] > 1 else 0
        pi = i if P0.shape[0] > 1 else 0
        if _reject_row(i, xi, wi, pi, X, Y, W, P0, x, out_p, out_F, out_nit, out_reason,
                       out_se, out_rcond, out_stats):
            i += 1
            continue
        for c in range(X.shape[1]):
            for j in range(m):
                XL[c, j, lane] = X[xi, c, j]
        for j in range(m):
            YL[j, lane] = Y[i, j]
            WL[j, lane] = W[wi, j]
        _vp_split(x, LB, UB, th, lbt, ubt)
        for a in range(NTH):
            THL[a * LN + lane] = th[a]
            TT[a, lane] = th[a]
        return i, i + 1
    return -1, i


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _ln_gradient_small(lane, AC, GC, F, gtol):
    # _gradient_small for lane `lane` (A and g stored lane-last)
    lim = gtol * gtol * 2.0 * F
    for a in range(NTH):
        ga = GC[a * LN + lane]
        if not (ga * ga <= lim * AC[(a * NTH + a) * LN + lane]):
            return False
    return True


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _ln_step_small(lane, AC, THL, XT, xtol):
    # _step_small for lane `lane`: the step h = XT - THL (projected on the bounds)
    dx2 = 0.0
    for a in range(NTH):
        dx2 += AC[(a * NTH + a) * LN + lane] * THL[a * LN + lane] * THL[a * LN + lane]
    floor = xtol * math.sqrt(dx2)
    for a in range(NTH):
        d = math.sqrt(AC[(a * NTH + a) * LN + lane])
        x = THL[a * LN + lane]
        if not (abs(XT[a * LN + lane] - x) * d <= xtol * (abs(x) * d + floor)):
            return False
    return True


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _ln_exhausted(lane, mu, AC):
    # _exhausted for lane `lane`
    if MORE_SCALING:
        return damping_exhausted(mu[lane], 1.0)
    dmax = 0.0
    for a in range(NTH):
        dmax = max(dmax, AC[(a * NTH + a) * LN + lane])
    return damping_exhausted(mu[lane], dmax)


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _ln_update(lane, Ft, fresh, TT, THL, F, mu, nu, pred, Ar, Xm, c, G, GL, CL, FL, AL, AC, GC,
               SC, gtol, ftol, tau):
    # _lm_one's handling of an evaluation (the start, or the trial point) for lane `lane`,
    # with its Moré scaling D^2 in SC (lane-last); returns a stop code, 0 to go on.
    if fresh[lane]:
        fresh[lane] = False
        F[lane] = Ft
        if not math.isfinite(Ft):
            return 6
        _ln_take_trial(lane, Ar, Xm, c, G, GL, CL, FL, AL, AC, GC)
        dmax = 0.0
        for a in range(NTH):
            d = AC[(a * NTH + a) * LN + lane]
            SC[a * LN + lane] = scale_start(d) if MORE_SCALING else 1.0
            dmax = max(dmax, d / SC[a * LN + lane])
        if _ln_gradient_small(lane, AC, GC, F[lane], gtol):
            return 1
        mu[lane] = damping_start(tau, dmax)
        nu[lane] = 2.0
        return 0
    small = cost_converged(F[lane], Ft, pred[lane], ftol)
    if gain_accepted(F[lane], Ft, pred[lane]):
        rho = (F[lane] - Ft) / pred[lane]
        for a in range(NTH):
            THL[a * LN + lane] = TT[a, lane]
        _ln_take_trial(lane, Ar, Xm, c, G, GL, CL, FL, AL, AC, GC)
        for a in range(NTH):
            if MORE_SCALING:
                SC[a * LN + lane] = scale_update(SC[a * LN + lane], AC[(a * NTH + a) * LN + lane])
        F[lane] = Ft
        if small:
            return 3
        if _ln_gradient_small(lane, AC, GC, Ft, gtol):
            return 1
        mu[lane] = nielsen_accept(mu[lane], rho)
        nu[lane] = 2.0
    elif small:
        return 3
    else:
        mu[lane], nu[lane] = nielsen_reject(mu[lane], nu[lane])
        if _ln_exhausted(lane, mu, AC):
            return 7
    return 0


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _ln_step_taken(lane, TT, F, mu, nu, pred, nit, AC, GC, SC, THL, lbt, ubt, bounded, maxiter,
                   xtol, ftol, XT, HN2, XN2, PR, GN, OKS, OKG):
    # _lm_one's step for lane `lane`, on what _lnv_step computed (same tests, same order):
    # the trial point into TT[:, lane]; returns a stop code, 0 when it is to be evaluated.
    # A failed factorization raises mu and computes the lane's step again.
    while OKS[lane] == 0.0:
        if nit[lane] >= maxiter:
            return 4
        nit[lane] += 1
        mu[lane], nu[lane] = nielsen_reject(mu[lane], nu[lane])
        if _ln_exhausted(lane, mu, AC):
            return 7
        _ln_step1(AC, GC, THL, mu, SC, lbt, ubt, bounded, XT, HN2, XN2, PR, GN, OKS, OKG, lane)
    if nit[lane] >= maxiter:
        return 4
    nit[lane] += 1
    for a in range(NTH):
        TT[a, lane] = XT[a * LN + lane]
    if _ln_step_small(lane, AC, THL, XT, xtol):
        return 2
    pr = PR[lane]
    if not bounded and pr <= ftol * F[lane]:
        if OKG[lane] != 0.0 and GN[lane] <= ftol * F[lane]:
            return 3
    pred[lane] = pr
    return 0


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _ln_finish(lane, i, reason, F, nit, THL, GC, Ar, Xm, c, G, ws, x, se, m, absolute_sigma,
               out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats, X0):
    # lane `lane`'s curve (row i) is done: its results, as _fit_range writes them (x holds
    # its start, reported as is when the model was not finite there)
    out_F[i] = F[lane]
    out_nit[i] = nit[lane]
    out_reason[i] = reason
    Af, gf = ws[19], ws[20]
    if reason != 6:
        th, cs, Ars, Xms, Gs, gs = ws[16], ws[8], ws[6], ws[7], ws[9], ws[1]
        for a in range(NTH):
            th[a] = THL[a * LN + lane]
            gs[a] = GC[a * LN + lane]
            for b in range(NTH):
                Ars[a, b] = Ar[lane, a, b]
            for b in range(NQ):
                Xms[a, b] = Xm[lane, a, b]
        for a in range(NQ):
            cs[a] = c[lane, a]
            for b in range(NQ):
                Gs[a, b] = G[lane, a, b]
        _vp_join(th, cs, x)
        _vp_assemble(Ars, Xms, Gs, gs, Af, gf)
    for a in range(NP):
        out_p[i, a] = x[a]
    _curve_results(i, Af, gf, F[lane], reason, m, absolute_sigma, se, out_se, out_rcond, out_stats,
                   x, X0, lane, ws)


@kernel(fastmath=False, nogil=True, error_model="numpy")
def _fit_lanes(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
               absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats,
               model):
    # LN curves at a time, each in its own lane of the per-point passes; a lane whose
    # curve stops takes the next row at once (no lockstep).  Per lane, the iteration is
    # _lm_one's (with _vp_eval), so a curve's result does not depend on its lane.
    m = Y.shape[1]  # no padding: the lane loops are vectorized across curves
    XL = np.zeros((X.shape[1], m, LN))
    YL = np.zeros((m, LN))
    WL = np.zeros((m, LN))
    # flat, point-major: B[(j * NROWS + row) * LN + lane]; GL, CL, FL: [row * LN + lane]
    # (constant offsets between rows let LLVM vectorize the lane loops without
    # run-time alias checks)
    B = np.zeros(m * NROWS * LN)
    TT = np.zeros((NTH, LN))
    GL = np.zeros(NGACC * LN)
    CL = np.zeros(NQ * LN)
    FL = np.zeros(NFACC * LN)
    AL = np.zeros(NTH * NTH * LN)  # the trial point's reduced normal matrix (Schur)
    # each lane's current A, g and theta (lane-last, for the step vectorized across lanes),
    # and that step's results (trial point, |h|^2, |x|^2, predicted and Gauss-Newton gain)
    AC, GC, THL, XT = (np.zeros(NTH * NTH * LN), np.zeros(NTH * LN), np.zeros(NTH * LN),
                       np.zeros(NTH * LN))
    SC = np.ones(NTH * LN)  # each lane's Moré scaling D^2 of the damping (lane-last)
    HN2, XN2, PR, GN, OKS, OKG = (np.zeros(LN), np.zeros(LN), np.zeros(LN), np.zeros(LN),
                                  np.zeros(LN), np.zeros(LN))
    STOP = np.zeros(LN, np.int64)  # a lane's stop code this iteration (-1: step taken)
    RD = np.zeros(LN)  # each lane's ridge on G (0 unless G is numerically singular)
    OK = np.zeros(LN)  # 1.0 where the lane's projection succeeded
    GF = np.zeros(NGF * LN)  # the factors of each lane's G (projection -> Schur)
    # the rest of each lane's current point, read once per curve (lane-major: Ar[lane] is
    # lane `lane`'s matrix)
    Ar = np.zeros((LN, NTH, NTH))
    Xm, c, G = np.zeros((LN, NTH, NQ)), np.zeros((LN, NQ)), np.zeros((LN, NQ, NQ))
    F, mu, nu, pred = np.zeros(LN), np.zeros(LN), np.zeros(LN), np.zeros(LN)
    nit = np.zeros(LN, np.int64)
    cur = np.full(LN, -1, np.int64)
    fresh = np.zeros(LN, np.bool_)
    ws = _workspace(m, NP, model)
    x = np.empty(NP)
    se = np.empty(NP)
    X0 = np.empty((LN, NP))  # each lane's start (reported as is when the model is not finite there)
    _ln_loop(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
             absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats,
             XL, YL, WL, B, TT, GL, CL, FL, AL, RD, OK, GF, Ar, Xm, c, G, F, mu, nu, pred,
             nit, cur, fresh, ws, x, se, X0, AC, GC, SC, THL, XT, HN2, XN2, PR, GN, OKS, OKG,
             STOP)


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _ln_loop(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
             absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats,
             XL, YL, WL, B, TT, GL, CL, FL, AL, RD, OK, GF, Ar, Xm, c, G, F, mu, nu, pred,
             nit, cur, fresh, ws, x, se, X0, AC, GC, SC, THL, XT, HN2, XN2, PR, GN, OKS, OKG,
             STOP):
    # _fit_lanes' loop, without reference counting (it only indexes arrays)
    m = Y.shape[1]
    th, lbt, ubt = ws[16], ws[17], ws[18]
    i = i0
    for lane in range(LN):
        cur[lane], i = _ln_load(lane, i, i1, X, Y, W, P0, XL, YL, WL, TT, THL, x, th, lbt, ubt,
                             LB, UB, out_p, out_F, out_nit, out_reason, out_se, out_rcond,
                             out_stats)
        fresh[lane] = True
        nit[lane] = 0
        for a in range(NP):
            X0[lane, a] = x[a]
    while True:
        busy = False
        for lane in range(LN):
            if cur[lane] >= 0:
                busy = True
        if not busy:
            break
        _ln_basis(TT, XL, YL, WL, B, m)
        _ln_gram(B, GL, m)
        # c = G^-1 b in every lane; where G is numerically singular, again with a ridge
        # of 1e-13 max diag G (the one-curve _vp_project's rule)
        for lane in range(LN):
            RD[lane] = 0.0
        _lnv_project(GL, CL, RD, OK, GF)
        for lane in range(LN):
            if cur[lane] >= 0 and OK[lane] == 0.0:
                RD[lane] = 1e-13 * _ln_gram_dmax(GL, lane)
                _ln_project1(GL, CL, RD, OK, GF, lane)
        _ln_full(B, CL, FL, m)
        _lnv_schur(GF, FL, AL)
        for lane in range(LN):
            STOP[lane] = 0
            if cur[lane] < 0:
                continue
            Ft = 0.5 * FL[lane] if OK[lane] != 0.0 else np.nan
            STOP[lane] = _ln_update(lane, Ft, fresh, TT, THL, F, mu, nu, pred, Ar, Xm, c, G, GL, CL,
                                 FL, AL, AC, GC, SC, gtol, ftol, tau)
            if STOP[lane] == 0:
                STOP[lane] = -1  # to take a step
        _lnv_step(AC, GC, THL, mu, SC, lbt, ubt, bounded, XT, HN2, XN2, PR, GN, OKS, OKG)
        for lane in range(LN):
            if STOP[lane] == -1:
                STOP[lane] = _ln_step_taken(lane, TT, F, mu, nu, pred, nit, AC, GC, SC, THL, lbt, ubt,
                                         bounded, maxiter, xtol, ftol, XT, HN2, XN2, PR, GN,
                                         OKS, OKG)
            if STOP[lane] > 0:
                for a in range(NP):
                    x[a] = X0[lane, a]
                _ln_finish(lane, cur[lane], STOP[lane], F, nit, THL, GC, Ar, Xm, c, G, ws, x, se, m,
                           absolute_sigma, out_p, out_F, out_nit, out_reason, out_se,
                           out_rcond, out_stats, X0)
                cur[lane], i = _ln_load(lane, i, i1, X, Y, W, P0, XL, YL, WL, TT, THL, x, th,
                                     lbt, ubt, LB, UB, out_p, out_F, out_nit, out_reason,
                                     out_se, out_rcond, out_stats)
                fresh[lane] = True
                nit[lane] = 0
                for a in range(NP):
                    X0[lane, a] = x[a]


# the entry points: fit_parallel and fit_serial (the same split of the rows into blocks)
# with _fit_lanes fitting each block
fit_parallel_lanes = entry_variant(fit_parallel, "fit_parallel_lanes", _fit_range="_fit_lanes")
fit_serial_lanes = entry_variant(fit_serial, "fit_serial_lanes", _fit_range="_fit_lanes")
