"""The Levenberg-Marquardt kernel's stopping tests on its normal equations.

The gradient and step tests of :mod:`trustfit.core.stopping`, computed from ``A = J^T J``
and ``g = J^T r`` (squared or multiplied out, free of square roots where possible).  The
damping rules, the acceptance and the cost test are Levenberg-Marquardt's shared rules
(:mod:`trustfit.steps.lm_rules`), compiled beside these; :func:`_exhausted` applies that
module's ``damping_exhausted`` to the damped matrix: ``D^-1 A D^-1`` (diagonal 1) with
Moré's scaling (``MORE_SCALING``, the method module's), ``A`` with ``mu I``.
"""

import math

from trustfit.steps.lm_rules import damping_exhausted

from ._kernel_bind import kernel
from ._kernel_slots import MORE_SCALING


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
    # the damping has run out of room relative to the largest diagonal of the damped
    # matrix: 1 for D^-1 A D^-1 (Moré's scaling), max diag A for mu I
    if MORE_SCALING:
        return damping_exhausted(mu, 1.0)
    dmax = 0.0
    for a in range(A.shape[0]):
        dmax = max(dmax, A[a, a])
    return damping_exhausted(mu, dmax)
