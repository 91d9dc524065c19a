"""The compiled batch Levenberg-Marquardt kernel (numba), one module per model.

Algorithm (per curve, no lockstep: every curve leaves the loop when it stops)
-------------------------------------------------------------------------------
Levenberg-Marquardt as in Madsen, Nielsen & Tingleff, *Methods for non-linear least
squares problems* (2nd ed., IMM DTU, 2004), Algorithm 3.16, which is also trustfit's
single-fit ``method='lm'`` with ``x_scale='jac'``:

* ``F(x) = 1/2 ||r(x)||^2``, ``A = J^T J``, ``g = J^T r``; Moré's scaling ``D^2``: at the
  start ``diag A`` (1 for a zero column), then its running maximum over the accepted points
  (:mod:`trustfit.steps.lm_rules`); ``mu_0 = tau * max(diag(D^-1 A D^-1))`` (= ``tau``)
  with ``tau = 1e-3``, ``nu = 2``.  (``method='varpro'`` still damps its nonlinear
  parameters with ``D = I``: ``MORE_SCALING`` in :mod:`._kernel_varpro`.)
* step: ``(A + mu D^2) h = -g`` (invariant to the parameters' units), solved by the square-root-free Cholesky ``L D L^T``,
  generated as straight-line code.  With n = 2..6 parameters a factorization of the
  n x n normal matrix is what makes the kernel fast; the single-fit path solves
  the same step through an SVD of J.  Both give the same iterates up to rounding, so a
  batch fit equals a single fit to a tolerance (rtol ~1e-6 on well-conditioned curves),
  not bitwise.
* gain ratio ``rho = (F(x) - F(x+h)) / (L(0) - L(h))`` with
  ``L(0) - L(h) = -g^T h - 1/2 h^T A h`` (``= -g^T h - 1/2 ||J h||^2``).
* accept when ``rho > 0`` (and ``F(x+h)`` finite): ``mu <- mu * max(1/3, 1 - (2 rho - 1)^3)``,
  ``nu <- 2``; else ``mu <- mu * nu``, ``nu <- 2 nu`` (Nielsen's damping update).
* stop (``stop_reason`` code), the single fit's tests (:mod:`trustfit.stopping`):
  gradient (1): ``|g_j| <= gtol ||J_j|| ||r||`` for every j (MINPACK's cosine between
  ``r`` and each column of J, invariant to the scale of the data, of sigma and of the
  parameters); step (2): ``|h_j| <= xtol (|x_j| + xtol ||D x|| / D_j)`` for every j,
  ``D_j = ||J_j||`` (per parameter, free of units); cost (3): the actual and the
  predicted reductions of a trial step, accepted or not, both ``<= ftol F(x)`` and
  within a factor 2 of each other (MINPACK); iteration budget (4).
  Other codes: 5 non-finite data in the curve (``Y`` row, ``sigma`` row or ``x`` row):
  the curve is not fitted and gets NaN parameters; 6 model not finite at the start;
  7 the damping ran out of room (``mu >= 1e300``, relative to the scaled matrix's unit
  diagonal) without an acceptable step;
  8 non-finite start.
* ``method='varpro'`` only: when the damped step predicts ``L(0) - L(h) <= ftol F``
  and so does the undamped Gauss-Newton step (``1/2 g^T A^-1 g <= ftol F``, an upper
  bound on every damped step's prediction), stop (3) before evaluating the trial point:
  the evaluation that would only confirm convergence is saved (1 of ~6-10 per curve).
  The returned point is then within about ``ftol F`` of the local minimum in cost, where
  the rule above is one step further.  Not used with bounds (a projected step's gain is
  not bounded by the free Gauss-Newton step's).
* bounds (optional): the trial point is projected onto the box,
  ``h <- clip(x + h, lb, ub) - x``, and the gain ratio uses the projected ``h``.

Variable projection (``method='varpro'``)
-----------------------------------------
For a separable model ``f = phi_0(theta) + sum_l c_l phi_l(theta)`` (the linear ``c``
found by sympy, :func:`._codegen.linear_parameters`) the same LM loop runs on ``theta``
only (Golub & Pereyra, SIAM J. Numer. Anal. 10, 1973; Kaufman, BIT 15, 1975).  Each
evaluation at ``theta``: the basis ``Phi`` and its derivatives in one pass over the points
(``_vp_basis``), ``c = argmin ||Phi c - u||`` through ``G = Phi^T Phi = L D L^T``
(``_vp_gram``, ``_vp_project``), then ``F``, ``g = J^T r`` and
``A = J^T J - (J^T Phi) G^-1 (Phi^T J)``: the Schur complement of the full normal matrix,
which equals ``J_K^T J_K`` for Kaufman's Jacobian ``J_K = (I - P_Phi) J``.  ``F`` is the
variable-projection cost ``min_c F(theta, c)``; the gain ratio and the stopping tests
are those above, on ``theta``.  The full normal matrix at ``(theta, c)`` is kept for the
standard errors, so those equal LM's at the same point.

Interleaved lanes (``method='varpro'``, up to ~38 points per curve)
-------------------------------------------------------------------
With few points, one curve's iteration is short chains of dependent scalar work (small
solves, divisions, horizontal sums) that leave the core idle.  For such curves
(:func:`uses_lanes`) ``run_kernel`` calls ``fit_*_lanes``, whose ``_fit_lanes`` runs
``LN`` = 16 curves per thread side by side: every per-point pass loops over the
points and, inside, over the lanes (arrays stored lane-last), so the compiler
vectorizes across curves.  The small solves (projection, Schur complement, the damped
and the Gauss-Newton step) are branch-free loops over the lanes too, and the decisions
(accept, damping, stops) run lane by lane.  Each lane runs ``_lm_one``'s iteration
exactly (same tests, same order of operations within the lane), and a lane whose curve
stops loads the next row within the iteration, so there is no lockstep and a curve's result does not depend on its lane or
its neighbours (tested bit for bit).  Sums over the points run in point order within a
lane, where the one-curve kernel sums SIMD partial sums: the two differ in the last
bits.  Measured on exp2 m=11: 2.5 -> 1.6 us per fit on one core.  The two entry points
are compiled separately, on first use, so a first call compiles only the one it needs.

Where the code lives
--------------------
The kernel is ordinary Python in ordinary modules: the loop (:mod:`._kernel_loop`), its
tests and damping room (:mod:`._kernel_rules`), the per-curve bookkeeping and the entry
points (:mod:`._kernel_curves`), each method's evaluation (:mod:`._kernel_shared`,
:mod:`._kernel_varpro`), the lanes (:mod:`._kernel_lanes`) and the vectorizable ``exp``
(:mod:`._kernel_exp`).  Only the model part (``_accum``: residuals, ``A`` and ``g`` in one
pass; the variable-projection passes; the small solves unrolled for the model's number of
parameters) is generated from sympy by :mod:`._codegen`.  This module writes that part
into a private cache directory (named by the hash of the source, which is regenerated and
compared before it runs: :mod:`._cache`), executes it, and the generated module compiles
the kernel modules in its own namespace (:mod:`._kernel_bind`), so that numba's on-disk
cache (``cache=True``) makes the second compile cheap.

``method='lm'`` compiles the kernel modules once for every model (issue 21: a new model's
kernel compiled in 10-20 s, most of it the same loop and bookkeeping again): a generated
module without a model (:func:`solver_source`) holds them, compiled on first use and cached
like any kernel, and a model's module compiles only its generated code, as three C
callables (:mod:`._kernel_cabi`) that each call passes in (:class:`SharedKernel`,
:mod:`._kernel_shared`); same arithmetic, same results.  ``'varpro'`` and its lanes are
still compiled per model.

After the fit, the kernel also returns, per curve, ``stderr_k = s sqrt((A^-1)_kk)`` with
``s^2 = 2F/(m - n)`` (``s = 1`` with ``absolute_sigma``), the same convention as SciPy's
``curve_fit``, and ``rcond``: the squared smallest pivot of the Cholesky factor of the
unit-diagonal scaled ``D A D``, ``D = diag(A)^-1/2`` — a cheap estimate of the reciprocal
condition number that flags unidentifiable parameters (0 when ``A`` is singular); and
``gn_gain = 1/2 g^T A^-1 g / F``, the relative cost decrease a full Gauss-Newton step
from the returned point predicts: much larger than ``ftol`` means the curve stopped
short (e.g. an ftol stop after a tiny heavily damped step in a flat valley).

Is a kernel ready?
------------------
``backend='auto'`` (:mod:`._backend`) asks before deciding, and the question must cost
less than the small batches it decides: generating a kernel's source to find its file
costs ~10-20 ms, and importing the kernel modules (numba) ~0.2 s.  So:

* :func:`kernel_is_loaded`: the entry point the batch runs (parallel or serial, lanes or
  not) has compiled code in this process (numba's own record: its signatures).  No
  separate bookkeeping that a direct :func:`warm_kernel` could bypass.
* :func:`kernel_is_cached`: a note per kernel in the private folder (written by
  :func:`load_kernel`: the generated module's name, its lane rows, the kernel code's
  digest) names the module; the kernel is cached when :func:`._cache.compiled_in_cache`
  finds that module intact with numba's index for the entry point not older than it, and
  the note's digest is this process's kernel code (:func:`._kernel_bind.sources_digest`,
  checked last: it imports numba, which a load needs anyway).  A missing, foreign or
  corrupt note, a rewritten module or a stale index answers "not cached".  The answer
  steers a prediction; it never changes a result.
"""

from __future__ import annotations

import sys
import threading
import time

from ._cache import PREFIX, compiled_in_cache, load_module, module_name, read_note, write_note
from ._codegen import CODEGEN_VERSION, generate_accum_source, model_key
from ._kernel_bind import sources_digest

KERNEL_VERSION = "29"

# The stop codes the kernel writes (1-8) and what they mean: trustfit.batch._certify.CODES.

_HEADER = """\
# Generated by trustfit.batch (codegen {codegen_version}, kernel {kernel_version}).
# Model: {model_text}
# Parameters: {param_names}
# Kernel modules: sha256 {sources}
# Do not edit: trustfit executes only the source it generates (the name is its hash).
import math
import numpy as np
from numba import njit
from trustfit.batch._kernel_bind import bind_kernel

NP = {n}
START_UNUSED = {start_unused}
"""


_LOCK = threading.Lock()
_MODULES: dict[str, object] = {}


def kernel_source(bm, method: str = "lm") -> str:
    """Complete source of the kernel module of ``bm`` for ``method`` ('lm' or 'varpro')."""
    import sympy

    from ._codegen import generate_varpro_source, varpro_layout
    from ._codegen_lanes import generate_varpro_lane_source
    from ._codegen_linalg import (
        generate_curve_stats_source,
        generate_damped_step_source,
        generate_varpro_solve_source,
    )

    from trustfit.models.names import validate_name

    for name in [*bm.param_names, *(getattr(s, "name", s) for s in bm.independent_symbols)]:
        validate_name(name, "model symbol")  # names reach this source only as repr()
    text = " ".join(sympy.sstr(bm.expr).split())
    stats = generate_curve_stats_source(bm.n_params)
    unused = ()
    if method == "varpro":
        nl, lin = varpro_layout(bm)
        unused = lin
        model_part = "\n\n\n".join([
            generate_varpro_source(bm),
            generate_varpro_solve_source(len(lin), len(nl)),
            generate_damped_step_source(len(nl)),
            generate_varpro_lane_source(bm),
        ])
        model_part += "\n\n\n" + stats
    else:  # 'lm': the model's C callables for the shared solver (:mod:`._kernel_shared`)
        model_part = generate_accum_source(bm) + "\n\n\n" + generate_damped_step_source(
            bm.n_params) + "\n\n\n" + stats
        method = "lm_model"
    head = _HEADER.format(
        codegen_version=CODEGEN_VERSION,
        kernel_version=KERNEL_VERSION,
        model_text=ascii(text[:200]),
        param_names=ascii(list(bm.param_names)),
        sources=_digest(method),
        n=bm.n_params,
        start_unused=repr(tuple(i in unused for i in range(bm.n_params))),
    )
    # the kernel modules compiled in this namespace, beside the model's code
    return f"{head}\n\n{model_part}\n\n\nbind_kernel(globals(), {method!r})\n"


_SOLVER_SOURCE = """\
# Generated by trustfit.batch (kernel {kernel_version}): Levenberg-Marquardt for every model
# (method 'lm'); each model's code is passed in (trustfit.batch._kernel_shared).
# Kernel modules: sha256 {sources}
# Do not edit: trustfit executes only the source it generates (the name is its hash).
import math
import numpy as np
from numba import njit
from trustfit.batch._kernel_bind import bind_kernel


bind_kernel(globals(), 'lm_solver')
"""


def solver_source() -> str:
    """Source of the module holding the solver every model's 'lm' kernel shares: no model
    in it, so it is compiled (and cached) once per installation and kernel code."""
    return _SOLVER_SOURCE.format(kernel_version=KERNEL_VERSION,
                                 sources=sources_digest("lm_solver"))


def _digest(method: str) -> str:
    """The kernel code a method's kernel runs: 'lm' is the shared solver and the model's
    callables."""
    if method == "lm":
        return sources_digest("lm_model")[:32] + sources_digest("lm_solver")[:32]
    return sources_digest(method)


class SharedKernel:
    """A model's 'lm' kernel: the shared solver's entry points, and ``MODEL``, the model's
    C callables that every call passes them (:mod:`._kernel_shared`).  ``MODEL`` starts
    with a (unused) array: numba warns "first-class function type feature is
    experimental" each time it types a tuple whose first item is a function."""

    NROWS = 0

    def __init__(self, solver, model_module):
        import numpy as np

        self.solver, self.model_module = solver, model_module
        self.__name__ = model_module.__name__
        self.__file__ = model_module.__file__
        self.MODEL = (np.zeros(1), model_module.accum_c, model_module.step_c,
                      model_module.stats_c)

    def __getattr__(self, name):
        if name.startswith("fit_"):
            return getattr(self.solver, name)
        return getattr(self.model_module, name)


def _key(bm, method: str) -> str:
    noise = "_pois" if getattr(bm, "noise", "gaussian") == "poisson" else ""  # ._codegen_poisson
    return model_key(bm) + "_" + KERNEL_VERSION + ("_vp" if method == "varpro" else "") + noise


def _note_name(bm, method: str) -> str:
    # which generated module holds this model's kernel (for kernel_is_cached)
    return f"{_key(bm, method)}.kernel"


def load_kernel(bm, method: str = "lm"):
    """The kernel module of the symbolic model ``bm``: generated here, and executed only
    from these bytes (see :mod:`._cache`; numba's disk cache stays effective)."""
    key = _key(bm, method)
    with _LOCK:
        mod = _MODULES.get(key)
        if mod is None:
            mod = load_module(kernel_source(bm, method))
            if method == "lm":
                solver = _MODULES.get("solver")
                if solver is None:
                    solver = _MODULES["solver"] = load_module(solver_source())
                mod = SharedKernel(solver, mod)
            _MODULES[key] = mod
            write_note(_note_name(bm, method), f"{mod.__name__}\n{getattr(mod, 'NROWS', 0)}\n"
                                               f"{_digest(method)}\n")
        return mod


def uses_lanes(mod, m: int) -> bool:
    """Whether curves of m points run interleaved (varpro kernels, few points: see
    ``LANE_MAX_B``); the two entry points compile separately, on first use."""
    return _lanes(getattr(mod, "NROWS", 0), m)


def _lanes(nrows: int, m: int) -> bool:
    from ._kernel_lanes import LANE_MAX_B

    return nrows > 0 and m * nrows <= LANE_MAX_B


def _entry_name(lanes: bool, parallel: bool) -> str:
    return ("fit_parallel" if parallel else "fit_serial") + ("_lanes" if lanes else "")


def _points(bm, m: int | None) -> int:
    # the curve length warm_kernel compiles for by default: a few points more than parameters
    return bm.n_params + 2 if m is None else max(int(m), 1)


def _compiled(mod, lanes: bool, parallel: bool) -> bool:
    fn = getattr(mod, _entry_name(lanes, parallel), None)
    return bool(fn is not None and fn.signatures)


def kernel_is_loaded(bm, method: str | None = None, parallel: bool = True,
                     m: int | None = None) -> bool:
    """Whether the kernel ``fit_batch`` runs for ``bm``, ``method`` (None: either method)
    and curves of ``m`` points (default: a few more than parameters) is compiled in this
    process, so a call starts at once.  Cheap: no code generation, numba not imported."""
    m = _points(bm, m)
    for meth in ("lm", "varpro") if method is None else (method,):
        mod = _MODULES.get(_key(bm, meth))
        if mod is not None and _compiled(mod, uses_lanes(mod, m), parallel):
            return True
    return False


def kernel_is_cached(bm, method: str = "lm", parallel: bool = True, m: int | None = None) -> bool:
    """Whether that kernel is compiled in the private disk cache, so a call loads it
    (tenths of a second) instead of compiling it (see "Is a kernel ready?" above).
    Cheap: a few file reads, no code generation, nothing executed; numba is imported only
    to confirm a kernel that is otherwise found."""
    note = read_note(_note_name(bm, method))
    try:
        name, nrows, digest = (note or "").split("\n")[:3]
        entry = _entry_name(_lanes(int(nrows), _points(bm, m)), parallel)
    except ValueError:
        return False
    try:
        if method == "lm":  # the model's callables, and the shared solver's entry point
            if not (compiled_in_cache(name, "accum_c")
                    and compiled_in_cache(module_name(solver_source()), entry)):
                return False
        elif not compiled_in_cache(name, entry):
            return False
        return digest == _digest(method)
    except ImportError:  # no numba here: nothing compiled can be loaded
        return False


def forget_loaded() -> None:
    """Forget the kernels loaded in this process, as a new process would not have them
    (for tests): their next use loads them again, from the disk cache when there."""
    with _LOCK:
        _MODULES.clear()
        for name in [n for n in sys.modules if n.startswith(PREFIX)]:
            del sys.modules[name]


def warm_kernel(bm, parallel: bool = True, method: str = "lm", m: int | None = None) -> float:
    """Load and compile (or load from numba's cache) the kernel that curves of ``m``
    points run (default: a few points more than parameters); return seconds taken."""
    import numpy as np

    t0 = time.perf_counter()
    mod = load_kernel(bm, method)
    n, k = bm.n_params, bm.n_independent
    m = _points(bm, m)
    if _compiled(mod, uses_lanes(mod, m), parallel):
        return time.perf_counter() - t0
    run_kernel(
        mod,
        np.zeros((1, k, m)),
        np.zeros((1, m)),
        np.ones((1, m)),
        np.zeros((1, n)),
        np.full(n, -np.inf),
        np.full(n, np.inf),
        False,
        1,
        1e-8,
        1e-8,
        1e-8,
        1e-3,
        False,
        parallel,
    )
    return time.perf_counter() - t0


def run_kernel(mod, X, Y, W, P0, LB, UB, bounded, maxiter, gtol, xtol, ftol, tau,
               absolute_sigma, parallel, block=256, out=None):
    """Run the compiled kernel on arrays already validated and converted to float64.

    ``out``: optional tuple of preallocated per-curve arrays (params (N, n) float64,
    cost (N,) float64, nit (N,) int32, stop code (N,) int8, stderr (N, n) float64,
    rcond (N,) float64, statistics (N, 4) float64 for the certificate, see
    ``_curve_results``), e.g. row slices of the final result, so nothing is copied.
    """
    import numpy as np

    N, n = Y.shape[0], P0.shape[1]
    if out is None:
        out = (np.empty((N, n)), np.empty(N), np.empty(N, dtype=np.int32),
               np.empty(N, dtype=np.int8), np.empty((N, n)), np.empty(N), np.empty((N, 4)))
    # numba compiles a separate specialization for read-only arrays (a memory-mapped
    # .npy opened with mmap_mode='r', np.broadcast_to views): copy those (one chunk).
    X, Y, W, P0, LB, UB = (a if a.flags.writeable else a.copy() for a in (X, Y, W, P0, LB, UB))
    if uses_lanes(mod, Y.shape[1]):
        fn = mod.fit_parallel_lanes if parallel else mod.fit_serial_lanes
    else:
        fn = mod.fit_parallel if parallel else mod.fit_serial
    fn(X, Y, W, P0, LB, UB, bool(bounded), int(maxiter), float(gtol), float(xtol),
       float(ftol), float(tau), bool(absolute_sigma), int(block), *out,
       getattr(mod, "MODEL", ()))
    return out
