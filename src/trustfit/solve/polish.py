"""Final polish: Gauss-Newton steps accepted on the gradient, not on the cost.

Every convergence test that compares costs is limited by the rounding noise of ``F``: near a
minimum ``F(x + h) - F(x) ~ 1/2 h^T J^T J h``, so cost differences lose half the digits and a
trust-region method stops (or keeps rejecting noise) with ``x`` correct to about
``sqrt(eps)`` relative in the flat directions. NIST's ENSO and Bennett5 stop near LRE 6.5 that
way in every solver. The Gauss-Newton step ``h = -J^+ r`` is computed from ``J^T r``, which is
accurate to rounding in ``r`` itself, so Newton's iteration on the gradient equation keeps
converging where the cost has stopped telling.

A phase of a method (:func:`polish_phase`, given to :func:`trustfit.core.loop.run` by
:mod:`trustfit.solve.methods`), not of the loop. After a converged stop, take Gauss-Newton steps while they shrink (by a factor 0.9 at least:
the signature of convergence; where Gauss-Newton diverges, it stops at once) and the cost does
not rise above its rounding level; keep the last point whose step shrank. Each polish step
costs one residual and one Jacobian evaluation, within ``max_nfev``: with no residual
evaluation left in the budget there is no polish step. On small-residual problems Gauss-Newton
converges quadratically and one or two steps reach rounding level; on large-residual ones
(ENSO: rate about 0.64) it converges linearly and takes more, which is why the cap is 30.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core import linalg, stopping
from ..core.problem import ProblemLike
from ..core.loop import LoopState, recyclable_jacobian
from ..core.result import IterationRecord
from ..core.vocabulary import Iterate, Trial

EPS = np.finfo(float).eps
MAX_POLISH_STEPS = 30
SHRINK = 0.9       # a step must shrink by this factor for the iteration to count as converging
COST_NOISE = 1e-10  # relative rise of F treated as rounding noise, not as an uphill step
#: Relative offset of the stationary point below which the polish adds no digit worth its
#: evaluations (:func:`polish_adds_digits`, :func:`_at_rounding`): NIST StRD certifies 11
#: digits, and a step of 1e-12 leaves them unchanged.
DIGITS_TARGET = 1e-12


def _gauss_newton_step(it: Iterate) -> np.ndarray:
    """The Gauss-Newton step from ``it``. Its factorization stays with the iterate for the
    certificate: a tall Jacobian's keeps only ``n``-sized factors
    (:func:`trustfit.core.linalg.equilibrate`), so keeping it costs no m x n array."""
    return it.unscale(it.svd.gauss_newton())


def _at_rounding(it: Iterate, h: np.ndarray) -> bool:
    """The polish's stop: ``|h_j| <= DIGITS_TARGET (|x_j| + ||c x|| / c_j)`` in every
    parameter (c: column norms; ``||c x|| / c_j`` is the size of the model's terms in
    ``x_j``'s units): a step below it changes no digit worth an evaluation. Slowly converging
    (large-residual) problems such as NIST ENSO then stop after the digits that count instead
    of running the 30 steps to ``eps``."""
    return bool(np.all(np.abs(h) <= DIGITS_TARGET * (
        np.abs(it.x) + stopping.step_floor(it.J, it.x, it.norms))))


def jacobian_error_offset(it: Iterate, noise: float) -> float:
    """How far a Jacobian of relative accuracy ``noise`` can move the Gauss-Newton stationary
    point, relative to the model's size: ``noise ||r|| / s_min^2`` over ``||c x||``, with
    ``s_min`` the smallest singular value the step uses of the column-equilibrated Jacobian
    and ``c`` the column norms (the first-order perturbation of ``(E^T E)^{-1} E^T r`` by a
    relative error ``noise`` in ``E``; Golub & Van Loan, sec. 5.3.8). A ratio of quantities
    that scale alike: free of the units of the data and of the parameters."""
    _, s, _, c = it.equilibrated
    if s.size == 0 or s[0] == 0.0:
        return 0.0
    kept = s[s > it.svd.rcond * s[0]]
    size = linalg.norm2(c * np.asarray(it.x)[it.free])
    if kept.size == 0 or size == 0.0:
        return 0.0
    return noise * linalg.norm2(it.f) / (float(kept[-1]) ** 2 * size)


def polish_adds_digits(problem: ProblemLike, it: Iterate) -> tuple[bool, np.ndarray]:
    """Whether the polish can add digits at the loop's final point, measured there at no
    cost in evaluations: the Gauss-Newton step from the Jacobian in hand is not yet at
    rounding level (:func:`_at_rounding`: the loop stopped before the model's minimum), or
    the Jacobian is by forward differences and its error ``sqrt(eps)`` can move the
    stationary point by more than ``DIGITS_TARGET`` (:func:`jacobian_error_offset`; NIST
    certifies 11 digits). Returns the answer and the step."""
    h = it.unscale(it.svd.gauss_newton())
    if not np.all(np.isfinite(h)):
        return False, h
    if not _at_rounding(it, h):
        return True, h
    return (problem.refinable
            and jacobian_error_offset(it, stopping.jacobian_noise("2-point")) > DIGITS_TARGET), h


def polish(problem: ProblemLike, it: Iterate, make_iterate: Callable[..., Iterate],
           first_iteration: int) -> tuple[Iterate, list[IterationRecord], bool]:
    """The polished iterate, its records, and whether it replaced ``it`` (the caller hands
    ``it`` over and keeps no reference: with m = 1e6 the loop's last Jacobian then goes as
    soon as the refined one replaces it, two Jacobians alive in a polish step, not three)."""
    records: list[IterationRecord] = []
    needed, _ = polish_adds_digits(problem, it)
    if not needed:
        return it, records, False
    replaced = False
    if problem.refinable:
        # The forward differences at this point are replaced by the refined ones: written
        # into the same array (m = 1e6: one Jacobian less), and computed again there should
        # the refined ones not be finite.
        spare = recyclable_jacobian(it, True)
        J = (problem.jacobian(it.x, it.f, refined=True) if spare is None
             else problem.jacobian(it.x, it.f, refined=True, out=spare))
        if not np.isfinite(J).all():
            if J is spare:
                problem.jacobian(it.x, it.f, out=spare)
            return it, records, False
        it, replaced = make_iterate(it.x, it.f, J), True
        del J, spare
    h = _gauss_newton_step(it)
    h_norm = float(np.linalg.norm(it.D * h))
    for k in range(MAX_POLISH_STEPS):
        # At rounding level in every parameter: |h_j| <= eps (|x_j| + ||c x|| / c_j), the
        # rounding of x_j itself or of the model's terms in x_j's units (c: column norms).
        if not np.isfinite(h_norm) or _at_rounding(it, h):
            break
        if problem.budget_left == 0:
            break
        x_new = np.clip(it.x + h, it.lb, it.ub) if it.bounded else it.x + h
        trial = Trial(problem, x_new, refined=True)
        if not trial.finite or trial.cost > it.cost * (1.0 + COST_NOISE):
            break
        J_new = trial.jacobian()
        if not np.isfinite(J_new).all():
            break
        cand = make_iterate(trial.x, trial.f, J_new)
        h_cand = _gauss_newton_step(cand)
        h_cand_norm = float(np.linalg.norm(cand.D * h_cand))
        # Converging: the step shrank by SHRINK, or it shrank at all while the cost fell (the
        # first Gauss-Newton steps may contract slowly before the asymptotic rate sets in).
        accepted = h_cand_norm <= SHRINK * h_norm or (h_cand_norm < h_norm
                                                      and trial.cost < it.cost)
        records.append(IterationRecord(
            iteration=first_iteration + k + 1, x=(cand if accepted else it).x.copy(),
            cost=(cand if accepted else it).cost, grad_norm=(cand if accepted else it).grad_norm,
            step_norm=float(np.linalg.norm(x_new - it.x)), step_kind="GN", accepted=accepted,
            nfev=problem.nfev, note="polish"))
        if not accepted:
            break
        it, h, h_norm, replaced = cand, h_cand, h_cand_norm, True
        del trial, J_new, cand
    return it, records, replaced


def _handed_over(state: LoopState) -> Iterate:
    """The state's iterate, no longer referenced by the state (see :func:`polish`)."""
    it = state.it
    state.it = None  # type: ignore[assignment]  # until polish_phase sets the polished one
    return it


def polish_phase(state: LoopState) -> None:
    """The polish as a phase after the loop: after a converged stop, polish the final iterate
    and append its records to the history (in the user's units, printed and passed to the
    callback like the loop's own). With forward differences the polished point's Jacobian
    is the refined 5-point one (``state.refined``)."""
    if not state.reason.converged:
        return
    state.it, polished, replaced = polish(state.problem, _handed_over(state),
                                          state.make_iterate, state.nit)
    state.refined = state.problem.refinable and replaced
    records = [state.in_user_units(record) for record in polished]
    state.history.extend(records)
    state.nit += len(records)
    for record in records:
        state.announce(record)
