"""The vocabulary of the diagnosis (:mod:`trustfit.analysis.diagnostics`): a :class:`Finding`,
the :class:`Diagnosis` that holds them, the cutoffs every check states (see the table in
:mod:`trustfit.analysis.diagnostics`) and how parameters are named in messages."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core import validate as check
from ..core.result import FitResult
from ..core.stopping import CONDITION_LIMIT as _CONDITION_LIMIT

EPS = float(np.finfo(float).eps)
#: The solver's own limit (:data:`trustfit.core.stopping.CONDITION_LIMIT`, 1/sqrt(eps) ~ 6.7e7):
#: beyond it a stop is not certified (``DEGENERATE``), and this finding says why.
COND_LIMIT = _CONDITION_LIMIT
EXCHANGE_COS = 1e-4
EXCHANGE_NORM = 1.1
SLOW_MIN_STEPS = 6
SLOW_RATE = 0.5
STATIONARY = 1e-4
SMALL_RESIDUAL = 1e-4
EXACT_FIT = 1e-6
#: Null-space components smaller than this (of a unit vector) are not named.
NULL_COMPONENT = 0.1
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One thing the diagnosis found: ``code`` (stable, for programs), ``severity``
    (``'error'``: the answer is wrong or undetermined; ``'warning'``: use with care;
    ``'info'``), a one-sentence ``message``, the ``parameters`` involved (names where the
    model has names, else indices), ``advice``, and the measured ``value`` against its
    ``threshold``."""

    code: str
    severity: str
    message: str
    parameters: tuple = ()
    advice: str = ""
    value: float = float("nan")
    threshold: float = float("nan")

    def __str__(self) -> str:
        return f"[{self.severity}] {self.code}: {self.message} {self.advice}".rstrip()


@dataclass(frozen=True)
class Diagnosis:
    """The findings of :func:`diagnose`, most severe first; iterable and indexable."""

    findings: tuple[Finding, ...] = field(default_factory=tuple)

    def __iter__(self):
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __getitem__(self, i):
        return self.findings[i]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.findings)

    def get(self, code: str) -> Finding | None:
        return next((f for f in self.findings if f.code == code), None)

    def __str__(self) -> str:
        return "\n".join(str(f) for f in self.findings) or "No findings."

    def _repr_html_(self) -> str:
        from .html_parts import findings_html, wrap

        return wrap(f"Diagnosis: {len(self.findings)} finding(s)", findings_html(self.findings))


# --- naming -----------------------------------------------------------------------------------
def _names(result: FitResult, param_names: Sequence[str] | None) -> list[str] | None:
    if not isinstance(result, FitResult):
        raise TypeError(f"result must be a FitResult (from trustfit.least_squares or "
                        f"trustfit.fit), got {type(result).__name__}.")
    names = param_names if param_names is not None else result.param_names
    return check.param_names(names, result.x.size)


def _label(names: list[str] | None, j: int | np.integer) -> str:
    return names[j] if names is not None else f"x[{j}]"


def _ids(names: list[str] | None, idx: Sequence[int] | np.ndarray) -> tuple:
    return tuple(names[j] for j in idx) if names is not None else tuple(int(j) for j in idx)


def _join(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def column_norms_plain(J: np.ndarray) -> np.ndarray:
    return np.linalg.norm(J, axis=0)

