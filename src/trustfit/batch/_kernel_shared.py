"""Levenberg-Marquardt compiled once for every model (``method='lm'``), the model passed in.

Compiling a model's whole kernel took 10-20 s (numba types and lowers the loop, the
per-curve bookkeeping and the parallel entry point for each model again), where the model's
own code is a small part.  Here the kernel modules (:mod:`._kernel_loop`,
:mod:`._kernel_curves`, :mod:`._kernel_rules`) are compiled once per installation, in a
generated module with no model (:func:`._kernel.solver_source`, cached like every kernel:
:mod:`._cache`), and a model contributes only three C callables compiled from its generated
code (:mod:`._kernel_cabi`): ``accum(x, Xp, Yp, Wp, A, g, B) -> F``, ``step(A, g, mu, S, h) ->
ok`` and ``stats(A, g, F, s2, se, out)``.  The entry points take them as a tuple ``model``
(numba's first-class function types: one compiled solver for every model with the same
signatures), and :func:`_workspace` puts them in the workspace, where :func:`_eval`,
:func:`_step` and :func:`_stats` call them.

The arithmetic is the per-model kernel's: the same generated functions with the same
compiler options, the same loop; only how they are reached differs (an indirect call per
evaluation, step and curve instead of inlined code), so the results are the same bit for
bit (tested).
"""

import numpy as np

from ._kernel_bind import kernel
from ._kernel_loop import _lm_one

# the workspace: 0-5 the LM state (A, g, At, gt, h, xt; see _lm_one), 6 B (model scratch),
# 7-9 the model's accum, step and stats (model[1:4]; model[0] is an array, see
# _kernel.SharedKernel), 10 the statistics' three results, last: the damping's scaling D^2
FULL_A, FULL_G = 0, 1
PREDICTED_STOP = False
# damped with Moré's scaling mu D^2: free of the parameters' units (trustfit.steps.lm_rules)
MORE_SCALING = True


@kernel(nogil=True, error_model="numpy")
def _workspace(mp, n, model):
    return (np.empty((n, n)), np.empty(n), np.empty((n, n)), np.empty(n), np.empty(n),
            np.empty(n), np.empty((n + 1, mp)), model[1], model[2], model[3], np.empty(3),
            np.empty(n))


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _eval(x, Xp, Yp, Wp, ws, trial):
    if trial:
        return ws[7](x, Xp, Yp, Wp, ws[2], ws[3], ws[6])
    return ws[7](x, Xp, Yp, Wp, ws[0], ws[1], ws[6])


@kernel(_nrt=False, nogil=True, error_model="numpy", inline="always")
def _accept(ws):
    pass


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _step(A, g, mu, S, h, ws):
    return ws[8](A, g, mu, S, h)


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _stats(A, g, F, s2, se, ws):
    out = ws[10]
    ws[9](A, g, F, s2, se, out)
    return out[0], out[1], out[2]


@kernel(_nrt=False, nogil=True, error_model="numpy", inline="always")
def _start_unused(a):
    return False  # 'lm' starts every parameter from p0


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _solve_one(x, Xp, Yp, Wp, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau, ws):
    return _lm_one(x, Xp, Yp, Wp, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau, ws)
