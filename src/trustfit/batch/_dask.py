"""Dask path of :func:`trustfit.batch.fit_batch`: ``Y`` a dask array, fitted block by block.

``Y`` (N, m) is rechunked to row blocks holding all m columns; per-curve ``p0``,
``sigma`` and ``x`` are chunked the same way.  Each block runs
:func:`trustfit.batch._chunk.fit_chunk` - the same kernel, the same rescue - with the
serial (single-thread) driver, since dask already runs one task per worker thread.  A
curve's result depends only on its own row, so the results equal the in-memory path
exactly, whatever the chunking, on a single machine or a ``dask.distributed``
cluster (each worker generates or loads the compiled kernel from its own cache).

The per-block results are packed into one float64 array of shape (rows, 2n + 9)
(params, stderr, then the scalars of ``_SCALARS``) and unpacked into a
:class:`~trustfit.batch.result.BatchResult` after ``compute``.  With ``compute=False``,
:class:`DaskBatch` holds the lazy packed array; ``.compute()`` gives the result, and
``.packed`` can be stored (e.g. ``to_zarr``) when even the results are too large.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._inputs import check_stack_shape, prepare_arrays
from ._backend import resolve
from ._certify import succeeded
from ._chunk import fit_chunk
from ._pass import Spec
from .result import BatchResult

#: Per-curve scalars packed after the params and stderr columns, in this order.
_SCALARS = ("cost", "nit", "stop_code", "rcond", "rescued", "diagnosis_code", "gn_gain",
            "share", "condition")


def _pack(out: dict, n: int) -> np.ndarray:
    N = out["cost"].shape[0]
    P = np.empty((N, 2 * n + len(_SCALARS)))
    P[:, :n] = out["params"]
    P[:, n : 2 * n] = out["stderr"]
    for k, name in enumerate(_SCALARS):
        P[:, 2 * n + k] = out[name]
    return P


def _unpack(P: np.ndarray, spec: Spec, reason: str = "") -> BatchResult:
    n = spec.bm.n_params
    dtypes = {"nit": np.int32, "stop_code": np.int8, "rescued": bool, "diagnosis_code": np.int8}
    cols: dict[str, Any] = {name: P[:, 2 * n + k].astype(dtypes.get(name, float))
            for k, name in enumerate(_SCALARS)}
    return BatchResult(
        param_names=list(spec.bm.param_names),
        params=P[:, :n].copy(),
        stderr=P[:, n : 2 * n].copy(),
        success=succeeded(cols["stop_code"]),
        backend=spec.backend + "+dask",
        backend_reason=reason,
        method=spec.method,
        **cols,
    )


def _block(Yb, *rest, spec, X, W, P0, per_x, per_w, per_p):
    it = iter(rest)
    Xb = next(it)[:, None, :] if per_x else X
    Wb = next(it) if per_w else W
    Pb = next(it) if per_p else P0
    Yb = np.ascontiguousarray(Yb, dtype=float)
    out = fit_chunk(spec, np.ascontiguousarray(Xb, dtype=float), Yb,
                    np.ascontiguousarray(Wb, dtype=float), np.ascontiguousarray(Pb, dtype=float))
    return _pack(out, spec.bm.n_params)


class DaskBatch:
    """Lazy result of a dask batch fit; ``compute()`` returns a BatchResult."""

    def __init__(self, packed, spec, reason: str = ""):
        self.packed = packed
        self._spec = spec
        self._reason = reason

    def compute(self, **kwargs) -> BatchResult:
        return _unpack(np.asarray(self.packed.compute(**kwargs)), self._spec, self._reason)


def fit_batch_dask(bm, x, Y, p0, *, sigma, bounds, absolute_sigma, maxiter, gtol, xtol,
                   ftol, tau, rescue, backend, compute, method="lm"):
    import dask.array as da

    N, m = check_stack_shape(Y, bm)
    n = bm.n_params
    Y = Y.rechunk({1: -1})
    rows = Y.chunks[0]
    # x is small unless per-curve; per-curve x is chunked
    X, P0, W, LB, UB, bounded = prepare_arrays(x, p0, sigma, bounds, bm, N, m)
    meth, be, why = resolve(bm, method, backend, False, LB, UB, N, m)
    # the options were checked by fit_batch
    spec = Spec(bm, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau, bool(absolute_sigma),
                 bool(rescue), be, False, meth)
    if be == "numpy" and X.shape[1] != 1:
        raise ValueError("the numpy fallback supports one independent variable")
    args = [Y]
    per_x, per_w, per_p = X.shape[0] > 1, W.shape[0] > 1, P0.shape[0] > 1
    if per_x:
        args.append(da.from_array(X[:, 0, :] if X.shape[1] == 1 else X, chunks=(rows, m)))
        if X.shape[1] != 1:
            raise ValueError("x: per-curve x with several independent variables is not "
                             "supported with dask input")
    if per_w:
        args.append(da.from_array(W, chunks=(rows, m)))
    if per_p:
        args.append(da.from_array(P0, chunks=(rows, n)))
    packed = da.map_blocks(
        _block,
        *args,
        spec=spec,
        X=None if per_x else X,
        W=None if per_w else W,
        P0=None if per_p else P0,
        per_x=per_x,
        per_w=per_w,
        per_p=per_p,
        dtype=float,
        chunks=(rows, (2 * n + len(_SCALARS),)),
        meta=np.empty((0, 0)),
    )
    lazy = DaskBatch(packed, spec, why)
    return lazy.compute() if compute else lazy
