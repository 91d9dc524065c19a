"""The one result type every solver returns, its stop reasons and its per-iteration history.

Layers (diagnostics, statistics, reports, plots, batch) read a :class:`FitResult`; nothing in
them runs inside the solver loop. The fields are SciPy's ``OptimizeResult`` fields for
``least_squares`` (so code written for SciPy keeps working), plus ``nit``, ``method``,
``stop_reason``, ``stop_value``, ``history`` and ``events`` (typed records,
:mod:`trustfit.core.events`).

The result is frozen: the layer that knows everything about a fit (the face, or the strategy
that combined several runs) builds it, and a layer that adds to it makes a new one
(``dataclasses.replace``); nothing is filled in after the fact. :meth:`FitResult.to_dict`
gives it as plain, JSON-able Python.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, Protocol

import numpy as np


class StopReason(Enum):
    """Why a run ended, with what it means and whether the answer can be used.

    ``converged`` reasons are the only ones that set ``success``; ``usable`` says whether the
    returned point is still the best point found and worth looking at (a budget stop is usable
    but not converged). ``status`` is SciPy's integer code, kept for compatibility only: its
    meaning is fixed here, not per method.
    """

    #            status  converged usable  message template ({value} is the measured value)
    GRADIENT = (1, True, True,
                "Converged: the largest cosine {value:.3g} between the residuals and a "
                "column of the Jacobian fell below gtol.")
    COST = (2, True, True,
            "Converged: the relative reduction of the cost {value:.3g} fell below ftol.")
    STEP = (3, True, True,
            "Converged: the step {value:.3g} fell below xtol relative to the size of x.")
    ROUNDING = (2, True, True,
                "Converged: the cost reached its rounding level (a step whose model promised "
                "a relative gain of {value:.3g} changed it by rounding noise only).")
    MAX_NFEV = (0, False, True,
                "Not converged: the evaluation budget max_nfev={value:.0f} was used up.")
    MAX_ITER = (0, False, True,
                "Not converged: the iteration budget max_iter={value:.0f} was used up.")
    CALLBACK = (-2, False, True,
                "Stopped by the callback at iteration {value:.0f}.")
    LINE_SEARCH_FAILED = (-3, False, True,
                          "Not converged: no step length along the search direction decreased "
                          "the cost (last step tried {value:.3g}); the best point is returned.")
    NO_PROGRESS = (-4, False, True,
                   "Not converged: the damping or trust region reached its limit ({value:.3g}) "
                   "without an acceptable step; the best point is returned.")
    STALLED = (-5, False, True,
               "Not converged: a stopping test fired, but the point is not stationary (the "
               "residuals keep a share {value:.3g} of their length in the span of the "
               "Jacobian); the step was cut short by the damping, not by convergence.")
    DEGENERATE = (-6, False, True,
                  "Not certified: a stopping test fired at a degenerate point (condition number "
                  "{value:.3g} of the column-scaled Jacobian): the parameters are not determined "
                  "there, typically a saturated or symmetric model or a wrong local solution.")
    INVALID_INPUT = (-1, False, False,
                     "Not fitted: the data, sigma, x or start of this problem is not finite, or "
                     "the model is not finite at the start (a curve of fit_batch is reported "
                     "so, where a single fit raises a ValueError).")

    def __init__(self, status: int, converged: bool, usable: bool, template: str):
        self.status = status
        self.converged = converged
        self.usable = usable
        self.template = template

    def message(self, value: float = float("nan")) -> str:
        """The plain-words message, with the measured value that fired this reason."""
        return self.template.format(value=value)


@dataclass(frozen=True)
class IterationRecord:
    """One iteration of the driver loop: the trial step and what became of it.

    ``x`` and ``cost`` are the iterate *after* the iteration (unchanged when the step was
    rejected); ``grad_norm`` is the infinity norm of the (free part of the) gradient there.
    ``mu`` is the LM damping and ``radius`` the trust-region radius in force when the step was
    proposed (``nan`` where the method has none).
    """

    iteration: int
    x: np.ndarray
    cost: float
    grad_norm: float
    step_norm: float
    step_kind: str  # "GN", "LM", "QN", "dogleg", "TR"
    accepted: bool
    mu: float = float("nan")
    radius: float = float("nan")
    rho: float = float("nan")
    nfev: int = 0
    note: str = ""
    #: The run this iteration belongs to: 0 for the first, ``k`` for rescue restart ``k``
    #: (:mod:`trustfit.strategies.rescue`).
    restart: int = 0


def plain(value: Any) -> Any:
    """``value`` as plain, JSON-able Python: arrays and tuples to lists, NumPy scalars to
    ``bool``/``int``/``float``, a non-finite float to ``None`` (JSON has no NaN or infinity),
    an Enum to its name, a record with ``to_dict()`` to that dict, another dataclass to the
    dict of its fields."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Enum):
        return value.name
    if callable(getattr(type(value), "to_dict", None)):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    return value


class EventRecord(Protocol):
    """What the result asks of an event (the records are in :mod:`trustfit.core.events`): a
    stable ``kind``, its sentence (``str``) and its fields as a dict."""

    @property
    def kind(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FitResult:
    """Outcome of a least-squares fit.

    SciPy fields: ``x, cost, fun, jac, grad, optimality, active_mask, nfev, njev, status,
    message, success``. trustfit fields: ``nit`` (iterations, rejected steps included),
    ``method``, ``stop_reason`` (:class:`StopReason`), ``stop_value`` (the number that fired
    it), ``history`` (list of :class:`IterationRecord`), ``nfev_fd`` (residual evaluations
    spent on finite differences, not counted in ``nfev``) and ``events`` (what the driver or a
    layer above it did, such as a rescue restart: typed records of
    :mod:`trustfit.core.events`, each printing as a sentence).
    Supports ``result["x"]`` and ``result.keys()`` like SciPy's ``OptimizeResult``.

    Frozen: a layer that adds to a result builds a new one with ``dataclasses.replace``.
    ``history``, ``events`` and ``minima`` are kept as tuples.
    """

    x: np.ndarray
    cost: float
    fun: np.ndarray
    jac: np.ndarray
    grad: np.ndarray
    optimality: float
    active_mask: np.ndarray
    nfev: int
    njev: int
    nit: int
    method: str
    stop_reason: StopReason
    stop_value: float
    history: tuple[IterationRecord, ...] = ()
    nfev_fd: int = 0
    x0: np.ndarray | None = None
    bounds: tuple[np.ndarray, np.ndarray] | None = None
    events: tuple[EventRecord, ...] = ()
    #: Names of the parameters (from ``curve_fit``'s model signature or the caller), used by
    #: the diagnosis and the report; ``None``: parameters are named by index.
    param_names: tuple[str, ...] | None = None
    #: Given by ``curve_fit``/``fit``: the data (for R^2) and how ``sigma`` is to be read.
    ydata: np.ndarray | None = None
    sigma: np.ndarray | None = None
    absolute_sigma: bool = False
    #: How ``jac`` was computed: ``'callable'`` (analytic), ``'2-point'``, ``'3-point'`` or
    #: ``'cs'``; decides the rank cut-off of the covariance (its accuracy).
    jac_method: str = "callable"
    #: Set by a multi-start fit: the distinct minima found (:class:`trustfit.strategies.multistart.Minimum`).
    minima: tuple | None = None

    def __post_init__(self) -> None:
        # Sequences as tuples, so that the frozen result cannot grow after it is built.
        object.__setattr__(self, "history", tuple(self.history))
        object.__setattr__(self, "events", tuple(self.events))
        if self.minima is not None:
            object.__setattr__(self, "minima", tuple(self.minima))

    # --- layers over the result (imported lazily: result.py imports none of them) ----------
    @property
    def diagnosis(self):
        """:func:`trustfit.diagnose` of this result: findings with messages and advice."""
        from ..analysis.diagnostics import diagnose

        return diagnose(self)

    def report(self, full: bool = False) -> str:
        """A brief (default) or full text report: stop reason, parameters with standard
        errors and intervals, correlations, findings with advice (:mod:`trustfit.analysis.report`)."""
        from ..analysis.report import report

        return report(self, full=full)

    def _repr_html_(self) -> str:
        """Notebooks show the brief report as a table (:func:`trustfit.analysis.report.html`)."""
        from ..analysis.report import html

        return html(self)

    @property
    def status(self) -> int:
        return self.stop_reason.status

    @property
    def success(self) -> bool:
        return bool(self.stop_reason.converged and np.isfinite(self.cost))

    @property
    def message(self) -> str:
        return self.stop_reason.message(self.stop_value)

    # --- dict-like access, as SciPy's OptimizeResult -----------------------------------------
    _EXTRA = ("status", "success", "message")

    def keys(self) -> list[str]:
        return [f.name for f in fields(self)] + list(self._EXTRA)

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def to_dict(self) -> dict[str, Any]:
        """Every field (and ``status``, ``success``, ``message``) as plain, JSON-able Python
        (:func:`plain`: arrays to lists, non-finite numbers to ``None``, ``stop_reason`` to its
        name, each event to its dict with ``kind`` and ``text``); ``json.dumps`` takes it as
        it is. A field that holds a function (a Poisson fit's ``residual_function``) is code,
        not data, and is left out."""
        return {key: plain(self[key]) for key in self.keys() if not callable(self[key])}

    def __repr__(self) -> str:
        return (f"FitResult(method={self.method!r}, success={self.success}, "
                f"stop_reason={self.stop_reason.name}, cost={self.cost:.6g}, nit={self.nit}, "
                f"nfev={self.nfev}, x={np.array2string(self.x, precision=6)})")
