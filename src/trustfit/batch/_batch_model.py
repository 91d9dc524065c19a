"""What the batch path knows about a model (:class:`BatchModel`); made from what the user
passes by :func:`._model.as_batch_model`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class BatchModel:
    """What the batch path needs to know about a model.

    ``expr`` is set for a symbolic (compilable) model, ``func`` for a plain callable; a
    symbolic model has ``func`` and ``jac_func`` too once it has numpy functions (the
    numpy path's, :func:`._backend.attach_lambdified`; an expression string's from the
    start, :mod:`._text_model`, whose ``expr`` is built only when asked for).
    """

    param_names: list[str]
    expr: Any = None  # sympy expression
    param_symbols: tuple = ()
    independent_symbols: tuple = ()
    func: Callable | None = None  # f(x, *params) for the fallback path
    jac_func: Callable | None = None  # optional jac(x, *params) -> (..., n) for fallback
    source: Any = field(default=None, repr=False)  # the object the user passed
    #: "gaussian": residuals (f - y) / sigma; "poisson": deviance residuals of counts
    #: (:mod:`._poisson`, read by the numpy fallback and the certificate)
    noise: str = "gaussian"

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    @property
    def n_independent(self) -> int:
        return max(1, len(self.independent_symbols))

    @property
    def symbolic(self) -> bool:
        return self.expr is not None
