"""Uncertainty of fitted parameters, computed from a :class:`~trustfit.FitResult`.

Covariance through the SVD of the Jacobian at the solution, ``J = U diag(s) V^T``:

``C = s2 * V diag(1/s_i^2) V^T`` over the singular values ``s_i > rcond * s_max``,

with ``s2 = 2 F / (m - rank)`` (the residual variance; 1 with ``absolute_sigma=True``). This is
the pseudo-inverse of ``J^T J`` without forming ``J^T J`` (which squares the condition
number), as in SciPy's ``curve_fit`` and GSL's ``gsl_multifit_nlinear_covar``. Directions
with singular values below the cut-off are not determined by the data: they are reported in
``null_space`` (columns are parameter combinations) and never turned into a silent ``inf``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .result import FitResult

EPS = np.finfo(float).eps


@dataclass(frozen=True)
class Covariance:
    matrix: np.ndarray           # (n, n) covariance (pseudo-inverse where rank deficient)
    rank: int
    rcond: float                 # the relative singular-value cut-off used
    singular_values: np.ndarray  # of the Jacobian at the solution, descending
    null_space: np.ndarray       # (n, n - rank) undetermined parameter combinations
    residual_variance: float     # s2 (1 with absolute_sigma)

    @property
    def rank_deficient(self) -> bool:
        return self.rank < self.matrix.shape[0]

    @property
    def stderr(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.matrix), 0.0, None))


def covariance(result: FitResult, absolute_sigma: bool = False,
               rcond: float | None = None) -> Covariance:
    """Parameter covariance at ``result.x`` (see the module docstring)."""
    J = np.asarray(result.jac, dtype=float)
    m, n = J.shape
    if rcond is None:
        rcond = EPS * max(m, n)
    _, s, Vt = np.linalg.svd(J, full_matrices=True) if n else (None, np.zeros(0), np.zeros((0, 0)))
    s_max = s[0] if s.size else 0.0
    keep = s > rcond * s_max if s_max > 0 else np.zeros_like(s, dtype=bool)
    rank = int(keep.sum())
    V = Vt.T
    inv_s2 = np.zeros(n)
    inv_s2[: s.size][keep] = 1.0 / s[keep] ** 2
    dof = m - rank
    if absolute_sigma:
        s2 = 1.0
    elif dof > 0:
        s2 = 2.0 * result.cost / dof
    else:
        s2 = np.nan  # no degrees of freedom left: the scale of the errors is unknown
    C = (V * inv_s2) @ V.T * s2
    kept = np.zeros(n, dtype=bool)
    kept[: s.size] = keep
    return Covariance(C, rank, rcond, s, V[:, ~kept], s2)
