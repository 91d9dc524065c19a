"""The result of ``model.fit``: lmfit's ``ModelResult`` fields over trustfit's :class:`FitResult`.

``params`` holds every parameter with its value, ``stderr`` and ``correl`` (correlations with
the other fitted parameters). The covariance is :func:`trustfit.analysis.uncertainty.covariance`
of the fitted (varying) parameters, scaled by the reduced chi-square unless the fit was made
with ``scale_covar=False``; a constrained parameter ``c = g(z)`` gets the delta method's
``stderr_c = sqrt(g'(z)^T C g'(z))`` with the exact gradient of its constraint.
Statistics are lmfit's: ``chisqr`` the sum of squared weighted residuals, ``redchi =
chisqr/nfree``, ``aic = n ln(chisqr/n) + 2 nvarys``, ``bic = n ln(chisqr/n) + ln(n) nvarys``,
``rsquared = 1 - sum((data - best_fit)^2) / sum((data - mean(data))^2)`` (unweighted, as
lmfit). The trustfit result (stop reason, certificate, history) is ``result``, its findings
``diagnosis``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..analysis.uncertainty import covariance, goodness_of_fit

__all__ = ["ModelResult"]


class ModelResult:
    """What ``model.fit(...)`` returns; see the module docstring for the definitions."""

    def __init__(self, model, result, problem, init_params, data, xs, sigma, method):
        self.model = model
        self.result = result
        self.problem = problem
        self.init_params = init_params
        self.data = data
        self.userkws = dict(xs)
        self.sigma = sigma
        self.weights = None if sigma is None else 1.0 / sigma
        self.method = method if method is not None else result.method
        self.var_names = list(problem.names)
        self.ndata = int(data.size)
        self.nvarys = len(self.var_names)
        self.nfree = self.ndata - self.nvarys
        self.nfev = result.nfev
        self.success = result.success
        self.message = result.message
        self.scale_covar = not result.absolute_sigma
        cov = covariance(result)
        self._cov = cov
        self.covar = cov.matrix
        self.errorbars = bool(np.all(np.isfinite(cov.stderr)) and not cov.rank_deficient)
        self.params = problem.params_at(result.x)
        self._fill_uncertainties(cov)
        stats = goodness_of_fit(result)
        self.chisqr, self.redchi, self.aic, self.bic = (stats.chi2, stats.redchi, stats.aic,
                                                        stats.bic)
        self.residual = np.asarray(result.fun, dtype=float)
        #: with sigma_x (orthogonal distance regression): the corrections to x and x + delta
        self.delta = getattr(result, "delta", None)
        self.x_adjusted = getattr(result, "x_adjusted", None)
        self.best_fit = self.model.eval(self.params, self._x())
        self.init_fit = self.model.eval(self.init_params, self._x())
        sst = float(np.sum((data - data.mean()) ** 2))
        self.rsquared = (1.0 - float(np.sum((data - self.best_fit) ** 2)) / sst
                         if sst > 0 else math.nan)
        self.init_values = {n: p.value for n, p in self.init_params.items()}
        self.best_values = self.params.valuesdict()

    # -- uncertainties ------------------------------------------------------------------
    def _fill_uncertainties(self, cov) -> None:
        se, corr = cov.stderr, cov.correlation
        names = self.var_names
        for j, n in enumerate(names):
            p = self.params[n]
            p.stderr = float(se[j])
            p.correl = {names[k]: float(corr[j, k]) for k in range(len(names)) if k != j}
        if self.params.constrained and names:
            full = np.array(list(self.params.valuesdict().values()), dtype=float)
            idx = [i for i, n in enumerate(self.params) if n in names]
            D = self.params._constraints().derivative(full, idx)
            for i, n in enumerate(self.params):
                if self.params[n].expr is not None:
                    g = D[i]
                    self.params[n].stderr = float(np.sqrt(max(g @ cov.matrix @ g, 0.0)))

    def _x(self, **overrides):
        xs = dict(self.userkws)
        xs.update({k: v for k, v in overrides.items() if k in xs})
        alias = len(xs) == 1 and "x" in overrides and "x" not in xs
        if alias:
            xs[next(iter(xs))] = overrides["x"]
        values = [np.asarray(xs[n], dtype=float) for n in self.model.independent_names]
        return values[0] if len(values) == 1 else values

    def eval(self, params=None, **kws) -> np.ndarray:
        """The model at the best fit (or at ``params``), at the data's ``x`` or ``x=...``."""
        return self.model.eval(self.params if params is None else params, self._x(**kws))

    def eval_components(self, params=None, **kws) -> dict[str, np.ndarray]:
        """Each component of a composite model at the best fit (lmfit's), keyed by its
        prefix, else its name: ``{"g1_": ..., "g2_": ...}``."""
        params = self.params if params is None else params
        x = self._x(**kws)
        out = {}
        for k, part in enumerate(self.model.components):
            key = part.prefix or part.name or f"component{k}"
            out[key if key not in out else f"{key}{k}"] = part.eval(params, x)
        return out

    def _varying_jacobian(self, x) -> np.ndarray:
        """``d f / d z`` at the best fit for the fitted parameters ``z``, at points ``x``:
        exact (with the constraints' chain rule) where the model has a Jacobian, else central
        differences in ``z`` with step ``eps^(1/3) max(|z_j|, 1)`` (truncation = rounding)."""
        z = np.array([self.params[n].value for n in self.var_names], dtype=float)
        full = self.params.full
        if self.model.has_jacobian:
            p = full(z)
            J = self.model.jacobian(p, x)
            idx = [i for i, n in enumerate(self.params) if n in self.var_names]
            if self.params.constrained:
                return J @ self.params._constraints().derivative(p, idx)
            return J[:, idx]
        cols = []
        for j in range(z.size):
            h = np.finfo(float).eps ** (1 / 3) * max(abs(z[j]), 1.0)
            up, down = z.copy(), z.copy()
            up[j] += h
            down[j] -= h
            cols.append((self.model.eval(full(up), x) - self.model.eval(full(down), x))
                        / (2 * h))
        return np.column_stack(cols) if cols else np.zeros((np.size(x), 0))

    def eval_uncertainty(self, params=None, sigma: float = 1, **kws) -> np.ndarray:
        """Half-width of the confidence band of the fitted curve (delta method):
        ``q sqrt(j(x)^T C j(x))`` with the exact ``j = d f / d z``; ``q`` is Student's t with
        ``nfree`` degrees of freedom at probability ``erf(sigma/sqrt(2))`` (``sigma < 1`` is
        the probability itself), lmfit's definition."""
        from scipy import special, stats

        if params is not None:
            raise ValueError("eval_uncertainty: params other than the best fit are not "
                             "supported (the covariance belongs to the best fit)")
        if not (np.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a positive number of standard deviations (or a "
                             f"probability below 1), got {sigma!r}")
        prob = sigma if sigma < 1 else float(special.erf(sigma / math.sqrt(2)))
        q = (float(stats.t.ppf((prob + 1) / 2, self.nfree)) if self.scale_covar
             else float(stats.norm.ppf((prob + 1) / 2)))
        x = self._x(**kws)
        J = self._varying_jacobian(x)
        var = np.einsum("ij,jk,ik->i", J, self.covar, J)
        return q * np.sqrt(np.clip(var, 0.0, None))

    def conf_interval(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Profile-likelihood intervals of the fitted parameters at ``level``
        (:func:`trustfit.strategies.profile.profile_intervals`: each parameter held at trial
        values while the others are re-fitted), ``{name: (lower, upper)}``; ``±inf`` where
        the data do not bound a side."""
        from ..strategies.profile import profile_intervals

        out = profile_intervals(self.result, self.problem.fun, level=level)
        return {n: (float(out[j, 0]), float(out[j, 1])) for j, n in enumerate(self.var_names)}

    @property
    def diagnosis(self):
        """:func:`trustfit.diagnose` of the fit: findings with the parameters named."""
        return self.result.diagnosis

    @property
    def uvars(self) -> dict[str, Any]:
        """``{name: uncertainties.ufloat}`` with the fit's correlations (the ``uncertainties``
        package); constrained parameters propagate linearly from the fitted ones."""
        try:
            import uncertainties
        except ImportError:
            raise ImportError("uvars needs the uncertainties package: pip install "
                              "uncertainties") from None
        z = np.array([self.params[n].value for n in self.var_names])
        fitted = uncertainties.correlated_values(z, self.covar, tags=self.var_names)
        out = dict(zip(self.var_names, fitted, strict=True))
        full = np.array(list(self.params.valuesdict().values()), dtype=float)
        idx = [i for i, n in enumerate(self.params) if n in self.var_names]
        D = (self.params._constraints().derivative(full, idx) if self.params.constrained
             else None)
        for i, (n, p) in enumerate(self.params.items()):
            if n in out:
                continue
            if p.expr is not None and D is not None:
                out[n] = p.value + sum(D[i, k] * (fitted[k] - z[k]) for k in range(len(z)))
            else:
                out[n] = uncertainties.ufloat(p.value, 0.0, n)
        return {n: out[n] for n in self.params}

    # -- words, tables, pictures ---------------------------------------------------------
    def fit_report(self, min_correl: float = 0.1, show_correl: bool = True) -> str:
        """lmfit's report layout, with trustfit's stop reason and findings."""
        from .fit_report import fit_report

        return fit_report(self, min_correl=min_correl, show_correl=show_correl)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python: the statistics and ``params`` as ``{name: {value, stderr, min, max,
        vary, expr, init_value}}`` (JSON-ready except for non-finite numbers)."""
        from .tables import result_dict

        return result_dict(self)

    def to_dataframe(self):
        """One row per parameter (``value, stderr, min, max, vary, expr, init_value``);
        needs pandas."""
        from .tables import parameters_frame

        return parameters_frame(self)

    def plot_fit(self, ax=None, **kws):
        """Data, best fit and its 95% confidence band; needs matplotlib. Returns the Axes."""
        from .plotting import plot_fit

        return plot_fit(self, ax=ax, **kws)

    def plot_residuals(self, ax=None, **kws):
        """The weighted residuals against ``x``; needs matplotlib. Returns the Axes."""
        from .plotting import plot_residuals

        return plot_residuals(self, ax=ax, **kws)

    def plot(self, fig=None, **kws):
        """Residuals above, fit below (lmfit's layout). Returns the Figure."""
        from .plotting import plot

        return plot(self, fig=fig, **kws)

    def _repr_html_(self) -> str:
        from .html import model_result_html

        return model_result_html(self)

    def __repr__(self) -> str:
        state = "success" if self.success else f"not converged ({self.result.stop_reason.name})"
        values = ", ".join(f"{n}={p.value:.6g}" for n, p in self.params.items())
        return f"<ModelResult {self.model.name or 'model'}: {state}; {values}>"
