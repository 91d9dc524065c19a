"""Built-in models with data-driven initial guesses.

A good start is the cheapest fix for a bad start: each model here comes with
``guess(data, x=x)``, which reads initial values off the data by direct, non-iterative
methods (peak position, half-maximum span, linear regressions), so a fit begins
near the answer.  Every model is an ordinary :class:`~trustfit.models.Model`
with an exact Jacobian.

=======================  ==============================================================
name                     formula (parameters in ``param_names`` order)
=======================  ==============================================================
``exponential``          ``amplitude*exp(-rate*t) + offset``
``double_exponential``   ``amplitude1*exp(-rate1*t) + amplitude2*exp(-rate2*t) + offset``
``gaussian``             ``amplitude*exp(-(x - center)**2/(2*sigma**2)) + offset``
``lorentzian``           ``amplitude*gamma**2/((x - center)**2 + gamma**2) + offset``
``voigt``                pseudo-Voigt, see below
``logistic``             ``amplitude/(1 + exp(-rate*(x - center))) + offset``
``power_law``            ``amplitude*x**exponent``
``michaelis_menten``     ``vmax*S/(km + S)``
=======================  ==============================================================

Peak models use the peak *height* as ``amplitude`` (the value above ``offset``
at ``center``), not the area; ``gamma`` is the Lorentzian half width at half
maximum.  Negative peaks (dips) are guessed with a negative amplitude.

Voigt
-----
``voigt`` is the *pseudo-Voigt*: ``amplitude*(eta*L + (1 - eta)*G) + offset``,
a linear mix of a Lorentzian ``L = 1/(1 + 4u**2)`` and a Gaussian
``G = exp(-4 ln2 u**2)``, ``u = (x - center)/fwhm``, sharing one full width at
half maximum, with ``0 <= eta <= 1``.  It stays within about 1 % of the true
Voigt profile (the convolution, computed with the Faddeeva function
``scipy.special.wofz``) while keeping an exact symbolic Jacobian, which sympy
cannot give for ``wofz``.  See P. Thompson, D. E. Cox and J. B. Hastings,
J. Appl. Cryst. 20 (1987) 79, for the mapping from Gaussian and Lorentzian
widths to ``fwhm`` and ``eta``.

Guesses
-------
* exponentials: the *integral-equation* regression of J. Jacquelin
  ("Régressions et équations intégrales", 2009): ``y = a e^{-kt} + c`` obeys
  ``y - y0 = -k S + k c (t - t0)`` with ``S`` the running integral of ``y``, a
  linear regression that gives ``k`` with no start and no baseline guess; two
  rates come from the double integral the same way.  Amplitudes and offset
  then follow by linear least squares.
* peaks: centre at the extreme sample (refined by a parabola through its
  neighbours), width from the half-maximum span, then amplitude and offset by
  linear least squares for that shape; ``eta`` from the height at one FWHM.
* logistic: midpoint and rate from the 25 %, 50 % and 75 % crossings.
* power law: a straight line in log-log; Michaelis-Menten: the Hanes-Woolf
  line ``S/v = km/vmax + S/vmax``.

For noise-free, well-sampled data the guesses land within a few per cent (see
``tests/test_models.py``); with noise they degrade gracefully and never return
a non-finite number.
"""

from __future__ import annotations

import math

import numpy as np

from .expression import Model
from .parameters import Parameter

__all__ = ["NAMES", "get"]

_LN2 = math.log(2.0)


# -- small numeric helpers ---------------------------------------------------------------
def _cumtrapz(x, y):
    """Running trapezoid integral of y over x, starting at 0."""
    out = np.zeros_like(y, dtype=float)
    out[1:] = np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(x))
    return out


def _lstsq(columns, y):
    """Least squares with column scaling (the columns differ by orders of magnitude)."""
    a = np.column_stack(columns).astype(float)
    norms = np.linalg.norm(a, axis=0)
    norms[norms == 0] = 1.0
    coef, *_ = np.linalg.lstsq(a / norms, y, rcond=None)
    return coef / norms


def _line(x, y, w=None):
    """Slope and intercept of a (weighted) straight-line fit, without warnings
    (np.polyfit warns on degenerate x; a guess must stay quiet)."""
    w = np.ones_like(x) if w is None else w
    slope, intercept = _lstsq([w * x, w], w * y)
    return float(slope), float(intercept)


def _finite(*vals):
    return all(np.isfinite(v) for v in vals)


def _span(x):
    s = float(x[-1] - x[0])
    return s if s > 0 else 1.0


def _crossing(x, h, i, level, step):
    """x where h first falls below ``level`` walking from index i by ``step``
    (linear interpolation); None if it never does."""
    j = i
    while 0 <= j + step < len(h):
        k = j + step
        if h[k] < level:
            frac = (h[j] - level) / (h[j] - h[k])
            return x[j] + frac * (x[k] - x[j])
        j = k
    return None


# -- exponentials -----------------------------------------------------------------------
def _fit_amplitudes(t, y, rates):
    """Linear least squares for the amplitudes (at t=0) and offset, given rates."""
    t0 = t[0]
    cols = [np.exp(-k * (t - t0)) for k in rates] + [np.ones_like(t)]
    coef = _lstsq(cols, y)
    amps = [c * math.exp(min(k * t0, 700.0)) for c, k in zip(coef[:-1], rates, strict=True)]
    return amps, float(coef[-1])


def _guess_rate(t, y):
    tt = t - t[0]
    s = _cumtrapz(tt, y)
    coef = _lstsq([s, tt, np.ones_like(tt)], y - y[0])
    k = -coef[0]
    if not _finite(k) or abs(k) * _span(t) < 1e-6:
        k = 1.0 / _span(t)
    return float(k)


def _guess_exponential(t, y):
    k = _guess_rate(t, y)
    (a,), c = _fit_amplitudes(t, y, [k])
    if not _finite(a, c):
        a, c = float(y[0] - y[-1]), float(y[-1])
    return {"amplitude": a, "rate": k, "offset": c}


def _guess_double_exponential(t, y):
    tt = t - t[0]
    s1 = _cumtrapz(tt, y)
    s2 = _cumtrapz(tt, s1)
    # y'' + p y' + q (y - c) = 0, integrated twice: y = ... - p S1 - q S2.
    coef = _lstsq([np.ones_like(tt), tt, tt**2, s1, s2], y)
    p, q = -coef[3], -coef[4]
    disc = p * p - 4 * q
    rates = None
    if _finite(p, q) and disc > 0:
        r = math.sqrt(disc)
        k1, k2 = (p + r) / 2, (p - r) / 2
        if abs(k1 - k2) > 1e-6 * max(abs(k1), abs(k2)) and min(abs(k1), abs(k2)) > 0:
            rates = [k1, k2]
    if rates is None:  # one visible rate: split it into a fast and a slow part
        k = _guess_rate(t, y)
        rates = [3.0 * k, k / 3.0]
    (a1, a2), c = _fit_amplitudes(t, y, rates)
    if not _finite(a1, a2, c):
        a1 = a2 = float(y[0] - y[-1]) / 2
        c = float(y[-1])
    return {"amplitude1": a1, "rate1": rates[0], "amplitude2": a2, "rate2": rates[1],
            "offset": c}


# -- peaks --------------------------------------------------------------------------------
def _peak(x, y):
    """Centre, half width at half maximum, and the peak's sign (+1 peak, -1 dip)."""
    med = float(np.median(y))
    sign = 1.0 if y.max() - med >= med - y.min() else -1.0
    h = sign * (y - med)
    h = h - h.min()  # height above the lowest sample on the peak's side
    i = int(np.argmax(h))
    center = float(x[i])
    if 0 < i < len(x) - 1:  # vertex of the parabola through the top three samples
        x0, x1, x2 = x[i - 1:i + 2]
        h0, h1, h2 = h[i - 1:i + 2]
        den = (x0 - x1) * (x0 - x2) * (x1 - x2)
        a = (x2 * (h1 - h0) + x1 * (h0 - h2) + x0 * (h2 - h1)) / den if den else 0.0
        b = (x2**2 * (h0 - h1) + x1**2 * (h2 - h0) + x0**2 * (h1 - h2)) / den if den else 0.0
        if a < 0:
            center = float(np.clip(-b / (2 * a), x0, x2))
    half = h[i] / 2
    left = _crossing(x, h, i, half, -1)
    right = _crossing(x, h, i, half, +1)
    if left is not None and right is not None:
        hwhm = (right - left) / 2
    elif left is not None or right is not None:
        hwhm = abs((left if left is not None else right) - x[i])
    else:
        hwhm = _span(x) / 4
    if not hwhm > 0:
        hwhm = _span(x) / 4
    return center, float(hwhm), sign


def _height_offset(x, y, shape, sign):
    """Amplitude and offset by linear least squares for a fixed peak shape."""
    a, c = _lstsq([shape, np.ones_like(x)], y)
    if not _finite(a, c) or a * sign <= 0:
        c = float(np.median(y))
        a = float(y.max() - c) if sign > 0 else float(y.min() - c)
    return float(a), float(c)


def _guess_gaussian(x, y):
    center, hwhm, sign = _peak(x, y)
    sigma = hwhm / math.sqrt(2 * _LN2)
    a, c = _height_offset(x, y, np.exp(-((x - center) ** 2) / (2 * sigma**2)), sign)
    return {"amplitude": a, "center": center, "sigma": sigma, "offset": c}


def _guess_lorentzian(x, y):
    center, hwhm, sign = _peak(x, y)
    a, c = _height_offset(x, y, hwhm**2 / ((x - center) ** 2 + hwhm**2), sign)
    return {"amplitude": a, "center": center, "gamma": hwhm, "offset": c}


def _pseudo_voigt_shape(x, center, fwhm, eta):
    u2 = ((x - center) / fwhm) ** 2
    return eta / (1 + 4 * u2) + (1 - eta) * np.exp(-4 * _LN2 * u2)


def _guess_voigt(x, y):
    center, hwhm, sign = _peak(x, y)
    fwhm = 2 * hwhm
    # At |x - center| = fwhm a Gaussian is down to 1/16, a Lorentzian to 1/5:
    # the height there (relative to the peak) tells the mix.  Offset from a
    # first pass with eta = 0.5, so Lorentzian tails do not bias it much.
    a, c = _height_offset(x, y, _pseudo_voigt_shape(x, center, fwhm, 0.5), sign)
    r = float(np.mean(np.interp([center - fwhm, center + fwhm], x, y) - c) / a) if a else 0.5
    eta = float(np.clip((r - 1 / 16) / (1 / 5 - 1 / 16), 0.0, 1.0)) if _finite(r) else 0.5
    # Then the best of a few mixes near it, amplitude and offset linear for each.
    best = None
    for e in np.unique(np.clip(eta + np.linspace(-0.2, 0.2, 9), 0.0, 1.0)):
        shape = _pseudo_voigt_shape(x, center, fwhm, e)
        ae, ce = _height_offset(x, y, shape, sign)
        cost = float(np.sum((ae * shape + ce - y) ** 2))
        if best is None or cost < best[0]:
            best = (cost, float(e), ae, ce)
    _, eta, a, c = best
    return {"amplitude": a, "center": center, "fwhm": fwhm, "eta": eta, "offset": c}


# -- sigmoid, power law, enzyme kinetics --------------------------------------------------
def _first_crossing(x, z, level):
    idx = np.nonzero(z >= level)[0]
    if len(idx) == 0:
        return None
    j = int(idx[0])
    if j == 0:
        return float(x[0])
    frac = (level - z[j - 1]) / (z[j] - z[j - 1])
    return float(x[j - 1] + frac * (x[j] - x[j - 1]))


def _guess_logistic(x, y):
    n = max(len(y) // 4, 1)
    rising = np.mean(y[-n:]) >= np.mean(y[:n])
    lo, hi = float(y.min()), float(y.max())
    rng = hi - lo if hi > lo else 1.0
    z = (y - lo) / rng if rising else (hi - y) / rng  # rises from 0 to 1 either way
    x25, x50, x75 = (_first_crossing(x, z, lv) for lv in (0.25, 0.5, 0.75))
    center = x50 if x50 is not None else float(np.median(x))
    if x25 is not None and x75 is not None and x75 > x25:
        rate = 2 * math.log(3.0) / (x75 - x25)  # logistic: 25 % -> 75 % takes 2 ln3 / rate
    else:
        rate = 8.0 / _span(x)
    rate = rate if rising else -rate
    shape = 1 / (1 + np.exp(-rate * (x - center)))
    a, c = _lstsq([shape, np.ones_like(x)], y)
    if not _finite(a, c) or a <= 0:
        a, c = rng, lo
    return {"amplitude": float(a), "center": center, "rate": float(rate), "offset": float(c)}


def _guess_power_law(x, y):
    ok = (x > 0) & (y != 0)
    sgn = 1.0 if np.sum(y[ok] > 0) >= np.sum(y[ok] < 0) else -1.0
    ok &= sgn * y > 0
    if ok.sum() >= 2 and np.ptp(np.log(x[ok])) > 0:
        # log|y| has error ~ noise/|y|: weight by |y| so small values do not dominate
        slope, intercept = _line(np.log(x[ok]), np.log(sgn * y[ok]), w=sgn * y[ok])
        if _finite(slope, intercept):
            return {"amplitude": sgn * math.exp(float(np.clip(intercept, -700, 700))),
                    "exponent": float(slope)}
    mx = float(np.mean(np.abs(x))) or 1.0
    return {"amplitude": float(np.mean(y)) / mx, "exponent": 1.0}


def _guess_michaelis_menten(s, v):
    ok = (s > 0) & (v != 0)
    if ok.sum() >= 2:
        # Hanes-Woolf: S/v = km/vmax + S/vmax, a straight line in S.
        slope, intercept = _line(s[ok], s[ok] / v[ok])
        if _finite(slope, intercept) and slope != 0:
            vmax, km = 1.0 / slope, intercept / slope
            if km > 0 and vmax * np.sign(np.median(v[ok])) > 0:
                return {"vmax": float(vmax), "km": float(km)}
    # fallback: plateau ~ largest rate, half-saturation ~ middle concentration
    vmax = float(v[np.argmax(np.abs(v))]) or 1.0
    return {"vmax": vmax, "km": float(np.median(s[s > 0])) if np.any(s > 0) else 1.0}


# -- the registry -------------------------------------------------------------------------
def _p(name, **kw):
    return Parameter(name, **kw)


_SPECS = {
    "exponential": ("amplitude*exp(-rate*t) + offset", "t",
                    [_p("amplitude"), _p("rate"), _p("offset")], _guess_exponential),
    "double_exponential": ("amplitude1*exp(-rate1*t) + amplitude2*exp(-rate2*t) + offset", "t",
                           [_p("amplitude1"), _p("rate1"), _p("amplitude2"), _p("rate2"),
                            _p("offset")], _guess_double_exponential),
    "gaussian": ("amplitude*exp(-(x - center)**2/(2*sigma**2)) + offset", "x",
                 [_p("amplitude"), _p("center"), _p("sigma", min=0.0), _p("offset")],
                 _guess_gaussian),
    "lorentzian": ("amplitude*gamma**2/((x - center)**2 + gamma**2) + offset", "x",
                   [_p("amplitude"), _p("center"), _p("gamma", min=0.0), _p("offset")],
                   _guess_lorentzian),
    "voigt": ("amplitude*(eta/(1 + 4*((x - center)/fwhm)**2)"
              " + (1 - eta)*exp(-4*log(2)*((x - center)/fwhm)**2)) + offset", "x",
              [_p("amplitude"), _p("center"), _p("fwhm", min=0.0), _p("eta", min=0.0, max=1.0),
               _p("offset")], _guess_voigt),
    "logistic": ("amplitude/(1 + exp(-rate*(x - center))) + offset", "x",
                 [_p("amplitude"), _p("center"), _p("rate"), _p("offset")], _guess_logistic),
    "power_law": ("amplitude*x**exponent", "x", [_p("amplitude"), _p("exponent")],
                  _guess_power_law),
    "michaelis_menten": ("vmax*S/(km + S)", "S", [_p("vmax"), _p("km")],
                         _guess_michaelis_menten),
}

#: Names of the built-in models.
NAMES: tuple[str, ...] = tuple(_SPECS)

_cache: dict[str, Model] = {}


def get(name: str, prefix: str = "") -> Model:
    """The built-in model ``name``; built on first use and then shared.

    The shared model is never mutated by fitting (parameters live in
    :class:`~trustfit.models.Parameters`), so sharing it is safe; ``set_param_hint``
    changes it for every user, so take a copy with a ``prefix`` (or ``copy.deepcopy``) first.
    With ``prefix`` a new model is built, its parameter names prefixed.
    """
    if name not in _SPECS:
        raise ValueError(f"no built-in model {name!r}; the built-in models are "
                         f"{', '.join(NAMES)}")
    expr, indep, params, guess = _SPECS[name]
    if prefix:
        return Model(expr, indep, {p.name: p for p in params}, name=name, guess=guess,
                     prefix=prefix)
    if name not in _cache:
        _cache[name] = Model(expr, indep, {p.name: p for p in params}, name=name, guess=guess)
    return _cache[name]
