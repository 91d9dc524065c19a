"""Levenberg-Marquardt on one curve (Madsen, Nielsen & Tingleff, Algorithm 3.16).

See :mod:`._kernel` for the algorithm; the model's evaluation (``_eval``, ``_accept``) comes
from the method's module (:mod:`._kernel_shared`, :mod:`._kernel_varpro`), the damped step
from the generated code (``_step``: :mod:`._kernel_model`, or through the workspace's function
pointer in the solver shared by every model, :mod:`._kernel_shared`).
"""

import math

from trustfit.steps.lm_rules import (
    cost_converged,
    damping_start,
    gain_accepted,
    nielsen_accept,
    nielsen_reject,
    scale_start,
    scale_update,
)

from ._kernel_bind import kernel
from ._kernel_rules import _exhausted, _gradient_small, _step_small
from ._kernel_slots import MORE_SCALING, PREDICTED_STOP, _accept, _eval, _step


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy")
def _lm_one(x, Xp, Yp, Wp, lb, ub, bounded, maxiter, gtol, xtol, ftol, tau, ws):
    # Levenberg-Marquardt (Madsen, Nielsen & Tingleff, Algorithm 3.16) on x, whose
    # cost, normal matrix A and gradient g come from _eval (see the module docstring).
    # Damped with Moré's scaling S = D^2 (the workspace's last slot; lm_rules), mu
    # relative to the scaled normal matrix (diagonal 1 at the start); S = 1 without it.
    D = x.shape[0]
    A, g, At, gt, h, xt, S = ws[0], ws[1], ws[2], ws[3], ws[4], ws[5], ws[-1]
    F = _eval(x, Xp, Yp, Wp, ws, False)
    if not math.isfinite(F):
        return F, 0, 6
    dmax = 0.0
    for a in range(D):
        S[a] = scale_start(A[a, a]) if MORE_SCALING else 1.0
        dmax = max(dmax, A[a, a] / S[a])
    if _gradient_small(A, g, F, gtol):
        return F, 0, 1
    mu = damping_start(tau, dmax)
    nu = 2.0
    nit = 0
    while nit < maxiter:
        nit += 1
        if not _step(A, g, mu, S, h, ws):
            mu, nu = nielsen_reject(mu, nu)
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
            if _step(A, g, 0.0, S, gt, ws):
                gn = 0.0
                for a in range(D):
                    gn -= 0.5 * g[a] * gt[a]
                if gn <= ftol * F:
                    return F, nit, 3
        Ft = _eval(xt, Xp, Yp, Wp, ws, True)
        small = cost_converged(F, Ft, pred, ftol)
        if gain_accepted(F, Ft, pred):
            rho = (F - Ft) / pred
            for a in range(D):
                x[a] = xt[a]
                g[a] = gt[a]
                for b in range(D):
                    A[a, b] = At[a, b]
                if MORE_SCALING:
                    S[a] = scale_update(S[a], A[a, a])
            _accept(ws)
            F = Ft
            if small:
                return F, nit, 3
            if _gradient_small(A, g, F, gtol):
                return F, nit, 1
            mu = nielsen_accept(mu, rho)
            nu = 2.0
        elif small:
            return F, nit, 3
        else:
            mu, nu = nielsen_reject(mu, nu)
            if _exhausted(mu, A):
                return F, nit, 7
    return F, nit, 4
