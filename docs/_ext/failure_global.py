"""The findings of a global fit (:func:`trustfit.fit_global`) for "Why did my fit fail?".

Kept beside :mod:`failure_catalog`, which merges :data:`GLOBAL_FINDINGS` into its
``FINDINGS`` (each value holds the fields of a ``failure_catalog.Entry``). The tests and
their cutoffs are those of :mod:`trustfit.kinds.global_checks`; each example leaves a
``GlobalFitResult`` in ``result``, whose ``result.diagnosis`` the page shows.
"""
from __future__ import annotations

#: Four decays of one lifetime (1.2) measured with the same noise (sigma 0.02): the
#: examples below spoil one of them.
_GLOBAL = """\
import numpy as np
import trustfit

rng = np.random.default_rng(3)
t = np.linspace(0.0, 5.0, 30)

def decay(amplitude, lifetime=1.2, noise=0.02):
    return (t, amplitude * np.exp(-t / lifetime) + noise * rng.standard_normal(t.size), 0.02)
"""

GLOBAL_FINDINGS: dict[str, dict[str, str]] = {
    "dataset_misfit": dict(
        meaning=(
            "A global fit's data set fits worse than the others: its residual variance "
            ":math:`\\chi^2_k / \\nu_k` against the pooled variance of the other data sets, "
            "an F test with :math:`(\\nu_k, \\nu_{-k})` degrees of freedom, where "
            ":math:`\\nu_k = m_k - \\mathrm{tr}(H_{kk})` is the data set's share of the "
            "degrees of freedom (the trace of its block of the hat matrix; they add up to "
            ":math:`m - n`). With :math:`K` data sets a data set is named when "
            ":math:`p < 0.01 / K` (Bonferroni). The ratio does not depend on the scale of "
            "sigma, so a common wrong sigma does not trigger it; a data set whose noise, "
            "outliers or shape differ from the others' does. See :doc:`global_fits`."),
        todo=(
            "Check that data set's sigma and its outliers, and whether the model describes "
            "it (a missing background, a different instrument response)."),
        example=_GLOBAL + """
sets = [decay(1.0), decay(2.0), decay(3.0), decay(1.5, noise=0.2)]   # set 3: 10x the noise
result = trustfit.fit_global("a*exp(-t/tau)", sets, shared=["tau"], p0={"tau": 1, "a": 1})
"""),
    "dataset_disagrees": dict(
        meaning=(
            "A data set's own optimum of the shared parameters is not the others'. Near "
            "the fit, data set :math:`k`'s chi-square with its local parameters profiled "
            "out is the quadratic :math:`\\|T_k (s - \\hat s) + u_k\\|^2` (its rows of the "
            "eliminated problem), so its own estimate is :math:`s_k = \\hat s - T_k^+ u_k` "
            "with information :math:`I_k = T_k^T T_k`. It is compared with the "
            "information-weighted consensus :math:`s_{-k}` of the *other* data sets by the "
            "Wald statistic :math:`d^T (I_k^+ + I_{-k}^{-1})^{-1} d / s^2`, "
            ":math:`d = s_k - s_{-k}`, against an F distribution (chi-square with "
            "``absolute_sigma=True``) at :math:`p < 0.01 / K`. The test is sequential: the "
            "most discordant data set is set aside and the others tested again, so that one "
            "bad data set does not make the good ones look discordant."),
        todo=(
            "Fit the named data sets alone and compare their values; the shared parameter "
            "may not be common to them (a temperature, a different sample), or make it "
            "local for them (a model per data set)."),
        example=_GLOBAL + """
sets = [decay(1.0), decay(2.0), decay(3.0), decay(2.0, lifetime=1.3)]   # set 3: lifetime 1.3
result = trustfit.fit_global("a*exp(-t/tau)", sets, shared=["tau"], p0={"tau": 1, "a": 1})
"""),
    "dataset_does_not_constrain": dict(
        meaning=(
            "Information: with its own parameters free, a data set carries less than 1e-3 of "
            "the average data set's information :math:`\\|T_k e_j\\|^2` on a shared "
            "parameter :math:`s_j`: alone it would determine :math:`s_j` more than about 32 "
            "times less precisely than an average one (a flat curve, a window too short to "
            "tell a lifetime from an amplitude). The shared value comes from the others."),
        todo=(
            "Nothing, if expected; otherwise check that data set (its signal, its x "
            "range)."),
        example=_GLOBAL + """
sets = [decay(1.0), decay(2.0), decay(3.0), decay(0.001)]   # set 3: almost no signal
result = trustfit.fit_global("a*exp(-t/tau)", sets, shared=["tau"], p0={"tau": 1, "a": 1})
"""),
    "dataset_undetermined": dict(
        meaning=(
            "A data set's own (local) parameters are not determined by its data: the "
            "certificate found the column-scaled Jacobian block of its local parameters "
            "with a condition number above :math:`1/\\sqrt{\\epsilon}` or a column without "
            "influence. Each data set's local columns are a subset of the whole Jacobian's, "
            "so this alone makes the whole fit ``DEGENERATE``; the finding names the data "
            "sets."),
        todo=(
            "Fix or remove the local parameters that data set cannot determine (here its "
            "points are all at one time, so the amplitude and the background are one "
            "number), or drop the data set."),
        example=_GLOBAL + """
sets = [decay(1.0), decay(2.0), (np.full(5, 2.0), 0.5 + 0.02 * rng.standard_normal(5), 0.02)]
result = trustfit.fit_global("a*exp(-t/tau) + c", sets, shared=["tau"],
                             p0={"tau": 1, "a": 1, "c": 0})
"""),
}
