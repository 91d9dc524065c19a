"""Escape from stalls: restart from deterministic perturbed points when the diagnosis says the
run is stuck, keep the best, and say what was done.

A layer over "run the loop once": the driver loop is not touched. After a run,
:func:`rescue` looks at the result and restarts when one of these fires (see
:mod:`trustfit.analysis.diagnostics` for each cutoff):

* ``exchangeable_parameters``: Jacobian columns equal up to sign, a symmetric point where
  every Gauss-Newton-type method stalls (the textbook example from ``[0, 0, 0, 0]``);
* ``parameter_not_moved``: a zero Jacobian column, a parameter the fit cannot move, when
  that parameter moved from its start (a parameter that never moved and has a zero column
  is one the model does not use; restarting cannot help, the diagnosis reports it);
* no convergence: the stop reason is not a convergence test (budget used up, line search
  failed, no progress, ``STALLED``), or a convergence test fired where the point is not
  stationary (``not_stationary``). A callback stop is the caller's choice: it is never
  rescued and ends a rescue in progress. ``DEGENERATE`` (a test fired at a point where the
  parameters are not determined) is rescued only through the two findings above: a
  genuinely rank-deficient model is degenerate everywhere, and restarting cannot change
  that.

It does not fire on an exact fit, where the residual norm is at most ``EXACT_FIT = 1e-6``
times the norm of the linearised model's terms, ``|| |J| |x| ||`` (units of the residuals):
the cost is never negative, so nothing a restart finds could matter. This is what keeps a
converged fit of a genuinely rank-deficient model such as ``b0*b1*exp(-t)`` from being
restarted: it is reported by the diagnosis, not rescued.

The budgets ``max_nfev`` and ``max_iter`` bound all runs together: a restart gets what the
runs before it left, and there is no restart once less than ``10 (n + 1)`` evaluations or
fewer than ``n + 1`` iterations are left (so a run that used up a budget is not restarted).

Where the best run so far moved away from ``x0`` and ended with exchangeable parameters, the
second restart (``STALL_RESTART``) starts from that stalled point itself, with each exchangeable
pair ``(i, j)`` pushed
apart in opposite directions by ``STALL_PUSH * max(|x_i|, |x_j|) * U(0.5, 1.5)`` (the misfit
scale below where both are 0): the run has already found the scale of every parameter, only the
symmetry is left to break. Two exponentials that coalesced on the way (NIST MGH17 from its far
start, where the path to the coalescence depends on the last bits of the BLAS kernel) are
separated so, and the restart converges in a few iterations to the minimum on any kernel. It is
not the first restart because a stall far from the data's scale (the textbook example from
``[0, 0, 0, 0]`` ends with two growing exponentials of amplitudes +-230) is better left.

Every other restart ``k`` (at most ``MAX_RESTARTS = 4``) starts from the caller's ``x0`` with

* every parameter jittered by ``U(-1, 1) * a_k * f_k * s_i``, ``s_i = |x0_i|`` (1 where
  ``x0_i = 0``, the convention of the finite-difference steps), ``f = (0.3, 1, 0.1, 3)``,
  ``a_1 = 0.1`` then ``0.5``;
* each exchangeable pair ``(i, j)`` pushed apart in opposite directions by
  ``f_k * max(p_i, p_j) * U(0.5, 1.5)``, breaking the symmetry, where
  ``p_i = max(s_i, ||r|| / ||J_i||)`` and ``||r|| / ||J_i||`` (at the stalled point) is how far
  ``x_i`` must move to change the linearised model by as much as the misfit;
* the point clipped into the bounds.

A restart whose start gives non-finite residuals comes back rejected (infinite cost; the
start was trustfit's choice, not the user's) and is never kept. The numbers come from one ``numpy.random.default_rng(seed)``: the same call
gives the same restarts. Restarting stops early when a restart ends with none of the triggers, or
when it stalls again at the same cost (relative ``SAME_COST = 1e-6``) with the same triggers
(exchangeable parameters excepted: breaking a symmetry may need a larger push): the stall is
then reproducible, not an accident of the start.

The best run (lowest cost; a restart must lower it by more than a relative ``1e-8``, or reach
the same cost within that and be certified where the best so far is not) is returned, with
the history of every run concatenated in order (the records of restart ``k`` have
``restart = k``, and the first carries the note ``"rescue restart k from [...]"``), ``nit``,
``nfev``, ``njev`` and ``nfev_fd`` summed over all runs, and one
:class:`~trustfit.core.events.RescueRestart` per restart in ``events``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ..analysis.diagnostics import check_not_moved, check_stationary, exact_fit, exchangeable_pairs
from ..core.events import (BudgetLeft, Event, RescueKept, RescueNotStarted, RescueOutOfBudget,
                           RescueRestart, RescueStallRepeated)
from ..core.result import FitResult, StopReason
from ..core.sparse_linalg import is_large

MAX_RESTARTS = 4
STALL_PUSH = 0.3
STALL_RESTART = 2
FRACTIONS = (0.3, 1.0, 0.1, 3.0)
IMPROVEMENT = 1e-8
SAME_COST = 1e-6


def triggers(result: FitResult) -> list[str]:
    """The rescue triggers that fire for ``result`` (codes of :mod:`trustfit.analysis.diagnostics`,
    plus ``'not_converged'``)."""
    with np.errstate(all="ignore"):  # overflowing residuals are findings, not warnings
        return _triggers(result)


def _triggers(result: FitResult) -> list[str]:
    found = []
    finite = bool(np.all(np.isfinite(result.jac)))
    if finite and exchangeable_pairs(result.jac):
        found.append("exchangeable_parameters")
    if result.success:
        # Certified (trustfit.core.stopping.certify): an exact fit, or stationary at the
        # tolerance the user set with no zero column. Only a symmetric point can be left to
        # rescue; the other checks (an SVD and more each) would only repeat the certificate.
        return found
    if finite and _stuck_parameters(result):
        found.append("parameter_not_moved")
    reason = result.stop_reason
    if reason is StopReason.STALLED:
        if check_stationary(result):  # the diagnosis confirms the solver's verdict
            found.append("not_stationary")
    elif not reason.converged and reason not in (StopReason.CALLBACK, StopReason.DEGENERATE):
        found.append("not_converged")
    elif reason.converged and check_stationary(result):
        found.append("not_stationary")
    return found


def _stuck_parameters(result: FitResult) -> list[int]:
    """Zero-column parameters (``parameter_not_moved``) that moved from the start: the fit
    went somewhere the residuals stopped depending on them. A parameter whose column is zero
    and that never moved is one the model does not use; a restart cannot help it."""
    findings = check_not_moved(result)
    if not findings or result.x0 is None:
        return []
    return [j for j in findings[0].parameters if result.x[j] != result.x0[j]]


def _fmt(x: np.ndarray | None) -> str:
    return np.array2string(np.asarray(x), precision=4, separator=", ", max_line_width=10**6)


def restart_point(x0: np.ndarray, pairs: list[tuple[int, int]], k: int,
                  rng: np.random.Generator, lb: np.ndarray, ub: np.ndarray,
                  misfit_scale: np.ndarray | None = None) -> np.ndarray:
    """Start of restart ``k`` (1-based); see the module docstring."""
    frac = FRACTIONS[(k - 1) % len(FRACTIONS)]
    amp = 0.1 if k == 1 else 0.5
    s = np.where(x0 != 0.0, np.abs(x0), 1.0)
    x = x0 + amp * frac * s * rng.uniform(-1.0, 1.0, x0.size)
    push = s if misfit_scale is None else np.maximum(s, misfit_scale)
    for i, j in pairs:
        d = frac * max(push[i], push[j]) * rng.uniform(0.5, 1.5)
        x[i] -= d
        x[j] += d
    return np.clip(x, lb, ub)


def stall_restart_point(x: np.ndarray, pairs: list[tuple[int, int]], rng: np.random.Generator,
                        lb: np.ndarray, ub: np.ndarray, misfit_scale: np.ndarray) -> np.ndarray:
    """Start of the restart from a stalled point ``x`` with exchangeable ``pairs``: each pair
    pushed apart by ``STALL_PUSH`` of its own size (see the module docstring)."""
    start = np.array(x, dtype=float)
    for i, j in pairs:
        size = max(abs(start[i]), abs(start[j])) or max(misfit_scale[i], misfit_scale[j], 1.0)
        d = STALL_PUSH * size * rng.uniform(0.5, 1.5)
        start[i] -= d
        start[j] += d
    return np.clip(start, lb, ub)


def rescue(run_once: Callable[..., FitResult], result: FitResult,
           seed: int = 0, max_restarts: int = MAX_RESTARTS,
           max_nfev: int | None = None, max_iter: int | None = None) -> FitResult:
    """Restart ``run_once(start, max_nfev, max_iter)`` from perturbed points while ``result``
    is stalled (see the module docstring); returns ``result`` itself when nothing fires."""
    if result.stop_reason is StopReason.CALLBACK:
        return result  # the caller asked to stop
    if is_large(result.jac):  # the triggers read a dense Jacobian: sparse fits run once
        return result
    fired = triggers(result)
    if not fired or (exact_fit(result) and "not_converged" not in fired):
        return result
    x0 = np.asarray(result.x0, dtype=float)
    lb, ub = (result.bounds if result.bounds is not None
              else (np.full(x0.size, -np.inf), np.full(x0.size, np.inf)))
    rng = np.random.default_rng(seed)
    runs = [result]
    events: list[Event] = []
    best = result
    current = result
    for k in range(1, max_restarts + 1):
        left = None if max_nfev is None else max_nfev - sum(r.nfev for r in runs)
        left_it = None if max_iter is None else max_iter - sum(r.nit for r in runs)
        short = None
        if left is not None and left < 10 * (x0.size + 1):
            assert max_nfev is not None  # left is set only under a max_nfev
            short = BudgetLeft("max_nfev", left, max_nfev)
        elif left_it is not None and left_it < x0.size + 1:
            assert max_iter is not None  # left_it is set only under a max_iter
            short = BudgetLeft("max_iter", left_it, max_iter)
        if short is not None and k == 1:
            return dataclasses.replace(result, events=(*result.events, RescueNotStarted(
                result.stop_reason, tuple(fired), short)))
        if short is not None:
            events.append(RescueOutOfBudget(k, short))
            break
        with np.errstate(all="ignore"):
            pairs = exchangeable_pairs(current.jac) if np.all(np.isfinite(current.jac)) else []
        with np.errstate(all="ignore"):
            misfit = np.linalg.norm(current.fun) / np.linalg.norm(current.jac, axis=0)
        misfit = np.where(np.isfinite(misfit), misfit, 0.0)
        with np.errstate(all="ignore"):
            best_pairs = (exchangeable_pairs(best.jac) if np.all(np.isfinite(best.jac))
                          else [])
        if k == STALL_RESTART and best_pairs and np.any(best.x != x0):
            start = stall_restart_point(best.x, best_pairs, rng, lb, ub, misfit)
            origin, pushed = "stalled point", best_pairs
        else:
            start = restart_point(x0, pairs, k, rng, lb, ub, misfit)
            origin, pushed = "x0", pairs
        r = run_once(start, left, left_it)  # a non-finite start comes back rejected (cost inf)
        runs.append(r)
        improved = (r.cost < best.cost * (1.0 - IMPROVEMENT)
                    or (r.success and not best.success
                        and r.cost <= best.cost * (1.0 + IMPROVEMENT)))
        events.append(RescueRestart(
            k, current.stop_reason, current.cost, tuple(fired), tuple(map(float, start)),
            origin, tuple((int(i), int(j)) for i, j in pushed), r.stop_reason, r.cost,
            bool(improved)))
        same = abs(r.cost - best.cost) <= SAME_COST * abs(best.cost)
        if improved:
            best = r
        current = r
        if r.stop_reason is StopReason.CALLBACK:
            break
        previous, fired = fired, triggers(r)
        if not fired:
            break
        if same and fired == previous and "exchangeable_parameters" not in fired:
            events.append(RescueStallRepeated(k))
            break
    kept = next(k for k, r in enumerate(runs) if r is best)
    events.append(RescueKept(kept, best.cost, len(runs) - 1))
    return _combine(runs, best, events, x0)


def _combine(runs: list[FitResult], best: FitResult, events: list[Event],
             x0: np.ndarray) -> FitResult:
    """The best run with every run's history (renumbered, each record marked with its
    restart) and counters, and the events of the first run, then the rescue's."""
    history, offset = [], 0
    for k, r in enumerate(runs):
        for i, h in enumerate(r.history):
            note = h.note
            if k > 0 and i == 0:
                note = f"rescue restart {k} from {_fmt(r.x0)}" + (f"; {note}" if note else "")
            history.append(dataclasses.replace(h, iteration=h.iteration + offset, note=note,
                                               restart=k))
        offset += r.nit
    return dataclasses.replace(
        best, history=tuple(history), nit=sum(r.nit for r in runs), nfev=sum(r.nfev for r in runs),
        njev=sum(r.njev for r in runs), nfev_fd=sum(r.nfev_fd for r in runs),
        x0=x0.copy(), events=(*runs[0].events, *events))
