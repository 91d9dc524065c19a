"""The result of :func:`trustfit.batch.fit_batch`: :class:`BatchResult`, per-curve arrays
with the stop reasons, the diagnoses, and which backend ran and why."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._certify import CODES, reasons

# Stop codes: the kernel's and the certificate's, each a trustfit.StopReason.
STOP_REASONS = CODES

DIAGNOSES = {
    0: "converged",
    1: "rescued",
    2: "degenerate",
    3: "not_converged",
    4: "invalid_data",
    5: "invalid_start",
}

@dataclass
class BatchResult:
    """Per-curve results of :func:`fit_batch` (row i is curve i of ``Y``).

    Attributes
    ----------
    params : (N, n) fitted parameters, columns in ``param_names`` order (NaN for curves
        with invalid data).
    cost : (N,) ``1/2 sum r^2`` at ``params`` (weighted residuals ``(f - y)/sigma``).
    success : (N,) bool: what a single fit's ``success`` certifies (:mod:`._certify`):
        a convergence test fired (gradient, step or cost, the single fit's tests) and the
        point is stationary and not degenerate.
    stop_code : (N,) int8, see ``STOP_REASONS``; ``stop_reason`` gives the
        :class:`trustfit.StopReason` of each curve (``GRADIENT``, ``STEP``, ``COST``,
        ``MAX_ITER``, ``NO_PROGRESS``, ``STALLED``, ``DEGENERATE``, ``INVALID_INPUT``).
    nit : (N,) iterations (main pass plus the winning rescue fit).
    stderr : (N, n) standard errors ``s sqrt(diag (J^T J)^-1)``, ``s^2 = 2 cost/(m-n)``
        (``s = 1`` with ``absolute_sigma``), NaN when ``J^T J`` is singular.
    rcond : (N,) reciprocal condition estimate of the scaled ``J^T J`` (0: singular).
    gn_gain : (N,) relative cost decrease ``1/2 g^T (J^T J)^-1 g / cost`` that a
        Gauss-Newton step from ``params`` predicts; much above ``ftol``: stopped short.
    share : (N,) the certificate's share of the residual in range(J),
        ``||U U^T r|| / ||r||`` (``sqrt(gn_gain)``, or from the SVD of J where the
        certificate computed it).
    condition : (N,) condition number of the column-scaled Jacobian: from its SVD where
        the certificate needed it, else the kernel's upper bound (at most ``sqrt(n)``
        times too large, and then far below the limit ``1/sqrt(eps)``).
    rescued : (N,) bool, the rescue found a cost lower by more than 1e-6 relative (and
        more than 1e-12 of ``1/2 sum (y/sigma)^2``); smaller gains are kept too,
        without the flag.
    diagnosis_code : (N,) int8, see ``DIAGNOSES``; ``diagnosis`` gives the names.
    method : the method that ran, ``'lm'`` or ``'varpro'`` (``'auto'`` resolved).
    backend : the backend that ran, ``'compiled'`` (the numba kernel) or ``'numpy'``
        (the vectorized fallback); ``'+dask'`` appended for a dask input.
    backend_reason : why that backend ran, a sentence (for ``backend='auto'``: the
        predicted times that decided, see :mod:`._backend`).
    nonfinite : lines saying, for the curves that failed, where the model or a
        derivative is not finite (which parameter, which point, how many curves); see
        :mod:`._nonfinite`.  Empty when there is nothing to say.
    """

    param_names: list[str]
    params: np.ndarray
    cost: np.ndarray
    success: np.ndarray
    stop_code: np.ndarray
    nit: np.ndarray
    stderr: np.ndarray
    rcond: np.ndarray
    gn_gain: np.ndarray
    rescued: np.ndarray
    diagnosis_code: np.ndarray
    share: np.ndarray
    condition: np.ndarray
    backend: str = "compiled"
    backend_reason: str = ""
    timings: dict = field(default_factory=dict)
    method: str = "lm"
    nonfinite: list = field(default_factory=list)

    @property
    def stop_reason(self) -> np.ndarray:
        """(N,) object array of :class:`trustfit.StopReason`."""
        return reasons(self.stop_code)

    @property
    def diagnosis(self) -> np.ndarray:
        names = np.array([DIAGNOSES[k] for k in range(len(DIAGNOSES))])
        return names[self.diagnosis_code]

    def __len__(self) -> int:
        return self.params.shape[0]

    def params_dict(self) -> dict[str, np.ndarray]:
        return {name: self.params[:, k] for k, name in enumerate(self.param_names)}

    def summary(self) -> dict:
        """Counts per stop reason and per diagnosis (only non-zero counts), and the
        backend that ran and why."""
        by_reason: dict[str, int] = {}
        for reason in self.stop_reason:
            by_reason[reason.name] = by_reason.get(reason.name, 0) + 1
        dc = np.bincount(self.diagnosis_code.astype(np.int64), minlength=len(DIAGNOSES))
        out = {
            "n_curves": len(self),
            "n_success": int(self.success.sum()),
            "n_rescued": int(self.rescued.sum()),
            "stop_reason": by_reason,
            "diagnosis": {DIAGNOSES[k]: int(c) for k, c in enumerate(dc) if c},
            "backend": self.backend,
        }
        if self.backend_reason:
            out["backend_reason"] = self.backend_reason
        if self.nonfinite:
            out["nonfinite"] = list(self.nonfinite)
        return out

    def _repr_html_(self) -> str:
        from ._html import batch_result_html  # notebooks: counts, medians, a histogram

        return batch_result_html(self)

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"BatchResult({s['n_curves']} curves, params {self.param_names}, "
            f"method {self.method!r}, {s['n_success']} converged, {s['n_rescued']} rescued, "
            f"stop_reason={s['stop_reason']}, diagnosis={s['diagnosis']}, "
            f"backend {self.backend!r}: {self.backend_reason or 'chosen by the caller'})"
        )
