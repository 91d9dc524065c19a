"""The one driver loop: evaluate -> propose -> accept/reject -> stop?

Every method runs through :func:`run`; a method is a step strategy (what step to propose, with
its model, damping or radius) plus a globalization (how to accept it). The loop itself knows no
method's rules. Phases that follow the loop (the Gauss-Newton polish of
:mod:`trustfit.solve.polish`) are given to :func:`run` by the code that builds the method; they
see the loop's final :class:`LoopState` and run before the converged point is certified. Stopping tests are pure functions from :mod:`trustfit.core.stopping`, tried in this
order each iteration: gradient, budgets, step size (on the proposed step, as in Madsen, Nielsen
& Tingleff 2004), then cost reduction after an accepted step.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import iterative_certificate as certificate, stopping
from .events import IterativeCertificate, StopTestFired
from .problem import ProblemLike
from .quiet import quiet
from .result import EventRecord, FitResult, IterationRecord, StopReason
from .linalg import LARGE, column_norms
from .scaling import ResidualScale, Scaling, ScaledProblem
from .sparse_linalg import all_finite
from .vocabulary import Iterate, Outcome, StepStrategy, Trial


@dataclass(frozen=True)
class LoopOptions:
    ftol: float | None
    xtol: float | None
    gtol: float | None
    max_nfev: int | None
    max_iter: int | None
    x_scale: str | np.ndarray
    rounding: float = 0.0
    polish: bool = False
    verbose: int = 0
    callback: Callable | None = None


def _callback_wants_result(callback: Callable) -> bool:
    """SciPy's convention: a parameter named ``intermediate_result`` gets an OptimizeResult,
    anything else gets ``x``."""
    try:
        return "intermediate_result" in inspect.signature(callback).parameters
    except (TypeError, ValueError):
        return False


def _active_mask(x: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
    mask = np.zeros(x.size, dtype=int)
    mask[x <= lb] = -1
    mask[x >= ub] = 1
    return mask


def _jacobian_kind(problem: ProblemLike, refined: bool) -> str:
    """How the problem's Jacobian is computed ('exact' for a callable), for its accuracy
    (:func:`trustfit.core.stopping.jacobian_noise`); ``refined``: the polish's 5-point one."""
    jac = getattr(problem, "_jac", None)
    if not isinstance(jac, str):
        return "exact"
    return "5-point" if refined and problem.refinable else jac


def _in_user_units(record: IterationRecord, scale: ResidualScale) -> IterationRecord:
    """A record made inside the solver's residual units, with cost and gradient scaled back."""
    return dataclasses.replace(record, cost=scale.up2(record.cost),
                               grad_norm=scale.up2(record.grad_norm))


def _norm(v: np.ndarray) -> float:
    """``np.linalg.norm`` of a vector, the same number (``sqrt(v . v)``) without its checks."""
    return math.sqrt(float(v @ v))


def _print_header() -> None:
    print(f"{'iter':>5} {'cost':>14} {'|g|inf':>10} {'step':>10} {'kind':>6} {'ok':>3}  x")


def _print_record(rec: IterationRecord) -> None:
    x = np.array2string(rec.x, precision=5, separator=", ", max_line_width=200)
    print(f"{rec.iteration:5d} {rec.cost:14.7e} {rec.grad_norm:10.3e} {rec.step_norm:10.3e} "
          f"{rec.step_kind:>6} {'y' if rec.accepted else 'n':>3}  {x}")


def _notify(callback: Callable | None, wants_result: bool, it: Iterate,
            record: IterationRecord, scale: ResidualScale) -> bool:
    """Call the user's callback after an iteration; True when it asks to stop."""
    if callback is None:
        return False
    if wants_result:  # imported here: scipy.optimize adds a second to import trustfit
        from scipy.optimize import OptimizeResult
    arg = (OptimizeResult(x=record.x.copy(), cost=record.cost, fun=scale.up(it.f),
                          nit=record.iteration, nfev=record.nfev, grad=scale.up2(it.g),
                          optimality=record.grad_norm, step_kind=record.step_kind)
           if wants_result else record.x.copy())
    try:
        return callback(arg) is True
    except StopIteration:
        return True


@dataclass
class LoopState:
    """Where the loop stopped, in the solver's residual units, for the phases after it."""

    problem: ScaledProblem
    scale: ResidualScale
    x0: np.ndarray
    options: LoopOptions
    make_iterate: Callable[[np.ndarray, np.ndarray, np.ndarray], Iterate]
    it: Iterate
    nit: int
    history: list[IterationRecord]
    reason: StopReason
    value: float
    wants_result: bool
    #: the final Jacobian is the refined (5-point) one of a phase
    refined: bool = False

    def in_user_units(self, record: IterationRecord) -> IterationRecord:
        return _in_user_units(record, self.scale)

    def announce(self, record: IterationRecord) -> None:
        """Print a phase's record (``verbose=2``) and pass it to the callback. Already stopped:
        a request to stop from the callback changes nothing here, and the residuals passed
        along are those of the current point."""
        if self.options.verbose >= 2:
            _print_record(record)
        _notify(self.options.callback, self.wants_result, self.it, record, self.scale)


def run(problem: ProblemLike, x0: np.ndarray, strategy: StepStrategy, globalization, method: str,
        options: LoopOptions, phases: Sequence[Callable[[LoopState], None]] = ()) -> FitResult:
    """Run the loop, then each of ``phases`` on its final state, then certify and build the
    result. Floating-point warnings are off inside it: an overflow at a wild trial point is a
    rejected step, detected by explicit finiteness checks, never a RuntimeWarning."""
    with quiet():
        state = _iterate(problem, x0, strategy, globalization, options)
        for phase in phases:
            phase(state)
        return _finish(state, method)


def _iterate(problem: ProblemLike, x0: np.ndarray, strategy: StepStrategy, globalization,
             options: LoopOptions) -> LoopState:
    f0, J0 = problem.start(x0)  # NonFiniteStart (a ValueError) where nothing is finite

    # The solver works on residuals divided by a power of two fixed here (exact arithmetic);
    # every reported number is scaled back (trustfit.core.scaling.ResidualScale).
    scale = ResidualScale(f0)
    problem = ScaledProblem(problem, scale)
    own = isinstance(getattr(problem, "_jac", None), str)  # differences: trustfit's array
    f0 = scale.down(f0)
    own = own and isinstance(J0, np.ndarray)  # a sparse pattern's matrix is scaled as data
    J0 = np.ldexp(J0, -scale.exponent, out=J0) if own else scale.down(J0)  # exact either way
    noise = stopping.jacobian_noise(_jacobian_kind(problem, refined=False))
    scaling = Scaling(options.x_scale, x0.size)

    bounded = bool(np.any(np.isfinite(problem.lb)) or np.any(np.isfinite(problem.ub)))

    def make_iterate(x, f, J) -> Iterate:
        norms = column_norms(J)  # once per iterate: scaling, tests, factorization, certificate
        return Iterate(x, f, J, scaling.update(J, norms), problem.lb, problem.ub, noise, norms,
                       bounded)

    it = make_iterate(x0, f0, J0)
    del f0, J0  # the iterate holds them; a local would keep J0 alive for the whole loop
    strategy.start(it)
    history: list[IterationRecord] = []
    wants_result = options.callback is not None and _callback_wants_result(options.callback)
    if options.verbose >= 2:
        _print_header()

    nit = 0
    reason: StopReason | None = None
    value = math.nan
    while True:
        reason, value = stopping.gradient_test(it.gradient_measure, options.gtol)
        if reason is None:
            reason, value = stopping.budget_test(problem.nfev, options.max_nfev, nit,
                                                 options.max_iter)
        if reason is not None:
            break
        mu, radius = strategy.mu, strategy.radius
        step = strategy.propose(it, problem)
        if not np.isfinite(step.h).all():
            reason, value = StopReason.NO_PROGRESS, mu if math.isfinite(mu) else radius
            break
        # Per parameter: a 2 % change of a parameter of size 1e-4 must not look small beside
        # one of size 500, nor a change of the signal beside a baseline of 1e9.
        reason, value = stopping.step_test(step.h, it.x, options.xtol,
                                           stopping.step_floor(it.J, it.x, it.norms))
        if reason is not None:
            break

        nit += 1
        outcome: Outcome = globalization.try_step(problem, it, step)
        trial: Trial = outcome.trial
        if outcome.accepted:
            spare = recyclable_jacobian(it, own and not strategy.needs_trial_jacobian)
            J_new = trial.jacobian(out=spare)
            if not all_finite(J_new):
                outcome.accepted = False
                outcome.note = "non-finite Jacobian at the trial point"
                if J_new is spare:  # the same differences again, bit for bit
                    problem.jacobian(it.x, it.f, out=spare)
            del J_new, spare
        elif strategy.needs_trial_jacobian and trial.finite:
            trial.jacobian()
        strategy.update(it, step, outcome)

        predicted = outcome.predicted
        if outcome.line_search_failed:
            # No length decreased the cost: at rounding level when even the full step's
            # model gain is below it (nothing was gained: actual reduction 0).
            gain = step.model.predicted_reduction(step.h)
            cost_reason, cost_value = stopping.rounding_test(0.0, gain, it.cost,
                                                             options.rounding)
            if (cost_reason is None and options.rounding
                    and certificate.certify(it.free_jacobian, it.f, it.cost, it.x[it.free],
                                            x0[it.free], noise=noise, norms=it.free_norms,
                                            factors=it.certificate_factors)[0] is None):
                # A stationary, well-determined point: the failure is rounding in F, not a
                # bad direction (Gauss-Newton on Misra1a ends so).
                cost_reason, cost_value = StopReason.ROUNDING, gain / it.cost
        else:
            cost_reason, cost_value = stopping.cost_test(it.cost - trial.cost, predicted,
                                                         it.cost, options.ftol)
            if cost_reason is None:
                cost_reason, cost_value = stopping.rounding_test(
                    it.cost - trial.cost, predicted, it.cost, options.rounding)
        if outcome.accepted:
            it = make_iterate(trial.x, trial.f, trial.J)

        record = IterationRecord(
            iteration=nit, x=it.x.copy(), cost=scale.up2(it.cost),
            grad_norm=scale.up2(it.grad_norm), step_norm=_norm(outcome.step),
            step_kind=step.kind, accepted=outcome.accepted,
            mu=mu if scaling.adaptive else scale.up2(mu),
            # a trust radius is in variables scaled by the Jacobian's column norms
            radius=scale.up(radius) if scaling.adaptive and strategy.name in ("dogleg", "tr")
            else radius, rho=outcome.rho, nfev=problem.nfev, note=outcome.note)
        history.append(record)
        if options.verbose >= 2:
            _print_record(record)

        if _notify(options.callback, wants_result, it, record, scale):
            reason, value = StopReason.CALLBACK, float(nit)
            break
        if cost_reason is not None:
            reason, value = cost_reason, cost_value
            break
        if outcome.line_search_failed:
            reason, value = StopReason.LINE_SEARCH_FAILED, record.step_norm
            break
        exhausted = strategy.exhausted()
        if exhausted is not None:
            reason, value = StopReason.NO_PROGRESS, exhausted
            break
        # The step's model and the trial refer to the previous iterate's Jacobian: let it go
        # before the next factorization (one m x n array less at the peak).
        del step, outcome, trial

    return LoopState(problem, scale, x0, options, make_iterate, it, nit, history, reason, value,
                     wants_result)


def recyclable_jacobian(it: Iterate, own: bool) -> np.ndarray | None:
    """The iterate's Jacobian as the array for the next one's finite differences, once its
    step is accepted: nothing reads it after that (the strategy's update uses ``D`` and the
    step; a strategy that needs both Jacobians, the hybrid, passes ``own=False``). At m = 1e6
    one m x n array less at the peak of every iteration. Only trustfit's own large
    differences (``own``) are recycled; should the new Jacobian come out non-finite, the
    step is refused and the old one computed again into the array (``n`` more evaluations
    in a rare case)."""
    J = it.J
    return J if own and isinstance(J, np.ndarray) and J.size > LARGE else None


def _user_jacobian(J: np.ndarray, problem, scale: ResidualScale) -> np.ndarray:
    """The final Jacobian in the user's units. Finite differences are trustfit's own array and
    the loop is over: scaled back in place (exact, a power of two), not copied once more. A
    user's Jacobian is copied (the user may hold it)."""
    if isinstance(getattr(problem, "_jac", None), str) and isinstance(J, np.ndarray):
        return np.ldexp(J, scale.exponent, out=J) if scale.exponent else J
    return scale.up(J)


def _finish(state: LoopState, method: str) -> FitResult:
    """Certify a converged stop (:func:`trustfit.core.stopping.certify`) and build the result
    in the user's units."""
    problem, scale, x0, options = state.problem, state.scale, state.x0, state.options
    make_iterate, it, nit, refined = state.make_iterate, state.it, state.nit, state.refined
    reason, value, history = state.reason, state.value, state.history
    events: list[EventRecord] = []
    if reason.converged:
        # Over the free variables: at an active bound the residual may keep a share along it.
        tolerance = {StopReason.GRADIENT: options.gtol, StopReason.STEP: options.xtol,
                     StopReason.COST: options.ftol}.get(reason) or 0.0
        verdict = certificate.certify(
            it.free_jacobian, it.f, it.cost, it.x[it.free], x0[it.free], tolerance,
            stopping.jacobian_noise(_jacobian_kind(problem, refined)), it.free_norms,
            it.certificate_factors)
        uncertified, measure = verdict
        if uncertified is not None and problem.refinable and not refined:
            # Forward differences know J to about sqrt(eps): the condition number and the
            # stationary share near their limits are then rounding. Confirm with the
            # fourth-order Jacobian before refusing (4 n evaluations, counted in nfev_fd).
            J_fine = problem.jacobian(it.x, it.f, refined=True)
            if all_finite(J_fine):
                it = make_iterate(it.x, it.f, J_fine)
                verdict = certificate.certify(
                    it.free_jacobian, it.f, it.cost, it.x[it.free], x0[it.free], tolerance,
                    stopping.jacobian_noise(_jacobian_kind(problem, True)), it.free_norms,
                    it.certificate_factors)
                uncertified, measure = verdict
        if verdict.note:  # a sparse or operator Jacobian: say how it was certified
            events.append(IterativeCertificate(verdict.note))
        if uncertified is not None:
            events.append(StopTestFired(reason, nit, value, uncertified))
            reason, value = uncertified, measure

    result = FitResult(
        x=it.x.copy(), cost=scale.up2(it.cost), fun=scale.up(it.f), jac=_user_jacobian(it.J,
                                                                                   problem, scale),
        grad=scale.up2(it.g), optimality=scale.up2(it.grad_norm), active_mask=_active_mask(it.x, problem.lb, problem.ub),
        nfev=problem.nfev, njev=problem.njev, nit=nit, method=method, stop_reason=reason,
        stop_value=value, history=tuple(history), nfev_fd=problem.nfev_fd, x0=x0.copy(),
        bounds=(problem.lb.copy(), problem.ub.copy()), events=tuple(events))
    if options.verbose >= 1:
        print(result.message)
        print(f"Function evaluations {result.nfev}, final cost {result.cost:.4e}, "
              f"first-order optimality {result.optimality:.2e}.")
    return result
