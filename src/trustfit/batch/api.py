"""``fit_batch``: many independent small fits of one model, and ``BatchResult``.

Typical use: a per-pixel fit of an image stack, ``Y`` of shape ``(N, m)`` (N curves of
m points each, all sampled at the same ``x``)::

    from trustfit.batch import fit_batch
    res = fit_batch("x3*exp(x1*t) + x4*exp(x2*t)", t, Y, p0=[-1.0, -0.2, 1.0, 1.0])
    res.params          # (N, 4), columns in res.param_names order
    print(res.summary())

Paths
-----
* symbolic model (``trustfit.Model``, expression string or sympy expression): the model
  and its exact derivatives are compiled into one numba kernel (:mod:`._codegen`,
  :mod:`._kernel`), run in parallel over curves, chunk by chunk (``chunk_size`` rows at a
  time, so extra memory is bounded by the chunk, never a copy of ``Y`` when ``Y`` is
  C-contiguous float64).  Each curve stops on its own (no lockstep).
* plain callable ``f(x, p1, ..., pn)``, or an expression numba cannot compile: the same
  algorithm vectorized in numpy (:mod:`._fallback`), slower.
* ``Y`` a dask array: :mod:`._dask` maps the same per-chunk function over row blocks; the
  results equal the in-memory ones exactly.

After the main pass, stalled curves are rescued (:mod:`._rescue`).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..core import validate as check
from ._kernel import REASONS, SUCCESS_CODES
from ._model import BatchModel, CompileWarning, as_batch_model
from ._nonfinite import explain_nonfinite

# Stop codes and their names are the kernel's (one table for both).
STOP_REASONS = REASONS

DIAGNOSES = {
    0: "converged",
    1: "rescued",
    2: "ill_conditioned",
    3: "not_converged",
    4: "invalid_data",
    5: "invalid_start",
}

METHODS = ("auto", "lm", "varpro")
#: The largest ``maxiter``: iteration counts are stored as int32.
MAX_ITER = 2**31 - 1
RESCUE_TIGHTEN = 1e-2


@dataclass
class BatchResult:
    """Per-curve results of :func:`fit_batch` (row i is curve i of ``Y``).

    Attributes
    ----------
    params : (N, n) fitted parameters, columns in ``param_names`` order (NaN for curves
        with invalid data).
    cost : (N,) ``1/2 sum r^2`` at ``params`` (weighted residuals ``(f - y)/sigma``).
    success : (N,) bool, stopped on gtol, xtol or ftol.
    stop_code : (N,) int8, see ``STOP_REASONS``; ``stop_reason`` gives the names.
    nit : (N,) iterations (main pass plus the winning rescue fit).
    stderr : (N, n) standard errors ``s sqrt(diag (J^T J)^-1)``, ``s^2 = 2 cost/(m-n)``
        (``s = 1`` with ``absolute_sigma``), NaN when ``J^T J`` is singular.
    rcond : (N,) reciprocal condition estimate of the scaled ``J^T J`` (0: singular).
    gn_gain : (N,) relative cost decrease ``1/2 g^T (J^T J)^-1 g / cost`` that a
        Gauss-Newton step from ``params`` predicts; much above ``ftol``: stopped short.
    rescued : (N,) bool, the rescue found a cost lower by more than 1e-6 relative (and
        more than 1e-12 of ``1/2 sum (y/sigma)^2``); smaller gains are kept too,
        without the flag.
    diagnosis_code : (N,) int8, see ``DIAGNOSES``; ``diagnosis`` gives the names.
    method : the method that ran, ``'lm'`` or ``'varpro'`` (``'auto'`` resolved).
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
    backend: str = "compiled"
    timings: dict = field(default_factory=dict)
    method: str = "lm"
    nonfinite: list = field(default_factory=list)

    @property
    def stop_reason(self) -> np.ndarray:
        names = np.array([STOP_REASONS[k] for k in range(len(STOP_REASONS))])
        return names[self.stop_code]

    @property
    def diagnosis(self) -> np.ndarray:
        names = np.array([DIAGNOSES[k] for k in range(len(DIAGNOSES))])
        return names[self.diagnosis_code]

    def __len__(self) -> int:
        return self.params.shape[0]

    def params_dict(self) -> dict[str, np.ndarray]:
        return {name: self.params[:, k] for k, name in enumerate(self.param_names)}

    def summary(self) -> dict:
        """Counts per stop reason and per diagnosis (only non-zero counts)."""
        sc = np.bincount(self.stop_code.astype(np.int64), minlength=len(STOP_REASONS))
        dc = np.bincount(self.diagnosis_code.astype(np.int64), minlength=len(DIAGNOSES))
        out = {
            "n_curves": len(self),
            "n_success": int(self.success.sum()),
            "n_rescued": int(self.rescued.sum()),
            "stop_reason": {STOP_REASONS[k]: int(c) for k, c in enumerate(sc) if c},
            "diagnosis": {DIAGNOSES[k]: int(c) for k, c in enumerate(dc) if c},
        }
        if self.nonfinite:
            out["nonfinite"] = list(self.nonfinite)
        return out

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"BatchResult({s['n_curves']} curves, params {self.param_names}, "
            f"method {self.method!r}, {s['n_success']} converged, {s['n_rescued']} rescued, "
            f"stop_reason={s['stop_reason']}, diagnosis={s['diagnosis']})"
        )


# --------------------------------------------------------------------------- validation


def _prepare_x(x, bm: BatchModel, N: int, m: int) -> np.ndarray:
    """Return X of shape (1 or N, k, m), float64 C-contiguous."""
    k = bm.n_independent
    xa = np.asarray(x, dtype=float)
    if k == 1:
        if xa.ndim == 1 and xa.shape[0] == m:
            return np.ascontiguousarray(xa[None, None, :])
        if xa.ndim == 2 and xa.shape == (N, m):
            return np.ascontiguousarray(xa[:, None, :])
        raise ValueError(
            f"x: shape {xa.shape} does not match Y of shape ({N}, {m}); x must be (m,) = "
            f"({m},) shared by all curves, or (N, m) = ({N}, {m}) per curve"
        )
    if xa.ndim == 2 and xa.shape == (k, m):
        return np.ascontiguousarray(xa[None, :, :])
    if xa.ndim == 3 and xa.shape == (N, k, m):
        return np.ascontiguousarray(xa)
    raise ValueError(
        f"x: shape {xa.shape} does not match a model with {k} independent variables and Y "
        f"of shape ({N}, {m}); x must be (k, m) = ({k}, {m}) or (N, k, m) = ({N}, {k}, {m})"
    )


def _prepare_p0(p0, bm: BatchModel, N: int) -> np.ndarray:
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
            v = np.asarray(p0[k], dtype=float)
            if v.ndim == 0:
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
    pa = np.asarray(p0, dtype=float)
    if pa.ndim == 1 and pa.shape[0] == n:
        return np.ascontiguousarray(pa[None, :])
    if pa.ndim == 2 and pa.shape in ((N, n), (1, n)):
        return np.ascontiguousarray(pa)
    raise ValueError(
        f"p0: shape {pa.shape} does not fit {n} parameters {names} and N={N} curves; p0 must "
        f"be a dict by parameter name, an (n,) = ({n},) array or an (N, n) = ({N}, {n}) array"
    )


def _prepare_sigma(sigma, N: int, m: int) -> np.ndarray:
    """Return W = 1/sigma of shape (1 or N, m)."""
    if sigma is None:
        return np.ones((1, m))
    s = np.asarray(sigma, dtype=float)
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
    with np.errstate(divide="ignore"):
        return np.ascontiguousarray(1.0 / s)


def _prepare_bounds(bounds, bm: BatchModel):
    n, names = bm.n_params, bm.param_names
    if bounds is None:
        return np.full(n, -np.inf), np.full(n, np.inf), False
    if isinstance(bounds, dict):
        extra = [k for k in bounds if k not in names]
        if extra:
            raise ValueError(f"bounds: unknown parameter(s) {extra}; parameters are {names}")
        lb = np.array([bounds.get(k, (-np.inf, np.inf))[0] for k in names], dtype=float)
        ub = np.array([bounds.get(k, (-np.inf, np.inf))[1] for k in names], dtype=float)
    else:
        try:
            lo, hi = bounds
        except (TypeError, ValueError):
            raise ValueError(
                f"bounds: {bounds!r}; bounds must be (lb, ub) with scalars or (n,) = ({n},) "
                f"arrays, or a dict name -> (lo, hi)"
            ) from None
        def _side(v):
            if np.ndim(v) == 0 or np.shape(v) == (n,):
                return np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()
            return None

        lb, ub = _side(lo), _side(hi)
        if lb is None or ub is None:
            raise ValueError(
                f"bounds: shapes {np.shape(lo)}, {np.shape(hi)}; lb and ub must be scalars or "
                f"(n,) = ({n},) arrays in the order {names}"
            )
    if np.any(lb >= ub):
        raise ValueError(f"bounds: need lb < ub for every parameter; got lb={lb}, ub={ub}")
    return lb, ub, bool(np.isfinite(lb).any() or np.isfinite(ub).any())


@dataclass
class _Spec:
    """Everything a chunk fit needs besides the per-curve arrays (picklable for dask)."""

    bm: BatchModel
    LB: np.ndarray
    UB: np.ndarray
    bounded: bool
    maxiter: int
    gtol: float
    xtol: float
    ftol: float
    tau: float
    absolute_sigma: bool
    rescue: bool
    backend: str  # "compiled" | "numpy"
    parallel: bool
    method: str = "lm"  # "lm" | "varpro" (resolved, never "auto")


def _resolve_method(bm: BatchModel, method: str, backend: str, LB, UB) -> str:
    """'auto' -> 'varpro' for a separable symbolic model whose linear parameters are
    unbounded (compiled backend), else 'lm'; an explicit 'varpro' that cannot run is a
    ValueError naming the rule.  ``method`` and ``backend`` are valid (fit_batch checks)."""
    if method == "lm":
        return "lm"
    why = None
    if not bm.symbolic:
        why = "needs a symbolic model (the linear parameters are found by sympy)"
    elif backend == "numpy":
        why = "needs the compiled backend; backend='numpy' runs only 'lm'"
    else:
        from ._codegen import varpro_layout

        layout = varpro_layout(bm)
        if layout is None:
            why = (f"needs a model linear in at least one parameter and nonlinear in at "
                   f"least one other; {bm.param_names} are not")
        else:
            lin = layout[1]
            bad = [bm.param_names[i] for i in lin
                   if np.isfinite(LB[i]) or np.isfinite(UB[i])]
            if bad:
                why = (f"eliminates the linear parameters {[bm.param_names[i] for i in lin]}"
                       f", which cannot be bounded; bounds are set on {bad}")
    if why is None:
        return "varpro"
    if method == "varpro":
        raise ValueError(f"method: 'varpro' {why}; use method='lm'")
    return "lm"


def _resolve(bm: BatchModel, method: str, backend: str, parallel: bool, LB, UB, m: int):
    """(method, backend) that will run: the method first (it decides which kernel to
    compile), then the backend; a compile failure that falls back to numpy re-resolves
    the method for numpy.  ``m``: points per curve (which entry point to compile)."""
    meth = _resolve_method(bm, method, backend, LB, UB)
    be = _resolve_backend(bm, backend, parallel, meth, m)
    if be == "numpy" and meth != "lm":
        meth = _resolve_method(bm, method, "numpy", LB, UB)
    return meth, be


def _resolve_backend(bm: BatchModel, backend: str, parallel: bool = True,
                     method: str = "lm", m: int | None = None) -> str:
    if backend == "numpy":
        if bm.func is None:
            _attach_lambdified(bm)
        return "numpy"
    if not bm.symbolic:
        if backend == "compiled":
            raise ValueError(
                "backend: 'compiled' needs a symbolic model (trustfit.Model, expression "
                "string or sympy expression); a plain callable runs with backend='numpy'"
            )
        return "numpy"
    try:
        from ._kernel import warm_kernel

        warm_kernel(bm, parallel, method, m)  # compile (or load from cache) before any timing
        return "compiled"
    except ImportError:
        if backend == "compiled":
            raise
    except Exception as exc:  # CodegenError, numba typing errors
        if backend == "compiled":
            raise
        import warnings

        warnings.warn(
            f"trustfit.fit_batch: cannot compile the model ({exc}); using the slower "
            f"vectorized numpy path",
            CompileWarning,
            stacklevel=3,
        )
    _attach_lambdified(bm)
    return "numpy"


def _attach_lambdified(bm: BatchModel) -> None:
    """Give a symbolic model numpy callables (model and exact Jacobian) for the fallback."""
    if bm.func is not None or not bm.symbolic:
        return
    import sympy

    if bm.n_independent != 1:
        raise ValueError("the numpy fallback supports one independent variable")
    args = list(bm.independent_symbols) + list(bm.param_symbols)
    f = sympy.lambdify(args, bm.expr, ["scipy", "numpy"])
    from trustfit.models._edges import edge_safe_diff

    d = [sympy.lambdify(args, edge_safe_diff(bm.expr, p), ["scipy", "numpy"])
         for p in bm.param_symbols]

    def jac(x, *p):
        shape = np.broadcast(x, p[0]).shape
        cols = [np.broadcast_to(np.asarray(dk(x, *p), dtype=float), shape) for dk in d]
        return np.stack(cols, axis=-1)

    bm.func = f
    bm.jac_func = jac


def _run(spec: _Spec, X, Y, W, P0, out=None):
    if spec.backend == "compiled":
        from ._kernel import load_kernel, run_kernel

        mod = load_kernel(spec.bm, spec.method)
        return run_kernel(
            mod, X, Y, W, P0, spec.LB, spec.UB, spec.bounded, spec.maxiter, spec.gtol,
            spec.xtol, spec.ftol, spec.tau, spec.absolute_sigma, spec.parallel, out=out,
        )
    from ._fallback import fit_numpy

    res = fit_numpy(
        spec.bm, X, Y, W, P0, spec.LB, spec.UB, spec.bounded, spec.maxiter, spec.gtol,
        spec.xtol, spec.ftol, spec.tau, spec.absolute_sigma,
    )
    if out is None:
        return res
    for o, r in zip(out, res):
        o[...] = r
    return out


_KEYS = ("params", "cost", "nit", "stop_code", "stderr", "rcond", "gn_gain")


def _alloc(N: int, n: int) -> dict:
    return {
        "params": np.empty((N, n)),
        "cost": np.empty(N),
        "nit": np.empty(N, dtype=np.int32),
        "stop_code": np.empty(N, dtype=np.int8),
        "stderr": np.empty((N, n)),
        "rcond": np.empty(N),
        "gn_gain": np.empty(N),
        "rescued": np.empty(N, dtype=bool),
        "diagnosis_code": np.empty(N, dtype=np.int8),
    }


def _rescue_pass(spec, X, Y, W, P0, p, F, nit, reason, se, rcond, gn, rescued):
    """Refit the stalled curves of a chunk in place (see :mod:`._rescue`)."""
    from . import _rescue

    N, n = p.shape
    syms = _rescue.find_symmetries(spec.bm)
    full, short = _rescue.candidates(p, reason, rcond, gn, syms, spec.ftol,
                                     varpro=spec.method == "varpro")
    # Every candidate gets every start of _rescue.starts: measured on the bench's exp2
    # data, a plain restart from the end point alone for the curves that only stopped
    # short leaves 30 of 20,000 curves off the optimum instead of 17.
    cf, cs = np.nonzero(full | short)[0], np.zeros(0, dtype=np.int64)
    if not cf.size:
        return
    p_start = np.broadcast_to(P0, (N, n))[cf]
    S = _rescue.starts(p[cf], p_start, syms)  # (K, Nf, n)
    owner = np.concatenate([np.tile(cf, S.shape[0]), cs])
    P0r = np.concatenate([S.reshape(-1, n), p[cs]])
    if spec.bounded:
        P0r = np.clip(P0r, spec.LB, spec.UB)
    Xr = X if X.shape[0] == 1 else X[owner]
    Wr = W if W.shape[0] == 1 else W[owner]
    # rescue fits: same method, ftol and xtol 100x tighter so that a restart in a flat
    # valley does not stop short again
    rspec = dataclasses.replace(spec, ftol=spec.ftol * RESCUE_TIGHTEN,
                                xtol=spec.xtol * RESCUE_TIGHTEN)
    rp, rF, rnit, rreason, rse, rrcond, rgn = _run(
        rspec, Xr, np.ascontiguousarray(Y[owner]), Wr, np.ascontiguousarray(P0r)
    )
    cost = np.where(np.isfinite(rF), rF, np.inf)
    # best refit per curve: lowest cost, first in start order on ties (deterministic)
    order = np.lexsort((np.arange(owner.size), cost, owner))
    first = np.r_[True, owner[order][1:] != owner[order][:-1]]
    src = order[first]
    ci = owner[src]
    bF = cost[src]
    old = np.where(np.isfinite(F[ci]), F[ci], np.inf)
    better = bF < old * (1.0 - 1e-12)
    # flagged as rescued only when the gain matters: beyond the 1e-6 relative "at the
    # optimum" tolerance and above 1e-12 of the data's own sum of squares (noise-free
    # curves); smaller gains are kept without the flag
    Wc = W if W.shape[0] == 1 else W[ci]
    ysc = 0.5 * np.einsum("ij,ij->i", Y[ci] * Wc, Y[ci] * Wc)
    rescued[ci] = (old - bF) > 1e-6 * old + 1e-12 * ysc
    src, tgt = src[better], ci[better]
    p[tgt] = rp[src]
    F[tgt] = rF[src]
    nit[tgt] = nit[tgt] + rnit[src]
    reason[tgt] = rreason[src]
    se[tgt] = rse[src]
    rcond[tgt] = rrcond[src]
    gn[tgt] = rgn[src]


def fit_chunk(spec: _Spec, X, Y, W, P0, out: dict | None = None):
    """Fit one chunk of curves (main pass + rescue) into ``out`` (a dict of per-curve
    arrays, see ``_alloc``; allocated when None) and return it.

    Deterministic per curve: the result of a curve depends only on its own data, start and
    options, never on the other curves in the chunk (needed for dask == in-memory).
    """
    N = Y.shape[0]
    if out is None:
        out = _alloc(N, spec.bm.n_params)
    p, F, nit, reason, se, rcond, gn = _run(spec, X, Y, W, P0, tuple(out[k] for k in _KEYS))
    rescued = out["rescued"]
    rescued[:] = False
    if spec.rescue and N:
        _rescue_pass(spec, X, Y, W, P0, p, F, nit, reason, se, rcond, gn, rescued)
    success = np.isin(reason, SUCCESS_CODES)
    diag = out["diagnosis_code"]
    diag[:] = 0
    with np.errstate(invalid="ignore"):
        diag[success & (rcond < 1e-12)] = 2
    diag[rescued & success] = 1
    diag[np.isin(reason, (4, 7))] = 3
    diag[reason == 5] = 4
    diag[np.isin(reason, (6, 8))] = 5
    return out


class _Progress:
    def __init__(self, total, progress):
        self.total = total
        self.cb = progress if callable(progress) else None
        self.bar = progress is True
        self.t0 = time.perf_counter()

    def __call__(self, done):
        if self.cb is not None:
            self.cb(done, self.total)
        elif self.bar:
            frac = done / max(self.total, 1)
            el = time.perf_counter() - self.t0
            rate = done / el if el > 0 else 0.0
            w = 30
            fill = int(round(w * frac))
            sys.stderr.write(
                f"\r[{'#' * fill}{'.' * (w - fill)}] {done}/{self.total} curves "
                f"{rate:,.0f} fits/s"
            )
            if done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


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


def fit_batch(
    model,
    x,
    Y,
    p0,
    sigma=None,
    bounds=None,
    method: str = "auto",
    *,
    absolute_sigma: bool = False,
    maxiter: int = 200,
    gtol: float = 1e-8,
    xtol: float = 1e-8,
    ftol: float = 1e-8,
    tau: float = 1e-3,
    rescue: bool = True,
    backend: str = "auto",
    chunk_size: int = 65536,
    parallel: bool = True,
    progress=None,
    compute: bool = True,
    params=None,
    independent="t",
) -> BatchResult:
    """Fit one model to each row of ``Y`` independently (Levenberg-Marquardt).

    Parameters
    ----------
    model : trustfit.Model, expression string, sympy expression, or callable
        ``f(x, p1, ..., pn)``.  Symbolic models are compiled (numba); callables run in
        vectorized numpy.  For strings without ``trustfit.models`` the parameters are the
        free symbols other than ``independent``, in natural sort order; ``params=`` sets
        the order explicitly for sympy expressions and callables.
    x : (m,) shared by all curves, or (N, m) per curve ((k, m) / (N, k, m) for k
        independent variables).
    Y : (N, m) array, or a dask array (then the fit runs chunk-wise with dask).
    p0 : dict name -> scalar or (N,) array, or an (n,) or (N, n) array.
    sigma : None, scalar, (m,) or (N, m) standard deviations; residuals are
        ``(f - y) / sigma``.
    bounds : None, (lb, ub) with scalars or (n,) arrays, or dict name -> (lo, hi).
        Handled by projecting each trial point onto the box.
    method : ``'auto'`` (default), ``'varpro'`` or ``'lm'``.
        ``'lm'``: Levenberg-Marquardt on all parameters (Madsen-Nielsen-Tingleff, the same
        algorithm as trustfit's single-fit ``'lm'``; see :mod:`trustfit.batch._kernel`).
        ``'varpro'``: variable projection (Golub-Pereyra with Kaufman's Jacobian): the
        parameters the model is linear in (amplitudes, offsets) are solved for exactly at
        every step and Levenberg-Marquardt runs on the nonlinear ones only, so their
        starts in ``p0`` are not used.  Same minima, fewer iterations and fewer stalls.
        ``'auto'``: ``'varpro'`` when the model is compiled, separable, and its linear
        parameters are unbounded; ``'lm'`` otherwise.  ``result.method`` says which ran.
    maxiter, gtol, xtol, ftol, tau : iteration budget and stopping tolerances
        (``||g||_inf <= gtol``, ``||h|| <= xtol (||x|| + xtol)``, relative cost decrease
        ``<= ftol``: on an accepted step for ``'lm'``; for ``'varpro'`` already when the
        Gauss-Newton step from the current point predicts no more, which saves the
        confirming evaluation) and the initial damping factor.
    rescue : refit stalled curves from deterministic perturbed starts (:mod:`._rescue`).
    backend : ``'auto'`` (compiled when possible), ``'compiled'`` or ``'numpy'``.
    chunk_size : rows fitted per kernel call; bounds the extra memory.
    parallel : run the compiled kernel on all cores (numba ``prange`` over curves).
    progress : True for a progress bar on stderr, or a callable ``(done, total)``.
    compute : dask input only; False returns a :class:`~trustfit.batch._dask.DaskBatch`
        whose ``.compute()`` gives the BatchResult.

    Returns
    -------
    BatchResult

    Rows of ``Y`` (or of ``sigma``/``x``) with NaN or inf are not fitted: their
    ``stop_reason`` is ``'invalid_data'`` and their parameters are NaN; other rows are
    unaffected.
    """
    if method not in METHODS:
        raise ValueError(f"method: {method!r} is not supported by fit_batch; use one of {METHODS}")
    if backend not in ("auto", "compiled", "numpy"):
        raise ValueError(f"backend: {backend!r}; must be 'auto', 'compiled' or 'numpy'")
    maxiter = check.whole_number("maxiter", maxiter, 0, MAX_ITER)
    chunk_size = check.whole_number("chunk_size", chunk_size, 1)
    if isinstance(bounds, dict):
        for name, pair in bounds.items():
            if np.ndim(pair) != 1 or np.size(pair) != 2:
                raise TypeError(f"bounds: {name!r}: {pair!r}; each value of a bounds dict "
                                f"must be a pair (lo, hi), e.g. {{{name!r}: (0, 10)}}")
    bm = as_batch_model(model, params=params, independent=independent)

    if type(Y).__module__.startswith("dask"):
        from ._dask import fit_batch_dask

        return fit_batch_dask(
            bm, x, Y, p0, sigma=sigma, bounds=bounds, absolute_sigma=absolute_sigma,
            maxiter=maxiter, gtol=gtol, xtol=xtol, ftol=ftol, tau=tau, rescue=rescue,
            backend=backend, compute=compute, method=method,
        )

    if not isinstance(Y, np.ndarray):
        Y = np.asarray(Y)
    N, m = check_stack_shape(Y, bm)
    X = _prepare_x(x, bm, N, m)
    P0 = _prepare_p0(p0, bm, N)
    W = _prepare_sigma(sigma, N, m)
    LB, UB, bounded = _prepare_bounds(bounds, bm)
    if bounded:
        with np.errstate(invalid="ignore"):
            out = (P0 < LB) | (P0 > UB)
        if out.any():
            r, c = np.argwhere(out)[0]
            raise ValueError(
                f"p0: {int(out.any(1).sum())} start(s) outside the bounds, e.g. "
                f"{bm.param_names[c]}={P0[r, c]} not in [{LB[c]}, {UB[c]}]; starts must be "
                f"within bounds"
            )
    t0 = time.perf_counter()
    meth, be = _resolve(bm, method, backend, bool(parallel), LB, UB, m)
    spec = _Spec(bm, LB, UB, bounded, int(maxiter), float(gtol), float(xtol), float(ftol),
                 float(tau), bool(absolute_sigma), bool(rescue), be, bool(parallel), meth)
    t_prepare = time.perf_counter() - t0
    return _fit_in_memory(spec, X, Y, W, P0, chunk_size=int(chunk_size), progress=progress,
                          t_prepare=t_prepare)


def _fit_in_memory(spec, X, Y, W, P0, chunk_size, progress=None, t_prepare=0.0):
    N, m = Y.shape
    n = spec.bm.n_params
    res = _alloc(N, n)
    if spec.backend == "numpy":
        chunk_size = min(chunk_size, 8192)  # the fallback holds J for a chunk: (c, m, n)
    prog = _Progress(N, progress) if progress else None
    t0 = time.perf_counter()
    for s in range(0, N, chunk_size):
        e = min(N, s + chunk_size)
        Yc = np.ascontiguousarray(Y[s:e], dtype=float)
        Xc = X if X.shape[0] == 1 else X[s:e]
        Wc = W if W.shape[0] == 1 else W[s:e]
        Pc = P0 if P0.shape[0] == 1 else P0[s:e]
        fit_chunk(spec, Xc, Yc, Wc, Pc, out={k: v[s:e] for k, v in res.items()})
        if prog:
            prog(e)
    t_fit = time.perf_counter() - t0
    success = np.isin(res["stop_code"], SUCCESS_CODES)
    return BatchResult(
        param_names=list(spec.bm.param_names),
        success=success,
        backend=spec.backend,
        method=spec.method,
        timings={"prepare_s": t_prepare, "fit_s": t_fit},
        nonfinite=explain_nonfinite(spec.bm, X, Y, W, P0, res["params"], success),
        **res,
    )
