"""Which backend and which method run a batch, and why (``result.backend_reason``).

``backend='auto'`` chooses by predicted time (:mod:`._cost`): the compiled kernel when it
is loaded in this process; otherwise the numpy path when it is predicted to finish the
whole batch sooner than loading the cached kernel or compiling it and then fitting
(:func:`._kernel.kernel_is_loaded`, :func:`._kernel.kernel_is_cached`); the compiled
kernel when that is sooner (large batches).  Both paths run the same algorithm with the
same tests and certificate, and reach the same minima; a curve's
last digits can differ (the kernel's sums run in another order), and on the numpy path
``method='auto'`` resolves to ``'lm'`` (variable projection is compiled only).
``backend='compiled'`` or ``'numpy'`` fixes the backend (bit-for-bit reproducible runs),
``method='varpro'`` asks for the kernel.

Before a compile a person at a terminal reads one line, "compiling the model (first use
only)..." (:func:`trustfit.console.notice.notice`; silent when stderr is not a terminal).
A compile that fails falls back to numpy with one :class:`CompileWarning`, unless the
compiled backend was asked for.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..console.notice import notice
from . import _cost
from ._kernel import kernel_is_cached, kernel_is_loaded, warm_kernel
from ._model import BatchModel, CompileWarning

COMPILE_NOTICE = "compiling the model (first use only)..."


def resolve(bm: BatchModel, method: str, backend: str, parallel: bool, LB, UB, N: int,
            m: int):
    """``(method, backend, reason)`` that will run ``N`` curves of ``m`` points: the method
    first (it decides which kernel to compile), then the backend; a compile failure that
    falls back to numpy re-resolves the method for numpy.  The options are valid
    (fit_batch checks them)."""
    if backend == "numpy":
        attach_lambdified(bm)
        return resolve_method(bm, method, "numpy", LB, UB), "numpy", \
            "numpy: backend='numpy' was asked for"
    if not bm.symbolic:
        if backend == "compiled":
            raise ValueError(
                "backend: 'compiled' needs a symbolic model (trustfit.Model, expression "
                "string or sympy expression); a plain callable runs with backend='numpy'"
            )
        return resolve_method(bm, method, "numpy", LB, UB), "numpy", \
            ("numpy: the model is a Python callable; only symbolic models (an expression, "
             "a sympy expression or a trustfit.Model) are compiled")
    cached = None
    if backend == "compiled":
        reason = "compiled: backend='compiled' was asked for"
    elif method == "varpro":
        reason = "compiled: method='varpro' runs only on the compiled kernel"
    elif bm.n_independent != 1:
        reason = "compiled: the numpy path fits models of one independent variable only"
    elif kernel_is_loaded(bm, None, parallel, m) and kernel_is_loaded(
            bm, resolve_method(bm, method, "compiled", LB, UB), parallel, m):
        reason = "compiled: the kernel for this model is loaded in this process"
    else:
        # the kernel's method is resolved only if needed: it costs more than a small batch
        choice, reason, cached = _predicted_choice(
            bm, lambda: resolve_method(bm, method, "compiled", LB, UB), parallel, N, m)
        if choice == "numpy":
            attach_lambdified(bm)
            return resolve_method(bm, method, "numpy", LB, UB), "numpy", reason
    meth = resolve_method(bm, method, "compiled", LB, UB)
    ready = _make_ready(bm, meth, backend, parallel, m, cached)
    if ready is None:
        return meth, "compiled", reason
    attach_lambdified(bm)
    return resolve_method(bm, method, "numpy", LB, UB), "numpy", ready


def _predicted_choice(bm: BatchModel, kernel_method, parallel: bool, N: int, m: int):
    """``('numpy' | 'compiled', reason, cached)`` by the predicted times of :mod:`._cost`.
    When numpy is sooner than even loading a cached kernel (with the numpy path's upper
    bounds when it is not calibrated yet), neither the cache, nor the kernel's method
    (``kernel_method()``), nor a calibration is looked at (``cached`` None): they cost more
    than a small batch."""
    n = bm.n_params
    curves = f"{N:,} curve" + ("" if N == 1 else "s")
    for measure in (False, True):
        const = _cost.constants(measure)
        t_np = _cost.predict_numpy(N, m, n, const)
        t_load = _cost.predict_compiled(N, m, n, const, const["load_s"])
        if t_np <= t_load:
            most = "at most " if const["bounds"] else ""
            return "numpy", (f"numpy: the compiled kernel for this model is not loaded in "
                             f"this process, and {curves} finish sooner on numpy (predicted "
                             f"{most}{seconds(t_np)}) than loading it from the cache or "
                             f"compiling it (predicted at least {seconds(t_load)})"), None
        if not const["bounds"]:
            break
    cached = kernel_is_cached(bm, kernel_method(), parallel, m)
    t_c = t_load if cached else _cost.predict_compiled(N, m, n, const, const["compile_s"])
    if cached:
        state, wait = "is cached but not loaded in this process", "loading it and fitting"
    else:
        state, wait = "is not cached", "compiling it and fitting"
    if t_np <= t_c:
        return "numpy", (f"numpy: the compiled kernel for this model {state}, and {curves} "
                         f"finish sooner on numpy (predicted {seconds(t_np)}) than "
                         f"{wait} (predicted {seconds(t_c)})"), cached
    return "compiled", (f"compiled: the kernel for this model {state}; {wait} is predicted "
                        f"to finish {curves} sooner ({seconds(t_c)}) than numpy "
                        f"({seconds(t_np)})" + ("" if cached else
                                                "; it is cached for later calls")), cached


def seconds(t: float) -> str:
    """A duration for a person: two significant digits, whole seconds from 10 s."""
    return f"{t:.0f} s" if t >= 10 else f"{t:.2g} s"


def _make_ready(bm, meth, backend, parallel, m, cached):
    """Compile or load the kernel (before any timing); record what it cost.  None when it
    is ready, else the reason the numpy path runs instead (or the error, for an explicit
    ``backend='compiled'``)."""
    try:
        if cached is None and not kernel_is_loaded(bm, meth, parallel, m):
            cached = kernel_is_cached(bm, meth, parallel, m)
        if cached is False:
            notice(COMPILE_NOTICE)
        took = warm_kernel(bm, parallel, meth, m)
        _record_cost(cached, took)
        return None
    except ImportError as exc:
        if backend == "compiled":
            raise
        return f"numpy: the compiled backend is not available ({exc})"
    except Exception as exc:  # CodegenError, numba typing errors
        if backend == "compiled":
            raise
        warnings.warn(
            f"trustfit.fit_batch: cannot compile the model ({exc}); using the slower "
            f"vectorized numpy path",
            CompileWarning,
            stacklevel=4,
        )
        first = next((s.strip() for s in str(exc).splitlines() if s.strip()),
                     type(exc).__name__)
        return f"numpy: the model could not be compiled ({first})"


#: The shortest time a real kernel compile takes here (the benchmark models: 8-20 s).
MIN_COMPILE_S = 2.0


def _record_cost(cached, took):
    """Fold what making the kernel ready cost into this machine's constants: a load when
    it was cached, or took less than twice a load or less than ``MIN_COMPILE_S`` (numba
    compiling a kernel takes seconds: a faster "compile" was numba's own cache being read,
    for a kernel this process did not know to be cached), else a compile; nothing when it
    was loaded already (``cached`` None)."""
    if cached is not None:
        const_load = _cost.constants(measure=False)["load_s"]
        if cached or took < max(2.0 * const_load, MIN_COMPILE_S):
            _cost.observe("load_s", took)
        else:
            _cost.observe("compile_s", took)


def resolve_method(bm: BatchModel, method: str, backend: str, LB, UB) -> str:
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



def attach_lambdified(bm: BatchModel) -> None:
    """Give a symbolic model numpy callables (model and exact Jacobian) for the fallback."""
    if bm.func is not None or not bm.symbolic:
        return
    import sympy

    if bm.n_independent != 1:
        raise ValueError("the numpy fallback supports one independent variable")
    args = list(bm.independent_symbols) + list(bm.param_symbols)
    f = sympy.lambdify(args, bm.expr, ["scipy", "numpy"])
    from trustfit.models._edges import edge_safe_diff

    # one function for all the derivatives: one generated function instead of n (each
    # lambdify prints and compiles code; on a small batch that is most of the work)
    d = sympy.lambdify(args, [edge_safe_diff(bm.expr, p) for p in bm.param_symbols],
                       ["scipy", "numpy"])

    def jac(x, *p):
        shape = np.broadcast(x, p[0]).shape
        cols = [np.broadcast_to(np.asarray(dk, dtype=float), shape) for dk in d(x, *p)]
        return np.stack(cols, axis=-1)

    bm.func = f
    bm.jac_func = jac
