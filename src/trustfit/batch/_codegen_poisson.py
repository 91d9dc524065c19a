"""The compiled kernel's point pass for ``noise='poisson'``: deviance residuals of counts.

The generated ``_accum`` (:mod:`._codegen`) stores, per point, the residual and its gradient
in the scratch ``B``; for counts it stores the deviance residual ``r(y, mu)`` of
:mod:`trustfit.kinds.poisson` at the model's mean ``mu = f(x; p)`` and ``dr/dmu df/dp``,
both times the chunk's power-of-two scale ``w`` (:mod:`._chunk`), computed by
:data:`DEVIANCE_SOURCE`'s ``tf_deviance``, the same formulas as the numpy path's
(:func:`trustfit.kinds.poisson.residuals_and_slopes`: the series of ``h(t) / t^2`` for
``|t| < SERIES_LIMIT`` with the same coefficients, ``y log(y / mu)`` directly elsewhere, 0
at ``y = 0``). A mean that is not positive and finite gives NaN, which the kernel treats as
every non-finite residual: a rejected trial point, or the curve not fitted at its start.
The reduction, the steps, the stopping tests and the statistics are the Gaussian kernel's:
they read only ``B``.
"""

from __future__ import annotations

from ..kinds.poisson import _COEFFICIENTS, SERIES_LIMIT


def _horner() -> list[str]:
    lines = [f"s = {float(_COEFFICIENTS[-1])!r}"]
    lines += [f"s = s * t + {float(c)!r}" for c in _COEFFICIENTS[-2::-1]]
    return lines


DEVIANCE_SOURCE = "\n".join([
    '@njit(cache=True, _nrt=False, nogil=True, error_model="numpy")',
    "def tf_deviance(y, mu):",
    "    if not (mu > 0.0 and mu < math.inf):",
    "        return math.nan, math.nan",
    "    ratio = y / mu",
    "    t = ratio - 1.0",
    f"    if abs(t) < {SERIES_LIMIT!r}:",
    *("        " + line for line in _horner()),
    "        h = s * t * t",
    "        q = 1.0 / math.sqrt(2.0 * s)",
    "    else:",
    "        h = (ratio * math.log(ratio) if y > 0.0 else 0.0) - t",
    "        q = abs(t) / math.sqrt(2.0 * h)",
    "    r = math.sqrt(2.0 * mu * max(h, 0.0))",
    "    if t > 0.0:",
    "        r = -r",
    "    return r, q / math.sqrt(mu)",
])


def point_lines(fcode: str, dcode: list[str]) -> list[str]:
    """The per-point lines of ``_accum`` for counts (the Gaussian ones are
    ``B[0, j] = (f - y) w``, ``B[a + 1, j] = df/dp_a w``)."""
    lines = ["wj = Wp[j]", f"tf_mu = {fcode}", "tf_r, tf_s = tf_deviance(Yp[j], tf_mu)",
             "B[0, j] = tf_r * wj", "tf_s = tf_s * wj"]
    lines += [f"B[{a + 1}, j] = ({d}) * tf_s" for a, d in enumerate(dcode)]
    return lines
