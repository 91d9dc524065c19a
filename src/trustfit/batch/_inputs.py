"""Validation and preparation of :func:`trustfit.batch.fit_batch`'s arguments.

Every option is checked as :func:`trustfit.least_squares` checks its own (the helpers of
:mod:`trustfit.core.validate`): a bad value is a ``ValueError`` naming the argument, the value
and the rule, raised before any work.  Arrays are converted to the float64 layouts the
kernel reads.  A non-finite value that concerns one curve only (a NaN in a row of ``Y``,
of a per-curve ``sigma``, ``x`` or ``p0``) is not an error: that curve is reported as not
fitted (``StopReason.INVALID_INPUT``) and the others are fitted; a non-finite value shared
by all curves (a scalar or ``(m,)`` sigma, a shared ``x`` or ``p0``, a bound) is an error.
"""

from __future__ import annotations


import numpy as np

from ..core import validate as check
from ._model import BatchModel

METHODS = ("auto", "lm", "varpro")
BACKENDS = ("auto", "compiled", "numpy")
#: Largest ``maxiter``: iteration counts are stored as int32, main pass and rescue together.
MAXITER_LIMIT = 2**31 - 1  # iteration counts are int32


def check_options(*, maxiter, gtol, xtol, ftol, tau, chunk_size, method, backend) -> dict:
    """The scalar options, checked; a tolerance of ``None`` switches its test off (it is
    passed on as 0: the test then fires only at an exact zero)."""
    if method not in METHODS:
        raise ValueError(f"method: {method!r} is not supported by fit_batch; use one of {METHODS}")
    check.choice("backend", backend, BACKENDS)
    # Iteration counts are stored as int32; 0 evaluates the starts only.
    maxiter = check.whole_number("maxiter", maxiter, 0, MAXITER_LIMIT)
    chunk_size = check.whole_number("chunk_size", chunk_size, 1)
    tols = {k: check.tolerance(k, v) for k, v in (("gtol", gtol), ("xtol", xtol), ("ftol", ftol))}
    return dict(maxiter=int(maxiter), tau=check.positive_float("tau", tau),
                chunk_size=int(chunk_size), **{k: v or 0.0 for k, v in tols.items()})


def real_array(name: str, value) -> np.ndarray:
    """``value`` as an array of real numbers (not copied when it already is one, so a
    memory-mapped stack stays mapped); complex or non-numeric values are a ValueError."""
    try:
        a = value if isinstance(value, np.ndarray) else np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be an array of real numbers ({exc}).") from None
    if a.dtype.kind == "c":
        raise ValueError(f"{name} must be real; got complex values (dtype {a.dtype}).")
    if a.dtype.kind not in "biuf":
        try:
            a = a.astype(float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an array of real numbers, got dtype "
                             f"{a.dtype}.") from None
    return a


def check_dtype(name: str, value) -> None:
    """A lazy array (dask) cannot be converted here: its dtype is checked."""
    kind = np.dtype(getattr(value, "dtype", float)).kind
    if kind == "c":
        raise ValueError(f"{name} must be real; got complex values (dtype {value.dtype}).")
    if kind not in "biuf":
        raise ValueError(f"{name} must be an array of real numbers, got dtype {value.dtype}.")


def _shared_finite(name: str, a: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must be finite ({what}); {name}{list(first)} = {a[first]}; mark a single "
            f"curve as invalid with NaN in its own row instead")


def check_stack_shape(Y, bm: BatchModel) -> tuple[int, int]:
    """``(N, m)`` of a stack of curves, or a ValueError saying what is wrong with it."""
    if Y.ndim != 2:
        raise ValueError(
            f"Y: shape {Y.shape}; Y must be 2-D (N curves, m points); for one curve use "
            f"Y[None, :] or trustfit.least_squares"
        )
    N, m = Y.shape
    if m < bm.n_params:
        raise ValueError(
            f"Y: {m} points per curve (shape {Y.shape}) but the model has {bm.n_params} "
            f"parameters {bm.param_names}; need m >= n"
        )
    return N, m


def prepare_x(x, bm: BatchModel, N: int, m: int) -> np.ndarray:
    """Return X of shape (1 or N, k, m), float64 C-contiguous."""
    k = bm.n_independent
    xa = real_array("x", x).astype(float, copy=False)
    if k == 1:
        if xa.ndim == 1 and xa.shape[0] == m:
            _shared_finite("x", xa, "it is shared by all curves")
            return np.ascontiguousarray(xa[None, None, :])
        if xa.ndim == 2 and xa.shape == (N, m):
            return np.ascontiguousarray(xa[:, None, :])
        raise ValueError(
            f"x: shape {xa.shape} does not match Y of shape ({N}, {m}); x must be (m,) = "
            f"({m},) shared by all curves, or (N, m) = ({N}, {m}) per curve"
        )
    if xa.ndim == 2 and xa.shape == (k, m):
        _shared_finite("x", xa, "it is shared by all curves")
        return np.ascontiguousarray(xa[None, :, :])
    if xa.ndim == 3 and xa.shape == (N, k, m):
        return np.ascontiguousarray(xa)
    raise ValueError(
        f"x: shape {xa.shape} does not match a model with {k} independent variables and Y "
        f"of shape ({N}, {m}); x must be (k, m) = ({k}, {m}) or (N, k, m) = ({N}, {k}, {m})"
    )


def prepare_p0(p0, bm: BatchModel, N: int) -> np.ndarray:
    """Return P0 of shape (1 or N, n)."""
    n, names = bm.n_params, bm.param_names
    if isinstance(p0, dict):
        missing = [k for k in names if k not in p0]
        extra = [k for k in p0 if k not in names]
        if missing or extra:
            raise ValueError(
                f"p0: keys must be exactly the model's parameters {names}; "
                f"missing {missing}, unknown {extra}"
            )
        cols = []
        per_curve = False
        for k in names:
            v = real_array(f"p0[{k!r}]", p0[k]).astype(float, copy=False)
            if v.ndim == 0:
                _shared_finite(f"p0[{k!r}]", v[None], "a scalar start is shared by all curves")
                cols.append(v)
            elif v.shape == (N,):
                cols.append(v)
                per_curve = True
            else:
                raise ValueError(
                    f"p0[{k!r}]: shape {v.shape}; each value must be a scalar or an (N,) = "
                    f"({N},) array"
                )
        rows = N if per_curve else 1
        return np.ascontiguousarray(np.stack([np.broadcast_to(c, (rows,)) for c in cols], 1))
    pa = real_array("p0", p0).astype(float, copy=False)
    if pa.ndim == 1 and pa.shape[0] == n:
        _shared_finite("p0", pa, "it is shared by all curves")
        return np.ascontiguousarray(pa[None, :])
    if pa.ndim == 2 and pa.shape in ((N, n), (1, n)):
        if pa.shape[0] == 1:
            _shared_finite("p0", pa, "it is shared by all curves")
        return np.ascontiguousarray(pa)
    raise ValueError(
        f"p0: shape {pa.shape} does not fit {n} parameters {names} and N={N} curves; p0 must "
        f"be a dict by parameter name, an (n,) = ({n},) array or an (N, n) = ({N}, {n}) array"
    )


def prepare_sigma(sigma, N: int, m: int) -> np.ndarray:
    """Return W = 1/sigma of shape (1 or N, m).  sigma must be positive and finite; NaN is
    accepted only in a per-curve (N, m) sigma, where it marks that curve as invalid."""
    if sigma is None:
        return np.ones((1, m))
    s = real_array("sigma", sigma).astype(float, copy=False)
    if s.ndim == 0:
        s = np.full((1, m), float(s))
    elif s.ndim == 1 and s.shape[0] == m:
        s = s[None, :]
    elif not (s.ndim == 2 and s.shape == (N, m)):
        raise ValueError(
            f"sigma: shape {s.shape} does not match Y of shape ({N}, {m}); sigma must be a "
            f"scalar, (m,) = ({m},) or (N, m) = ({N}, {m})"
        )
    with np.errstate(invalid="ignore"):
        bad = np.isfinite(s) & ~(s > 0)
    if bad.any():
        raise ValueError(f"sigma: {int(bad.sum())} finite value(s) <= 0; sigma must be > 0")
    if np.isinf(s).any():
        raise ValueError("sigma must be finite; got inf (use NaN in a curve's own row of an "
                         "(N, m) sigma to mark that curve as invalid)")
    if s.shape[0] == 1:
        _shared_finite("sigma", s[0], "it is shared by all curves")
    with np.errstate(divide="ignore"):
        return np.ascontiguousarray(1.0 / s)


def prepare_bounds(bounds, bm: BatchModel):
    n, names = bm.n_params, bm.param_names
    if bounds is None:
        return np.full(n, -np.inf), np.full(n, np.inf), False
    if isinstance(bounds, dict):
        extra = [k for k in bounds if k not in names]
        if extra:
            raise ValueError(f"bounds: unknown parameter(s) {extra}; parameters are {names}")
        pairs = [bounds.get(k, (-np.inf, np.inf)) for k in names]
        lb = real_array("bounds", [lo for lo, _ in pairs]).astype(float, copy=False)
        ub = real_array("bounds", [hi for _, hi in pairs]).astype(float, copy=False)
    else:
        try:
            lo, hi = bounds
        except (TypeError, ValueError):
            raise ValueError(
                f"bounds: {bounds!r}; bounds must be (lb, ub) with scalars or (n,) = ({n},) "
                f"arrays, or a dict name -> (lo, hi)"
            ) from None

        def _side(v):
            v = real_array("bounds", v).astype(float, copy=False)
            if v.ndim == 0 or v.shape == (n,):
                return np.broadcast_to(v, (n,)).copy()
            return None

        lb, ub = _side(lo), _side(hi)
        if lb is None or ub is None:
            raise ValueError(
                f"bounds: shapes {np.shape(lo)}, {np.shape(hi)}; lb and ub must be scalars or "
                f"(n,) = ({n},) arrays in the order {names}"
            )
    if np.isnan(lb).any() or np.isnan(ub).any():
        raise ValueError(f"bounds must not contain NaN (use -inf / inf for no bound); got "
                         f"lb={lb}, ub={ub}")
    bad = np.flatnonzero(lb >= ub)
    if bad.size:
        j = int(bad[0])
        raise ValueError(f"bounds: need lb < ub for every parameter; {names[j]}: lb = {lb[j]} "
                         f">= ub = {ub[j]} (lb={lb}, ub={ub})")
    return lb, ub, bool(np.isfinite(lb).any() or np.isfinite(ub).any())


def check_starts_within(P0: np.ndarray, LB, UB, bm: BatchModel) -> None:
    with np.errstate(invalid="ignore"):
        out = (P0 < LB) | (P0 > UB)
    if out.any():
        r, c = np.argwhere(out)[0]
        raise ValueError(
            f"p0: {int(out.any(1).sum())} start(s) outside the bounds, e.g. "
            f"{bm.param_names[c]}={P0[r, c]} not in [{LB[c]}, {UB[c]}]; starts must be "
            f"within bounds"
        )


def prepare_arrays(x, p0, sigma, bounds, bm: BatchModel, N: int, m: int):
    """``x``, ``p0``, ``sigma`` and ``bounds`` of a stack of N curves of m points, checked
    and converted for the kernel (one reading for the in-memory and the dask path):
    ``X, P0, W, LB, UB, bounded``; starts outside finite bounds are refused."""
    X = prepare_x(x, bm, N, m)
    P0 = prepare_p0(p0, bm, N)
    W = prepare_sigma(sigma, N, m)
    LB, UB, bounded = prepare_bounds(bounds, bm)
    if bounded:
        check_starts_within(P0, LB, UB, bm)
    return X, P0, W, LB, UB, bounded
