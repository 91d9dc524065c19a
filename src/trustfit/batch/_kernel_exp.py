"""trustfit's own ``exp`` for the kernels: branch-free, so loops over it vectorize.

The generated model pass (:mod:`._codegen`) prints ``exp`` as ``tf_exp``.  See
:mod:`._kernel_bind` for how kernel functions are compiled.
"""

import math

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from ._kernel_bind import kernel


@intrinsic
def _i64_as_f64(typingctx, v):
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _f64_as_i64(typingctx, v):
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@kernel(inline="always", fastmath={"contract"}, error_model="numpy", cache=False)
def tf_exp(x):
    # exp(x) = 2^k exp(r): k = round(x / ln 2) by the 1.5 * 2^52 shifter (k also read
    # from the low mantissa bits), r = x - k ln 2 (Cody-Waite, ln 2 in two parts),
    # exp(r) by its Taylor polynomial of degree 13 (|r| <= 0.347: truncation < 4e-18)
    # in Estrin's scheme (short dependency chains), times 2^(k-1) built from exponent
    # bits, times 2.  Branch-free, so loops over it vectorize.  Max relative error
    # ~2 ulp vs libm (FMA contraction allowed: it is inlined into the model pass); exp(x) for x < -707 is returned as 0 (no subnormals).
    xc = x if x > -707.0 else -707.0
    xc = xc if xc < 709.79 else 709.79
    t = xc * 1.4426950408889634 + 6755399441055744.0
    kf = t - 6755399441055744.0
    ki = _f64_as_i64(t) - 0x4338000000000000
    r = xc - kf * 0.6931471803691238
    r = r - kf * 1.9082149292705877e-10
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    q0 = 1.0 + r
    q1 = 0.5 + r * (1.0 / 6.0)
    q2 = (1.0 / 24.0) + r * (1.0 / 120.0)
    q3 = (1.0 / 720.0) + r * (1.0 / 5040.0)
    q4 = (1.0 / 40320.0) + r * (1.0 / 362880.0)
    q5 = (1.0 / 3628800.0) + r * (1.0 / 39916800.0)
    q6 = (1.0 / 479001600.0) + r * (1.0 / 6227020800.0)
    u0 = (q0 + r2 * q1) + r4 * (q2 + r2 * q3)
    u1 = (q4 + r2 * q5) + r4 * q6
    y = ((u0 + r8 * u1) * _i64_as_f64((ki + 1022) << 52)) * 2.0
    y = math.inf if x > 709.782712893384 else y
    y = 0.0 if x < -707.0 else y
    return y if x == x else x
