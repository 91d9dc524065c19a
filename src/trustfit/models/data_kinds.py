"""``model.fit(..., sigma_x=...)`` and ``model.fit(..., noise='poisson')``: the data kinds of
:mod:`trustfit.faces.data_kinds` (orthogonal distance regression, Poisson maximum likelihood)
for lmfit-shaped models.

The model's Parameters are reduced as for every fit (:meth:`ModelBase.fit_problem`: fixed ones
held, constrained ones computed, bounds from ``min``/``max``); the face is given
``f(x, *z) = model.eval(params(z), x)`` over the varying parameters ``z`` and, where the model
has one, its exact Jacobian (with the constraints' chain rule). The result is the face's
(:class:`trustfit.faces.odr.ODRResult` with ``delta`` and ``x_adjusted``, or
:class:`trustfit.faces.poisson.PoissonResult`), so ``ModelResult``'s covariance means what the
face's does: ODR's follows ``scale_covar`` as ``absolute_sigma`` (``not scale_covar``), the
Poisson one is the inverse Fisher information whatever ``scale_covar`` says (the variance of a
count is its mean).
"""
from __future__ import annotations

from typing import Any

import numpy as np

NOISE = ("gaussian", "poisson")


def kind_fit(model, problem, x_arg: Any, y: np.ndarray, sigma: np.ndarray | None,
             sigma_x: Any, noise: str, scale_covar: bool, options: dict):
    """The face's fit of ``model`` (reduced to ``problem``) to ``y`` at ``x_arg``."""
    from ..faces.odr import odr
    from ..faces.poisson import poisson_fit

    params = problem.params
    full = params.full
    idx = [i for i, n in enumerate(params) if params[n].free]
    chain = params._constraints() if params.constrained else None

    def f(x, *z):
        return model.eval(full(np.asarray(z, dtype=float)), x)

    jac = None
    if model.has_jacobian:
        def jac(x, *z):
            p = full(np.asarray(z, dtype=float))
            J = model.jacobian(p, x)
            return J[:, idx] if chain is None else J @ chain.derivative(p, idx)

    names = tuple(problem.names)
    lb, ub = problem.bounds
    bounded = bool(np.any(np.isfinite(lb)) or np.any(np.isfinite(ub)))
    if noise == "poisson":
        if sigma_x is not None:
            raise ValueError("sigma_x and noise='poisson' together are not supported: "
                             "errors in x with Poisson counts in y.")
        if sigma is not None:
            raise ValueError("weights/sigma do not apply with noise='poisson': the variance "
                             "of a count is its mean.")
        return poisson_fit(f, x_arg, y, problem.x0, jac=jac, bounds=(lb, ub),
                           param_names=names, **options)
    x_data = np.asarray(x_arg, dtype=float)  # (m,) or (k, m): odr's layout
    return odr(f, x_data, y, problem.x0, sigma, sigma_x, not scale_covar,
               jac=None if bounded else jac, param_names=names,
               bounds=(lb, ub) if bounded else None, **options)
