"""xarray input of :func:`trustfit.batch.fit_batch`: a ``DataArray`` with ``dim=``.

The convention is the one :meth:`xarray.DataArray.curvefit` set: one dimension ``dim`` is
fitted (its coordinate is the independent variable unless ``x`` is given), every other
dimension indexes the curves.  :class:`DataArrayStack` turns the DataArray into the
(N, m) stack the array path fits - dimensions moved so that ``dim`` is last, the others
flattened in order (a view, no copy, when ``dim`` is already last and the data
C-contiguous) - and turns the :class:`~trustfit.batch.result.BatchResult` back into an
``xarray.Dataset`` over the remaining dimensions, their coordinates and the input's
attrs kept.

Dask-backed input goes through the Dask path (:mod:`._dask`) unchanged: the stack is a
dask reshape, and with ``compute=False`` the Dataset's variables are lazy slices of the
packed per-block result (nothing is fitted until ``.compute()``/``.load()``).

xarray is optional (the ``xarray`` extra); this module imports it only when called, so
``import trustfit`` does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._certify import CODES, succeeded
from .result import DIAGNOSES

# code -> name tables (fixed-width str, so that a lookup is one fancy index)
_STOP_NAMES = np.array([CODES[c].name if c in CODES else "" for c in range(max(CODES) + 1)])
_DIAGNOSIS_NAMES = np.array([DIAGNOSES[c] for c in range(len(DIAGNOSES))])


def is_dataarray(obj) -> bool:
    """True for an ``xarray.DataArray``, without importing xarray."""
    return any(c.__name__ == "DataArray" and c.__module__.startswith("xarray")
               for c in type(obj).__mro__)


def _xarray():
    try:
        import xarray
    except ImportError as exc:  # pragma: no cover - exercised only without xarray
        raise ImportError("fit_batch with an xarray DataArray needs xarray: "
                          "pip install 'trustfit[xarray]'") from exc
    return xarray


def _check_dim(Y, dim) -> str:
    if not is_dataarray(Y):
        raise TypeError(f"dim: {dim!r} is given but Y is a {type(Y).__name__}; dim= names "
                        f"the fitted dimension of an xarray DataArray Y (for an (N, m) "
                        f"array leave dim unset)")
    if dim is None:
        raise ValueError(f"dim: required when Y is an xarray DataArray; name the fitted "
                         f"dimension, one of {tuple(Y.dims)}")
    if not isinstance(dim, str):
        raise TypeError(f"dim: {dim!r} ({type(dim).__name__}); must be the name (a str) of "
                        f"one dimension of Y, one of {tuple(Y.dims)}")
    if dim not in Y.dims:
        raise ValueError(f"dim: {dim!r} is not a dimension of Y; Y's dimensions are "
                         f"{tuple(Y.dims)}")
    return dim


class DataArrayStack:
    """A DataArray ``Y`` seen as the (N, m) stack of its curves along ``dim``.

    ``x``: None (the coordinate of ``dim``), a coordinate name or a DataArray, a sequence
    of them (several independent variables, one per entry), or anything the array path
    takes ((m,), (k, m), ...).  A DataArray ``x`` (or coordinate) spanning other
    dimensions too is broadcast against ``Y``: per-curve x.  ``p0`` dict values and
    ``sigma`` may be DataArrays, broadcast the same way.
    """

    def __init__(self, Y, dim, x=None, p0=None, sigma=None):
        xr = _xarray()
        self.dim = _check_dim(Y, dim)
        self.rest = tuple(d for d in Y.dims if d != dim)
        self.shape = tuple(Y.sizes[d] for d in self.rest)
        self.n_curves = int(np.prod(self.shape, dtype=np.int64))
        self.m = Y.sizes[dim]
        self.source = Y
        self.lazy = not isinstance(Y.data, np.ndarray) and type(Y.data).__module__.startswith(
            "dask")
        data = Y.transpose(*self.rest, dim).data
        if self.lazy and data.ndim > 2:
            # blocks of whole trailing dimensions: a block of the first dimension is then a
            # contiguous block of rows of the (N, m) stack, and back (no fragmenting reshape)
            data = data.rechunk({k: -1 for k in range(1, data.ndim)})
        self.Y = data.reshape(self.n_curves, self.m)
        self.x = self._x(xr, x)
        self.sigma = self._per_point("sigma", sigma) if is_dataarray(sigma) else sigma
        if isinstance(p0, dict):
            p0 = {k: self._per_curve(f"p0[{k!r}]", v) if is_dataarray(v) else v
                  for k, v in p0.items()}
        self.p0 = p0

    # -- inputs -------------------------------------------------------------------------
    def _per_point(self, argument: str, arr) -> np.ndarray:
        """(m,) when ``arr`` spans only ``dim``, else (N, m) broadcast against Y."""
        if self.dim not in arr.dims:
            raise ValueError(f"{argument}: a DataArray with dims {tuple(arr.dims)}; it must "
                             f"span the fitted dimension dim={self.dim!r}")
        if arr.dims == (self.dim,):
            return np.asarray(arr.values, dtype=float)
        full = arr.broadcast_like(self.source).transpose(*self.rest, self.dim)
        return np.asarray(full.values, dtype=float).reshape(self.n_curves, self.m)

    def _per_curve(self, argument: str, arr) -> np.ndarray:
        if self.dim in arr.dims:
            raise ValueError(f"{argument}: a DataArray with dims {tuple(arr.dims)}; a start "
                             f"is one value per curve and must not span dim={self.dim!r}")
        full = arr.broadcast_like(self.source.isel({self.dim: 0}, drop=True))
        return np.asarray(full.transpose(*self.rest).values, dtype=float).reshape(-1)

    def _x(self, xr, x):
        if x is None:
            if self.dim not in self.source.coords:
                raise ValueError(f"x: None, and the fitted dimension dim={self.dim!r} has no "
                                 f"coordinate; pass x= (an array or a coordinate name)")
            x = [self.dim]
        elif isinstance(x, str) or is_dataarray(x):
            x = [x]
        elif not (isinstance(x, (list, tuple))
                  and any(isinstance(v, str) or is_dataarray(v) for v in x)):
            return x  # plain arrays: the array path's rules
        pieces = []
        for k, v in enumerate(x):
            if isinstance(v, str):
                if v not in self.source.coords:
                    raise ValueError(f"x[{k}]: {v!r} is not a coordinate of Y; its "
                                     f"coordinates are {tuple(self.source.coords)}")
                v = self.source.coords[v]
            elif not is_dataarray(v):
                v = xr.DataArray(np.asarray(v, dtype=float), dims=(self.dim,))
            pieces.append(self._per_point(f"x[{k}]", v))
        if len(pieces) == 1:
            return pieces[0]
        if all(p.ndim == 1 for p in pieces):
            return np.stack(pieces)
        return np.stack([np.broadcast_to(p, (self.n_curves, self.m)) for p in pieces], 1)

    # -- output -------------------------------------------------------------------------
    def _kept_coords(self) -> dict:
        return {name: c for name, c in self.source.coords.items()
                if self.dim not in c.dims}

    def dataset(self, res, param_names, notes: dict[str, Any]):
        """The Dataset of a BatchResult (eager) or of a DaskBatch's packed array (lazy)."""
        xr = _xarray()
        n = len(param_names)
        if hasattr(res, "packed"):  # DaskBatch: slices of the lazy packed array
            import dask.array as da

            from ._dask import _SCALARS

            P = res.packed.reshape(*self.shape, res.packed.shape[1])
            col = {name: P[..., 2 * n + k] for k, name in enumerate(_SCALARS)}
            params, stderr, cost = P[..., :n], P[..., n: 2 * n], col["cost"]
            stop_code = col["stop_code"].astype(np.int8)
            diagnosis_code = col["diagnosis_code"].astype(np.int8)
            success = da.map_blocks(succeeded, stop_code, dtype=bool)
            nit = col["nit"].astype(np.int32)
            stop_reason = da.map_blocks(_STOP_NAMES.__getitem__, stop_code,
                                        dtype=_STOP_NAMES.dtype)
            diagnosis = da.map_blocks(_DIAGNOSIS_NAMES.__getitem__, diagnosis_code,
                                      dtype=_DIAGNOSIS_NAMES.dtype)
        else:
            params = res.params.reshape(*self.shape, n)
            stderr = res.stderr.reshape(*self.shape, n)
            cost, success, nit = (getattr(res, k).reshape(self.shape)
                                  for k in ("cost", "success", "nit"))
            stop_reason = _STOP_NAMES[res.stop_code].reshape(self.shape)
            diagnosis = _DIAGNOSIS_NAMES[res.diagnosis_code].reshape(self.shape)
        dims = self.rest
        pdims = dims + ("param",)
        variables = {
            "params": (pdims, params, {"long_name": "fitted parameters"}),
            "stderr": (pdims, stderr, {"long_name": "standard errors of the parameters"}),
            "cost": (dims, cost, {"long_name": "1/2 sum of squared weighted residuals"}),
            "success": (dims, success, {"long_name": "fit certified converged"}),
            "stop_reason": (dims, stop_reason, {"long_name": "why the fit stopped "
                                                "(a trustfit.StopReason name)"}),
            "diagnosis": (dims, diagnosis, {"long_name": "diagnosis"}),
            "nit": (dims, nit, {"long_name": "iterations"}),
        }
        coords = self._kept_coords()
        coords["param"] = ("param", list(param_names))
        attrs = dict(self.source.attrs)
        attrs.update({f"trustfit_{k}": v for k, v in notes.items() if v not in ("", None)})
        return xr.Dataset(variables, coords=coords, attrs=attrs)
