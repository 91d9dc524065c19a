"""What a global fit's diagnosis says about its data sets: which disagree with the others,
which do not constrain a shared parameter, which have undetermined local parameters.

Every test is a ratio of quantities that scale alike, so multiplying the y and sigma of all
data sets by one factor, changing a parameter's units or reordering the data sets changes no
verdict. With K data sets each test is run K times: a data set is named when its p-value is
below ``ALPHA / K`` (Bonferroni's correction, so that the chance of naming any data set of a
fit where all agree is at most ``ALPHA``).

* ``dataset_misfit``, the per-data-set residual test: the data set's residual variance
  ``chi2_k / nu_k`` against the pooled variance of the others, an F test with
  ``(nu_k, nu_rest)`` degrees of freedom (``nu_k = m_k - tr(H_kk)``, its share of the degrees
  of freedom: the trace of its block of the hat matrix ``H = J (J^T J)^-1 J^T``, which sum to
  ``m - n``; Hastie & Tibshirani 1990, sec. 3.5). Free of the scale of sigma: a data set
  whose noise or model differs from the others';
* ``dataset_disagrees``: whether data set ``k``'s own optimum of the shared parameters is the
  others'. Near the fit each data set's chi-square, its local parameters profiled out, is the
  quadratic ``||T_k (s - s^) + u_k||^2`` (its rows of the eliminated problem,
  :mod:`.global_linalg`): its own estimate is ``s_k = s^ - T_k^+ u_k`` with information
  ``I_k = T_k^T T_k`` (one Gauss-Newton step on the data set alone: Rao's 1948 score test
  in Wald form). It is compared with the information-weighted consensus of the *other* data
  sets, ``W_k = d^T (I_k^+ + I_-k^-1)^-1 d / s^2`` with ``d = s_k - s_-k`` (``s^2 = chi2 /
  (m - n)``; 1 with ``absolute_sigma``), against an F (chi-square with ``absolute_sigma``)
  distribution with ``rank(T_k)`` degrees of freedom. One data set that disagrees pulls the
  consensus and makes well-behaved ones look discordant, so the test is sequential (a
  forward search, as Grubbs' test for outliers): the most significant data set is set aside,
  the consensus recomputed without it, and the others tested again, for at most
  :data:`MAX_DELETIONS` rounds;
* ``dataset_does_not_constrain``: the information on shared parameter ``s_j`` that data set
  ``k`` carries once its own local parameters are profiled out, ``||T_k e_j||^2``, below
  ``CONSTRAINT_SHARE`` times the mean over the data sets whose model has ``s_j``: the data set
  alone would determine ``s_j`` more than ``1/sqrt(CONSTRAINT_SHARE)`` (about 32) times less
  precisely than an average one (a flat curve, a window too short to tell a lifetime from an
  amplitude);
* ``dataset_undetermined``: the certificate found a data set's own local block degenerate
  (condition number of its column-scaled ``B_k`` above ``CONDITION_LIMIT``, or a column
  without influence).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import betainc, gammaincc

from ..analysis.findings import Finding
from ..core.stopping import CONDITION_LIMIT
from .global_linalg import Linearization

def f_sf(F, d1, d2):
    """Survival function of the F distribution, ``P(X > F)`` (Abramowitz & Stegun 26.6.2,
    the regularized incomplete beta; ``scipy.stats`` costs seconds to import)."""
    return betainc(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * F))


def chi2_sf(x, k):
    """Survival function of the chi-square distribution (A&S 26.4.19)."""
    return gammaincc(k / 2.0, x / 2.0)


#: Family-wise error rate of the per-data-set tests (Bonferroni over the data sets).
ALPHA = 0.01
#: A data set's information on a shared parameter below this share of the mean does not
#: constrain it.
CONSTRAINT_SHARE = 1e-3
#: Rounds of the sequential test at most (each sets the most discordant data set aside).
MAX_DELETIONS = 20
#: Singular values of a data set's ``T_k`` below this share of its largest are not
#: information (the data set does not see that combination of shared parameters).
RANK_CUT = 1e-10
#: Data sets named in one message at most (the finding's ``parameters`` holds them all).
SHOWN = 8


def _few(names: list) -> str:
    shown = ", ".join(repr(n) for n in names[:SHOWN])
    return shown + (f", ... ({len(names)} in all)" if len(names) > SHOWN else "")


def own_estimates(lin: Linearization) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per data set (data-set order): ``s_k - s^ = -T_k^+ u_k`` ``(K, n_s)``, the information
    ``I_k = T_k^T T_k`` ``(K, n_s, n_s)`` (user units) and ``rank(T_k)`` (module docstring).
    At ``mu = 0`` the rows ``[T_k, u_k]`` are those of ``R_k`` itself (already triangular)."""
    K, ns = lin.problem.K, lin.ns
    up = np.ldexp(1.0, 2 * lin.e)
    offset, info, rank = np.zeros((K, ns)), np.zeros((K, ns, ns)), np.zeros(K, dtype=int)
    for b in lin.blocks:
        nl = b.g.n_local
        T = b.R[:, nl:nl + ns, nl:nl + ns]
        u = b.R[:, nl:nl + ns, -1]
        info[b.g.members] = np.einsum("gki,gkj->gij", T, T) * up
        if not ns:
            continue
        s = np.linalg.svd(T, compute_uv=False)
        rank[b.g.members] = np.sum(s > RANK_CUT * np.maximum(s[:, :1], 1e-300), axis=1)
        offset[b.g.members] = -np.einsum("gij,gj->gi", np.linalg.pinv(T, rcond=RANK_CUT), u)
    return offset, info, rank


def _discordant(offset: np.ndarray, info: np.ndarray, rank: np.ndarray, s2: float,
                dof: float, absolute_sigma: bool, cutoff: float
                ) -> tuple[list[int], dict[int, tuple[float, float]]]:
    """The sequential leave-one-out test (module docstring): the data sets set aside, most
    significant first, with their statistic and p-value."""
    K, ns = offset.shape
    keep = rank > 0
    out: list[int] = []
    stats_of: dict[int, tuple[float, float]] = {}
    for _ in range(MAX_DELETIONS):
        if keep.sum() < 2:
            break
        total = np.sum(info[keep], axis=0)
        weighted = np.einsum("kij,kj->i", info[keep], offset[keep])
        rest = total[None] - info  # I_-k for every k
        with np.errstate(all="ignore"):
            rest_inv = np.linalg.pinv(rest, rcond=RANK_CUT, hermitian=True)
            consensus = np.einsum("kij,kj->ki", rest_inv,
                                  weighted[None] - np.einsum("kij,kj->ki", info, offset))
            d = offset - consensus
            V = np.linalg.pinv(info, rcond=RANK_CUT, hermitian=True) + rest_inv
            W = np.einsum("ki,kij,kj->k", d, np.linalg.pinv(V, rcond=RANK_CUT,
                                                             hermitian=True), d) / s2
            r = np.maximum(rank, 1)
            p = chi2_sf(W, r) if absolute_sigma else f_sf(W / r, r, dof)
        p = np.where(keep & np.isfinite(p), p, 1.0)
        worst = int(np.argmin(p))
        if p[worst] >= cutoff:
            break
        out.append(worst)
        stats_of[worst] = (float(W[worst]), float(p[worst]))
        keep[worst] = False
    return out, stats_of


def findings(lin: Linearization, keys: list, chisqr: np.ndarray, nu: np.ndarray,
             model_has: np.ndarray, shared: list[str], absolute_sigma: bool,
             degenerate_sets: tuple[int, ...]) -> tuple[Finding, ...]:
    """The findings of the module docstring; ``model_has`` ``(K, n_s)``: data set ``k``'s
    model has shared parameter ``j``."""
    K = len(keys)
    out: list[Finding] = []
    if degenerate_sets:
        names = [keys[k] for k in degenerate_sets]
        out.append(Finding(
            "dataset_undetermined", "error",
            f"The local parameters of data set(s) {_few(names)} are not determined by their "
            f"data (condition number of their own Jacobian block above "
            f"{CONDITION_LIMIT:.3g}, or a parameter without influence).", tuple(names),
            "Fix or remove those parameters, or drop those data sets."))
    total, dof = float(np.sum(chisqr)), float(np.sum(nu))
    cutoff = ALPHA / K
    if K >= 2:
        rest_chi, rest_nu = total - chisqr, dof - nu
        ok = (nu > 0.5) & (rest_nu > 0.5) & (rest_chi > 0)
        with np.errstate(all="ignore"):
            F = np.where(ok, (chisqr / nu) / (rest_chi / rest_nu), np.nan)
            p = np.where(ok, f_sf(F, np.where(ok, nu, 1), np.where(ok, rest_nu, 1)),
                         1.0)
        bad = np.flatnonzero(p < cutoff)
        if bad.size:
            bad = bad[np.argsort(p[bad], kind="stable")]
            names = [keys[k] for k in bad]
            out.append(Finding(
                "dataset_misfit", "warning",
                f"Data set(s) {_few(names)} fit worse than the others: their residual "
                f"variance is {F[bad[0]]:.3g} times the others' (F test, p = "
                f"{p[bad[0]]:.2g} < {cutoff:.2g}).", tuple(names),
                "Check their sigma, outliers, or whether the model describes them.",
                float(p[bad[0]]), cutoff))
    offset, info3, rank = own_estimates(lin)
    info = np.einsum("kjj->kj", info3)
    if shared and K >= 2 and dof > 0:
        s2 = 1.0 if absolute_sigma else total / dof
        discordant, found = _discordant(offset, info3, rank, s2, dof, absolute_sigma, cutoff)
        if discordant:
            names = [keys[k] for k in discordant]
            W, pk = found[discordant[0]]
            out.append(Finding(
                "dataset_disagrees", "warning",
                f"Data set(s) {_few(names)} disagree with the others on the shared "
                f"parameters {shared}: their own best values differ from the others' by "
                f"{math.sqrt(W):.3g} standard deviations (leave-one-out Wald test, p = "
                f"{pk:.2g} < {cutoff:.2g}).", tuple(names),
                "Fit them separately and compare, or check whether the shared parameters "
                "really are common to them.", pk, cutoff))
    for j, name in enumerate(shared):
        has = model_has[:, j]
        if has.sum() < 2:
            continue
        mean = float(np.mean(info[has, j]))
        weak = np.flatnonzero(has & (info[:, j] <= CONSTRAINT_SHARE * mean))
        if weak.size:
            names = [keys[k] for k in weak]
            out.append(Finding(
                "dataset_does_not_constrain", "info",
                f"Data set(s) {_few(names)} do not constrain the shared parameter {name!r}: "
                f"with their own parameters free they carry less than {CONSTRAINT_SHARE:g} "
                f"of the average data set's information on it.", tuple(names),
                f"{name} is determined by the other data sets; these add little to it.",
                float(np.min(info[weak, j]) / mean) if mean > 0 else 0.0,
                CONSTRAINT_SHARE))
    return tuple(out)
