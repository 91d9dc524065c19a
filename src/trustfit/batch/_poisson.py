"""``fit_batch(..., noise='poisson')``: Poisson maximum likelihood for many curves of counts.

Each curve is the single fit's problem (:mod:`trustfit.faces.poisson`): ``1/2 sum r_i^2``
over the deviance residuals ``r_i = sign(mu_i - y_i) sqrt(2 mu_i h(y_i/mu_i - 1))``
(:mod:`trustfit.kinds.poisson`; finite at ``y_i = 0``, where ``r_i = sqrt(2 mu_i)``, and
analytic through ``y_i = mu_i``) is twice the negative log-likelihood less a constant, so
its least-squares minimum is the maximum-likelihood estimate and the batch's
Levenberg-Marquardt pass, polish, rescue and certificate (:mod:`._fallback`,
:mod:`._followup`, :mod:`._certify`) apply unchanged to the residuals that
:func:`._poisson_residuals.deviance_and_jacobian` gives them: ``success`` means what it
means for every fit (stationary: the likelihood equations ``sum (1 - y_i/mu_i) dmu_i/dp =
0`` to the certificate's share; not degenerate; not a budget stop).

* A mean that is not positive and finite makes that curve's residuals NaN: at a trial point
  (or a rescue start) a rejected step, at the curve's start ``StopReason.INVALID_INPUT``
  (diagnosis ``invalid_start``, named in ``notes``); a start shared by all curves (one
  ``p0`` row and one ``x``) that predicts non-positive counts is a ``ValueError`` naming
  the points, as in the single fit.
* ``Y`` must be counts: every finite value a whole number ``>= 0`` (else ``ValueError``
  naming the first); a row with NaN is not fitted (``invalid_data``), as in every batch.
* A curve of zeros only has no maximum-likelihood estimate with positive means (its
  likelihood ``exp(-sum mu)`` rises to ``mu = 0``): it is not fitted (``invalid_data``,
  parameters NaN) and ``notes`` counts it.
* Standard errors are the inverse Fisher information ``I = sum_i dmu_i/dp dmu_i/dp^T /
  mu_i`` at the optimum (:func:`fisher_stderr`; NaN where ``I`` is singular); the variance
  is known, so ``absolute_sigma`` does not apply and ``sigma`` is refused.
* :class:`PoissonBatchResult` adds, per curve, the deviance, Pearson's chi-square, their
  degrees of freedom and chi-square p-values, and the share of bins below 5 counts
  (Cochran's rule, :func:`trustfit.kinds.poisson.low_count_note`: where more than 20 % of
  the bins are, the p-values and the intervals from the standard errors are unreliable,
  which ``notes`` says).

Both backends fit counts: the numpy path through the hooks above, the compiled kernel with
the deviance residuals in its point pass (:mod:`._codegen_poisson`; a kernel of its own,
compiled and cached per model like the Gaussian one).

What the batch does not do (yet): a maximum on a bound is not certified (the batch's
certificate, for every noise, asks for a stationary point; the single fit's, with its
active set, certifies bound-constrained maxima): where a free background would take a zero-count bin's mean to 0 the curve is
``STALLED`` (about 5 % of the benchmark's low-count decays), not a false success. The
batch's steps are damped with Moré's scaling ``mu D^2`` (as the Gaussian batch's
``method='lm'``), so the path does not depend on the parameters' units; the certificate
and the standard errors are ratios, free of the units too.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..kinds import poisson
from ._model import BatchModel
from .result import BatchResult

NOISE = ("gaussian", "poisson")
#: Rows of the Fisher-information pass per block (bounds the (rows, m, n) Jacobian).
_BLOCK = 4096


def check_noise(noise) -> str:
    if not isinstance(noise, str) or noise not in NOISE:
        raise ValueError(f"noise must be 'gaussian' or 'poisson', got {noise!r}.")
    return noise


def poisson_model(bm: BatchModel) -> BatchModel:
    """A copy of ``bm`` whose residuals are the deviance residuals (the hook that
    :mod:`._fallback`, :mod:`._certify` and the kernel's code generation read: its kernel is
    another module, :mod:`._codegen_poisson`), with its numpy callables (made once, on
    ``bm``, which a model string's cache keeps); the user's model object is not changed."""
    from ._backend import attach_lambdified

    if bm.n_independent == 1:
        attach_lambdified(bm)
    # a copy, not dataclasses.replace: an expression string's TextModel has its own __init__
    # (copied through its __reduce__, rebuilt from the text)
    poisson = copy.copy(bm)
    poisson.noise = "poisson"
    return poisson


def resolve(bm: BatchModel, method: str, backend: str, parallel: bool, LB, UB, N: int,
            m: int):
    """``(method, backend, reason)`` for a Poisson batch: ``'lm'`` (variable projection
    solves Gaussian least squares for the linear parameters), the backend chosen as for
    every batch (:func:`._backend.resolve`: by predicted time for ``'auto'``)."""
    from ._backend import resolve as resolve_backend

    if method == "varpro":
        raise ValueError("method: 'varpro' solves Gaussian least squares for the linear "
                         "parameters; with noise='poisson' use method='lm' or 'auto'")
    return resolve_backend(bm, "lm", backend, parallel, LB, UB, N, m)


def check_counts(Y: np.ndarray) -> None:
    """Every finite value of ``Y`` a whole number >= 0 (NaN rows are left to the fit,
    which does not fit them)."""
    with np.errstate(invalid="ignore"):
        bad = np.isfinite(Y) & ((Y < 0) | (Y != np.round(Y)))
    if bad.any():
        r, c = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"Y: with noise='poisson' Y must be counts (whole numbers >= 0); "
                         f"Y[{r}, {c}] = {float(Y[r, c])!r} ({int(bad.sum())} such values)")


def check_shared_start(bm: BatchModel, X: np.ndarray, P0: np.ndarray) -> None:
    """With one start and one ``x`` for all curves, a non-positive mean there is the
    caller's error, as in the single fit: a ``ValueError`` naming the points."""
    if X.shape[0] != 1 or P0.shape[0] != 1:
        return
    from ._certify import model_and_jacobian

    with np.errstate(all="ignore"):
        mu = model_and_jacobian(bm, X, P0)[0][0]
    bad = poisson.nonpositive_start(mu)
    if bad.size:
        raise ValueError(f"p0: the model predicts non-positive or non-finite counts at the "
                         f"points {bad[:10].tolist()}{' ...' if bad.size > 10 else ''} for "
                         "every curve; Poisson means must be positive: choose p0 so that "
                         "the model is > 0 there.")


def _chol_inverse_diagonal(info):
    """``diag(info^-1)`` for symmetric positive definite ``info`` (K, n, n), column-scaled to unit
    diagonal first (Jacobi scaling: the factorization's pivots are then ratios, free of the
    units of the parameters); NaN where ``info`` is singular to the factorization."""
    from ._fallback import _chol_solve

    K, n, _ = info.shape
    d = np.diagonal(info, axis1=1, axis2=2).copy()
    out = np.full((K, n), np.nan)
    pos = np.all(d > 0.0, axis=1) & np.all(np.isfinite(info), axis=(1, 2))
    if not pos.any():
        return out
    Ip, dp = info[pos], d[pos]
    S = Ip / np.sqrt(dp[:, :, None] * dp[:, None, :])
    ok, _, L = _chol_solve(S, 0.0, np.zeros((S.shape[0], n)))  # S = L L^T, once
    # diag(S^-1) = column sums of (L^-1)^2; L^-1 by forward substitution, across curves
    inv = np.zeros_like(L)
    with np.errstate(all="ignore"):
        for a in range(n):
            inv[:, a, a] = 1.0 / L[:, a, a]
            for b in range(a + 1, n):
                inv[:, b, a] = -np.einsum("kc,kc->k", L[:, b, a:b], inv[:, a:b, a]) / L[:, b, b]
        diag = np.sum(inv * inv, axis=1) / dp
    diag[~ok] = np.nan
    out[pos] = diag
    return out


def fisher_stderr(bm: BatchModel, X, Y, params, fitted, compiled: bool = False):
    """Standard errors ``sqrt(diag(I^-1))``, ``I = J_mu^T diag(1/mu) J_mu`` (the Fisher
    information), and Pearson's chi-square, for the rows ``fitted``; ``compiled``: the
    information from the model's kernel module (``tf_fisher``, :mod:`._codegen_poisson`),
    else from the model and its Jacobian in numpy."""
    from ._certify import model_and_jacobian

    N, n = params.shape
    se = np.full((N, n), np.nan)
    pearson = np.full(N, np.nan)
    idx = np.flatnonzero(fitted)
    if compiled and idx.size:  # every curve (NaN parameters give NaN), no copy of Y
        from ._kernel import load_kernel

        info = np.empty((N, n, n))
        chi = np.empty(N)
        load_kernel(bm, "lm").tf_fisher(np.ascontiguousarray(params), np.ascontiguousarray(X),
                                        np.ascontiguousarray(Y, dtype=float), info, chi)
        with np.errstate(all="ignore"):
            se[idx] = np.sqrt(_chol_inverse_diagonal(info[idx]))
        pearson[idx] = chi[idx]
        return se, pearson
    for s in range(0, idx.size, _BLOCK):
        ci = idx[s:s + _BLOCK]
        with np.errstate(all="ignore"):
            mu, J = model_and_jacobian(bm, X if X.shape[0] == 1 else X[ci], params[ci])
            good = np.all(np.isfinite(mu) & (mu > 0.0), axis=1)
            P = J * (1.0 / np.sqrt(np.where(good[:, None], mu, 1.0)))[:, :, None]
            info = np.matmul(P.transpose(0, 2, 1), P)  # batched: faster than einsum
            var = _chol_inverse_diagonal(info)
            se[ci] = np.where(good[:, None], np.sqrt(var), np.nan)
            pearson[ci] = np.where(good, np.sum((Y[ci] - mu) ** 2 / mu, axis=1), np.nan)
    return se, pearson


@dataclass
class PoissonBatchResult(BatchResult):
    """A :class:`BatchResult` of ``fit_batch(..., noise='poisson')`` (:mod:`._poisson`):
    ``cost`` is half the deviance, ``stderr`` the inverse Fisher information's; per curve
    also ``deviance``, ``pearson_chi2``, ``dof`` (``m - n``), ``deviance_pvalue`` and
    ``pearson_pvalue`` (chi-square upper tails; NaN where not fitted or ``dof = 0``) and
    ``low_count_share`` (the share of bins below 5 counts); ``notes``: sentences about
    curves that were not fitted and about low counts."""

    deviance: np.ndarray = field(default_factory=lambda: np.empty(0))
    pearson_chi2: np.ndarray = field(default_factory=lambda: np.empty(0))
    dof: int = 0
    deviance_pvalue: np.ndarray = field(default_factory=lambda: np.empty(0))
    pearson_pvalue: np.ndarray = field(default_factory=lambda: np.empty(0))
    low_count_share: np.ndarray = field(default_factory=lambda: np.empty(0))
    notes: list = field(default_factory=list)

    def summary(self) -> dict:
        out = super().summary()
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def finish(res: BatchResult, bm: BatchModel, X, Y, zero_rows: np.ndarray
           ) -> PoissonBatchResult:
    """The Poisson statistics and the Fisher standard errors on top of a fitted
    :class:`BatchResult` (the parameters are those of the batch's own passes)."""
    from ._certify import DIAGNOSIS_OF_CODE

    N, n = res.params.shape
    m = Y.shape[1]
    fitted = np.all(np.isfinite(res.params), axis=1) & np.isfinite(res.cost)
    se, pearson = fisher_stderr(bm, X, Y, res.params, fitted,
                                compiled=res.backend == "compiled")
    res.stderr[...] = se
    deviance = np.where(fitted, 2.0 * res.cost, np.nan)
    dof = m - n
    with np.errstate(invalid="ignore"):
        p_dev = stats.chi2.sf(deviance, dof) if dof > 0 else np.full(N, np.nan)
        p_pear = stats.chi2.sf(pearson, dof) if dof > 0 else np.full(N, np.nan)
        low = np.where(np.isfinite(Y).all(axis=1), np.mean(Y < poisson.LOW_COUNT, axis=1),
                       np.nan)
    notes = []
    if zero_rows.any():  # not fitted (the kernel ran them; the numpy path skips them)
        for values in (res.params, res.cost, res.stderr, res.rcond, res.gn_gain, res.share,
                       res.condition):
            values[zero_rows] = np.nan
        res.nit[zero_rows] = 0
        res.rescued[zero_rows] = False
        res.stop_code[zero_rows] = 5
        res.diagnosis_code[zero_rows] = DIAGNOSIS_OF_CODE[5]
        res.success[zero_rows] = False
        first = np.flatnonzero(zero_rows)[:5].tolist()
        notes.append(f"{int(zero_rows.sum())} curve(s) have zero counts in every bin (first: "
                     f"{first}): their likelihood exp(-sum mu) has no maximum with positive "
                     "means, so they are not fitted (stop_reason INVALID_INPUT, parameters "
                     "NaN).")
    start_bad = (res.stop_code == 6) & ~zero_rows
    if start_bad.any():
        notes.append(f"{int(start_bad.sum())} curve(s) (first: "
                     f"{np.flatnonzero(start_bad)[:5].tolist()}) start where the model "
                     "predicts non-positive or non-finite counts; Poisson means must be "
                     "positive: choose their p0 so that the model is > 0 (not fitted, "
                     "diagnosis invalid_start).")
    with np.errstate(invalid="ignore"):
        lowish = fitted & (low > poisson.LOW_SHARE)
    if lowish.any():
        notes.append(f"{int(lowish.sum())} of {int(fitted.sum())} fitted curves have more "
                     f"than {100 * poisson.LOW_SHARE:.0f}% of their bins below "
                     f"{poisson.LOW_COUNT} counts (low_count_share): the chi-square p-values "
                     "of the deviance and of Pearson's statistic, and intervals from the "
                     "standard errors, are unreliable there; take intervals from the profile "
                     "likelihood of a single fit (trustfit.fit(..., noise='poisson')).")
    fields = {f.name: getattr(res, f.name) for f in dataclasses.fields(BatchResult)}
    fields["nonfinite"] = [line for line in res.nonfinite]
    return PoissonBatchResult(**fields, deviance=deviance, pearson_chi2=pearson, dof=dof,
                              deviance_pvalue=p_dev, pearson_pvalue=p_pear,
                              low_count_share=low, notes=notes)
