"""The passes after the main fit of a chunk: the polish of near-exact fits stopped short
(:func:`polish_pass`) and the rescue of stalled curves and of certified curves with an
undetermined parameter (:func:`rescue_pass`, starts from :mod:`._rescue`).  Both refit a subset of the chunk with :func:`._pass.fit_pass`, certify
the refits with the user's tolerances and replace a curve only where its cost is lower."""

from __future__ import annotations

import dataclasses

import numpy as np

from ._certify import STALLED_CODE
from ._pass import KEYS, alloc, certify_pass, fit_pass

RESCUE_TIGHTEN = 1e-2
#: The polish's xtol and ftol (:func:`polish_pass`): 8 eps, far below the exact-fit rule's
#: 2048 eps (:func:`trustfit.core.stopping.certify`).
POLISH_TOL = 8.0 * float(np.finfo(float).eps)


def rescue_pass(spec, X, Y, W, P0, res, rescued):
    """Refit the stalled curves of a chunk, and its certified curves with an undetermined
    parameter, in place (see :mod:`._rescue`); ``res``: the chunk's arrays of ``KEYS``."""
    from . import _rescue

    p, F, nit, reason, se, rcond, gn = res[:7]
    N, n = p.shape
    syms = _rescue.find_symmetries(spec.bm)
    full, short, split = _rescue.candidates(p, reason, rcond, gn, syms, spec.ftol,
                                            varpro=spec.method == "varpro")
    # certified curves with an undetermined parameter: maybe a higher local minimum
    free = _started_parameters(spec)
    und = _rescue.undetermined(p, se, reason, free)
    # Every candidate gets every start of _rescue.starts (measured on the bench's exp2
    # data, a plain restart from the end point alone for the curves that only stopped
    # short leaves 30 of 20,000 curves off the optimum instead of 17), except those
    # picked for their merged pairs only (``split``): the starts that split the pairs;
    # and the undetermined ones: the two that move their least determined parameter.
    cf = np.nonzero(full | short | split | und)[0]
    if not cf.size:
        return
    p_start = np.broadcast_to(P0, (N, n))[cf]
    S = _rescue.starts(p[cf], p_start, syms)  # (starts, curves, n)
    n_usual = S.shape[0]
    ue = np.flatnonzero(und[cf])
    E, has = _rescue.explore_starts(spec.bm, X if X.shape[0] == 1 else X[cf[ue]], Y[cf[ue]],
                                    W if W.shape[0] == 1 else W[cf[ue]], p[cf[ue]], F[cf[ue]],
                                    free)
    explore = np.repeat(p[cf][None], 2, axis=0)
    explore[:, ue] = E
    S = np.concatenate([S, explore])
    use = np.ones(S.shape[:2], dtype=bool)
    use[:_rescue.n_split_starts(syms)] = (full | short | split)[cf]
    use[_rescue.n_split_starts(syms):n_usual] = (full | short)[cf]
    use[n_usual:] = False
    use[n_usual:, ue[has]] = True
    owner = np.broadcast_to(cf, S.shape[:2])[use]
    P0r = S[use]
    if spec.bounded:
        P0r = np.clip(P0r, spec.LB, spec.UB)
    Xr = X if X.shape[0] == 1 else X[owner]
    Wr = W if W.shape[0] == 1 else W[owner]
    # rescue fits: same method, ftol and xtol 100x tighter so that a restart in a flat
    # valley does not stop short again
    # (the certificate keeps the user's tolerances)
    rspec = dataclasses.replace(spec, ftol=spec.ftol * RESCUE_TIGHTEN,
                                xtol=spec.xtol * RESCUE_TIGHTEN, user_tol=spec.certify_tol)
    Yr, P0r = np.ascontiguousarray(Y[owner]), np.ascontiguousarray(P0r)
    refit = tuple(alloc(owner.size, n)[k] for k in KEYS)
    stats = fit_pass(rspec, Xr, Yr, Wr, P0r, refit)
    rF, rnit = refit[1], refit[2]
    cost = np.where(np.isfinite(rF), rF, np.inf)
    # best refit per curve: lowest cost, first in start order on ties (deterministic)
    order = np.lexsort((np.arange(owner.size), cost, owner))
    first = np.r_[True, owner[order][1:] != owner[order][:-1]]
    src = order[first]
    ci = owner[src]
    bF = cost[src]
    old = np.where(np.isfinite(F[ci]), F[ci], np.inf)
    better = bF < old * (1.0 - 1e-12)
    # flagged as rescued only when the gain matters: beyond the 1e-6 relative "at the
    # optimum" tolerance and above 1e-12 of the data's own sum of squares (noise-free
    # curves); smaller gains are kept without the flag
    Wc = W if W.shape[0] == 1 else W[ci]
    ysc = 0.5 * np.einsum("ij,ij->i", Y[ci] * Wc, Y[ci] * Wc)
    rescued[ci] = (old - bF) > 1e-6 * old + 1e-12 * ysc
    src, tgt = src[better], ci[better]
    # only the refits that replace a curve are certified
    best = tuple(a[src] for a in refit)
    certify_pass(rspec, Xr if Xr.shape[0] == 1 else Xr[src], Yr[src],
             Wr if Wr.shape[0] == 1 else Wr[src], P0r[src], best, stats[src])
    total = nit[tgt] + rnit[src]
    for mine, theirs in zip(res, best):
        mine[tgt] = theirs
    nit[tgt] = total


def _started_parameters(spec):
    """The parameters whose starts the fit uses: all for ``'lm'``, the nonlinear ones for
    variable projection (the linear ones are solved for at every step)."""
    if spec.method == "varpro":
        from ._codegen import varpro_layout

        return varpro_layout(spec.bm)[0]
    return range(spec.bm.n_params)


def polish_pass(spec, X, Y, W, P0, res):
    """Continue, from its end point with xtol = ftol = ``POLISH_TOL``, every curve that the
    certificate refused on its share (``STALLED``) while a Gauss-Newton step would remove
    most of its cost (``gn_gain`` = share^2 > 1/2); keep the continuation where its cost
    is lower, certified with the user's tolerances (the certificate is unchanged).

    Why: on a (near) zero-residual curve, ``r ~ J (x - x*)`` and the step test
    ``|h_j| <= xtol |x_j|`` fires at ``||r|| ~ xtol || |J| |x| ||``, still far above the
    rounding floor where the exact-fit rule certifies (``2048 eps`` of it, the single
    fit's rule, :func:`trustfit.core.stopping.certify`), and the residual is all in
    range(J) (share 1).  A step test is a valid stop only where the model predicts no
    significant gain; with ``POLISH_TOL`` below the rule's ``2048 eps`` the continuation
    stops at the floor (a few Gauss-Newton steps, quadratic convergence).  A curve whose
    residual is mostly noise (share^2 <= 1/2) is not touched: noisy data are unaffected.
    Ratios only (share, relative steps and costs): invariant to the scales."""
    p, F, nit, reason, gn = res[0], res[1], res[2], res[3], res[6]
    with np.errstate(invalid="ignore"):
        idx = np.flatnonzero((reason == STALLED_CODE) & (gn > 0.5))
    if not idx.size:
        return
    rows = lambda A: A if A.shape[0] == 1 else A[idx]  # noqa: E731
    pspec = dataclasses.replace(spec, ftol=POLISH_TOL, xtol=POLISH_TOL,
                                user_tol=spec.certify_tol)
    polished = tuple(alloc(idx.size, p.shape[1])[k] for k in KEYS)
    stats = fit_pass(pspec, rows(X), Y[idx], rows(W), np.ascontiguousarray(p[idx]), polished)
    certify_pass(pspec, rows(X), Y[idx], rows(W), rows(P0), polished, stats)  # user's sizes
    better = polished[1] < np.where(np.isfinite(F[idx]), F[idx], np.inf)
    src, tgt = np.flatnonzero(better), idx[better]
    total = nit[tgt] + polished[2][src]
    for mine, theirs in zip(res, polished):
        mine[tgt] = theirs[src]
    nit[tgt] = total
