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

:func:`fisher_source` adds ``tf_fisher(P, X, Y, INFO, PEARSON)`` to the module: in parallel
over curves, the Fisher information ``sum_j df/dp_a df/dp_b / mu_j`` (``INFO``, (K, n, n))
and Pearson's ``sum_j (y_j - mu_j)^2 / mu_j`` at the fitted parameters, from the same
generated model and derivative code (NaN where a mean is not positive and finite); the
standard errors are then :func:`._poisson.fisher_stderr`'s.
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
    "        root = math.sqrt(2.0 * s)",  # sqrt(2 h) = |t| root
    "        u = abs(t) * root",
    "        q = 1.0 / root",
    "    else:",
    "        u = math.sqrt(2.0 * max((ratio * math.log(ratio) if y > 0.0 else 0.0) - t, 0.0))",
    "        q = abs(t) / u",
    "    sm = math.sqrt(mu)",
    "    r = u * sm",
    "    if t > 0.0:",
    "        r = -r",
    "    return r, q / sm",
])


def point_lines(fcode: str, dcode: list[str]) -> list[str]:
    """The per-point lines of ``_accum`` for counts (the Gaussian ones are
    ``B[0, j] = (f - y) w``, ``B[a + 1, j] = df/dp_a w``)."""
    lines = ["wj = Wp[j]", f"tf_mu = {fcode}", "tf_r, tf_s = tf_deviance(Yp[j], tf_mu)",
             "B[0, j] = tf_r * wj", "tf_s = tf_s * wj"]
    lines += [f"B[{a + 1}, j] = ({d}) * tf_s" for a, d in enumerate(dcode)]
    return lines


def fisher_source(lines: list[str], fcode: str, dcode: list[str], k: int) -> str:
    """Source of ``tf_fisher`` (module docstring) from ``_accum``'s shared subexpressions
    ``lines`` and the model's and its derivatives' code (parameters ``tf_p{a}``, variables
    ``tf_x{c}``)."""
    n = len(dcode)
    body = ["K = P.shape[0]", "m = Y.shape[1]", "for i in prange(K):"]
    loop = [f"tf_p{a} = P[i, {a}]" for a in range(n)]
    loop += ["xi = 0 if X.shape[0] == 1 else np.int64(i)", "chi = 0.0"]  # prange: uint
    loop += [f"f_{a}_{b} = 0.0" for a in range(n) for b in range(a, n)]
    loop += ["for j in range(m):"]
    point = [f"tf_x{c} = X[xi, {c}, j]" for c in range(k)] + list(lines)
    point += [f"tf_mu = {fcode}", "if not (tf_mu > 0.0 and tf_mu < math.inf):",
              "    tf_mu = math.nan", "tf_w = 1.0 / tf_mu"]
    point += [f"d_{a} = {d}" for a, d in enumerate(dcode)]
    point += ["tf_e = Y[i, j] - tf_mu", "chi += tf_e * tf_e * tf_w"]
    point += [f"f_{a}_{b} += d_{a} * d_{b} * tf_w" for a in range(n) for b in range(a, n)]
    loop += ["    " + line for line in point]
    for a in range(n):
        for b in range(a, n):
            loop.append(f"INFO[i, {a}, {b}] = f_{a}_{b}")
            if a != b:
                loop.append(f"INFO[i, {b}, {a}] = f_{a}_{b}")
    loop.append("PEARSON[i] = chi")
    body += ["    " + line for line in loop]
    head = ("from numba import prange\n\n\n"
            '@njit(parallel=True, cache=True, nogil=True, error_model="numpy")\n'
            "def tf_fisher(P, X, Y, INFO, PEARSON):\n")
    return head + "\n".join("    " + line for line in body)
