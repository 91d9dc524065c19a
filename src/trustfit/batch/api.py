"""``fit_batch``: many independent small fits of one model, and ``BatchResult``.

Typical use: a per-pixel fit of an image stack, ``Y`` of shape ``(N, m)`` (N curves of
m points each, all sampled at the same ``x``)::

    from trustfit.batch import fit_batch
    res = fit_batch("x3*exp(x1*t) + x4*exp(x2*t)", t, Y,
                    p0={"x1": -1.0, "x2": -0.2, "x3": 1.0, "x4": 1.0})
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

After the main pass, a curve refused as ``STALLED`` while a Gauss-Newton step would still
remove most of its cost (a near-exact fit stopped by the step test) is continued to the
rounding floor (:func:`_polish_pass`); then stalled curves are rescued (:mod:`._rescue`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from ..console.progress import Progress

from ._certify import (  # noqa: F401  (SUCCESS_CODES re-exported)
    CODES,
    DIAGNOSIS_OF_CODE,
    STALLED_CODE,
    SUCCESS_CODES,
    certify_chunk,
    reasons,
    succeeded,
)
from ._inputs import (  # noqa: F401  (METHODS re-exported)
    METHODS,
    check_dtype,
    check_options,
    check_stack_shape,
    check_starts_within,
    prepare_bounds,
    prepare_p0,
    prepare_sigma,
    prepare_x,
    real_array,
)
from ._model import BatchModel, CompileWarning, as_batch_model  # noqa: F401
from ._nonfinite import explain_nonfinite

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

RESCUE_TIGHTEN = 1e-2
#: The polish's xtol and ftol (:func:`_polish_pass`): 8 eps, far below the exact-fit rule's
#: 2048 eps (:func:`trustfit.core.stopping.certify`).
POLISH_TOL = 8.0 * float(np.finfo(float).eps)


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
        """Counts per stop reason and per diagnosis (only non-zero counts)."""
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
        }
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
            f"stop_reason={s['stop_reason']}, diagnosis={s['diagnosis']})"
        )


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
    #: the user's (gtol, xtol, ftol): the certificate's tolerances, also for the rescue's
    #: runs with tighter ones
    user_tol: tuple = ()

    @property
    def certify_tol(self) -> tuple:
        return self.user_tol or (self.gtol, self.xtol, self.ftol)


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
    """Fit the curves and certify the converged ones; ``out``: the arrays of ``_KEYS``
    (allocated when None)."""
    if out is None:
        out = tuple(_alloc(Y.shape[0], spec.bm.n_params)[k] for k in _KEYS)
    _certify(spec, X, Y, W, P0, out, _fit(spec, X, Y, W, P0, out))
    return out


def _fit(spec: _Spec, X, Y, W, P0, out):
    """Fit the curves (kernel or numpy fallback) into ``out`` (not certified yet); return
    the per-curve statistics the certificate reads (gn_gain, condition bound, screen
    ratios: the kernel's ``_curve_results``)."""
    stats = np.empty((Y.shape[0], 4))
    run = out[:6] + (stats,)
    if spec.backend == "compiled":
        from ._kernel import load_kernel, run_kernel

        run_kernel(
            load_kernel(spec.bm, spec.method), X, Y, W, P0, spec.LB, spec.UB, spec.bounded,
            spec.maxiter, spec.gtol, spec.xtol, spec.ftol, spec.tau, spec.absolute_sigma,
            spec.parallel, out=run,
        )
    else:
        from ._fallback import fit_numpy

        res = fit_numpy(
            spec.bm, X, Y, W, P0, spec.LB, spec.UB, spec.bounded, spec.maxiter, spec.gtol,
            spec.xtol, spec.ftol, spec.tau, spec.absolute_sigma,
        )
        for o, r in zip(run, res):
            o[...] = r
    out[6][...] = stats[:, 0]
    return stats


def _certify(spec: _Spec, X, Y, W, P0, out, stats):
    """:mod:`._certify` on the fitted curves of ``out`` (codes, share and condition set)."""
    linear = ()
    if spec.method == "varpro":  # the linear parameters' starts are not used: no sizes
        from ._codegen import varpro_layout

        linear = varpro_layout(spec.bm)[1]
    share, condition = certify_chunk(spec.bm, X, Y, W, P0, out[:6] + (stats,),
                                     spec.certify_tol, linear)
    out[7][...] = share
    out[8][...] = condition


_KEYS = ("params", "cost", "nit", "stop_code", "stderr", "rcond", "gn_gain", "share",
         "condition")


def _alloc(N: int, n: int) -> dict:
    return {
        "params": np.empty((N, n)),
        "cost": np.empty(N),
        "nit": np.empty(N, dtype=np.int32),
        "stop_code": np.empty(N, dtype=np.int8),
        "stderr": np.empty((N, n)),
        "rcond": np.empty(N),
        "gn_gain": np.empty(N),
        "share": np.empty(N),
        "condition": np.empty(N),
        "rescued": np.empty(N, dtype=bool),
        "diagnosis_code": np.empty(N, dtype=np.int8),
    }


def _rescue_pass(spec, X, Y, W, P0, res, rescued):
    """Refit the stalled curves of a chunk in place (see :mod:`._rescue`); ``res``: the
    chunk's arrays of ``_KEYS``."""
    from . import _rescue

    p, F, nit, reason, se, rcond, gn = res[:7]
    N, n = p.shape
    syms = _rescue.find_symmetries(spec.bm)
    full, short, split = _rescue.candidates(p, reason, rcond, gn, syms, spec.ftol,
                                            varpro=spec.method == "varpro")
    # Every candidate gets every start of _rescue.starts (measured on the bench's exp2
    # data, a plain restart from the end point alone for the curves that only stopped
    # short leaves 30 of 20,000 curves off the optimum instead of 17), except those
    # picked for their merged pairs only (``split``): the starts that split the pairs.
    cf = np.nonzero(full | short | split)[0]
    if not cf.size:
        return
    p_start = np.broadcast_to(P0, (N, n))[cf]
    S = _rescue.starts(p[cf], p_start, syms)  # (K, Nf, n)
    use = np.ones(S.shape[:2], dtype=bool)
    use[_rescue.n_split_starts(syms):] = (full | short)[cf]
    owner = np.broadcast_to(cf, S.shape[:2])[use]
    P0r = S[use]
    if spec.bounded:
        P0r = np.clip(P0r, spec.LB, spec.UB)
    Xr = X if X.shape[0] == 1 else X[owner]
    Wr = W if W.shape[0] == 1 else W[owner]
    # rescue fits: same method, ftol and xtol 100x tighter so that a restart in a flat
    # valley does not stop short again
    # (the certificate keeps the user's tolerances)
    rspec = dataclasses.replace(spec, ftol=spec.ftol * RESCUE_TIGHTEN,
                                xtol=spec.xtol * RESCUE_TIGHTEN, user_tol=spec.certify_tol)
    Yr, P0r = np.ascontiguousarray(Y[owner]), np.ascontiguousarray(P0r)
    refit = tuple(_alloc(owner.size, n)[k] for k in _KEYS)
    stats = _fit(rspec, Xr, Yr, Wr, P0r, refit)
    rF, rnit = refit[1], refit[2]
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
    # only the refits that replace a curve are certified
    best = tuple(a[src] for a in refit)
    _certify(rspec, Xr if Xr.shape[0] == 1 else Xr[src], Yr[src],
             Wr if Wr.shape[0] == 1 else Wr[src], P0r[src], best, stats[src])
    total = nit[tgt] + rnit[src]
    for mine, theirs in zip(res, best):
        mine[tgt] = theirs
    nit[tgt] = total


def _polish_pass(spec, X, Y, W, P0, res):
    """Continue, from its end point with xtol = ftol = ``POLISH_TOL``, every curve that the
    certificate refused on its share (``STALLED``) while a Gauss-Newton step would remove
    most of its cost (``gn_gain`` = share^2 > 1/2); keep the continuation where its cost
    is lower, certified with the user's tolerances (the certificate is unchanged).

    Why: on a (near) zero-residual curve, ``r ~ J (x - x*)`` and the step test
    ``|h_j| <= xtol |x_j|`` fires at ``||r|| ~ xtol || |J| |x| ||``, still far above the
    rounding floor where the exact-fit rule certifies (``2048 eps`` of it, the single
    fit's rule, :func:`trustfit.core.stopping.certify`), and the residual is all in
    range(J) (share 1).  A step test is a valid stop only where the model predicts no
    significant gain; with ``POLISH_TOL`` below the rule's ``2048 eps`` the continuation
    stops at the floor (a few Gauss-Newton steps, quadratic convergence).  A curve whose
    residual is mostly noise (share^2 <= 1/2) is not touched: noisy data are unaffected.
    Ratios only (share, relative steps and costs): invariant to the scales."""
    p, F, nit, reason, gn = res[0], res[1], res[2], res[3], res[6]
    with np.errstate(invalid="ignore"):
        idx = np.flatnonzero((reason == STALLED_CODE) & (gn > 0.5))
    if not idx.size:
        return
    rows = lambda A: A if A.shape[0] == 1 else A[idx]  # noqa: E731
    pspec = dataclasses.replace(spec, ftol=POLISH_TOL, xtol=POLISH_TOL,
                                user_tol=spec.certify_tol)
    polished = tuple(_alloc(idx.size, p.shape[1])[k] for k in _KEYS)
    stats = _fit(pspec, rows(X), Y[idx], rows(W), np.ascontiguousarray(p[idx]), polished)
    _certify(pspec, rows(X), Y[idx], rows(W), rows(P0), polished, stats)  # user's sizes
    better = polished[1] < np.where(np.isfinite(F[idx]), F[idx], np.inf)
    src, tgt = np.flatnonzero(better), idx[better]
    total = nit[tgt] + polished[2][src]
    for mine, theirs in zip(res, polished):
        mine[tgt] = theirs[src]
    nit[tgt] = total


def _unit_weights(Y, W):
    """``(W * scale, scale)`` with ``scale`` the power of two that brings the chunk's
    largest ``|y w|`` near 1.  Multiplying every residual by a power of two is exact: the
    fits, every test and the certificate are the same bit for bit, whatever the chunk,
    and the costs (and the Jacobian's products in variable projection, fourth powers of
    the weights) neither overflow nor underflow for data or sigma from 1e-150 to 1e150."""
    with np.errstate(all="ignore"):
        size = _largest(W) * (_largest(Y) or 1.0)
    if not (0.0 < size < np.inf):
        return W, 1.0
    scale = float(np.ldexp(1.0, -int(np.frexp(size)[1])))
    return W * scale, scale


def _largest(a) -> float:
    """The largest finite ``|a|`` (0 when none), without a temporary the size of ``a``
    unless it holds non-finite values."""
    top = max(abs(float(np.max(a, initial=0.0))), abs(float(np.min(a, initial=0.0))))
    if np.isfinite(top):
        return top
    rows = a.reshape(a.shape[0], -1)
    return max((float(np.max(np.abs(r), initial=0.0, where=np.isfinite(r))) for r in rows),
               default=0.0)


def fit_chunk(spec: _Spec, X, Y, W, P0, out: dict | None = None):
    """Fit one chunk of curves (main pass + rescue) into ``out`` (a dict of per-curve
    arrays, see ``_alloc``; allocated when None) and return it.

    Deterministic per curve: the result of a curve depends only on its own data, start and
    options, never on the other curves in the chunk (needed for dask == in-memory).
    """
    N = Y.shape[0]
    if out is None:
        out = _alloc(N, spec.bm.n_params)
    W, scale = _unit_weights(Y, W)
    res = _run(spec, X, Y, W, P0, tuple(out[k] for k in _KEYS))
    rescued = out["rescued"]
    rescued[:] = False
    _polish_pass(spec, X, Y, W, P0, res)
    if spec.rescue and N:
        _rescue_pass(spec, X, Y, W, P0, res, rescued)
    if scale != 1.0:  # back to the user's units (exact, as the scaling was)
        with np.errstate(over="ignore"):
            out["cost"][...] = out["cost"] / (scale * scale)
        if spec.absolute_sigma:
            out["stderr"][...] = out["stderr"] * scale
    reason = out["stop_code"]
    diag = out["diagnosis_code"]
    diag[:] = DIAGNOSIS_OF_CODE[reason]
    diag[rescued & succeeded(reason)] = 1
    return out


class _Progress:
    """``progress``: a callable ``progress(done, total)``, or True for the console's bar on
    stderr (asked for explicitly, so drawn even when stderr is not a terminal)."""

    def __init__(self, total, progress):
        self.total = total
        self.cb = progress if callable(progress) else None
        self.bar = Progress(total, "fit_batch", enabled=True) if progress is True else None
        self.t0 = time.perf_counter()

    def __call__(self, done):
        if self.cb is not None:
            self.cb(done, self.total)
        elif self.bar is not None:
            elapsed = time.perf_counter() - self.t0
            rate = done / elapsed if elapsed > 0 else 0.0
            self.bar.advance(done - self.bar.done, note=f"curves, {rate:,.0f} fits/s")
            if done >= self.total:
                self.bar.close()


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
        vectorized numpy.  The parameters are in the order first written in the expression
        (for a sympy expression: as it prints), as in ``trustfit.models``; ``params=`` sets
        the order explicitly.
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
    maxiter, gtol, xtol, ftol, tau : iteration budget (a whole number >= 1), the stopping
        tolerances and the initial damping factor (> 0).  The tolerances mean what
        :func:`trustfit.least_squares`'s mean (:mod:`trustfit.stopping`), each free of the
        units of the data, of sigma and of the parameters: ``gtol`` bounds the cosine
        between the residuals and each column of J (MINPACK's), ``xtol`` the step of each
        parameter relative to its size, ``ftol`` the actual and predicted relative
        reductions of the cost (for ``'varpro'`` also when the Gauss-Newton step from the
        current point predicts no more, which saves the confirming evaluation).  None
        switches a test off (it then fires only at an exact zero).  The defaults, 1e-8,
        are looser than the single fit's 1e-15 (it runs to rounding level and polishes):
        that costs iterations a batch does not spend, and ``success`` is certified either
        way (see ``BatchResult.success``).
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
    opts = check_options(maxiter=maxiter, gtol=gtol, xtol=xtol, ftol=ftol, tau=tau,
                         chunk_size=chunk_size, method=method, backend=backend)
    if isinstance(bounds, dict):
        for name, pair in bounds.items():
            if np.ndim(pair) != 1 or np.size(pair) != 2:
                raise TypeError(f"bounds: {name!r}: {pair!r}; each value of a bounds dict "
                                f"must be a pair (lo, hi), e.g. {{{name!r}: (0, 10)}}")
    bm = as_batch_model(model, params=params, independent=independent)

    if type(Y).__module__.startswith("dask"):
        from ._dask import fit_batch_dask

        check_dtype("Y", Y)
        return fit_batch_dask(
            bm, x, Y, p0, sigma=sigma, bounds=bounds, absolute_sigma=absolute_sigma,
            maxiter=opts["maxiter"], gtol=opts["gtol"], xtol=opts["xtol"], ftol=opts["ftol"],
            tau=opts["tau"], rescue=rescue, backend=backend, compute=compute, method=method,
        )

    Y = real_array("Y", Y)
    N, m = check_stack_shape(Y, bm)
    X = prepare_x(x, bm, N, m)
    P0 = prepare_p0(p0, bm, N)
    W = prepare_sigma(sigma, N, m)
    LB, UB, bounded = prepare_bounds(bounds, bm)
    if bounded:
        check_starts_within(P0, LB, UB, bm)
    t0 = time.perf_counter()
    meth, be = _resolve(bm, method, backend, bool(parallel), LB, UB, m)
    spec = _Spec(bm, LB, UB, bounded, opts["maxiter"], opts["gtol"], opts["xtol"],
                 opts["ftol"], opts["tau"], bool(absolute_sigma), bool(rescue), be,
                 bool(parallel), meth)
    t_prepare = time.perf_counter() - t0
    return _fit_in_memory(spec, X, Y, W, P0, chunk_size=opts["chunk_size"],
                          progress=progress, t_prepare=t_prepare)


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
    success = succeeded(res["stop_code"])
    return BatchResult(
        param_names=list(spec.bm.param_names),
        success=success,
        backend=spec.backend,
        method=spec.method,
        timings={"prepare_s": t_prepare, "fit_s": t_fit},
        nonfinite=explain_nonfinite(spec.bm, X, Y, W, P0, res["params"], success),
        **res,
    )
