"""An expression string's batch model that runs on numpy before, or without, sympy.

``fit_batch("a*exp(-t/tau) + b*sin(w*t)", ...)`` on a hundred curves takes ~30 ms on
the numpy path, and building the sympy model first took 0.1-0.3 s in a new process
(sympy's first arithmetic imports more of sympy; building, differentiating and lambdifying
are slow while its caches are cold).  A :class:`TextModel` has the numpy value and exact
Jacobian from the expression's tree at once (:func:`trustfit.models._forward.numeric_model`,
~1 ms) and builds the sympy model (:class:`trustfit.models.Model`, the same object as
before) only when something asks for ``expr``, ``param_symbols`` or
``independent_symbols``: the compiled kernel's code generation, variable projection's
layout, the certificate's and the reports' sympy paths.

The numeric functions give what the sympy model's lambdified functions give, up to
rounding, wherever they are finite; where they are not (a value or derivative at a point
where sympy's simplification cancels a zero or an infinity, e.g. ``d/dK (x/K)**n`` at
``x = 0``), the sympy model's lambdified function is evaluated and its value taken at
those entries, so the numpy path's answers are those of the sympy functions.  The key of
the model (:func:`._codegen.model_key`) comes from the text, so asking for it needs no
sympy either.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import numpy as np

from ._batch_model import BatchModel


def text_model(text: str, indep: tuple, order: tuple | None) -> TextModel | None:
    """The :class:`TextModel` of an expression string, or None when it has several
    independent variables or :func:`trustfit.models._forward.numeric_model` does not take
    it (then the sympy model is built at once).  Errors in the text are the sympy model's
    (:func:`trustfit.models.expression.read_expression`)."""
    from trustfit.models._forward import numeric_model
    from trustfit.models.expression import read_expression

    tree, names, roots, _ = read_expression(text, list(indep),
                                            None if order is None else list(order))
    if len(names) != 1:
        return None
    numeric = numeric_model(tree, names, roots)
    return None if numeric is None else TextModel(text, tuple(names), roots, order, numeric)


def _rebuild(text: str, indep: tuple, order: tuple | None) -> TextModel:
    bm = text_model(text, indep, order)
    if bm is None:  # it was taken when pickled, by the same code
        raise ValueError(f"model: cannot rebuild the numeric model of {text!r}")
    return bm


class TextModel(BatchModel):
    """A symbolic batch model from an expression string with one independent variable
    (see the module docstring); ``numeric`` is ``(f, jac, source)`` of
    :func:`trustfit.models._forward.numeric_model`."""

    def __init__(self, text: str, indep: tuple, roots: list, order: tuple | None,
                 numeric: tuple):
        # not the dataclass __init__: expr and the symbols are properties here
        self.param_names = list(roots)
        self.source = text
        self.text, self.indep, self.order = text, tuple(indep), order
        self._fast_f, self._fast_jac, self.numeric_source = numeric
        self._model: Any = None
        self._exact: tuple | None = None
        self._lock = threading.Lock()
        self.func = self._value
        self.jac_func = self._jacobian
        parts = "|".join(["text", text, ",".join(self.indep), ",".join(self.param_names)])
        self.__dict__["_model_key"] = "t" + hashlib.sha256(parts.encode()).hexdigest()[:23]

    # -- the sympy model, built on first use ------------------------------------------------
    def sympy_model(self):
        """The :class:`trustfit.models.Model` of the text (built once, on first use)."""
        with self._lock:
            if self._model is None:
                from trustfit.models import Model

                self._model = Model(self.text, independent=list(self.indep),
                                    params=None if self.order is None else list(self.order))
            return self._model

    @property
    def expr(self):
        return self.sympy_model().expr

    @property
    def param_symbols(self):
        return tuple(self.sympy_model().param_symbols)

    @property
    def independent_symbols(self):
        return tuple(self.sympy_model().independent_symbols)

    @property
    def symbolic(self) -> bool:
        return True

    @property
    def n_independent(self) -> int:
        return len(self.indep)

    def __repr__(self) -> str:
        return f"TextModel({self.text!r}, params={self.param_names!r})"

    def __reduce__(self):  # for dask workers: rebuilt from the text
        return _rebuild, (self.text, self.indep, self.order)

    def __dask_tokenize__(self):  # dask's key for the model: its text (func is a method
        # of the model, so walking the dataclass's fields would never end)
        return ("trustfit.TextModel", self.text, self.indep, self.order)

    # -- numeric functions, with the sympy functions where these are not finite -------------
    def _exact_functions(self):
        if self._exact is None:
            import sympy

            model = self.sympy_model()
            args = list(model.independent_symbols) + list(model.param_symbols)
            f = sympy.lambdify(args, model.expr, ["scipy", "numpy"])
            d = sympy.lambdify(args, list(model.jacobian_exprs), ["scipy", "numpy"])
            self._exact = (f, d)
        return self._exact

    def _value(self, x, *p):
        with np.errstate(all="ignore"):
            v = np.asarray(self._fast_f(x, *p), dtype=float)
            bad = ~np.isfinite(v)
            if bad.any():
                exact = np.asarray(self._exact_functions()[0](x, *p), dtype=float)
                v = np.where(bad, exact, v)
        return v

    def _jacobian(self, x, *p):
        shape = np.broadcast(x, *p).shape
        with np.errstate(all="ignore"):
            J = _stacked(self._fast_jac(x, *p), shape)
            bad = ~np.isfinite(J)
            if bad.any():
                exact = _stacked(self._exact_functions()[1](x, *p), shape)
                J = np.where(bad, exact, J)
        return J


def _stacked(cols, shape) -> np.ndarray:
    return np.stack([np.broadcast_to(np.asarray(c, dtype=float), shape) for c in cols],
                    axis=-1)
