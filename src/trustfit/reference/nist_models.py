"""Models and analytic Jacobians of the 27 NIST StRD nonlinear regression problems.

Each model is written from the formula in its NIST ``.dat`` file (quoted in the
docstring) and comes with its Jacobian ``J[i, j] = d f(x_i; b) / d b_j``, derived
by hand.  Parameters are 0-based here: NIST's ``b1`` is ``b[0]``.

Every function accepts a complex parameter vector ``b`` (for complex-step
derivative checks): only holomorphic numpy operations are used (``np.exp``,
``np.log``, ``np.arctan``, ``np.sin``, ...), never ``abs`` or a cast to float.

The data ``x`` are real: shape ``(m,)``, or ``(m, 2)`` for Nelson (``x1, x2``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["MODELS", "ModelPair"]

ModelPair = tuple[Callable[[np.ndarray, np.ndarray], np.ndarray],
                  Callable[[np.ndarray, np.ndarray], np.ndarray]]


def _cols(*columns) -> np.ndarray:
    """Stack per-parameter derivative columns into an (m, n) Jacobian.

    Columns that are scalars (e.g. d/db1 of ``b1 + ...``) are broadcast to m rows.
    """
    m = max(np.shape(c)[0] for c in columns if np.ndim(c) > 0)
    return np.column_stack([np.broadcast_to(c, (m,)) for c in columns])


# --- exponential saturation: Misra1a, BoxBOD --------------------------------
def saturation(b, x):
    """``y = b1*(1-exp[-b2*x])`` (Misra1a, BoxBOD)."""
    return b[0] * (1.0 - np.exp(-b[1] * x))


def saturation_jac(b, x):
    # d/db1 = 1 - e,  d/db2 = b1*x*e   with e = exp(-b2*x)
    e = np.exp(-b[1] * x)
    return _cols(1.0 - e, b[0] * x * e)


# --- Chwirut1, Chwirut2 ------------------------------------------------------
def chwirut(b, x):
    """``y = exp[-b1*x]/(b2+b3*x)`` (Chwirut1, Chwirut2)."""
    return np.exp(-b[0] * x) / (b[1] + b[2] * x)


def chwirut_jac(b, x):
    # f = e/d with e = exp(-b1 x), d = b2 + b3 x:  df/db1 = -x f,
    # df/db2 = -f/d,  df/db3 = -x f/d
    d = b[1] + b[2] * x
    f = np.exp(-b[0] * x) / d
    return _cols(-x * f, -f / d, -x * f / d)


# --- DanWood -----------------------------------------------------------------
def danwood(b, x):
    """``y = b1*x**b2`` (DanWood; all x > 0, so x**b2 = exp(b2*log x))."""
    return b[0] * np.exp(b[1] * np.log(x))


def danwood_jac(b, x):
    p = np.exp(b[1] * np.log(x))
    return _cols(p, b[0] * p * np.log(x))


# --- Misra1b, Misra1c, Misra1d ----------------------------------------------
def misra1b(b, x):
    """``y = b1 * (1-(1+b2*x/2)**(-2))`` (Misra1b)."""
    u = 1.0 + b[1] * x / 2.0
    return b[0] * (1.0 - u**-2)


def misra1b_jac(b, x):
    # d/db2 = b1 * 2 u^-3 * x/2 = b1 x u^-3
    u = 1.0 + b[1] * x / 2.0
    return _cols(1.0 - u**-2, b[0] * x * u**-3)


def misra1c(b, x):
    """``y = b1 * (1-(1+2*b2*x)**(-.5))`` (Misra1c)."""
    u = 1.0 + 2.0 * b[1] * x
    return b[0] * (1.0 - 1.0 / np.sqrt(u))


def misra1c_jac(b, x):
    # d/db2 = b1 * 0.5 u^-1.5 * 2x = b1 x u^-1.5
    u = 1.0 + 2.0 * b[1] * x
    s = np.sqrt(u)
    return _cols(1.0 - 1.0 / s, b[0] * x / (u * s))


def misra1d(b, x):
    """``y = b1*b2*x*((1+b2*x)**(-1))`` (Misra1d)."""
    return b[0] * b[1] * x / (1.0 + b[1] * x)


def misra1d_jac(b, x):
    # d/db2 [b2 x/(1+b2 x)] = x/(1+b2 x)^2
    d = 1.0 + b[1] * x
    return _cols(b[1] * x / d, b[0] * x / d**2)


# --- Gauss1, Gauss2, Gauss3 --------------------------------------------------
def gauss(b, x):
    """``y = b1*exp( -b2*x ) + b3*exp( -(x-b4)**2 / b5**2 )
    + b6*exp( -(x-b7)**2 / b8**2 )`` (Gauss1, Gauss2, Gauss3)."""
    return (b[0] * np.exp(-b[1] * x)
            + b[2] * np.exp(-((x - b[3]) ** 2) / b[4] ** 2)
            + b[5] * np.exp(-((x - b[6]) ** 2) / b[7] ** 2))


def gauss_jac(b, x):
    # For a peak a*g with g = exp(-(x-c)^2/w^2):
    #   d/da = g,  d/dc = a g 2(x-c)/w^2,  d/dw = a g 2(x-c)^2/w^3
    e = np.exp(-b[1] * x)
    cols = [e, -b[0] * x * e]
    for a, c, w in ((b[2], b[3], b[4]), (b[5], b[6], b[7])):
        g = np.exp(-((x - c) ** 2) / w**2)
        cols += [g, a * g * 2.0 * (x - c) / w**2, a * g * 2.0 * (x - c) ** 2 / w**3]
    return _cols(*cols)


# --- Lanczos1, Lanczos2, Lanczos3 --------------------------------------------
def lanczos(b, x):
    """``y = b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)`` (Lanczos1-3)."""
    return (b[0] * np.exp(-b[1] * x) + b[2] * np.exp(-b[3] * x)
            + b[4] * np.exp(-b[5] * x))


def lanczos_jac(b, x):
    cols = []
    for a, k in ((b[0], b[1]), (b[2], b[3]), (b[4], b[5])):
        e = np.exp(-k * x)
        cols += [e, -a * x * e]
    return _cols(*cols)


# --- rationals: Kirby2 (quadratic/quadratic), Hahn1 and Thurber (cubic/cubic) -
def _rational(b, x, deg):
    """``(b1 + b2 x + ... ) / (1 + b_{deg+2} x + ...)``, numerator and
    denominator of degree ``deg``; returns (N, D, powers x^0..x^deg)."""
    powers = [np.ones_like(x)] + [x**k for k in range(1, deg + 1)]
    num = sum(b[k] * powers[k] for k in range(deg + 1))
    den = 1.0 + sum(b[deg + k] * powers[k] for k in range(1, deg + 1))
    return num, den, powers


def _rational_jac(b, x, deg):
    # d/d(num coeff k) = x^k / D;  d/d(den coeff k) = -N x^k / D^2
    num, den, powers = _rational(b, x, deg)
    cols = [p / den for p in powers]
    cols += [-num * powers[k] / den**2 for k in range(1, deg + 1)]
    return _cols(*cols)


def kirby2(b, x):
    """``y = (b1 + b2*x + b3*x**2) / (1 + b4*x + b5*x**2)`` (Kirby2)."""
    num, den, _ = _rational(b, x, 2)
    return num / den


def kirby2_jac(b, x):
    return _rational_jac(b, x, 2)


def cubic_rational(b, x):
    """``y = (b1 + b2*x + b3*x**2 + b4*x**3) / (1 + b5*x + b6*x**2 + b7*x**3)``
    (Hahn1, Thurber)."""
    num, den, _ = _rational(b, x, 3)
    return num / den


def cubic_rational_jac(b, x):
    return _rational_jac(b, x, 3)


# --- Nelson (two predictors, response log[y]) --------------------------------
def nelson(b, x):
    """``log[y] = b1 - b2*x1 * exp[-b3*x2]`` (Nelson).

    Returns the model for ``log(y)``; ``x`` has columns ``x1, x2``.
    """
    x1, x2 = x[:, 0], x[:, 1]
    return b[0] - b[1] * x1 * np.exp(-b[2] * x2)


def nelson_jac(b, x):
    x1, x2 = x[:, 0], x[:, 1]
    e = np.exp(-b[2] * x2)
    return _cols(1.0, -x1 * e, b[1] * x1 * x2 * e)


# --- MGH17 -------------------------------------------------------------------
def mgh17(b, x):
    """``y = b1 + b2*exp[-x*b4] + b3*exp[-x*b5]`` (MGH17)."""
    return b[0] + b[1] * np.exp(-x * b[3]) + b[2] * np.exp(-x * b[4])


def mgh17_jac(b, x):
    e4, e5 = np.exp(-x * b[3]), np.exp(-x * b[4])
    return _cols(1.0, e4, e5, -b[1] * x * e4, -b[2] * x * e5)


# --- Roszman1 ----------------------------------------------------------------
def roszman1(b, x):
    """``y = b1 - b2*x - arctan[b3/(x-b4)]/pi`` (Roszman1).

    NIST's own convention: the principal ``arctan`` (range (-pi/2, pi/2)), with
    the certified ``b1 = 2.0196866396E-01``.  Writing it with
    ``atan2(b3, x-b4)`` instead (as Ceres does) adds pi to the arctan wherever
    x - b4 < 0 and b3 > 0, which holds for all 25 points near the solution
    (x <= -464, b4 = -181): that model's optimum has b1 larger by exactly 1.
    ``pi`` is NIST's 3.14159265358979323846..., which rounds to ``np.pi``.
    """
    return b[0] - b[1] * x - np.arctan(b[2] / (x - b[3])) / np.pi


def roszman1_jac(b, x):
    # With t = b3/(x-b4): d arctan(t) = dt/(1+t^2), and
    # (1+t^2)(x-b4) = ((x-b4)^2 + b3^2)/(x-b4), so
    #   d/db3 = -(x-b4) / (pi ((x-b4)^2 + b3^2))
    #   d/db4 = -b3     / (pi ((x-b4)^2 + b3^2))
    d = x - b[3]
    q = np.pi * (d**2 + b[2] ** 2)
    return _cols(1.0, -x, -d / q, -b[2] / q)


# --- ENSO --------------------------------------------------------------------
def enso(b, x):
    """``y = b1 + b2*cos( 2*pi*x/12 ) + b3*sin( 2*pi*x/12 )
    + b5*cos( 2*pi*x/b4 ) + b6*sin( 2*pi*x/b4 )
    + b8*cos( 2*pi*x/b7 ) + b9*sin( 2*pi*x/b7 )`` (ENSO)."""
    t12, t4, t7 = 2 * np.pi * x / 12.0, 2 * np.pi * x / b[3], 2 * np.pi * x / b[6]
    return (b[0] + b[1] * np.cos(t12) + b[2] * np.sin(t12)
            + b[4] * np.cos(t4) + b[5] * np.sin(t4)
            + b[7] * np.cos(t7) + b[8] * np.sin(t7))


def enso_jac(b, x):
    # For a period p with theta = 2 pi x/p, d theta/dp = -theta/p, so
    # d/dp [c cos(theta) + s sin(theta)] = (c sin(theta) - s cos(theta)) theta/p
    t12 = 2 * np.pi * x / 12.0
    cols = [1.0, np.cos(t12), np.sin(t12)]
    for p, c, s in ((b[3], b[4], b[5]), (b[6], b[7], b[8])):
        t = 2 * np.pi * x / p
        cols += [(c * np.sin(t) - s * np.cos(t)) * t / p, np.cos(t), np.sin(t)]
    return _cols(*cols)


# --- MGH09 -------------------------------------------------------------------
def mgh09(b, x):
    """``y = b1*(x**2+x*b2) / (x**2+x*b3+b4)`` (MGH09)."""
    return b[0] * (x**2 + x * b[1]) / (x**2 + x * b[2] + b[3])


def mgh09_jac(b, x):
    n = x**2 + x * b[1]
    d = x**2 + x * b[2] + b[3]
    return _cols(n / d, b[0] * x / d, -b[0] * n * x / d**2, -b[0] * n / d**2)


# --- MGH10 -------------------------------------------------------------------
def mgh10(b, x):
    """``y = b1 * exp[b2/(x+b3)]`` (MGH10)."""
    return b[0] * np.exp(b[1] / (x + b[2]))


def mgh10_jac(b, x):
    s = x + b[2]
    e = np.exp(b[1] / s)
    return _cols(e, b[0] * e / s, -b[0] * e * b[1] / s**2)


# --- Eckerle4 ----------------------------------------------------------------
def eckerle4(b, x):
    """``y = (b1/b2) * exp[-0.5*((x-b3)/b2)**2]`` (Eckerle4)."""
    z = (x - b[2]) / b[1]
    return b[0] / b[1] * np.exp(-0.5 * z**2)


def eckerle4_jac(b, x):
    # With z = (x-b3)/b2 and f = (b1/b2) exp(-z^2/2):
    #   d/db1 = f/b1 = exp(-z^2/2)/b2,  d/db2 = f (z^2 - 1)/b2,  d/db3 = f z/b2
    z = (x - b[2]) / b[1]
    g = np.exp(-0.5 * z**2)
    f = b[0] / b[1] * g
    return _cols(g / b[1], f * (z**2 - 1.0) / b[1], f * z / b[1])


# --- Rat42, Rat43 ------------------------------------------------------------
def rat42(b, x):
    """``y = b1 / (1+exp[b2-b3*x])`` (Rat42)."""
    return b[0] / (1.0 + np.exp(b[1] - b[2] * x))


def rat42_jac(b, x):
    e = np.exp(b[1] - b[2] * x)
    d = 1.0 + e
    return _cols(1.0 / d, -b[0] * e / d**2, b[0] * x * e / d**2)


def rat43(b, x):
    """``y = b1 / ((1+exp[b2-b3*x])**(1/b4))`` (Rat43); D**(-1/b4) is
    computed as exp(-log(D)/b4), D > 0."""
    d = 1.0 + np.exp(b[1] - b[2] * x)
    return b[0] * np.exp(-np.log(d) / b[3])


def rat43_jac(b, x):
    # f = b1 D^(-1/b4), D = 1 + e, e = exp(b2 - b3 x):
    #   d/db2 = -f e/(b4 D),  d/db3 = f x e/(b4 D),  d/db4 = f log(D)/b4^2
    e = np.exp(b[1] - b[2] * x)
    d = 1.0 + e
    p = np.exp(-np.log(d) / b[3])
    f = b[0] * p
    return _cols(p, -f * e / (b[3] * d), f * x * e / (b[3] * d), f * np.log(d) / b[3] ** 2)


# --- Bennett5 ----------------------------------------------------------------
def bennett5(b, x):
    """``y = b1 * (b2+x)**(-1/b3)`` (Bennett5); computed as
    b1 exp(-log(b2+x)/b3), b2 + x > 0."""
    return b[0] * np.exp(-np.log(b[1] + x) / b[2])


def bennett5_jac(b, x):
    # f = b1 exp(-L/b3), L = log(b2+x):
    #   d/db2 = -f / (b3 (b2+x)),  d/db3 = f L / b3^2
    s = b[1] + x
    L = np.log(s)
    p = np.exp(-L / b[2])
    f = b[0] * p
    return _cols(p, -f / (b[2] * s), f * L / b[2] ** 2)


#: problem name -> (model(b, x), jacobian(b, x))
MODELS: dict[str, ModelPair] = {
    "Misra1a": (saturation, saturation_jac),
    "BoxBOD": (saturation, saturation_jac),
    "Chwirut1": (chwirut, chwirut_jac),
    "Chwirut2": (chwirut, chwirut_jac),
    "DanWood": (danwood, danwood_jac),
    "Misra1b": (misra1b, misra1b_jac),
    "Misra1c": (misra1c, misra1c_jac),
    "Misra1d": (misra1d, misra1d_jac),
    "Gauss1": (gauss, gauss_jac),
    "Gauss2": (gauss, gauss_jac),
    "Gauss3": (gauss, gauss_jac),
    "Lanczos1": (lanczos, lanczos_jac),
    "Lanczos2": (lanczos, lanczos_jac),
    "Lanczos3": (lanczos, lanczos_jac),
    "Kirby2": (kirby2, kirby2_jac),
    "Hahn1": (cubic_rational, cubic_rational_jac),
    "Thurber": (cubic_rational, cubic_rational_jac),
    "Nelson": (nelson, nelson_jac),
    "MGH17": (mgh17, mgh17_jac),
    "Roszman1": (roszman1, roszman1_jac),
    "ENSO": (enso, enso_jac),
    "MGH09": (mgh09, mgh09_jac),
    "MGH10": (mgh10, mgh10_jac),
    "Eckerle4": (eckerle4, eckerle4_jac),
    "Rat42": (rat42, rat42_jac),
    "Rat43": (rat43, rat43_jac),
    "Bennett5": (bennett5, bennett5_jac),
}
