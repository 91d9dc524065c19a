"""What a fit did besides iterating, as typed records: ``FitResult.events``.

Each record is a small frozen dataclass with the facts as fields (which test fired, which
restart, from where, with what outcome), a stable ``kind`` for programs, and ``str(event)``,
the sentence the report prints. Code that needs to know what happened reads the fields
(``isinstance(e, RescueRestart) and e.best_so_far``); nothing parses the sentences.

Who records what: the loop (:class:`StopTestFired`), building a method
(:class:`MethodSwitch`, :class:`BudgetReached`, :class:`StartRejected`), the rescue layer
(:class:`RescueNotStarted`, :class:`RescueRestart`, :class:`RescueOutOfBudget`,
:class:`RescueStallRepeated`, :class:`RescueKept`), multi-start (:class:`MultistartSummary`,
:class:`MinimumFound`, :class:`MultistartEvaluations`) and ``fit`` (:class:`JacobianReevaluated`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from .result import StopReason, plain


@dataclass(frozen=True)
class Event:
    """Base of the event records."""

    kind: ClassVar[str] = "event"

    def __post_init__(self) -> None:
        # NumPy scalars (a cost, an index) as Python numbers: records compare and print plainly.
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.generic):
                object.__setattr__(self, f.name, value.item())

    def to_dict(self) -> dict[str, Any]:
        """``kind``, the fields as plain Python (:func:`trustfit.core.result.plain`) and
        ``text``, the sentence."""
        return {"kind": self.kind, **{f.name: plain(getattr(self, f.name)) for f in fields(self)},
                "text": str(self)}


def _pairs(pairs: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(f"x[{i}]/x[{j}]" for i, j in pairs)


@dataclass(frozen=True)
class StopTestFired(Event):
    """A convergence ``test`` fired at ``iteration`` with the measured ``value``, but the point
    failed the certificate (:func:`trustfit.core.stopping.certify`): the run ends with
    ``verdict`` (``STALLED`` or ``DEGENERATE``) instead."""

    kind: ClassVar[str] = "stop_test_fired"
    test: StopReason
    iteration: int
    value: float
    verdict: StopReason

    def __str__(self) -> str:
        return (f"{self.test.name.lower()} test fired at iteration {self.iteration} "
                f"({self.test.message(self.value)}), but the point is not certified.")


#: How the events name the methods ``'auto'`` runs.
_METHOD_NAMES = {"dogleg": "the dogleg", "lm": "Levenberg-Marquardt",
                 "tr": "the trust-region method"}


@dataclass(frozen=True)
class MethodSwitch(Event):
    """``'auto'``: the ``first`` method's stop was not certified, the ``second`` ran from
    ``start``: the first's best point (``origin='best point'``) or, where that was not
    certified either, ``x0`` (``origin='x0'``); the result of ``kept`` was returned (every
    run's evaluations counted)."""

    kind: ClassVar[str] = "method_switch"
    first: str
    first_stop: StopReason
    first_cost: float
    second: str
    second_stop: StopReason
    second_cost: float
    kept: str
    start: tuple[float, ...] = ()
    #: where the second run started: ``'best point'`` (the first's) or ``'x0'``
    origin: str = "best point"

    def __str__(self) -> str:
        other = self.first if self.kept == self.second else self.second
        return (f"auto: {_METHOD_NAMES.get(self.first, self.first)} stopped with "
                f"{self.first_stop.name} (cost {self.first_cost:.6g}); "
                f"{_METHOD_NAMES.get(self.second, self.second)} "
                + ("continued from its best point" if self.origin == "best point"
                   else "started again from x0") + " and reached "
                f"{self.second_stop.name} (cost {self.second_cost:.6g}); kept the {self.kept} "
                f"result ({other}'s evaluations are included in nfev).")


@dataclass(frozen=True)
class BudgetReached(Event):
    """The run asked for evaluations past ``max_nfev`` in ``iteration``; ``refused`` of them
    were refused, and the stop ``overruled`` (decided on the unevaluated trial) became
    ``MAX_NFEV``."""

    kind: ClassVar[str] = "budget_reached"
    max_nfev: int
    iteration: int
    refused: int
    overruled: StopReason

    def __str__(self) -> str:
        return (f"max_nfev={self.max_nfev} reached in iteration {self.iteration}: "
                f"{self.refused} further evaluation{'s' if self.refused > 1 else ''} "
                f"refused; the run stopped there ({self.overruled.name} on the unevaluated "
                "trial does not stand).")


@dataclass(frozen=True)
class StartRejected(Event):
    """A start trustfit chose (a rescue or multi-start start) was not finite there; ``reason``
    says what was not."""

    kind: ClassVar[str] = "start_rejected"
    start: tuple[float, ...]
    reason: str

    def __str__(self) -> str:
        return f"start rejected: {self.reason}"


@dataclass(frozen=True)
class JacobianReevaluated(Event):
    """``fit``: the Jacobian at the solution was evaluated again with ``scheme`` differences
    (``nfev`` evaluations, counted in ``nfev_fd``) for the covariance."""

    kind: ClassVar[str] = "jacobian_reevaluated"
    scheme: str
    nfev: int

    def __str__(self) -> str:
        return (f"jac re-evaluated at the solution with {self.scheme} differences for the "
                "covariance.")


@dataclass(frozen=True)
class CovariancePseudoInverse(Event):
    """The covariance is the flagged pseudo-inverse: ``reason`` names what is undetermined
    (:func:`trustfit.analysis.diagnostics.check_rank`)."""

    kind: ClassVar[str] = "covariance_pseudo_inverse"
    reason: str

    def __str__(self) -> str:
        return f"{self.reason} pcov is the pseudo-inverse."


@dataclass(frozen=True)
class IterativeCertificate(Event):
    """A sparse or operator Jacobian was certified by iterative estimates, not a dense SVD
    (:mod:`trustfit.core.iterative_certificate`); ``note`` gives the estimates."""

    kind: ClassVar[str] = "iterative_certificate"
    note: str

    def __str__(self) -> str:
        return self.note


@dataclass(frozen=True)
class BudgetLeft:
    """What is left of a budget (``'max_nfev'`` or ``'max_iter'``) of ``limit``."""

    budget: str
    left: int
    limit: int

    def __str__(self) -> str:
        unit = "evaluations" if self.budget == "max_nfev" else "iterations"
        return f"{self.left} of {self.budget}={self.limit} {unit} are left"


@dataclass(frozen=True)
class RescueNotStarted(Event):
    """The run stopped with ``stop`` and the rescue ``triggers`` fired, but too little of a
    budget was left for a restart."""

    kind: ClassVar[str] = "rescue_not_started"
    stop: StopReason
    triggers: tuple[str, ...]
    budget: BudgetLeft

    def __str__(self) -> str:
        return (f"rescue: the run stopped ({self.stop.name}) with {', '.join(self.triggers)}, "
                f"but no restart: {self.budget}.")


@dataclass(frozen=True)
class RescueRestart(Event):
    """Rescue restart ``index`` (1-based): the previous run stopped with ``previous_stop`` at
    ``previous_cost`` and ``triggers``; the restart began at ``start``, from ``origin``
    (``'x0'``, jittered, or ``'stalled point'``, the best stalled point) with the exchangeable
    ``pairs`` pushed apart, and reached ``cost`` with ``stop``; ``best_so_far``: it improved on
    every run before it."""

    kind: ClassVar[str] = "rescue_restart"
    index: int
    previous_stop: StopReason
    previous_cost: float
    triggers: tuple[str, ...]
    start: tuple[float, ...]
    origin: str
    pairs: tuple[tuple[int, int], ...]
    stop: StopReason
    cost: float
    best_so_far: bool

    def __str__(self) -> str:
        if self.origin == "stalled point":
            how = "the best stalled point, pushed apart " + _pairs(self.pairs)
        else:
            how = "jittered x0" + (", pushed apart " + _pairs(self.pairs) if self.pairs else "")
        start = np.array2string(np.asarray(self.start, dtype=float), precision=4,
                                separator=", ", max_line_width=10**6)
        return (f"rescue restart {self.index}: the previous run stopped "
                f"({self.previous_stop.name}, cost {self.previous_cost:.6g}) with "
                f"{', '.join(self.triggers)}; restarted from {start} ({how}) and reached cost "
                f"{self.cost:.6g} ({self.stop.name})"
                f"{', the best so far' if self.best_so_far else ''}.")


@dataclass(frozen=True)
class RescueOutOfBudget(Event):
    """Restarting ended before restart ``index``: too little of a budget was left."""

    kind: ClassVar[str] = "rescue_out_of_budget"
    index: int
    budget: BudgetLeft

    def __str__(self) -> str:
        return f"rescue stopped: {self.budget}."


@dataclass(frozen=True)
class RescueStallRepeated(Event):
    """Restart ``index`` stalled again at the same cost with the same triggers: restarting
    ended (the stall is reproducible)."""

    kind: ClassVar[str] = "rescue_stall_repeated"
    index: int

    def __str__(self) -> str:
        return (f"rescue stopped: restart {self.index} stalled again at the same cost with the "
                "same findings; the stall is reproducible, not an accident of the start.")


@dataclass(frozen=True)
class RescueKept(Event):
    """The rescue returned run ``kept`` (0: the original run, ``k``: restart ``k``) with
    ``cost``, after ``restarts`` restarts."""

    kind: ClassVar[str] = "rescue_kept"
    kept: int
    cost: float
    restarts: int

    def __str__(self) -> str:
        run = "the original run" if self.kept == 0 else f"restart {self.kept}"
        return (f"rescue kept {run} (cost {self.cost:.6g}) after {self.restarts} restart"
                f"{'s' if self.restarts > 1 else ''}.")


@dataclass(frozen=True)
class MultistartSummary(Event):
    """A multi-start of ``starts`` runs (``design``, ``seed``) found ``minima`` distinct
    minima; ``elsewhere`` runs ended at no minimum; the best run (``best_cost``) came from
    start ``best_start`` (0 is ``x0``)."""

    kind: ClassVar[str] = "multistart_summary"
    starts: int
    design: str
    seed: int
    minima: int
    elsewhere: int
    best_cost: float
    best_start: int

    def __str__(self) -> str:
        elsewhere = (f", {self.elsewhere} runs ended elsewhere (not converged or not "
                     "stationary)" if self.elsewhere else "")
        return (f"multistart: {self.starts} starts ({self.design} design, seed {self.seed}; "
                f"start 0 is x0), {self.minima} distinct minim"
                f"{'um' if self.minima == 1 else 'a'}{elsewhere}; the best (cost "
                f"{self.best_cost:.6g}) came from start {self.best_start}.")


@dataclass(frozen=True)
class MinimumFound(Event):
    """Minimum ``index`` of a multi-start: its ``cost``, found by ``count`` of ``starts``
    runs; ``equivalent_to`` an earlier minimum under the parameter ``swaps`` (names), or
    ``None``."""

    kind: ClassVar[str] = "minimum_found"
    index: int
    cost: float
    count: int
    starts: int
    equivalent_to: int | None = None
    swaps: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        text = (f"minimum {self.index}: cost {self.cost:.6g}, found by {self.count} of "
                f"{self.starts} starts")
        if self.equivalent_to is not None:
            swapped = ", ".join(f"{a} <-> {b}" for a, b in self.swaps)
            text += (f"; equivalent to minimum {self.equivalent_to} (the same fit with "
                     f"{swapped})")
        return text + "."


@dataclass(frozen=True)
class MultistartEvaluations(Event):
    """All runs of a multi-start used ``total`` evaluations (``nfev`` counts the best run)."""

    kind: ClassVar[str] = "multistart_evaluations"
    total: int

    def __str__(self) -> str:
        return (f"multistart used {self.total} evaluations in all runs (nfev counts the best "
                "run only).")
