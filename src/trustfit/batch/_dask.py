"""Dask path of :func:`trustfit.batch.fit_batch`: ``Y`` a dask array, fitted block by block.

``Y`` (N, m) is rechunked to row blocks holding all m columns; per-curve ``p0``,
``sigma`` and ``x`` are chunked the same way.  Each block runs
:func:`trustfit.batch.api.fit_chunk` - the same kernel, the same rescue - with the
serial (single-thread) driver, since dask already runs one task per worker thread.  A
curve's result depends only on its own row, so the results equal the in-memory path
exactly, whatever the chunking, on a single machine or a ``dask.distributed``
cluster (each worker generates or loads the compiled kernel from its own cache).

The per-block results are packed into one float64 array of shape (rows, 2n + 7)
(params, stderr, cost, nit, stop code, rcond, rescued, diagnosis, gn_gain) and unpacked into a
:class:`~trustfit.batch.api.BatchResult` after ``compute``.  With ``compute=False``,
:class:`DaskBatch` holds the lazy packed array; ``.compute()`` gives the result, and
``.packed`` can be stored (e.g. ``to_zarr``) when even the results are too large.
"""

from __future__ import annotations

import numpy as np

from .api import (
    SUCCESS_CODES,
    BatchResult,
    _prepare_bounds,
    _prepare_p0,
    _prepare_sigma,
    _prepare_x,
    _resolve,
    _Spec,
    check_stack_shape,
    fit_chunk,
)


def _pack(out: dict, n: int) -> np.ndarray:
    N = out["cost"].shape[0]
    P = np.empty((N, 2 * n + 7))
    P[:, :n] = out["params"]
    P[:, n : 2 * n] = out["stderr"]
    P[:, 2 * n] = out["cost"]
    P[:, 2 * n + 1] = out["nit"]
    P[:, 2 * n + 2] = out["stop_code"]
    P[:, 2 * n + 3] = out["rcond"]
    P[:, 2 * n + 4] = out["rescued"]
    P[:, 2 * n + 5] = out["diagnosis_code"]
    P[:, 2 * n + 6] = out["gn_gain"]
    return P


def _unpack(P: np.ndarray, spec: _Spec) -> BatchResult:
    n = spec.bm.n_params
    code = P[:, 2 * n + 2].astype(np.int8)
    return BatchResult(
        param_names=list(spec.bm.param_names),
        params=P[:, :n].copy(),
        cost=P[:, 2 * n].copy(),
        success=np.isin(code, SUCCESS_CODES),
        stop_code=code,
        nit=P[:, 2 * n + 1].astype(np.int32),
        stderr=P[:, n : 2 * n].copy(),
        rcond=P[:, 2 * n + 3].copy(),
        rescued=P[:, 2 * n + 4].astype(bool),
        diagnosis_code=P[:, 2 * n + 5].astype(np.int8),
        gn_gain=P[:, 2 * n + 6].copy(),
        backend=spec.backend + "+dask",
        method=spec.method,
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

    def __init__(self, packed, spec):
        self.packed = packed
        self._spec = spec

    def compute(self, **kwargs) -> BatchResult:
        return _unpack(np.asarray(self.packed.compute(**kwargs)), self._spec)


def fit_batch_dask(bm, x, Y, p0, *, sigma, bounds, absolute_sigma, maxiter, gtol, xtol,
                   ftol, tau, rescue, backend, compute, method="lm"):
    import dask.array as da

    N, m = check_stack_shape(Y, bm)
    n = bm.n_params
    Y = Y.rechunk({1: -1})
    rows = Y.chunks[0]
    X = _prepare_x(x, bm, N, m)  # x is small unless per-curve; per-curve x is chunked
    P0 = _prepare_p0(p0, bm, N)
    W = _prepare_sigma(sigma, N, m)
    LB, UB, bounded = _prepare_bounds(bounds, bm)
    meth, be = _resolve(bm, method, backend, False, LB, UB, m)
    spec = _Spec(bm, LB, UB, bounded, int(maxiter), float(gtol), float(xtol), float(ftol),
                 float(tau), bool(absolute_sigma), bool(rescue), be, False, meth)
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
        chunks=(rows, (2 * n + 7,)),
        meta=np.empty((0, 0)),
    )
    lazy = DaskBatch(packed, spec)
    return lazy.compute() if compute else lazy
