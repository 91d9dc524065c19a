"""What a batch curve's ``success`` certifies: what a single fit's does.

A convergence test firing (gradient, step or cost: :mod:`trustfit.stopping`'s tests, which
the kernel runs with the same meaning) is not yet a certificate.  As in the single fit
(:func:`trustfit.stopping.certify`), a curve is ``success`` only when, at its returned
point,

* it is stationary: the share of the residual in ``range(J)``, ``||U U^T r|| / ||r||``,
  is at most ``max(STATIONARY_LIMIT, sqrt(tolerance of the test that fired))``
  (else ``StopReason.STALLED``);
* it is not degenerate: no zero column, condition number of the column-scaled Jacobian
  at most ``CONDITION_LIMIT = 1/sqrt(eps)`` (else ``StopReason.DEGENERATE``);
* it is not a budget stop (``MAX_ITER``) or a damping overflow (``NO_PROGRESS``);

an exact fit is certified.  The constants are :mod:`trustfit.stopping`'s.

How it is computed without slowing the batch down
-------------------------------------------------
The kernel returns, per curve, from its final normal matrix ``A = J^T J`` and gradient
``g = J^T r``: ``gn_gain = 1/2 g^T A^-1 g / F``, which is the squared share exactly
(``||P_J r||^2 = g^T A^-1 g`` and ``||r||^2 = 2F``); the column norms ``||J_j|| =
sqrt(A_jj)``; and a bound ``sqrt(n trace(S^-1)) >= cond(J D^-1)`` (``S`` the unit-diagonal
scaled ``A``; the bound is within a factor ``sqrt(n)`` of the condition number).  The
normal equations square the condition number: their smallest eigenvalue carries a
relative rounding error of about ``m eps cond^2``.  Where that is below ``NE_TRUST``
(condition below ~2e6 / sqrt(m), far under the limit) the kernel's numbers decide: the
condition is then within the limit and the share is accurate to ``m eps cond`` (below
1e-9).  The other converged curves, and those whose columns or residual are small enough
that the zero-column or exact-fit rule might apply (``SCREEN``, a factor far looser than
either rule), take the exact path: the model's residuals and Jacobian are evaluated in
numpy and the SVD of the column-scaled Jacobian decides, as in the single fit; curves
whose zero-column or exact-fit rule is in question are passed to
:func:`trustfit.stopping.certify` itself.  On the benchmark's curves the exact path takes
0-2.5 % of the curves (those whose rates merged: condition 1e14 and more).

Every quantity is a ratio of numbers that scale alike (share, condition, relative column
effects), so the verdict does not depend on the units of the data, of sigma or of the
parameters.

Stop codes
----------
``BatchResult.stop_code`` holds the codes of :data:`CODES`; ``stop_reason`` maps them to
:class:`trustfit.StopReason`.  Codes 5, 6 and 8 (not fitted: non-finite data, model not
finite at the start, non-finite start) are all ``StopReason.INVALID_INPUT``; the
diagnosis tells them apart.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import stopping
from ..core.result import StopReason
from ..core.stopping import CONDITION_LIMIT, STATIONARY_LIMIT

CODES: dict[int, StopReason] = {
    1: StopReason.GRADIENT,
    2: StopReason.STEP,
    3: StopReason.COST,
    4: StopReason.MAX_ITER,
    5: StopReason.INVALID_INPUT,  # non-finite data, sigma or x in the row
    6: StopReason.INVALID_INPUT,  # model not finite at the start
    7: StopReason.NO_PROGRESS,  # the damping overflowed without an acceptable step
    8: StopReason.INVALID_INPUT,  # non-finite start
    9: StopReason.STALLED,
    10: StopReason.DEGENERATE,
}
#: Codes of the kernel's convergence tests; after :func:`certify_chunk` only certified
#: curves keep them, so they are also the success codes.
CONVERGED_CODES = (1, 2, 3)
SUCCESS_CODES = CONVERGED_CODES
STALLED_CODE, DEGENERATE_CODE = 9, 10
UNCERTIFIED_CODES = (STALLED_CODE, DEGENERATE_CODE)
NOT_CONVERGED_CODES = (4, 7)

EPS = float(np.finfo(float).eps)
#: The normal equations decide where their smallest eigenvalue's relative rounding error,
#: about ``m eps cond^2``, is at most this.
NE_TRUST = 1e-3
#: A curve one of whose column effects ``||J_j|| max(|x_j|, |x0_j|)`` is at most this times
#: the sum of the effects and ``||r||``, or whose residual is at most this times the sum of
#: the effects, may meet the zero-column or the exact-fit rule (:mod:`trustfit.stopping`:
#: effects below 1e-8 of the largest, residuals below 1e-8 of ``|| |J| |x| ||``, or tighter);
#: :func:`trustfit.stopping.certify` decides for it.
SCREEN = 1e-7


#: The diagnosis code (``trustfit.batch.DIAGNOSES``) of each stop code; a certified
#: curve that the rescue improved is diagnosed ``rescued`` (1) instead.
DIAGNOSIS_OF_CODE = np.array([3, 0, 0, 0, 3, 4, 5, 3, 5, 3, 2], dtype=np.int8)


def succeeded(codes: np.ndarray) -> np.ndarray:
    """Mask of the certified curves (``SUCCESS_CODES``: a contiguous range)."""
    return (codes >= SUCCESS_CODES[0]) & (codes <= SUCCESS_CODES[-1])


def reasons(codes: np.ndarray) -> np.ndarray:
    """The :class:`StopReason` of each code, as an object array."""
    table = np.empty(max(CODES) + 1, dtype=object)
    for code, reason in CODES.items():
        table[code] = reason
    return table[np.asarray(codes, dtype=np.int64)]


def certify_chunk(bm, X, Y, W, P0, out, tolerances, linear=()):
    """Certify the converged curves of a kernel (or fallback) run, in place.

    ``out``: the run's per-curve arrays ``(params, cost, nit, code, stderr, rcond, stats)``
    (``stats``: gn_gain, the condition bound and the two screen ratios, see the kernel's
    ``_curve_results``); ``tolerances``: the user's ``(gtol, xtol, ftol)``; ``linear``:
    the parameters whose starts were not used (variable projection), whose size is then
    their fitted value's.  Codes of curves that fail the certificate
    become ``STALLED_CODE`` or ``DEGENERATE_CODE``.  Returns ``(share, condition)`` per
    curve: the share of the residual in range(J) and the condition number of the
    column-scaled Jacobian (from its QR where the exact path ran, else the kernel's
    bound, at most sqrt(n) times too large); NaN where the curve was not fitted.

    The single fit's order of tests decides where it matters for ``success``: a possible
    exact fit goes to :func:`trustfit.stopping.certify` first, and so does a point that
    passes the condition and share tests with a column small enough that the zero-column
    rule might refuse it.  A point refused on its share (``STALLED``) is not also tested
    for zero columns (the single fit might call it ``DEGENERATE``; it is not certified
    either way).
    """
    p, F, _, code, _, _, stats = out
    with np.errstate(invalid="ignore"):
        share = np.sqrt(np.maximum(stats[:, 0], 0.0))
    condition = stats[:, 1].copy()
    conv = succeeded(code)  # not refused yet
    if not conv.any():
        return share, condition
    # the tolerance of the test that fired, and the share it accepts, by stop code
    tol = np.zeros(max(CODES) + 1)
    tol[list(CONVERGED_CODES)] = tolerances
    limit = np.maximum(STATIONARY_LIMIT, np.sqrt(tol))
    x0 = _Starts(P0, p, linear)
    with np.errstate(invalid="ignore"):
        maybe_zero = ~(stats[:, 2] > SCREEN)
        maybe_exact = ~(stats[:, 3] > SCREEN)
        # the normal equations decide where m eps cond^2 <= NE_TRUST
        trusted = condition <= math.sqrt(NE_TRUST / (Y.shape[1] * EPS))
    exact_fit = conv & (F == 0.0)
    share[exact_fit] = 0.0
    cheap = conv & ~exact_fit & trusted & ~maybe_exact
    fine = share <= limit[code]
    code[cheap & ~fine] = STALLED_CODE
    single = np.flatnonzero(cheap & fine & maybe_zero)
    if single.size:
        r, J = _residuals_and_jacobian(bm, X, Y, W, p, single)
        for k, i in enumerate(single):
            _certify_curve(J[k], r[k], x0, p, F, code, share, condition, tol, i)
    rest = np.flatnonzero(conv & ~exact_fit & ~cheap)
    if rest.size:
        _exact_path(bm, X, Y, W, x0, p, F, code, share, condition, limit, tol, rest)
    return share, condition


class _Starts:
    """The starts that give the parameters their sizes, row by row (``x0[i]``,
    ``x0[idx]``): ``P0`` (one row for all curves, or one per curve), with the fitted
    values for the ``linear`` parameters (whose starts were not used)."""

    def __init__(self, P0, p, linear):
        self.P0, self.p, self.linear = P0, p, list(linear)

    def __getitem__(self, idx):
        rows = self.P0[0 if self.P0.shape[0] == 1 else idx]
        rows = np.array(np.broadcast_to(rows, self.p[idx].shape))
        if self.linear:
            rows[..., self.linear] = self.p[idx][..., self.linear]
        return rows


def _screens(norms, residual, p, x0):
    """Masks of the curves whose zero-column or exact-fit rule might apply (``SCREEN``),
    from the column norms and the residual's (the kernel's ratios, computed so too);
    sizes as :func:`trustfit.stopping.parameter_scale`'s."""
    from ._fallback import screen_ratios

    ratios = screen_ratios(norms, residual, p, x0)
    return ~(ratios[:, 0] > SCREEN), ~(ratios[:, 1] > SCREEN)


def _exact_path(bm, X, Y, W, x0, p, F, code, share, condition, limit, tol, idx):
    """The single fit's certificate from the Jacobian itself, for the curves ``idx``."""
    r, J = _residuals_and_jacobian(bm, X, Y, W, p, idx)
    with np.errstate(all="ignore"):
        finite = np.isfinite(J).all(axis=(1, 2)) & np.isfinite(r).all(axis=1)
        r[~finite] = J[~finite] = 1.0  # placeholders, their verdict is set below
        rn = _norms(r)
        norms = _norms(J)
        maybe_zero, maybe_exact = _screens(norms, rn, p[idx], x0[idx])
        R, qr = _householder(J / np.where(norms > 0.0, norms, 1.0)[:, None, :],
                             r / np.where(rn > 0.0, rn, 1.0)[:, None])
        sh = np.linalg.norm(qr, axis=1)
        cond = _condition(R)
    cond[~(norms > 0.0).all(axis=1) | ~finite] = np.inf
    sh[~finite] = np.nan
    condition[idx] = cond
    share[idx] = sh
    degenerate = ~(cond <= CONDITION_LIMIT)
    stalled = ~degenerate & ~(sh <= limit[code[idx]])
    code[idx[degenerate & ~maybe_exact]] = DEGENERATE_CODE
    code[idx[stalled & ~maybe_exact]] = STALLED_CODE
    for k in np.flatnonzero(finite & (maybe_exact | (maybe_zero & ~degenerate & ~stalled))):
        _certify_curve(J[k], r[k], x0, p, F, code, share, condition, tol, idx[k])


def _householder(A, b):
    """``R`` (K, n, n) and ``(Q^T b)[:n]`` (K, n) of the thin QR factorizations
    ``A_k = Q_k R_k`` (K, m, n), by Householder reflections vectorized across the K
    problems (Golub & Van Loan, Alg. 5.2.1): backward stable, so ``||(Q^T b)[:n]||`` is
    the share of ``b`` in range(A) to rounding, at any condition number."""
    A = np.array(np.swapaxes(A, 1, 2), dtype=float)  # (K, n, m): columns contiguous
    b = np.array(b, dtype=float)
    n = A.shape[1]
    for j in range(n):
        x = A[:, j, j:]
        alpha = -np.where(x[:, 0] < 0.0, -1.0, 1.0) * np.sqrt(np.einsum("km,km->k", x, x))
        v = x.copy()
        v[:, 0] -= alpha
        vv = np.einsum("km,km->k", v, v)
        beta = np.where(vv > 0.0, 2.0 / np.where(vv > 0.0, vv, 1.0), 0.0)
        rest = A[:, j:, j:]
        rest -= (np.einsum("km,kcm->kc", v, rest) * beta[:, None])[:, :, None] * v[:, None, :]
        b[:, j:] -= (beta * np.einsum("km,km->k", v, b[:, j:]))[:, None] * v
    return np.triu(np.swapaxes(A[:, :, :n], 1, 2)), b[:, :n]


def _condition(R):
    """Condition numbers of the triangular ``R`` (K, n, n): ``||R||_F ||R^-1||_F``, at
    most n times the 2-norm condition number, replaced by the singular values' ratio where
    that factor could move it across ``CONDITION_LIMIT``."""
    K, n, _ = R.shape
    inv = np.zeros_like(R)
    with np.errstate(all="ignore"):
        for i in range(n - 1, -1, -1):  # back substitution, R^-1 upper triangular
            inv[:, i, i] = 1.0 / R[:, i, i]
            for j in range(i + 1, n):
                inv[:, i, j] = -np.einsum("kc,kc->k", R[:, i, i + 1 : j + 1],
                                          inv[:, i + 1 : j + 1, j]) / R[:, i, i]
        cond = np.linalg.norm(R, axis=(1, 2)) * np.linalg.norm(inv, axis=(1, 2))
    cond = np.where(np.isfinite(cond), cond, np.inf)
    unsure = np.flatnonzero((cond > CONDITION_LIMIT) & (cond <= n * CONDITION_LIMIT))
    if unsure.size:
        try:
            s = np.linalg.svd(R[unsure], compute_uv=False)
        except np.linalg.LinAlgError:  # keep the bound: refused, as the SVD cannot tell
            return cond
        with np.errstate(divide="ignore"):
            cond[unsure] = np.where(s[:, -1] > 0.0, s[:, 0] / s[:, -1], np.inf)
    return cond


def _norms(a):
    """Euclidean norms along axis 1, free of under- and overflow (rescaled where the
    plain sum of squares leaves the safe range)."""
    with np.errstate(all="ignore"):
        out = np.sqrt(np.sum(a * a, axis=1))
        bad = np.flatnonzero(~((out > 1e-150) & (out < 1e150)).reshape(a.shape[0], -1).all(1))
        if bad.size:
            big = np.max(np.abs(a[bad]), axis=1, keepdims=True)
            big = np.where(big > 0.0, big, 1.0)
            out[bad] = np.squeeze(big, 1) * np.sqrt(np.sum((a[bad] / big) ** 2, axis=1))
    return out


def _residuals_and_jacobian(bm, X, Y, W, p, idx):
    """Weighted residuals (K, m) and Jacobian (K, m, n) of the curves ``idx``."""
    Xk = X if X.shape[0] == 1 else X[idx]
    Wk = W if W.shape[0] == 1 else W[idx]
    with np.errstate(all="ignore"):
        f, J = model_and_jacobian(bm, Xk, p[idx])
        if bm.noise == "poisson":  # deviance residuals of counts (._poisson)
            from ._poisson_residuals import deviance_and_jacobian

            return deviance_and_jacobian(f, J, Y[idx], np.broadcast_to(Wk, f.shape))
        return (f - Y[idx]) * Wk, J * Wk[:, :, None]


def _certify_curve(J, r, x0, p, F, code, share, condition, tol, i):
    """Curve ``i`` (its weighted ``J`` and ``r``) through
    :func:`trustfit.stopping.certify` itself."""
    try:
        reason, value = stopping.certify(J, r, float(F[i]), p[i], x0[i],
                                         float(tol[code[i]]))
    except np.linalg.LinAlgError:
        reason, value = StopReason.DEGENERATE, math.inf
    _record(code, share, condition, i, reason, value)


def _record(code, share, condition, i, reason, value):
    if reason is None:
        share[i] = value
    elif reason is StopReason.STALLED:
        code[i] = STALLED_CODE
        share[i] = value
    else:
        code[i] = DEGENERATE_CODE
        condition[i] = value


_JACOBIANS: dict = {}


def model_and_jacobian(bm, X, P):
    """The model ``(K, m)`` and its Jacobian ``(K, m, n)`` at the parameters ``P`` (K, n),
    ``X`` (1 or K, k, m): the symbolic derivatives (lambdified, as the compiled kernel's
    come from sympy) or, for a plain callable, the numpy fallback's (its ``jac`` or a
    forward difference)."""
    K = P.shape[0]
    m = X.shape[2]
    if not bm.symbolic or bm.jac_func is not None:  # numpy functions (no sympy needed)
        from ._fallback import _model_and_jac

        f, J = _model_and_jac(bm, X[:, 0, :], P)
        return np.broadcast_to(f, (K, m)), np.broadcast_to(J, (K, m, P.shape[1]))
    fns = _lambdified(bm)
    xs = [X[:, c, :] for c in range(X.shape[1])]
    cols = [P[:, j : j + 1] for j in range(P.shape[1])]
    f = np.broadcast_to(np.asarray(fns[0](*xs, *cols), dtype=float), (K, m))
    J = np.empty((K, m, P.shape[1]))
    for j, d in enumerate(fns[1:]):
        J[:, :, j] = np.broadcast_to(np.asarray(d(*xs, *cols), dtype=float), (K, m))
    return f, J


def _lambdified(bm):
    from ._codegen import model_key

    key = model_key(bm)
    fns = _JACOBIANS.get(key)
    if fns is None:
        import sympy

        args = list(bm.independent_symbols) + list(bm.param_symbols)
        exprs = [bm.expr] + [_derivative(bm.expr, p) for p in bm.param_symbols]
        fns = [sympy.lambdify(args, e, ["scipy", "numpy"]) for e in exprs]
        _JACOBIANS[key] = fns
    return fns


def _derivative(expr, p):
    """``d expr / d p`` as the kernels form it (finite at the edges of the domain where
    :mod:`trustfit.models._edges` is available)."""
    try:
        from trustfit.models._edges import edge_safe_diff
    except ImportError:
        import sympy

        return sympy.diff(expr, p)
    return edge_safe_diff(expr, p)
