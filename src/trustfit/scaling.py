"""Variable scaling: the diagonal ``D`` that makes one unit of step mean the same in every
direction.

The solvers work in scaled variables ``z = D x``, i.e. with the Jacobian ``J D^{-1}``. Two
choices, SciPy's ``x_scale`` argument:

* numbers: ``D = 1 / x_scale`` (the characteristic size of each variable), fixed;
* ``'jac'``: Moré's rule (Moré 1978, "The Levenberg-Marquardt algorithm: implementation and
  theory"; MINPACK ``lmder`` with ``mode=1``): ``D_j = max over iterations of ||J[:, j]||``,
  which makes the damping invariant to a rescaling of the parameters. A column that has been
  zero so far gets ``D_j = 1``.
"""
from __future__ import annotations

import numpy as np


class Scaling:
    def __init__(self, x_scale: str | np.ndarray, n: int):
        self.adaptive = isinstance(x_scale, str)
        self.D = np.ones(n) if self.adaptive else 1.0 / np.broadcast_to(x_scale, (n,)).astype(float)
        self._seen = np.zeros(n)

    def update(self, J: np.ndarray) -> np.ndarray:
        """Scaling vector to use with Jacobian ``J`` (unchanged unless adaptive)."""
        if self.adaptive:
            with np.errstate(all="ignore"):
                norms = np.sqrt(np.sum(J * J, axis=0))
            self._seen = np.maximum(self._seen, np.where(np.isfinite(norms), norms, 0.0))
            self.D = np.where(self._seen > 0.0, self._seen, 1.0)
        return self.D
