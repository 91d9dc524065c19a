"""The kernel's evaluation for ``method='varpro'``: variable projection (see :mod:`._kernel`)."""

import numpy as np

from ._kernel_bind import kernel
from ._kernel_loop import _lm_one
from ._kernel_slots import (
    NP,
    NQ,
    NROWS,
    NTH,
    _vp_assemble,
    _vp_basis,
    _vp_gram,
    _vp_join,
    _vp_project,
    _vp_split,
)


@kernel(nogil=True, error_model="numpy")
def _workspace(mp, n, model):
    # 0-5: the LM state over theta (A, g, At, gt, h, xt; see _lm_one); 6-9 at the
    # current point, 10-13 at the trial point: J^T J of theta (Ar), Xm = J^T Phi, the
    # linear parameters c, G = Phi^T Phi; 14-15: B (model scratch), b = Phi^T u;
    # 16-18: theta and its bounds; 19-20: full normal matrix and gradient (final point);
    # last: the damping's scaling D^2 over theta
    return (np.empty((NTH, NTH)), np.empty(NTH), np.empty((NTH, NTH)), np.empty(NTH),
            np.empty(NTH), np.empty(NTH),
            np.empty((NTH, NTH)), np.empty((NTH, NQ)), np.empty(NQ), np.empty((NQ, NQ)),
            np.empty((NTH, NTH)), np.empty((NTH, NQ)), np.empty(NQ), np.empty((NQ, NQ)),
            np.empty((NROWS, mp)), np.empty(NQ),
            np.empty(NTH), np.empty(NTH), np.empty(NTH),
            np.empty((NP, NP)), np.empty(NP), np.empty(NTH))


# where the workspace holds the full normal matrix and gradient at the final point
FULL_A, FULL_G = 19, 20
# _lm_one stops before evaluating when the Gauss-Newton gain is below ftol
PREDICTED_STOP = True
# damped with mu I, not Moré's mu D^2: scaled, the paths of the test suite's selected
# exp2 curves change (local minima, exchanged labels); measured better on the benchmark
# (bench/batch_units.py) but not yet re-validated, see the lmdamp branch's notes
MORE_SCALING = False


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _vp_eval(th, Xp, Yp, Wp, A, g, Ar, Xm, c, G, B, b):
    # Variable projection, Kaufman's variant: c = argmin ||Phi c - u|| by L D L^T of
    # G = Phi^T Phi (with a ridge of 1e-13 max diag G when G is numerically singular);
    # then A = J^T J - (J^T Phi) G^-1 (Phi^T J), the Schur complement, which is
    # J_K^T J_K for Kaufman's Jacobian J_K = (I - P_Phi) J, and g = J^T r = J_K^T r
    # (r is orthogonal to range(Phi)).  Unrolled in _vp_project (see _codegen).
    _vp_basis(th, Xp, Yp, Wp, B)
    m = Yp.shape[0]
    _vp_gram(B, G, b, m)
    return _vp_project(B, G, b, c, A, g, Ar, Xm, m)


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _eval(th, Xp, Yp, Wp, ws, trial):
    if trial:
        return _vp_eval(th, Xp, Yp, Wp, ws[2], ws[3], ws[10], ws[11], ws[12], ws[13],
                        ws[14], ws[15])
    return _vp_eval(th, Xp, Yp, Wp, ws[0], ws[1], ws[6], ws[7], ws[8], ws[9],
                    ws[14], ws[15])


@kernel(_nrt=False, nogil=True, error_model="numpy", inline="always")
def _accept(ws):
    Ar, Xm, c, G, Art, Xmt, ct, Gt = ws[6], ws[7], ws[8], ws[9], ws[10], ws[11], ws[12], ws[13]
    for a in range(NTH):
        for b in range(NTH):
            Ar[a, b] = Art[a, b]
        for b in range(NQ):
            Xm[a, b] = Xmt[a, b]
    for a in range(NQ):
        c[a] = ct[a]
        for b in range(NQ):
            G[a, b] = Gt[a, b]


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _solve_one(x, Xp, Yp, Wp, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau, ws):
    th, lbt, ubt = ws[16], ws[17], ws[18]
    _vp_split(x, LB, UB, th, lbt, ubt)
    F, nit, reason = _lm_one(th, Xp, Yp, Wp, lbt, ubt, bounded, maxiter, gtol, xtol, ftol,
                             tau, ws)
    if reason != 6:
        _vp_join(th, ws[8], x)
        _vp_assemble(ws[6], ws[7], ws[9], ws[1], ws[19], ws[20])
    return F, nit, reason
