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
* ``Y`` an xarray DataArray with ``dim=``: :mod:`._xarray` flattens it to the (N, m) stack
  (dask-backed: through the dask path) and returns an ``xarray.Dataset``.

After the main pass, a curve refused as ``STALLED`` while a Gauss-Newton step would still
remove most of its cost (a near-exact fit stopped by the step test) is continued to the
rounding floor (:func:`._followup.polish_pass`); then stalled curves are rescued, and
certified curves with an undetermined parameter are refitted from either side of it, the
lower cost winning (:mod:`._rescue`: a local minimum is stationary, so only a lower cost
found can refuse it).

Modules: :mod:`._backend` chooses the backend (by predicted time for ``'auto'``) and the
method, :mod:`._chunk` fits a chunk (:mod:`._pass` one pass on either backend,
:mod:`._followup` the polish and rescue passes), :mod:`.result` holds
:class:`BatchResult`.
"""

from __future__ import annotations

import time

import numpy as np

from ..console.progress import Progress
from ._backend import resolve, resolve_method as _resolve_method  # noqa: F401
from ._certify import SUCCESS_CODES, succeeded  # noqa: F401  (SUCCESS_CODES re-exported)
from ._chunk import fit_chunk  # noqa: F401  (re-exported)
from ._cost import observe_kernel_run
from ._inputs import (  # noqa: F401  (METHODS re-exported)
    METHODS,
    check_dtype,
    check_options,
    check_stack_shape,
    prepare_arrays,
    real_array,
)
from ._model import BatchModel, CompileWarning, as_batch_model  # noqa: F401
from ._nonfinite import explain_nonfinite
from ._pass import Spec, alloc
from ._poisson_residuals import all_zero_rows
from ._poisson import check_counts, check_noise, check_shared_start
from ._poisson import finish as finish_poisson, poisson_model, resolve as resolve_poisson
from ._xarray import is_dataarray
from .result import DIAGNOSES, STOP_REASONS, BatchResult  # noqa: F401  (re-exported)


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
    x=None,
    Y=None,
    p0=None,
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
    dim: str | None = None,
    noise: str = "gaussian",
    sigma_x=None,
):
    """Fit one model to each row of ``Y`` independently (Levenberg-Marquardt).

    Parameters
    ----------
    model : trustfit.Model, expression string, sympy expression, or callable
        ``f(x, p1, ..., pn)``.  Symbolic models are compiled (numba); callables run in
        vectorized numpy.  The parameters are in the order first written in the expression
        (for a sympy expression: as it prints), as in ``trustfit.models``; ``params=`` sets
        the order explicitly.
    x : (m,) shared by all curves, or (N, m) per curve ((k, m) / (N, k, m) for k
        independent variables, in the order of ``independent``).  For a DataArray ``Y``:
        None (default) for the coordinate of ``dim``, a coordinate name, a DataArray, or
        a sequence of them (one per independent variable); DataArrays spanning other
        dimensions too give per-curve x.
    Y : (N, m) array, a dask array (then the fit runs chunk-wise with dask), or an
        ``xarray.DataArray`` with ``dim=`` (see below).
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
    rescue : refit stalled curves from deterministic perturbed starts, and certified
        curves with an undetermined parameter (standard error above its size) one
        standard deviation either way along their least determined combination: a
        stationary point is ``success`` only when no lower cost was found near it
        (:mod:`._rescue`).
    backend : ``'auto'`` (default), ``'compiled'`` or ``'numpy'``.  ``'auto'`` runs the
        compiled kernel when it is loaded in this process, and otherwise whichever is
        predicted to finish sooner: the numpy path, or loading (cached) or compiling the
        kernel and then fitting (:mod:`._backend`, :mod:`._cost`).  Small batches of a new
        model run on numpy at once; large ones compile first.  ``result.backend`` and
        ``result.backend_reason`` say which ran and why.  Both reach the same minima; fix
        the backend for runs that must agree to the last bit.
    chunk_size : rows fitted per kernel call; bounds the extra memory.
    parallel : run the compiled kernel on all cores (numba ``prange`` over curves).
    progress : True for a progress bar on stderr, or a callable ``(done, total)``.
    compute : dask input only; False returns a :class:`~trustfit.batch._dask.DaskBatch`
        whose ``.compute()`` gives the BatchResult (for a dask-backed DataArray: a lazy
        Dataset, fitted on ``.compute()``/``.load()``).
    params : the parameters' order (default: as first written in the expression).
    independent : the independent variables' names, one name or any sequence
        (``"t"``, ``("x", "y")``, ``["x", "y"]``); with several, ``x`` is (k, m) or
        (N, k, m) in this order.
    dim : the fitted dimension of an ``xarray.DataArray`` ``Y`` (the convention of
        :meth:`xarray.DataArray.curvefit`): every other dimension indexes the curves, its
        coordinate is ``x`` unless ``x`` is given.  ``p0`` values and ``sigma`` may be
        DataArrays (broadcast against ``Y``).  Needs the ``xarray`` extra
        (``pip install 'trustfit[xarray]'``).  A dask-backed DataArray is fitted block by
        block through the dask path: its blocks along the first remaining dimension
        (the others, and ``dim``, are rechunked whole) are blocks of rows of the stack.

    noise : ``'gaussian'`` (default) or ``'poisson'``: ``Y`` holds counts (whole numbers
        >= 0, zeros welcome) and each curve is fitted by Poisson maximum likelihood
        (:mod:`._poisson`): the same certificate, standard errors from the Fisher
        information, a :class:`~._poisson.PoissonBatchResult` with the deviance,
        Pearson's chi-square and their p-values; curves of zeros only are not fitted and
        reported in ``notes``.  ``sigma`` does not apply; both backends (the compiled
        kernel of the counts is a module of its own, compiled on first use).

    sigma_x : errors in x (orthogonal distance regression, :mod:`._odr`): standard deviations
        of ``x``, a scalar, ``(m,)`` (one variable) or ``(k,)`` (one per variable),
        ``(k, m)``, or per curve ``(N, m)`` / ``(N, k, m)``.  Each curve is fitted by
        :func:`trustfit.odr` (certified as a single fit, bounds allowed) on the numpy
        backend; an :class:`~._odr.OdrBatchResult` adds ``delta`` and ``x_adjusted``.

    Returns
    -------
    BatchResult; for a DataArray ``Y``, an ``xarray.Dataset`` over the remaining
    dimensions (their coordinates and ``Y.attrs`` kept) with ``params`` and ``stderr``
    (dimension ``param``, coordinate the parameter names), ``cost``, ``success``,
    ``stop_reason`` and ``diagnosis`` (names, str), ``nit``; the attrs
    ``trustfit_method``, ``trustfit_backend`` (and ``trustfit_backend_reason``,
    ``trustfit_nonfinite`` when there is something to say) are added.

    Rows of ``Y`` (or of ``sigma``/``x``) with NaN or inf are not fitted: their
    ``stop_reason`` is ``StopReason.INVALID_INPUT``, their diagnosis ``'invalid_data'``, and
    their parameters are NaN; other rows are unaffected.
    """
    if dim is not None or is_dataarray(Y):
        return _fit_dataarray(locals())
    if Y is None or p0 is None:
        raise TypeError(f"fit_batch: {'Y' if Y is None else 'p0'} is required "
                        f"(fit_batch(model, x, Y, p0, ...))")
    if x is None:
        raise TypeError("x: required for an array Y (only a DataArray Y with dim= takes "
                        "x from its coordinate)")
    opts = check_options(maxiter=maxiter, gtol=gtol, xtol=xtol, ftol=ftol, tau=tau,
                         chunk_size=chunk_size, method=method, backend=backend)
    if isinstance(bounds, dict):
        for name, pair in bounds.items():
            if np.ndim(pair) != 1 or np.size(pair) != 2:
                raise TypeError(f"bounds: {name!r}: {pair!r}; each value of a bounds dict "
                                f"must be a pair (lo, hi), e.g. {{{name!r}: (0, 10)}}")
    bm = as_batch_model(model, params=params, independent=independent)
    if check_noise(noise) == "poisson" or sigma_x is not None:
        kind = "noise='poisson'" if sigma_x is None else "sigma_x"
        if sigma_x is not None and noise == "poisson":
            raise ValueError("sigma_x and noise='poisson' together are not supported: "
                             "errors in x with Poisson counts in y")
        if type(Y).__module__.startswith("dask"):
            raise ValueError(f"{kind} is not supported for a dask Y yet; compute it "
                             "(Y.compute()) or fit it block by block")
    if noise == "poisson":
        if sigma is not None:
            raise ValueError("sigma does not apply with noise='poisson': the variance of a "
                             "count is its mean")
        bm = poisson_model(bm)

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
    X, P0, W, LB, UB, bounded = prepare_arrays(x, p0, sigma, bounds, bm, N, m)
    if sigma_x is not None:
        return _fit_odr(bm, X, Y, W, P0, LB, UB, bounded, sigma_x, opts, method, backend,
                        absolute_sigma, rescue)
    t0 = time.perf_counter()
    if noise == "poisson":
        check_counts(Y)
        check_shared_start(bm, X, P0)
        meth, be, why = resolve_poisson(bm, method, backend, bool(parallel), LB, UB, N, m)
    else:
        meth, be, why = resolve(bm, method, backend, bool(parallel), LB, UB, N, m)
    spec = Spec(bm, LB, UB, bounded, opts["maxiter"], opts["gtol"], opts["xtol"],
                 opts["ftol"], opts["tau"], bool(absolute_sigma), bool(rescue), be,
                 bool(parallel), meth)
    t_prepare = time.perf_counter() - t0
    res = _fit_in_memory(spec, X, Y, W, P0, chunk_size=opts["chunk_size"],
                         progress=progress, t_prepare=t_prepare)
    res.backend_reason = why
    if noise == "poisson":
        res = finish_poisson(res, bm, X, Y, all_zero_rows(Y))
    if be == "compiled" and parallel:
        observe_kernel_run(N, m, bm.n_params, float(np.mean(res.nit)) if N else 0.0,
                           res.timings["fit_s"])
    return res


def _fit_odr(bm, X, Y, W, P0, LB, UB, bounded, sigma_x, opts, method, backend,
             absolute_sigma, rescue):
    """``sigma_x``: every curve by :func:`trustfit.odr` (:mod:`._odr`)."""
    from ._odr import fit_odr_batch, prepare_sigma_x, resolve as resolve_odr

    N, m = Y.shape
    SX = prepare_sigma_x(sigma_x, X.shape[1], N, m)
    _, _, why = resolve_odr(method, backend)
    if opts["maxiter"] < 1:
        raise ValueError(f"maxiter: {opts['maxiter']}; with sigma_x maxiter must be >= 1")
    return fit_odr_batch(bm, X, Y, W, SX, P0, LB, UB, bounded,
                         absolute_sigma=bool(absolute_sigma), maxiter=opts["maxiter"],
                         gtol=opts["gtol"], xtol=opts["xtol"], ftol=opts["ftol"],
                         tau=opts["tau"], rescue=bool(rescue), backend_reason=why)


def _fit_dataarray(args: dict):
    """``Y`` an xarray DataArray: fit its (N, m) stack, return an ``xarray.Dataset``."""
    from ._xarray import DataArrayStack  # xarray imported only here (optional extra)

    if args["p0"] is None:
        raise TypeError("fit_batch: p0 is required (fit_batch(model, x, Y, p0, ...))")
    stack = DataArrayStack(args.pop("Y"), args.pop("dim"), x=args.pop("x"), p0=args.pop("p0"),
                           sigma=args.pop("sigma"))
    keep_lazy = stack.lazy and not args["compute"]
    args["compute"] = not stack.lazy or args["compute"]
    model = args.pop("model")
    res = fit_batch(model, stack.x, stack.Y, stack.p0, stack.sigma, **args)
    names = res._spec.bm.param_names if keep_lazy else res.param_names
    notes = {"method": res._spec.method if keep_lazy else res.method,
             "backend": res._spec.backend + "+dask" if keep_lazy else res.backend,
             "backend_reason": res._reason if keep_lazy else res.backend_reason,
             "nonfinite": "" if keep_lazy else "\n".join(res.nonfinite)}
    return stack.dataset(res, list(names), notes)


def _fit_in_memory(spec, X, Y, W, P0, chunk_size, progress=None, t_prepare=0.0):
    N, m = Y.shape
    n = spec.bm.n_params
    res = alloc(N, n)
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
