"""The compiled batch Levenberg-Marquardt kernel (numba), one module per model.

Algorithm (per curve, no lockstep: every curve leaves the loop when it stops)
-------------------------------------------------------------------------------
Levenberg-Marquardt as in Madsen, Nielsen & Tingleff, *Methods for non-linear least
squares problems* (2nd ed., IMM DTU, 2004), Algorithm 3.16, which is also trustfit's
single-fit ``method='lm'``:

* ``F(x) = 1/2 ||r(x)||^2``, ``A = J^T J``, ``g = J^T r``;
  ``mu_0 = tau * max(diag A)`` with ``tau = 1e-3`` (``tau`` if that is 0), ``nu = 2``.
* step: ``(A + mu I) h = -g``, solved by the square-root-free Cholesky ``L D L^T``,
  generated as straight-line code.  With n = 2..6 parameters a factorization of the
  n x n normal matrix is what makes the kernel fast; the single-fit path solves
  the same step through an SVD of J.  Both give the same iterates up to rounding, so a
  batch fit equals a single fit to a tolerance (rtol ~1e-6 on well-conditioned curves),
  not bitwise.
* gain ratio ``rho = (F(x) - F(x+h)) / (L(0) - L(h))`` with
  ``L(0) - L(h) = -g^T h - 1/2 h^T A h`` (``= -g^T h - 1/2 ||J h||^2``).
* accept when ``rho > 0`` (and ``F(x+h)`` finite): ``mu <- mu * max(1/3, 1 - (2 rho - 1)^3)``,
  ``nu <- 2``; else ``mu <- mu * nu``, ``nu <- 2 nu`` (Nielsen's damping update).
* stop (``stop_reason`` code), the single fit's tests (:mod:`trustfit.stopping`):
  gradient (1): ``|g_j| <= gtol ||J_j|| ||r||`` for every j (MINPACK's cosine between
  ``r`` and each column of J, invariant to the scale of the data, of sigma and of the
  parameters); step (2): ``|h_j| <= xtol (|x_j| + xtol ||D x|| / D_j)`` for every j,
  ``D_j = ||J_j||`` (per parameter, free of units); cost (3): the actual and the
  predicted reductions of a trial step, accepted or not, both ``<= ftol F(x)`` and
  within a factor 2 of each other (MINPACK); iteration budget (4).
  Other codes: 5 non-finite data in the curve (``Y`` row, ``sigma`` row or ``x`` row):
  the curve is not fitted and gets NaN parameters; 6 model not finite at the start;
  7 the damping ran out of room (``mu > 1e300 max diag A``) without an acceptable step;
  8 non-finite start.
* ``method='varpro'`` only: when the damped step predicts ``L(0) - L(h) <= ftol F``
  and so does the undamped Gauss-Newton step (``1/2 g^T A^-1 g <= ftol F``, an upper
  bound on every damped step's prediction), stop (3) before evaluating the trial point:
  the evaluation that would only confirm convergence is saved (1 of ~6-10 per curve).
  The returned point is then within about ``ftol F`` of the local minimum in cost, where
  the rule above is one step further.  Not used with bounds (a projected step's gain is
  not bounded by the free Gauss-Newton step's).
* bounds (optional): the trial point is projected onto the box,
  ``h <- clip(x + h, lb, ub) - x``, and the gain ratio uses the projected ``h``.

Variable projection (``method='varpro'``)
-----------------------------------------
For a separable model ``f = phi_0(theta) + sum_l c_l phi_l(theta)`` (the linear ``c``
found by sympy, :func:`._codegen.linear_parameters`) the same LM loop runs on ``theta``
only (Golub & Pereyra, SIAM J. Numer. Anal. 10, 1973; Kaufman, BIT 15, 1975).  Each
evaluation at ``theta``: the basis ``Phi`` and its derivatives in one pass over the points
(``_vp_basis``), ``c = argmin ||Phi c - u||`` through ``G = Phi^T Phi = L D L^T``
(``_vp_gram``, ``_vp_project``), then ``F``, ``g = J^T r`` and
``A = J^T J - (J^T Phi) G^-1 (Phi^T J)``: the Schur complement of the full normal matrix,
which equals ``J_K^T J_K`` for Kaufman's Jacobian ``J_K = (I - P_Phi) J``.  ``F`` is the
variable-projection cost ``min_c F(theta, c)``; the gain ratio and the stopping tests
are those above, on ``theta``.  The full normal matrix at ``(theta, c)`` is kept for the
standard errors, so those equal LM's at the same point.

Interleaved lanes (``method='varpro'``, up to ~38 points per curve)
-------------------------------------------------------------------
With few points, one curve's iteration is short chains of dependent scalar work (small
solves, divisions, horizontal sums) that leave the core idle.  For such curves
(:func:`uses_lanes`) ``run_kernel`` calls ``fit_*_lanes``, whose ``_fit_lanes`` runs
``LN`` = 16 curves per thread side by side: every per-point pass loops over the
points and, inside, over the lanes (arrays stored lane-last), so the compiler
vectorizes across curves.  The small solves (projection, Schur complement, the damped
and the Gauss-Newton step) are branch-free loops over the lanes too, and the decisions
(accept, damping, stops) run lane by lane.  Each lane runs ``_lm_one``'s iteration
exactly (same tests, same order of operations within the lane), and a lane whose curve
stops loads the next row within the iteration, so there is no lockstep and a curve's result does not depend on its lane or
its neighbours (tested bit for bit).  Sums over the points run in point order within a
lane, where the one-curve kernel sums SIMD partial sums: the two differ in the last
bits.  Measured on exp2 m=11: 2.5 -> 1.6 us per fit on one core.  The two entry points
are compiled separately, on first use, so a first call compiles only the one it needs.

The model part (``_accum``: residuals, ``A`` and ``g`` in one pass) is generated from
sympy by :mod:`._codegen`; this module holds the model-independent template, writes the
complete module into a private cache directory (named by the hash of the source, which
is regenerated and compared before it runs: :mod:`._cache`) and executes it, so that
numba's on-disk cache (``cache=True``) makes the second compile cheap.

After the fit, the kernel also returns, per curve, ``stderr_k = s sqrt((A^-1)_kk)`` with
``s^2 = 2F/(m - n)`` (``s = 1`` with ``absolute_sigma``), the same convention as SciPy's
``curve_fit``, and ``rcond``: the squared smallest pivot of the Cholesky factor of the
unit-diagonal scaled ``D A D``, ``D = diag(A)^-1/2`` — a cheap estimate of the reciprocal
condition number that flags unidentifiable parameters (0 when ``A`` is singular); and
``gn_gain = 1/2 g^T A^-1 g / F``, the relative cost decrease a full Gauss-Newton step
from the returned point predicts: much larger than ``ftol`` means the curve stopped
short (e.g. an ftol stop after a tiny heavily damped step in a flat valley).
"""

from __future__ import annotations

import threading
import time

from ._cache import cache_dir, load_module  # noqa: F401  (cache_dir: public here too)
from ._codegen import CODEGEN_VERSION, generate_accum_source, model_key

KERNEL_VERSION = "28"

# The stop codes the kernel writes (1-8) and what they mean: trustfit.batch._certify.CODES.

_TEMPLATE = '''\
# Generated by trustfit.batch (codegen {codegen_version}, kernel {kernel_version}).
# Model: {model_text}
# Parameters: {param_names}
# Do not edit: trustfit executes only the source it generates (the name is its hash).
import math
import numpy as np
from numba import njit, prange
from numba.core import types
from numba.extending import intrinsic
from llvmlite import ir

NP = {n}
# the damping's room: mu up to this times the largest diagonal of J^T J
MU_ROOM = 1e300
# parameters whose start is not used (variable projection's linear ones): sized by their value
START_UNUSED = {start_unused}


@intrinsic
def _i64_as_f64(typingctx, v):
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _f64_as_i64(typingctx, v):
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@njit(inline="always", fastmath={{"contract"}}, error_model="numpy")
def tf_exp(x):
    # exp(x) = 2^k exp(r): k = round(x / ln 2) by the 1.5 * 2^52 shifter (k also read
    # from the low mantissa bits), r = x - k ln 2 (Cody-Waite, ln 2 in two parts),
    # exp(r) by its Taylor polynomial of degree 13 (|r| <= 0.347: truncation < 4e-18)
    # in Estrin's scheme (short dependency chains), times 2^(k-1) built from exponent
    # bits, times 2.  Branch-free, so loops over it vectorize.  Max relative error
    # ~2 ulp vs libm (FMA contraction allowed: it is inlined into the model pass); exp(x) for x < -707 is returned as 0 (no subnormals).
    xc = x if x > -707.0 else -707.0
    xc = xc if xc < 709.79 else 709.79
    t = xc * 1.4426950408889634 + 6755399441055744.0
    kf = t - 6755399441055744.0
    ki = _f64_as_i64(t) - 0x4338000000000000
    r = xc - kf * 0.6931471803691238
    r = r - kf * 1.9082149292705877e-10
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    q0 = 1.0 + r
    q1 = 0.5 + r * (1.0 / 6.0)
    q2 = (1.0 / 24.0) + r * (1.0 / 120.0)
    q3 = (1.0 / 720.0) + r * (1.0 / 5040.0)
    q4 = (1.0 / 40320.0) + r * (1.0 / 362880.0)
    q5 = (1.0 / 3628800.0) + r * (1.0 / 39916800.0)
    q6 = (1.0 / 479001600.0) + r * (1.0 / 6227020800.0)
    u0 = (q0 + r2 * q1) + r4 * (q2 + r2 * q3)
    u1 = (q4 + r2 * q5) + r4 * q6
    y = ((u0 + r8 * u1) * _i64_as_f64((ki + 1022) << 52)) * 2.0
    y = math.inf if x > 709.782712893384 else y
    y = 0.0 if x < -707.0 else y
    return y if x == x else x


{model_part}


{method_part}


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
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


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
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


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _exhausted(mu, A):
    # the damping has run out of room: mu beyond MU_ROOM times the largest diagonal of A
    # (relative to it, so the same at every scale of the data and of sigma)
    dmax = 0.0
    for a in range(A.shape[0]):
        dmax = max(dmax, A[a, a])
    return not (mu < MU_ROOM * (dmax if dmax > 0.0 else 1.0))


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _cost_small(F, Ft, pred, ftol):
    # the single fit's cost test (trustfit.stopping.cost_test, MINPACK's): the actual and
    # the predicted reductions of a trial step, accepted or not, both at most ftol F and
    # agreeing to a factor 2
    dF = F - Ft
    return (F > 0.0 and math.isfinite(Ft) and abs(dF) <= ftol * F and pred <= ftol * F
            and (pred <= 0.0 or dF <= 2.0 * pred))


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _lm_one(x, Xp, Yp, Wp, lb, ub, bounded, maxiter, gtol, xtol, ftol, tau, ws):
    # Levenberg-Marquardt (Madsen, Nielsen & Tingleff, Algorithm 3.16) on x, whose
    # cost, normal matrix A and gradient g come from _eval (see the module docstring).
    D = x.shape[0]
    A, g, At, gt, h, xt = ws[0], ws[1], ws[2], ws[3], ws[4], ws[5]
    F = _eval(x, Xp, Yp, Wp, ws, False)
    if not math.isfinite(F):
        return F, 0, 6
    dmax = 0.0
    for a in range(D):
        dmax = max(dmax, A[a, a])
    if _gradient_small(A, g, F, gtol):
        return F, 0, 1
    mu = tau * dmax
    if not (mu > 0.0):
        mu = tau
    nu = 2.0
    nit = 0
    while nit < maxiter:
        nit += 1
        if not _damped_step(A, g, mu, h):
            mu *= nu
            nu *= 2.0
            if _exhausted(mu, A):
                return F, nit, 7
            continue
        for a in range(D):
            xa = x[a] + h[a]
            if bounded:
                if xa < lb[a]:
                    xa = lb[a]
                elif xa > ub[a]:
                    xa = ub[a]
                h[a] = xa - x[a]
            xt[a] = xa
        if _step_small(A, x, h, xtol):
            return F, nit, 2
        pred = 0.0
        for a in range(D):
            s = 0.0
            for b in range(D):
                s += A[a, b] * h[b]
            pred += -g[a] * h[a] - 0.5 * h[a] * s
        if PREDICTED_STOP and not bounded and pred <= ftol * F:
            # the damped step predicts at most the undamped one; stop when even the
            # Gauss-Newton step predicts a relative decrease <= ftol (gt is scratch)
            if _damped_step(A, g, 0.0, gt):
                gn = 0.0
                for a in range(D):
                    gn -= 0.5 * g[a] * gt[a]
                if gn <= ftol * F:
                    return F, nit, 3
        Ft = _eval(xt, Xp, Yp, Wp, ws, True)
        dF = F - Ft
        small = _cost_small(F, Ft, pred, ftol)
        if math.isfinite(Ft) and pred > 0.0 and dF > 0.0:
            rho = dF / pred
            for a in range(D):
                x[a] = xt[a]
                g[a] = gt[a]
                for b in range(D):
                    A[a, b] = At[a, b]
            _accept(ws)
            F = Ft
            if small:
                return F, nit, 3
            if _gradient_small(A, g, F, gtol):
                return F, nit, 1
            t = 2.0 * rho - 1.0
            mu *= max(1.0 / 3.0, 1.0 - t * t * t)
            nu = 2.0
        elif small:
            return F, nit, 3
        else:
            mu *= nu
            nu *= 2.0
            if _exhausted(mu, A):
                return F, nit, 7
    return F, nit, 4


@njit(cache=True, _nrt=False, nogil=True, error_model="numpy", inline="always")
def _curve_results(i, A, g, F, reason, m, absolute_sigma, se, out_se, out_rcond, out_stats,
                   x, X0, r0):
    # row i's statistics from its final full normal matrix A and gradient g (see the
    # module docstring; s^2 = 2F/(m - n), 1 with absolute_sigma); NaN where they do not
    # exist (model not finite at the start, or a non-finite cost).  out_stats[i], for
    # the certificate (trustfit.batch._certify): gn_gain, a bound on the condition
    # number of the column-scaled Jacobian (inf when A is not numerically positive
    # definite), and with the effects e_j = ||J_j|| size_j (size_j = max(|x_j|, |x0_j|),
    # |x_j| for a parameter whose start is not used, 1 for 0; x0 = X0[r0]): the smallest
    # e_j / (sum e + ||r||) and ||r|| / sum e
    for a in range(NP):
        se[a] = np.nan
    rc = np.nan
    gn = np.nan
    tr = np.nan
    for a in range(4):
        out_stats[i, a] = np.nan
    if reason != 6 and math.isfinite(F):
        dof = m - NP
        if absolute_sigma:
            s2 = 1.0
        elif dof > 0:
            s2 = 2.0 * F / dof
        else:
            s2 = np.nan
        rc, gn, tr = _curve_stats(A, g, F, s2, se)
        total = 0.0
        least = math.inf
        for a in range(NP):
            size = abs(x[a]) if START_UNUSED[a] else max(abs(x[a]), abs(X0[r0, a]))
            e = math.sqrt(A[a, a]) * (size if size > 0.0 else 1.0)
            total += e
            least = min(least, e)
        res = math.sqrt(2.0 * F)
        out_stats[i, 2] = least / (total + res)
        out_stats[i, 3] = res / total
    for a in range(NP):
        out_se[i, a] = se[a]
    out_rcond[i] = rc
    out_stats[i, 0] = gn
    # cond(J D^-1)^2 = cond(S) <= NP trace(S^-1) (S = D^-1 A D^-1 has unit diagonal, so
    # its largest eigenvalue is at most NP and its smallest at least 1 / trace(S^-1))
    out_stats[i, 1] = math.sqrt(NP * tr)


@njit(cache=True, _nrt=False, nogil=True, error_model="numpy", inline="always")
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
    for a in range(NP):
        x[a] = P0[pi, a]
        if not math.isfinite(x[a]):
            good = False
    if ok and good:
        return False
    for a in range(NP):
        out_p[i, a] = x[a] if ok else np.nan
        out_se[i, a] = np.nan
    out_rcond[i] = np.nan
    for a in range(4):
        out_stats[i, a] = np.nan
    out_F[i] = np.nan
    out_nit[i] = 0
    out_reason[i] = 8 if ok else 5
    return True


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _pad_x(X, xi, Xp):
    # row xi of X into Xp, the padding points repeating the last x
    m = X.shape[2]
    for c in range(X.shape[1]):
        for j in range(m):
            Xp[c, j] = X[xi, c, j]
        for j in range(m, Xp.shape[1]):
            Xp[c, j] = X[xi, c, m - 1]


@njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
def _fit_range(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
               absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats):
    # one curve after another: the scratch here, the loop in _fit_range_loop
    m = Y.shape[1]
    # the curve's points padded to a multiple of 4 (see _accum): weight 0, data 0, last x
    mp = (m + 3) // 4 * 4
    _fit_range_loop(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
                    absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond,
                    out_stats, np.empty(NP), np.empty(NP), np.zeros((X.shape[1], mp)),
                    np.zeros(mp), np.zeros(mp), _workspace(mp))


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy")
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
        for a in range(NP):
            out_p[i, a] = x[a]
        out_F[i] = F
        out_nit[i] = nit
        out_reason[i] = reason
        _curve_results(i, A, g, F, reason, m, absolute_sigma, se, out_se, out_rcond, out_stats,
                       x, P0, pi)
'''


LM_PART = '''
@njit(cache=True, nogil=True, error_model="numpy")
def _workspace(mp):
    # 0-5: the LM state (A, g, At, gt, h, xt; see _lm_one); 6: B (model scratch)
    return (np.empty((NP, NP)), np.empty(NP), np.empty((NP, NP)), np.empty(NP),
            np.empty(NP), np.empty(NP), np.empty((NP + 1, mp)))


# where the workspace holds the full normal matrix and gradient at the final point
FULL_A, FULL_G = 0, 1
# _lm_one confirms convergence with an evaluation (the single-fit LM's rule)
PREDICTED_STOP = False


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _eval(x, Xp, Yp, Wp, ws, trial):
    if trial:
        return _accum(x, Xp, Yp, Wp, ws[2], ws[3], ws[6])
    return _accum(x, Xp, Yp, Wp, ws[0], ws[1], ws[6])


@njit(cache=True, _nrt=False, nogil=True, error_model="numpy", inline="always")
def _accept(ws):
    pass


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _solve_one(x, Xp, Yp, Wp, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau, ws):
    return _lm_one(x, Xp, Yp, Wp, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau, ws)

'''

VARPRO_PART = '''
@njit(cache=True, nogil=True, error_model="numpy")
def _workspace(mp):
    # 0-5: the LM state over theta (A, g, At, gt, h, xt; see _lm_one); 6-9 at the
    # current point, 10-13 at the trial point: J^T J of theta (Ar), Xm = J^T Phi, the
    # linear parameters c, G = Phi^T Phi; 14-15: B (model scratch), b = Phi^T u;
    # 16-18: theta and its bounds; 19-20: full normal matrix and gradient (final point)
    return (np.empty((NTH, NTH)), np.empty(NTH), np.empty((NTH, NTH)), np.empty(NTH),
            np.empty(NTH), np.empty(NTH),
            np.empty((NTH, NTH)), np.empty((NTH, NQ)), np.empty(NQ), np.empty((NQ, NQ)),
            np.empty((NTH, NTH)), np.empty((NTH, NQ)), np.empty(NQ), np.empty((NQ, NQ)),
            np.empty((NROWS, mp)), np.empty(NQ),
            np.empty(NTH), np.empty(NTH), np.empty(NTH),
            np.empty((NP, NP)), np.empty(NP))


# where the workspace holds the full normal matrix and gradient at the final point
FULL_A, FULL_G = 19, 20
# _lm_one stops before evaluating when the Gauss-Newton gain is below ftol
PREDICTED_STOP = True


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
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


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _eval(th, Xp, Yp, Wp, ws, trial):
    if trial:
        return _vp_eval(th, Xp, Yp, Wp, ws[2], ws[3], ws[10], ws[11], ws[12], ws[13],
                        ws[14], ws[15])
    return _vp_eval(th, Xp, Yp, Wp, ws[0], ws[1], ws[6], ws[7], ws[8], ws[9],
                    ws[14], ws[15])


@njit(cache=True, _nrt=False, nogil=True, error_model="numpy", inline="always")
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


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _solve_one(x, Xp, Yp, Wp, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau, ws):
    th, lbt, ubt = ws[16], ws[17], ws[18]
    _vp_split(x, LB, UB, th, lbt, ubt)
    F, nit, reason = _lm_one(th, Xp, Yp, Wp, lbt, ubt, bounded, maxiter, gtol, xtol, ftol,
                             tau, ws)
    if reason != 6:
        _vp_join(th, ws[8], x)
        _vp_assemble(ws[6], ws[7], ws[9], ws[1], ws[19], ws[20])
    return F, nit, reason
'''

LANE_PART = '''
# Curves interleaved per thread by the varpro kernel (a multiple of the vector width;
# measured on exp2 m=11: 8 lanes 3.6, 16 lanes 2.0, 32 lanes 2.2 us per fit).
LN = 16
# Lanes (fit_*_lanes) only while the scratch B (m * NROWS * LN doubles) stays within
# 24 KiB of L1: measured, lanes win at m <= 32 (exp2 m=11 -21 %, m=32 -14 %, gauss m=16
# -23 %) and lose at m = 64 (+12 %: B spills to L2); beyond that, one curve after
# another (fit_parallel, fit_serial).  See uses_lanes.
LANE_MAX_B = 192


@njit(cache=True, _nrt=False, nogil=True, error_model="numpy")
def _ln_load(l, i, i1, X, Y, W, P0, XL, YL, WL, TT, THL, x, th, lbt, ubt, LB, UB,
             out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats):
    # The next fittable curve from row i into lane l: its points and its start theta.
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
                XL[c, j, l] = X[xi, c, j]
        for j in range(m):
            YL[j, l] = Y[i, j]
            WL[j, l] = W[wi, j]
        _vp_split(x, LB, UB, th, lbt, ubt)
        for a in range(NTH):
            THL[a * LN + l] = th[a]
            TT[a, l] = th[a]
        return i, i + 1
    return -1, i


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _ln_gradient_small(l, AC, GC, F, gtol):
    # _gradient_small for lane l (A and g stored lane-last)
    lim = gtol * gtol * 2.0 * F
    for a in range(NTH):
        ga = GC[a * LN + l]
        if not (ga * ga <= lim * AC[(a * NTH + a) * LN + l]):
            return False
    return True


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _ln_step_small(l, AC, THL, XT, xtol):
    # _step_small for lane l: the step h = XT - THL (projected on the bounds)
    dx2 = 0.0
    for a in range(NTH):
        dx2 += AC[(a * NTH + a) * LN + l] * THL[a * LN + l] * THL[a * LN + l]
    floor = xtol * math.sqrt(dx2)
    for a in range(NTH):
        d = math.sqrt(AC[(a * NTH + a) * LN + l])
        x = THL[a * LN + l]
        if not (abs(XT[a * LN + l] - x) * d <= xtol * (abs(x) * d + floor)):
            return False
    return True


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _ln_exhausted(l, mu, AC):
    # _exhausted for lane l
    dmax = 0.0
    for a in range(NTH):
        dmax = max(dmax, AC[(a * NTH + a) * LN + l])
    return not (mu[l] < MU_ROOM * (dmax if dmax > 0.0 else 1.0))


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _ln_update(l, Ft, fresh, TT, THL, F, mu, nu, pred, Ar, Xm, c, G, GL, CL, FL, AL, AC, GC,
               gtol, ftol, tau):
    # _lm_one's handling of an evaluation (the start, or the trial point) for lane l;
    # returns a stop code, 0 to go on.
    if fresh[l]:
        fresh[l] = False
        F[l] = Ft
        if not math.isfinite(Ft):
            return 6
        _ln_take_trial(l, Ar, Xm, c, G, GL, CL, FL, AL, AC, GC)
        dmax = 0.0
        for a in range(NTH):
            dmax = max(dmax, AC[(a * NTH + a) * LN + l])
        if _ln_gradient_small(l, AC, GC, F[l], gtol):
            return 1
        mu[l] = tau * dmax
        if not (mu[l] > 0.0):
            mu[l] = tau
        nu[l] = 2.0
        return 0
    dF = F[l] - Ft
    small = _cost_small(F[l], Ft, pred[l], ftol)
    if math.isfinite(Ft) and pred[l] > 0.0 and dF > 0.0:
        rho = dF / pred[l]
        for a in range(NTH):
            THL[a * LN + l] = TT[a, l]
        _ln_take_trial(l, Ar, Xm, c, G, GL, CL, FL, AL, AC, GC)
        F[l] = Ft
        if small:
            return 3
        if _ln_gradient_small(l, AC, GC, Ft, gtol):
            return 1
        t = 2.0 * rho - 1.0
        mu[l] *= max(1.0 / 3.0, 1.0 - t * t * t)
        nu[l] = 2.0
    elif small:
        return 3
    else:
        mu[l] *= nu[l]
        nu[l] *= 2.0
        if _ln_exhausted(l, mu, AC):
            return 7
    return 0


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _ln_step_taken(l, TT, F, mu, nu, pred, nit, AC, GC, THL, lbt, ubt, bounded, maxiter,
                   xtol, ftol, XT, HN2, XN2, PR, GN, OKS, OKG):
    # _lm_one's step for lane l, on what _lnv_step computed (same tests, same order):
    # the trial point into TT[:, l]; returns a stop code, 0 when it is to be evaluated.
    # A failed factorization raises mu and computes the lane's step again.
    while OKS[l] == 0.0:
        if nit[l] >= maxiter:
            return 4
        nit[l] += 1
        mu[l] *= nu[l]
        nu[l] *= 2.0
        if _ln_exhausted(l, mu, AC):
            return 7
        _ln_step1(AC, GC, THL, mu, lbt, ubt, bounded, XT, HN2, XN2, PR, GN, OKS, OKG, l)
    if nit[l] >= maxiter:
        return 4
    nit[l] += 1
    for a in range(NTH):
        TT[a, l] = XT[a * LN + l]
    if _ln_step_small(l, AC, THL, XT, xtol):
        return 2
    pr = PR[l]
    if not bounded and pr <= ftol * F[l]:
        if OKG[l] != 0.0 and GN[l] <= ftol * F[l]:
            return 3
    pred[l] = pr
    return 0


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _ln_finish(l, i, reason, F, nit, THL, GC, Ar, Xm, c, G, ws, x, se, m, absolute_sigma,
               out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats, X0):
    # lane l's curve (row i) is done: its results, as _fit_range writes them (x holds
    # its start, reported as is when the model was not finite there)
    out_F[i] = F[l]
    out_nit[i] = nit[l]
    out_reason[i] = reason
    Af, gf = ws[19], ws[20]
    if reason != 6:
        th, cs, Ars, Xms, Gs, gs = ws[16], ws[8], ws[6], ws[7], ws[9], ws[1]
        for a in range(NTH):
            th[a] = THL[a * LN + l]
            gs[a] = GC[a * LN + l]
            for b in range(NTH):
                Ars[a, b] = Ar[l, a, b]
            for b in range(NQ):
                Xms[a, b] = Xm[l, a, b]
        for a in range(NQ):
            cs[a] = c[l, a]
            for b in range(NQ):
                Gs[a, b] = G[l, a, b]
        _vp_join(th, cs, x)
        _vp_assemble(Ars, Xms, Gs, gs, Af, gf)
    for a in range(NP):
        out_p[i, a] = x[a]
    _curve_results(i, Af, gf, F[l], reason, m, absolute_sigma, se, out_se, out_rcond, out_stats,
                   x, X0, l)


@njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
def _fit_lanes(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
               absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats):
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
    HN2, XN2, PR, GN, OKS, OKG = (np.zeros(LN), np.zeros(LN), np.zeros(LN), np.zeros(LN),
                                  np.zeros(LN), np.zeros(LN))
    STOP = np.zeros(LN, np.int64)  # a lane's stop code this iteration (-1: step taken)
    RD = np.zeros(LN)  # each lane's ridge on G (0 unless G is numerically singular)
    OK = np.zeros(LN)  # 1.0 where the lane's projection succeeded
    GF = np.zeros(NGF * LN)  # the factors of each lane's G (projection -> Schur)
    # the rest of each lane's current point, read once per curve (lane-major: Ar[l] is
    # lane l's matrix)
    Ar = np.zeros((LN, NTH, NTH))
    Xm, c, G = np.zeros((LN, NTH, NQ)), np.zeros((LN, NQ)), np.zeros((LN, NQ, NQ))
    F, mu, nu, pred = np.zeros(LN), np.zeros(LN), np.zeros(LN), np.zeros(LN)
    nit = np.zeros(LN, np.int64)
    cur = np.full(LN, -1, np.int64)
    fresh = np.zeros(LN, np.bool_)
    ws = _workspace(m)
    x = np.empty(NP)
    se = np.empty(NP)
    X0 = np.empty((LN, NP))  # each lane's start (reported as is when the model is not finite there)
    _ln_loop(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
             absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats,
             XL, YL, WL, B, TT, GL, CL, FL, AL, RD, OK, GF, Ar, Xm, c, G, F, mu, nu, pred,
             nit, cur, fresh, ws, x, se, X0, AC, GC, THL, XT, HN2, XN2, PR, GN, OKS, OKG,
             STOP)


@njit(cache=True, _nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _ln_loop(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
             absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats,
             XL, YL, WL, B, TT, GL, CL, FL, AL, RD, OK, GF, Ar, Xm, c, G, F, mu, nu, pred,
             nit, cur, fresh, ws, x, se, X0, AC, GC, THL, XT, HN2, XN2, PR, GN, OKS, OKG,
             STOP):
    # _fit_lanes' loop, without reference counting (it only indexes arrays)
    m = Y.shape[1]
    th, lbt, ubt = ws[16], ws[17], ws[18]
    i = i0
    for l in range(LN):
        cur[l], i = _ln_load(l, i, i1, X, Y, W, P0, XL, YL, WL, TT, THL, x, th, lbt, ubt,
                             LB, UB, out_p, out_F, out_nit, out_reason, out_se, out_rcond,
                             out_stats)
        fresh[l] = True
        nit[l] = 0
        for a in range(NP):
            X0[l, a] = x[a]
    while True:
        busy = False
        for l in range(LN):
            if cur[l] >= 0:
                busy = True
        if not busy:
            break
        _ln_basis(TT, XL, YL, WL, B, m)
        _ln_gram(B, GL, m)
        # c = G^-1 b in every lane; where G is numerically singular, again with a ridge
        # of 1e-13 max diag G (the one-curve _vp_project's rule)
        for l in range(LN):
            RD[l] = 0.0
        _lnv_project(GL, CL, RD, OK, GF)
        for l in range(LN):
            if cur[l] >= 0 and OK[l] == 0.0:
                RD[l] = 1e-13 * _ln_gram_dmax(GL, l)
                _ln_project1(GL, CL, RD, OK, GF, l)
        _ln_full(B, CL, FL, m)
        _lnv_schur(GF, FL, AL)
        for l in range(LN):
            STOP[l] = 0
            if cur[l] < 0:
                continue
            Ft = 0.5 * FL[l] if OK[l] != 0.0 else np.nan
            STOP[l] = _ln_update(l, Ft, fresh, TT, THL, F, mu, nu, pred, Ar, Xm, c, G, GL, CL,
                                 FL, AL, AC, GC, gtol, ftol, tau)
            if STOP[l] == 0:
                STOP[l] = -1  # to take a step
        _lnv_step(AC, GC, THL, mu, lbt, ubt, bounded, XT, HN2, XN2, PR, GN, OKS, OKG)
        for l in range(LN):
            if STOP[l] == -1:
                STOP[l] = _ln_step_taken(l, TT, F, mu, nu, pred, nit, AC, GC, THL, lbt, ubt,
                                         bounded, maxiter, xtol, ftol, XT, HN2, XN2, PR, GN,
                                         OKS, OKG)
            if STOP[l] > 0:
                for a in range(NP):
                    x[a] = X0[l, a]
                _ln_finish(l, cur[l], STOP[l], F, nit, THL, GC, Ar, Xm, c, G, ws, x, se, m,
                           absolute_sigma, out_p, out_F, out_nit, out_reason, out_se,
                           out_rcond, out_stats, X0)
                cur[l], i = _ln_load(l, i, i1, X, Y, W, P0, XL, YL, WL, TT, THL, x, th,
                                     lbt, ubt, LB, UB, out_p, out_F, out_nit, out_reason,
                                     out_se, out_rcond, out_stats)
                fresh[l] = True
                nit[l] = 0
                for a in range(NP):
                    X0[l, a] = x[a]
'''


ENTRY_POINTS = '''

@njit(cache=True, fastmath=False, nogil=True, error_model="numpy", parallel=True)
def fit_parallel{suffix}(X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
                 absolute_sigma, block, out_p, out_F, out_nit, out_reason, out_se, out_rcond,
                 out_stats):
    N = Y.shape[0]
    nb = (N + block - 1) // block
    for b in prange(nb):
        i0 = b * block
        i1 = min(N, i0 + block)
        {fit_block}(i0, i1, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
                   absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats)


@njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
def fit_serial{suffix}(X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
               absolute_sigma, block, out_p, out_F, out_nit, out_reason, out_se, out_rcond,
               out_stats):
    {fit_block}(0, Y.shape[0], X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
               absolute_sigma, out_p, out_F, out_nit, out_reason, out_se, out_rcond, out_stats)
'''


_LOCK = threading.Lock()
_MODULES: dict[str, object] = {}
_WARM: set[str] = set()


def kernel_source(bm, method: str = "lm") -> str:
    """Complete source of the kernel module of ``bm`` for ``method`` ('lm' or 'varpro')."""
    import sympy

    from ._codegen import (
        generate_curve_stats_source,
        generate_damped_step_source,
        generate_varpro_lane_source,
        generate_varpro_solve_source,
        generate_varpro_source,
        varpro_layout,
    )

    from trustfit.models.names import validate_name

    for name in [*bm.param_names, *(getattr(s, "name", s) for s in bm.independent_symbols)]:
        validate_name(name, "model symbol")  # names reach this source only as repr()
    text = " ".join(sympy.sstr(bm.expr).split())
    stats = generate_curve_stats_source(bm.n_params)
    unused = ()
    if method == "varpro":
        nl, lin = varpro_layout(bm)
        unused = lin
        model_part = "\n\n\n".join([
            generate_varpro_source(bm),
            generate_varpro_solve_source(len(lin), len(nl)),
            generate_damped_step_source(len(nl)),
            generate_varpro_lane_source(bm),
        ])
        method_part = VARPRO_PART + "\n\n" + LANE_PART
        model_part += "\n\n\n" + stats
    else:
        model_part = generate_accum_source(bm) + "\n\n\n" + generate_damped_step_source(
            bm.n_params) + "\n\n\n" + stats
        method_part = LM_PART
    # the entry points (numba compiles each on first use): one curve after another, and
    # for varpro also the lanes
    entries = ENTRY_POINTS.format(suffix="", fit_block="_fit_range")
    if method == "varpro":
        entries += ENTRY_POINTS.format(suffix="_lanes", fit_block="_fit_lanes")
    return _TEMPLATE.format(
        codegen_version=CODEGEN_VERSION,
        kernel_version=KERNEL_VERSION,
        model_text=ascii(text[:200]),
        param_names=ascii(list(bm.param_names)),
        n=bm.n_params,
        start_unused=repr(tuple(i in unused for i in range(bm.n_params))),
        model_part=model_part,
        method_part=method_part,
    ) + entries


def load_kernel(bm, method: str = "lm"):
    """The kernel module of the symbolic model ``bm``: generated here, and executed only
    from these bytes (see :mod:`._cache`; numba's disk cache stays effective)."""
    key = model_key(bm) + "_" + KERNEL_VERSION + ("_vp" if method == "varpro" else "")
    with _LOCK:
        mod = _MODULES.get(key)
        if mod is None:
            mod = _MODULES[key] = load_module(kernel_source(bm, method))
        return mod


def uses_lanes(mod, m: int) -> bool:
    """Whether curves of m points run interleaved (varpro kernels, few points: see
    ``LANE_MAX_B``); the two entry points compile separately, on first use."""
    return m * getattr(mod, "NROWS", 0) <= getattr(mod, "LANE_MAX_B", -1)


def warm_kernel(bm, parallel: bool = True, method: str = "lm", m: int | None = None) -> float:
    """Load and compile (or load from numba's cache) the kernel that curves of ``m``
    points run (default: a few points more than parameters); return seconds taken."""
    import numpy as np

    t0 = time.perf_counter()
    mod = load_kernel(bm, method)
    n, k = bm.n_params, bm.n_independent
    m = n + 2 if m is None else max(int(m), 1)
    key = (model_key(bm), parallel, method, uses_lanes(mod, m))
    if key in _WARM:
        return time.perf_counter() - t0
    run_kernel(
        mod,
        np.zeros((1, k, m)),
        np.zeros((1, m)),
        np.ones((1, m)),
        np.zeros((1, n)),
        np.full(n, -np.inf),
        np.full(n, np.inf),
        False,
        1,
        1e-8,
        1e-8,
        1e-8,
        1e-3,
        False,
        parallel,
    )
    _WARM.add(key)
    return time.perf_counter() - t0


def run_kernel(mod, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
               absolute_sigma, parallel, block=256, out=None):
    """Run the compiled kernel on arrays already validated and converted to float64.

    ``out``: optional tuple of preallocated per-curve arrays (params (N, n) float64,
    cost (N,) float64, nit (N,) int32, stop code (N,) int8, stderr (N, n) float64,
    rcond (N,) float64, statistics (N, 4) float64 for the certificate, see
    ``_curve_results``), e.g. row slices of the final result, so nothing is copied.
    """
    import numpy as np

    N, n = Y.shape[0], P0.shape[1]
    if out is None:
        out = (np.empty((N, n)), np.empty(N), np.empty(N, dtype=np.int32),
               np.empty(N, dtype=np.int8), np.empty((N, n)), np.empty(N), np.empty((N, 4)))
    # numba compiles a separate specialization for read-only arrays (a memory-mapped
    # .npy opened with mmap_mode='r', np.broadcast_to views): copy those (one chunk).
    X, Y, W, P0, LB, UB = (a if a.flags.writeable else a.copy() for a in (X, Y, W, P0, LB, UB))
    if uses_lanes(mod, Y.shape[1]):
        fn = mod.fit_parallel_lanes if parallel else mod.fit_serial_lanes
    else:
        fn = mod.fit_parallel if parallel else mod.fit_serial
    fn(X, Y, W, P0, LB, UB, bool(bounded), int(maxiter), float(gtol), float(xtol),
       float(ftol), float(tau), bool(absolute_sigma), int(block), *out)
    return out
