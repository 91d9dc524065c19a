"""The model's generated pieces as the loop calls them, in a kernel compiled for one model
(``method='varpro'``): the generated code inlined (see :mod:`._kernel_shared` for the
solver shared by every model, which reaches them through function pointers instead)."""

from ._kernel_bind import kernel
from ._kernel_slots import START_UNUSED, _curve_stats, _damped_step


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _step(A, g, mu, S, h, ws):
    # (A + mu diag(S)) h = -g; False when that is not numerically positive definite
    return _damped_step(A, g, mu, S, h)


@kernel(_nrt=False, fastmath=False, nogil=True, error_model="numpy", inline="always")
def _stats(A, g, F, s2, se, ws):
    return _curve_stats(A, g, F, s2, se)


@kernel(_nrt=False, nogil=True, error_model="numpy", inline="always")
def _start_unused(a):
    return START_UNUSED[a]
