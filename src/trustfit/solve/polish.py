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

from ..core import stopping
from ..core.problem import Problem
from ..core.loop import LoopState
from ..core.result import IterationRecord
from ..core.vocabulary import Iterate, Trial

EPS = np.finfo(float).eps
MAX_POLISH_STEPS = 30
SHRINK = 0.9       # a step must shrink by this factor for the iteration to count as converging
COST_NOISE = 1e-10  # relative rise of F treated as rounding noise, not as an uphill step


def _gauss_newton_step(it: Iterate) -> np.ndarray:
    """The Gauss-Newton step from ``it``; then the iterate's cached scaled Jacobian and SVD
    (each m x n) are dropped, since the polish needs only the step (they are recomputed on
    demand should anything ask again). With m = 1e6 residuals this keeps the polish at two
    Jacobians alive instead of six."""
    h = it.unscale(it.svd.gauss_newton())
    for name in ("svd", "scaled_jacobian"):  # cached_property values live in __dict__
        it.__dict__.pop(name, None)
    return h


def polish(problem: Problem, it: Iterate, make_iterate: Callable[..., Iterate],
           first_iteration: int) -> tuple[Iterate, list[IterationRecord]]:
    records: list[IterationRecord] = []
    for name in ("svd", "scaled_jacobian"):  # the loop's last factorization is done with
        it.__dict__.pop(name, None)
    if problem.refinable:
        J = problem.jacobian(it.x, it.f, refined=True)
        if not np.all(np.isfinite(J)):
            return it, records
        it = make_iterate(it.x, it.f, J)
    h = _gauss_newton_step(it)
    h_norm = float(np.linalg.norm(it.D * h))
    for k in range(MAX_POLISH_STEPS):
        # At rounding level in every parameter: |h_j| <= eps (|x_j| + ||c x|| / c_j), the
        # rounding of x_j itself or of the model's terms in x_j's units (c: column norms).
        if not np.isfinite(h_norm) or np.all(
                np.abs(h) <= EPS * (np.abs(it.x) + stopping.step_floor(it.J, it.x))):
            break
        if problem.budget_left == 0:
            break
        x_new = np.clip(it.x + h, it.lb, it.ub)
        trial = Trial(problem, x_new, refined=True)
        if not trial.finite or trial.cost > it.cost * (1.0 + COST_NOISE):
            break
        J_new = trial.jacobian()
        if not np.all(np.isfinite(J_new)):
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
        it, h, h_norm = cand, h_cand, h_cand_norm
    return it, records


def polish_phase(state: LoopState) -> None:
    """The polish as a phase after the loop: after a converged stop, polish the final iterate
    and append its records to the history (in the user's units, printed and passed to the
    callback like the loop's own). With forward differences the polished point's Jacobian
    is the refined 5-point one (``state.refined``)."""
    if not state.reason.converged:
        return
    before = state.it
    state.it, polished = polish(state.problem, state.it, state.make_iterate, state.nit)
    state.refined = state.problem.refinable and state.it is not before
    records = [state.in_user_units(record) for record in polished]
    state.history.extend(records)
    state.nit += len(records)
    for record in records:
        state.announce(record)
