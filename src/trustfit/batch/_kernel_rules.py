"""The Levenberg-Marquardt kernel's stopping and damping tests (the single fit's rules).

See :mod:`._kernel` for the algorithm and :mod:`trustfit.core.stopping` for the tests
these compile.
"""

import math

from ._kernel_bind import kernel

# the damping's room: mu up to this times the largest diagonal of J^T J
MU_ROOM = 1e300


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _gradient_small(A, g, F, gtol):
    # MINPACK's gradient test (lmder's gnorm): the largest cosine between r and a column
    # of J, |g_j| / (||J_j|| ||r||) with ||J_j||^2 = A_jj and ||r||^2 = 2F, at most gtol.
    # Invariant to the scale of the data, of sigma and of each parameter.  A zero column
    # (g_j = 0) passes; so does an exact fit (F = 0, g = 0); NaN does not.
    # squared, free of square roots: g_j^2 <= gtol^2 2F A_jj
    lim = gtol * gtol * 2.0 * F
    for a in range(g.shape[0]):
        if not (g[a] * g[a] <= lim * A[a, a]):
            return False
    return True


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _step_small(A, x, h, xtol):
    # the single fit's step test (trustfit.stopping.step_test, Dennis & Schnabel eq.
    # 7.2.5): |h_j| <= xtol (|x_j| + xtol ||D x|| / D_j) for every j, D_j = ||J_j||, here
    # multiplied by D_j; per parameter and free of units (a parameter of size 1e9 does
    # not hide the steps of the others); a zero column passes
    dx2 = 0.0
    for a in range(x.shape[0]):
        dx2 += A[a, a] * x[a] * x[a]
    floor = xtol * math.sqrt(dx2)
    for a in range(x.shape[0]):
        d = math.sqrt(A[a, a])
        if not (abs(h[a]) * d <= xtol * (abs(x[a]) * d + floor)):
            return False
    return True


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _exhausted(mu, A):
    # the damping has run out of room: mu beyond MU_ROOM times the largest diagonal of A
    # (relative to it, so the same at every scale of the data and of sigma)
    dmax = 0.0
    for a in range(A.shape[0]):
        dmax = max(dmax, A[a, a])
    return not (mu < MU_ROOM * (dmax if dmax > 0.0 else 1.0))


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _cost_small(F, Ft, pred, ftol):
    # the single fit's cost test (trustfit.stopping.cost_test, MINPACK's): the actual and
    # the predicted reductions of a trial step, accepted or not, both at most ftol F and
    # agreeing to a factor 2
    dF = F - Ft
    return (F > 0.0 and math.isfinite(Ft) and abs(dF) <= ftol * F and pred <= ftol * F
            and (pred <= 0.0 or dF <= 2.0 * pred))
