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
* ``dataset_disagrees``, the score (Lagrange multiplier) test of Rao (1948) for giving data set
  ``k`` its own shared parameters: at the global fit, the reduction of ``chi2_k`` that one
  Gauss-Newton step in ``(s, l_k)`` on data set ``k`` alone would bring,
  ``||P_{T_k} u_k||^2`` (its rows of the eliminated problem, :mod:`.global_linalg`), divided
  by the residual variance ``s^2`` (``chi2 / (m - n)``; 1 with ``absolute_sigma``), against an
  F (chi-square with ``absolute_sigma``) distribution with ``rank(T_k)`` degrees of freedom.
  A data set whose own optimum of the shared parameters is not the others';
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

import numpy as np
from scipy import stats

from ..analysis.findings import Finding
from ..core.stopping import CONDITION_LIMIT
from .global_linalg import Linearization

#: Family-wise error rate of the per-data-set tests (Bonferroni over the data sets).
ALPHA = 0.01
#: A data set's information on a shared parameter below this share of the mean does not
#: constrain it.
CONSTRAINT_SHARE = 1e-3
#: Data sets named in one message at most (the finding's ``parameters`` holds them all).
SHOWN = 8


def _few(names: list) -> str:
    shown = ", ".join(repr(n) for n in names[:SHOWN])
    return shown + (f", ... ({len(names)} in all)" if len(names) > SHOWN else "")


def score_statistics(lin: Linearization) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per data set (data-set order): the score reduction ``||P_T u||^2`` (user units), the
    rank of ``T_k``, and ``||T_k e_j||^2`` ``(K, n_s)`` (user units)."""
    K, ns = lin.problem.K, lin.ns
    up = np.ldexp(1.0, 2 * lin.e)
    score, rank, info = np.zeros(K), np.zeros(K, dtype=int), np.zeros((K, ns))
    # At mu = 0 the rows of T_k and u_k are those of R_k itself (already triangular).
    for b in lin.blocks:
        nl = b.g.n_local
        T = b.R[:, nl:nl + ns, nl:nl + ns]
        u = b.R[:, nl:nl + ns, -1]
        info[b.g.members] = np.sum(T * T, axis=1) * up
        if not ns:
            continue
        s = np.linalg.svd(T, compute_uv=False)
        tol = np.maximum(s[:, :1], 1e-300) * max(1e-12, float(np.finfo(float).eps) * 64)
        rank[b.g.members] = np.sum(s > tol, axis=1)
        z = np.einsum("gij,gj->gi", np.linalg.pinv(T, rcond=1e-12), u)
        Tz = np.einsum("gij,gj->gi", T, z)
        score[b.g.members] = np.sum(Tz * Tz, axis=1) * up
    return score, rank, info


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
            p = np.where(ok, stats.f.sf(F, np.where(ok, nu, 1), np.where(ok, rest_nu, 1)),
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
    score, rank, info = score_statistics(lin)
    if shared and K >= 2 and dof > 0:
        s2 = 1.0 if absolute_sigma else total / dof
        with np.errstate(all="ignore"):
            stat = score / s2
            r = np.maximum(rank, 1)
            p = (stats.chi2.sf(stat, r) if absolute_sigma
                 else stats.f.sf(stat / r, r, dof))
        p = np.where((rank > 0) & np.isfinite(p), p, 1.0)
        bad = np.flatnonzero(p < cutoff)
        if bad.size:
            bad = bad[np.argsort(p[bad], kind="stable")]
            names = [keys[k] for k in bad]
            out.append(Finding(
                "dataset_disagrees", "warning",
                f"Data set(s) {_few(names)} disagree with the others on the shared "
                f"parameters {shared}: freeing them for the data set alone would reduce its "
                f"chi-square by {stat[bad[0]]:.3g} residual variances (score test, p = "
                f"{p[bad[0]]:.2g} < {cutoff:.2g}).", tuple(names),
                "Fit them separately and compare, or check whether the shared parameters "
                "really are common to them.", float(p[bad[0]]), cutoff))
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
