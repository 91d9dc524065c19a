"""The kernel's evaluation for ``method='lm'``: the generated ``_accum`` on all parameters."""

import numpy as np

from ._kernel_bind import kernel
from ._kernel_loop import _lm_one
from ._kernel_slots import NP, _accum


@kernel(nogil=True, error_model="numpy")
def _workspace(mp):
    # 0-5: the LM state (A, g, At, gt, h, xt; see _lm_one); 6: B (model scratch);
    # last: the damping's scaling D^2
    return (np.empty((NP, NP)), np.empty(NP), np.empty((NP, NP)), np.empty(NP),
            np.empty(NP), np.empty(NP), np.empty((NP + 1, mp)), np.empty(NP))


# where the workspace holds the full normal matrix and gradient at the final point
FULL_A, FULL_G = 0, 1
# _lm_one confirms convergence with an evaluation (the single-fit LM's rule)
PREDICTED_STOP = False
# damped with Moré's scaling mu D^2: free of the parameters' units (trustfit.steps.lm_rules)
MORE_SCALING = True


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _eval(x, Xp, Yp, Wp, ws, trial):
    if trial:
        return _accum(x, Xp, Yp, Wp, ws[2], ws[3], ws[6])
    return _accum(x, Xp, Yp, Wp, ws[0], ws[1], ws[6])


@kernel(_nrt=False, nogil=True, error_model="numpy", inline="always")
def _accept(ws):
    pass


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _solve_one(x, Xp, Yp, Wp, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau, ws):
    return _lm_one(x, Xp, Yp, Wp, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau, ws)
