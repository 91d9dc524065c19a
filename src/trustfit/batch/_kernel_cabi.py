"""A model's generated code as the three C callables the shared solver calls
(:mod:`._kernel_shared`): compiled in the model's generated module with ``numba.cfunc``
and these signatures (every array C-contiguous float64, as the solver allocates them)."""

from numba import types

from ._kernel_bind import kernel
from ._kernel_slots import _accum, _curve_stats, _damped_step

_f8 = types.float64
_V, _M = types.float64[::1], types.float64[:, ::1]
#: accum(x, Xp, Yp, Wp, A, g, B) -> F
ACCUM = _f8(_V, _M, _V, _V, _M, _V, _M)
#: step(A, g, mu, S, h) -> ok: (A + mu diag(S)) h = -g
STEP = types.boolean(_M, _V, _f8, _V, _V)
#: stats(A, g, F, s2, se, out) -> 0; out <- (rcond, gn_gain, trace)
STATS = _f8(_M, _V, _f8, _f8, _V, _V)


@kernel(cfunc=ACCUM, _nrt=False, fastmath=False, nogil=True, error_model="numpy")
def accum_c(x, Xp, Yp, Wp, A, g, B):
    return _accum(x, Xp, Yp, Wp, A, g, B)


@kernel(cfunc=STEP, _nrt=False, fastmath=False, nogil=True, error_model="numpy")
def step_c(A, g, mu, S, h):
    return _damped_step(A, g, mu, S, h)


@kernel(cfunc=STATS, _nrt=False, fastmath=False, nogil=True, error_model="numpy")
def stats_c(A, g, F, s2, se, out):
    rc, gn, tr = _curve_stats(A, g, F, s2, se)
    out[0] = rc
    out[1] = gn
    out[2] = tr
    return 0.0
