"""The result of :func:`trustfit.fit_global`, built once and frozen.

Shared parameters with standard errors and correlations, local parameters per data set (a
table: :meth:`GlobalFitResult.to_dataframe`), chi-square and reduced chi-square per data set
and overall, the full covariance on request, ``success`` certified on the whole problem
(:mod:`trustfit.kinds.global_certify`) with the meaning it has in every trustfit fit, the
diagnosis (:mod:`trustfit.kinds.global_checks`), ``report()`` and ``_repr_html_``
(:mod:`.global_report`). The covariance follows :func:`trustfit.curve_fit`'s rule: scaled by
the overall reduced chi-square unless ``absolute_sigma=True``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..analysis.findings import Diagnosis, Finding
from ..core.result import IterationRecord, StopReason, plain

#: Largest number of parameters :meth:`GlobalFitResult.full_covariance` builds densely
#: (8 * FULL_LIMIT^2 bytes: 800 MB).
FULL_LIMIT = 10_000


@dataclass(frozen=True)
class GlobalFitResult:
    """A global fit (module docstring). ``x``: every parameter, shared first then each data
    set's locals; ``shared``: ``{name: value}``; ``shared_stderr``, ``shared_correl``
    (``n_s x n_s``); ``local[k]``, ``local_stderr[k]``: ``{name: value}`` of data set
    ``k``'s own parameters (``k`` in ``names``' order); ``chisqr_sets``, ``redchi_sets``,
    ``nu_sets`` (each data set's share of the degrees of freedom), ``chisqr``, ``redchi``,
    ``nfree``; ``residuals[k]`` = ``(f - y) / sigma`` and ``best_fit[k]``."""

    x: np.ndarray
    x0: np.ndarray
    names: tuple
    shared_names: tuple[str, ...]
    local_names: tuple[tuple[str, ...], ...]
    shared_values: np.ndarray
    shared_stderr: np.ndarray
    shared_correl: np.ndarray
    local_values: tuple[np.ndarray, ...]
    local_stderr_values: tuple[np.ndarray, ...]
    stderr: np.ndarray
    chisqr_sets: np.ndarray
    redchi_sets: np.ndarray
    nu_sets: np.ndarray
    npoints: np.ndarray
    chisqr: float
    redchi: float
    nfree: int
    cost: float
    stop_reason: StopReason
    stop_value: float
    nit: int
    nfev: int
    njev: int
    nfev_fd: int
    method: str
    jac_method: str
    absolute_sigma: bool
    rank_deficient: bool
    findings: tuple[Finding, ...]
    history: tuple[IterationRecord, ...] = ()
    events: tuple = ()
    residuals: tuple[np.ndarray, ...] = ()
    data: tuple = field(default=(), repr=False)  # (x, y, sigma) per data set, for plots
    evaluate: Callable | None = field(default=None, repr=False)  # (k, x) -> model values
    _covariance: Any = field(default=None, repr=False)
    _scale: float = field(default=1.0, repr=False)

    # --- the parameters ----------------------------------------------------------------------
    @property
    def shared(self) -> dict[str, float]:
        return dict(zip(self.shared_names, self.shared_values.tolist()))

    @property
    def local(self) -> tuple[dict[str, float], ...]:
        return tuple(dict(zip(n, v.tolist())) for n, v in zip(self.local_names,
                                                                self.local_values))

    @property
    def local_stderr(self) -> tuple[dict[str, float], ...]:
        return tuple(dict(zip(n, v.tolist())) for n, v in zip(self.local_names,
                                                                self.local_stderr_values))

    def params(self, dataset: Any) -> dict[str, float]:
        """Every parameter of one data set (shared and local), by its name or key."""
        k = self._index(dataset)
        return {**self.shared, **self.local[k]}

    def _index(self, dataset: Any) -> int:
        if dataset in self.names:
            return self.names.index(dataset)
        raise KeyError(f"dataset {dataset!r} is not one of this fit's data sets "
                       f"({list(self.names)[:5]}...).")

    @property
    def best_fit(self) -> tuple[np.ndarray, ...]:
        """The model at each data set's points, ``y + residual * sigma`` (computed on request:
        an image's would double the memory of the fit)."""
        return tuple(y + r * (s if s is not None else 1.0)
                     for (_, y, s), r in zip(self.data, self.residuals))

    # --- certificate, as every trustfit result ----------------------------------------------
    @property
    def success(self) -> bool:
        return bool(self.stop_reason.converged and np.isfinite(self.cost))

    @property
    def status(self) -> int:
        return self.stop_reason.status

    @property
    def message(self) -> str:
        return self.stop_reason.message(self.stop_value)

    @property
    def diagnosis(self) -> Diagnosis:
        order = {"error": 0, "warning": 1, "info": 2}
        return Diagnosis(tuple(sorted(self.findings, key=lambda f: order[f.severity])))

    # --- covariance ----------------------------------------------------------------------
    @property
    def shared_covariance(self) -> np.ndarray:
        """Covariance of the shared parameters (``n_s x n_s``)."""
        return self._covariance.shared * self._scale

    def full_covariance(self) -> np.ndarray:
        """The covariance of every parameter (``x``'s order), dense; refused above
        :data:`FULL_LIMIT` parameters (ask for the blocks instead: ``shared_covariance``,
        ``stderr``)."""
        n = self.x.size
        if n > FULL_LIMIT:
            raise ValueError(f"full_covariance: {n} parameters make a dense {n} x {n} matrix "
                             f"({8 * n * n / 1e9:.1f} GB); the limit is {FULL_LIMIT}. Use "
                             "shared_covariance and stderr.")
        return self._covariance.full() * self._scale

    # --- tables and text -----------------------------------------------------------------
    def to_dataframe(self):
        """One row per data set: its local parameters and their standard errors
        (``name_stderr``), ``npoints``, ``chisqr``, ``redchi`` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe needs pandas: pip install 'trustfit[frames]'"
                              ) from None
        rows = []
        for k, name in enumerate(self.names):
            row: dict[str, Any] = {"dataset": name}
            for p, v, s in zip(self.local_names[k], self.local_values[k],
                               self.local_stderr_values[k]):
                row[p], row[p + "_stderr"] = float(v), float(s)
            row.update(npoints=int(self.npoints[k]), chisqr=float(self.chisqr_sets[k]),
                       redchi=float(self.redchi_sets[k]))
            rows.append(row)
        return pd.DataFrame(rows).set_index("dataset")

    def report(self, full: bool = False) -> str:
        from .global_report import report

        return report(self, full=full)

    def _repr_html_(self) -> str:
        from .global_report import html

        return html(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-able Python: the parameters, statistics, stop and findings."""
        return plain({
            "shared": self.shared, "shared_stderr": dict(zip(self.shared_names,
                                                              self.shared_stderr)),
            "local": list(self.local), "local_stderr": list(self.local_stderr),
            "datasets": [str(n) for n in self.names], "chisqr_sets": self.chisqr_sets,
            "redchi_sets": self.redchi_sets, "chisqr": self.chisqr, "redchi": self.redchi,
            "nfree": self.nfree, "success": self.success, "stop_reason": self.stop_reason,
            "message": self.message, "nit": self.nit, "nfev": self.nfev,
            "findings": [{"code": f.code, "severity": f.severity, "message": f.message,
                          "datasets": [str(d) for d in f.parameters]}
                         for f in self.findings],
            "events": [str(e) for e in self.events]})

    def __repr__(self) -> str:
        shared = ", ".join(f"{k}={v:.6g}" for k, v in self.shared.items())
        return (f"GlobalFitResult(success={self.success}, "
                f"stop_reason={self.stop_reason.name}, datasets={len(self.names)}, "
                f"shared=({shared}), redchi={self.redchi:.4g}, nit={self.nit})")
