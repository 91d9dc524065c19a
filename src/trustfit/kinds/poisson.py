"""Poisson maximum likelihood as least squares: deviance residuals, their derivative, the
Fisher information and the goodness-of-fit statistics.

For counts ``y_i`` (integers, zeros included) with means ``mu_i = f(x_i, p) > 0``, the
negative log-likelihood is ``sum_i (mu_i - y_i log mu_i + log y_i!)``. The *deviance*
``D = 2 sum_i (y_i log(y_i / mu_i) - (y_i - mu_i))`` (with ``y log y -> 0`` at ``y = 0``) is
twice the NLL less its value at the saturated model, a constant: minimising ``1/2 sum r_i^2``
over the deviance residuals

``r_i = sign(mu_i - y_i) sqrt(2 mu_i h(t_i))``,  ``t_i = y_i / mu_i - 1``,
``h(t) = (1 + t) log(1 + t) - t``  (``h(-1) = 1``: ``r = sqrt(2 mu)`` at ``y = 0``),

is maximum likelihood, solved by any least-squares method (McCullagh & Nelder, *Generalized
Linear Models*, 2nd ed., sec. 2.4.3; the sign makes ``r`` increase with ``mu``, trustfit's
``model - data`` convention). ``r`` is an analytic function of ``mu`` through ``y = mu``
(``h(t) ~ t^2 / 2``), and its derivative is

``dr_i / dmu_i = q(t_i) / sqrt(mu_i)``,  ``q(t) = |t| / sqrt(2 h(t))``,  ``q(0) = 1``,

(from ``r dr/dmu = 1 - y/mu``), computed without ``0/0``: near ``t = 0`` (``|t| < 0.1``) ``h``
and ``h / t^2`` come from the series ``h(t) = sum_{k>=2} (-1)^k t^k / (k (k - 1))`` (17 terms,
relative error below 1e-18), which also avoids the cancellation in ``(1 + t) log(1 + t) - t``.
At a stationary point ``sum r_i dr_i/dp = sum (1 - y_i/mu_i) dmu_i/dp = 0``, the likelihood
equations, so trustfit's certificate (the share of ``r`` in the range of its Jacobian) certifies
the maximum likelihood estimate.

The Fisher information is ``I = sum_i dmu_i/dp dmu_i/dp^T / mu_i = P^T P`` with the Pearson
Jacobian ``P_i = (dmu_i/dp) / sqrt(mu_i)``: the deviance Jacobian's rows divided by ``q(t_i)``.
Standard errors are ``sqrt(diag(I^-1))`` (the variance is known: no rescaling by a reduced
chi-square). Goodness of fit: the deviance and Pearson's ``X^2 = sum (y - mu)^2 / mu``, each
against chi-square with ``m - n`` degrees of freedom; both approximations fail at low counts
(Cochran's rule, "Some methods for strengthening the common chi-square tests", Biometrics 10
(1954): at most 20 % of the bins below 5), which :func:`low_count_note` says in words.
"""
from __future__ import annotations

import numpy as np
from scipy import special, stats

#: Below this ``|t|`` the series of ``h(t)`` is used (17 terms, relative error < 1e-18).
SERIES_LIMIT = 0.1
_K = np.arange(2, 19)
_COEFFICIENTS = ((-1.0) ** _K) / (_K * (_K - 1.0))
#: Cochran's rule: the chi-square approximation needs at most this share of bins below
#: ``LOW_COUNT`` counts.
LOW_COUNT = 5
LOW_SHARE = 0.2
#: A zero-count bin whose fitted mean is below this share of the largest mean is on the
#: boundary of the model's domain (``mu = 0``, :func:`boundary_note`).
BOUNDARY = 1e-6


def _h_over_t2(t: np.ndarray) -> np.ndarray:
    """``h(t) / t^2`` by its series (for ``|t| < SERIES_LIMIT``): Horner on the coefficients."""
    out = np.full_like(t, _COEFFICIENTS[-1])
    for c in _COEFFICIENTS[-2::-1]:
        out *= t
        out += c
    return out


def _unit(y: np.ndarray, mu: np.ndarray):
    """``t``, ``h(t)`` and ``q(t)`` (module docstring), elementwise; ``mu > 0``. The series
    and the direct formula are each evaluated only where they are used (the batch path
    calls this on every point of every curve at every iteration)."""
    y, mu = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(mu, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_y = y / mu
    t = ratio_y - 1.0
    small = np.abs(t) < SERIES_LIMIT
    h = np.empty_like(t)
    q = np.empty_like(t)
    ts = t[small]
    ratio = _h_over_t2(ts)  # h / t^2 near 0
    with np.errstate(divide="ignore", invalid="ignore"):
        h[small] = ratio * ts * ts
        q[small] = 1.0 / np.sqrt(2.0 * ratio)
        far = ~small
        tf = t[far]
        hf = special.xlogy(ratio_y[far], ratio_y[far]) - tf  # y log(y/mu)/mu -> 0 at y = 0
        h[far] = hf
        q[far] = np.abs(tf) / np.sqrt(2.0 * hf)
    return t, h, q


def deviance_residuals(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``sign(mu - y) sqrt(2 mu h(t))``; ``sum r^2`` is the deviance."""
    t, h, _ = _unit(y, mu)
    return np.where(t > 0, -1.0, 1.0) * np.sqrt(2.0 * mu * np.maximum(h, 0.0))


def residual_slope(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``dr_i / dmu_i = q(t_i) / sqrt(mu_i)``."""
    return _unit(y, mu)[2] / np.sqrt(mu)


def residuals_and_slopes(y: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`deviance_residuals` and :func:`residual_slope` from one evaluation of ``t``,
    ``h`` and ``q`` (the batch path evaluates both at every point of every curve)."""
    t, h, q = _unit(y, mu)
    sm = np.sqrt(mu)  # r = sign sqrt(2 h) sqrt(mu): the compiled kernel's order of operations
    r = np.where(t > 0, -1.0, 1.0) * (np.sqrt(2.0 * np.maximum(h, 0.0)) * sm)
    return r, q / sm


def pearson_factor(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``q(t_i)``: dividing a deviance Jacobian's row by it gives the Pearson row
    ``(dmu_i/dp) / sqrt(mu_i)``."""
    return _unit(y, mu)[2]


def statistics(y: np.ndarray, mu: np.ndarray, n_params: int) -> dict:
    """Deviance, Pearson's chi-square, their degrees of freedom and upper-tail p-values."""
    dev = float(np.sum(deviance_residuals(y, mu) ** 2))
    pearson = float(np.sum((y - mu) ** 2 / mu))
    dof = y.size - n_params
    p_dev = float(stats.chi2.sf(dev, dof)) if dof > 0 else float("nan")
    p_pearson = float(stats.chi2.sf(pearson, dof)) if dof > 0 else float("nan")
    return {"deviance": dev, "deviance_pvalue": p_dev, "pearson_chi2": pearson,
            "pearson_pvalue": p_pearson, "dof": dof}


def low_count_note(y: np.ndarray) -> str | None:
    """Cochran's rule in words, or ``None`` when at most 20 % of the bins have fewer than 5
    counts."""
    share = float(np.mean(y < LOW_COUNT))
    if share <= LOW_SHARE:
        return None
    return (f"{100 * share:.0f}% of bins have fewer than {LOW_COUNT} counts: the chi-square "
            "p-values of the deviance and of Pearson's statistic, and intervals from the "
            "standard errors, are unreliable there; take intervals from the profile likelihood "
            "(trustfit.strategies.profile.profile_intervals(result, result.residual_function, "
            "absolute_sigma=True)).")


def boundary_note(y: np.ndarray, mu: np.ndarray) -> str | None:
    """For a fit that was not certified: the zero-count bins whose fitted means went to 0
    (below ``BOUNDARY`` times the largest mean; the rule is relative to the model's own
    scale). A zero count's likelihood ``exp(-mu)`` rises all the way to ``mu = 0``, so where
    the model can lower such a mean by itself (a free background, say) the maximum lies on the
    boundary of the model's domain, where the gradient does not vanish: no stationary point
    to certify. Bounds that keep the model positive (a background ``>= 0``) put the maximum
    on a bound instead, where it is certified."""
    at_zero = np.flatnonzero((y == 0) & (mu < BOUNDARY * np.max(mu)))
    if at_zero.size == 0:
        return None
    return (f"the likelihood rises as the means of the zero-count bins {at_zero[:10].tolist()}"
            f" go to 0 (fitted {float(np.min(mu[at_zero])):.2g}): its maximum is on the "
            "boundary of the model's domain, not a stationary point; bound the parameters "
            "so that the model stays positive (e.g. a background >= 0) and the fit stops on "
            "that bound, certified.")


def nonpositive_start(mu: np.ndarray) -> np.ndarray:
    """Indices where a model's means are not positive and finite."""
    return np.flatnonzero(~(np.isfinite(mu) & (mu > 0)))
