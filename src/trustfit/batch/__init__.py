"""Batch mode: 10^3..10^8 independent small fits of one model (issue 6).

``fit_batch(model, x, Y, p0, ...)`` fits every row of ``Y`` with the same model by
Levenberg-Marquardt.  Symbolic models are compiled once (sympy -> numba) into a fused
kernel that runs in parallel over curves; plain callables run vectorized in numpy; dask
arrays are fitted chunk-wise on a ``dask.distributed`` cluster.  Stalled curves are
rescued.  ``backend='auto'`` runs small batches of a new model on numpy at once and
compiles when that pays (:mod:`._backend`).  See :mod:`trustfit.batch.api`.

Importing this package imports numpy only; numba, sympy and dask are imported when a
fit needs them.
"""

from ._model import CompileWarning
from .api import fit_batch
from .result import DIAGNOSES, STOP_REASONS, BatchResult

__all__ = ["fit_batch", "BatchResult", "CompileWarning", "STOP_REASONS", "DIAGNOSES"]
