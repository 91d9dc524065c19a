"""The deviance residuals of counts for the batch's Levenberg-Marquardt pass and its
certificate (:mod:`._fallback`, :mod:`._certify`), and the curves that have none: the
residual side of :mod:`._poisson`, a leaf module so that those two import nothing else of
it."""

from __future__ import annotations

import numpy as np

from ..kinds import poisson


def deviance_and_jacobian(mu, J, Y, W):
    """Deviance residuals ``r`` (K, m) and their Jacobian (K, m, n) from the means ``mu``
    and their Jacobian ``J``; ``W`` is the chunk's exact power-of-two scale (:mod:`._chunk`)
    broadcast to ``Y``. Rows with a mean that is not positive and finite get NaN (a rejected
    point)."""
    with np.errstate(all="ignore"):
        outside = ~(np.isfinite(mu) & (mu > 0.0))
        safe = np.where(outside, 1.0, mu)
        r, slope = poisson.residuals_and_slopes(Y, safe)
        r, slope = r * W, slope * W
        bad_row = outside.any(axis=1)
        r[bad_row] = np.nan
        return r, J * slope[:, :, None]


def all_zero_rows(Y: np.ndarray) -> np.ndarray:
    """Rows of finite counts that are all zero: no maximum-likelihood estimate with
    positive means (module docstring)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(Y).all(axis=1) & ~(Y != 0).any(axis=1)
