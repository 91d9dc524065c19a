"""``trustfit.fit_global``: :func:`.global_fit.fit_global` with expression strings accepted
(each becomes a :class:`Model`; the same string given for several data sets is one model)."""
from __future__ import annotations

from typing import Any

from ..faces.global_result import GlobalFitResult
from .expression import Model
from .global_fit import fit_global as _fit_global

__all__ = ["fit_global"]


def _model(model: Any, name: str) -> Any:
    if not isinstance(model, str):
        return model
    try:
        return Model(model)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def fit_global(model: Any, datasets: Any, shared: Any = (), p0: Any = None,
               bounds: Any = None, sigma: Any = None, method: str | None = None,
               **options: Any) -> GlobalFitResult:
    if "build" in options:
        raise TypeError("fit_global() got an unexpected keyword argument 'build'")
    if isinstance(model, (list, tuple)):  # one Model per distinct string
        cache: dict[str, Any] = {}
        model = [cache.setdefault(m, _model(m, f"model[{i}]")) if isinstance(m, str) else m
                 for i, m in enumerate(model)]
    return _fit_global(model, datasets, shared, p0, bounds, sigma, method, build=_model,
                       **options)


fit_global.__doc__ = _fit_global.__doc__
