"""``Model.fit_global`` and the models of ``trustfit.fit_global`` (:mod:`.global_api`, which
also turns an expression string into a :class:`Model`).

Evaluates expression models on a whole stack of data sets in one call: their lambdified sympy
expressions broadcast, so one group of data sets (:mod:`trustfit.kinds.global_problem`) costs
one call of the model and one of its exact Jacobian, with the parameters as ``(G, 1)``
columns. Callables and composite models are called per data set. The fit itself is
:func:`trustfit.faces.global_fit.fit_global`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..faces.global_fit import fit_global as _fit_global
from ..faces.global_result import GlobalFitResult
from ..kinds.global_problem import GroupModel

__all__ = ["ExpressionGroupModel", "fit_global", "group_model"]


class ExpressionGroupModel(GroupModel):
    """An expression :class:`Model` on a stack of data sets (module docstring)."""

    has_jacobian = True

    def __init__(self, model: Any):
        self.model = model
        self.names = tuple(model.param_names)

    def _call(self, fn, P: np.ndarray, xs: tuple[np.ndarray, ...]):
        if self.model._f is None:
            self.model._compile()
        columns = [P[:, j:j + 1] for j in range(P.shape[1])]
        with np.errstate(all="ignore"):
            return getattr(self.model, fn)(*columns, *xs)

    def values(self, P, xs):
        shape = (P.shape[0], xs[0].shape[1])
        return np.array(np.broadcast_to(np.asarray(self._call("_f", P, xs), dtype=float),
                                        shape))

    def jacobian_columns(self, P, xs):
        return list(self._call("_j", P, xs))  # constants broadcast where they are used

    def jacobian(self, P, xs):
        G, m = P.shape[0], xs[0].shape[1]
        out = np.empty((G, m, P.shape[1]))
        for j, col in enumerate(self.jacobian_columns(P, xs)):
            out[:, :, j] = col
        return out


def group_model(model: Any) -> Any:
    """An expression model as an :class:`ExpressionGroupModel` (it has an expression and
    compiles it: not a callable or composite model, which are called per data set)."""
    if getattr(model, "expr_text", None) is not None and callable(getattr(model, "_compile",
                                                                          None)):
        return ExpressionGroupModel(model)
    return model


def _build(model: Any, name: str, build) -> Any:
    return group_model(build(model, name))


def fit_global(model: Any, datasets: Any, shared: Any = (), p0: Any = None,
               bounds: Any = None, sigma: Any = None, method: str | None = None, *,
               build=lambda model, name: model, **options: Any) -> GlobalFitResult:
    """Fit one model, or one per data set, to many data sets at once, some parameters shared.

    Parameters
    ----------
    model : a :class:`trustfit.Model`, an expression string (``"a*exp(-t/tau) + c"``), a
        callable ``f(x, a, b, ...)``; or a sequence (or a mapping with the data's keys) of
        them, one per data set, sharing parameters by name.
    datasets : a sequence, or a mapping name -> data, of ``(x, y)`` or ``(x, y, sigma)``;
        lengths and x grids may differ. ``x`` is ``(m,)``, or ``(k, m)`` for ``k``
        independent variables.
    shared : names of the parameters common to every data set; the others are each data
        set's own (local).
    p0 : start values: a mapping name -> one number (every data set), or one number per data
        set (a sequence, or a mapping with the data's keys; local parameters only); or a
        sequence of one mapping per data set.
    bounds : ``None`` or a mapping name -> ``(low, high)``.
    sigma : ``None``, one number, or one entry per data set (a number or one per point);
        or give ``(x, y, sigma)`` in ``datasets``.
    method : ``None`` or ``'lm'``: Levenberg-Marquardt with each data set's local parameters
        eliminated from every step (:mod:`trustfit.kinds.global_linalg`).
    absolute_sigma, ftol, xtol, gtol, max_nfev, max_iter, tau : keyword-only, as in
        :func:`trustfit.curve_fit` and :func:`trustfit.least_squares` (``max_nfev`` counts
        evaluations of every data set; default ``100 n (n + 1)`` with ``n`` the parameters
        of one data set).

    build : how a model given here becomes a model object (:mod:`.global_api` turns
        expression strings into :class:`Model`).

    Returns
    -------
    :class:`trustfit.faces.global_result.GlobalFitResult`
    """
    if isinstance(model, Mapping):
        model = {k: _build(v, f"model[{k!r}]", build) for k, v in model.items()}
    elif isinstance(model, (list, tuple)):
        built: dict[int, Any] = {}
        model = [built.setdefault(id(m), _build(m, f"model[{i}]", build))
                 for i, m in enumerate(model)]
    else:
        model = _build(model, "model", build)
    return _fit_global(model, datasets, shared, p0, bounds, sigma, method, **options)
