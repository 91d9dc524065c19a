"""Adapter between what a user passes as ``model`` and what the batch code needs.

The batch kernel needs, for a symbolic model, the sympy expression, the parameter
symbols in order and the independent-variable symbols.  ``trustfit.Model`` (package
``trustfit.models``) provides exactly these attributes (``expr``, ``param_names``,
``param_symbols``, ``independent_symbols``); until it is available on every branch,
:func:`as_batch_model` also accepts

* an expression string (read by ``trustfit.models``, never by ``sympify``, which
  evaluates its input as Python; numpy functions from its tree at once and the sympy
  model only when asked for, :mod:`._text_model`),
* a sympy expression, with ``params=`` / ``independent=`` given,
* a plain Python callable ``f(x, p1, ..., pn)`` (SciPy ``curve_fit`` convention), for
  the vectorized numpy fallback (no compilation, no symbolic Jacobian).

Nothing here imports sympy unless a symbolic model is actually used.
"""

from __future__ import annotations

import inspect
import re
from typing import Sequence

from ..faces.curve_fit import FitWarning
from ._batch_model import BatchModel


class CompileWarning(FitWarning):
    """fit_batch could not compile a symbolic model and runs it on the numpy path (slower,
    same algorithm); the message gives numba's reason."""


def _natural_key(name: str):
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", name)]


def natural_order(names) -> list[str]:
    """Parameter order for expression strings: natural sort (x1, x2, ..., x10)."""
    return sorted(names, key=_natural_key)


def _names(value, argument: str, role: str) -> tuple:
    """``value`` (one name or an ordered sequence; str or sympy Symbol items) as a
    tuple of validated names: they reach generated source (the kernel cache key,
    comments) and must be plain identifiers."""
    from trustfit.models.names import name_sequence, validate_name

    if hasattr(value, "free_symbols") and hasattr(value, "name"):  # one sympy Symbol
        value = [value]
    items = name_sequence(value, argument)
    return tuple(validate_name(getattr(v, "name", v) if hasattr(v, "free_symbols") else v,
                               f"{argument}: {role}") for v in items)


def _from_sympy(expr, params=None, independent="t", source=None) -> BatchModel:
    import sympy

    from trustfit.models._sympy_input import check_sympy_model

    _names(independent, "independent", "independent variable")
    if isinstance(independent, (str, sympy.Symbol)):
        independent = [independent]
    indep = tuple(sympy.Symbol(s) if isinstance(s, str) else s for s in independent)
    if params is None:  # the models' order: as first written (here: as sympy prints it)
        from trustfit.models.expression import written_order

        free = {s.name for s in expr.free_symbols} - {s.name for s in indep}
        params = written_order(expr, natural_order(free))
    else:
        _names(params, "params", "parameter")
    psyms = tuple(sympy.Symbol(p) if isinstance(p, str) else p for p in params)
    # sympify may create Symbols with assumptions; match free symbols by name
    by_name = {s.name: s for s in expr.free_symbols if hasattr(s, "name")}
    psyms = tuple(by_name.get(s.name, s) for s in psyms)
    indep = tuple(by_name.get(s.name, s) for s in indep)
    check_sympy_model(expr, psyms, indep)
    return BatchModel(
        param_names=[s.name for s in psyms],
        expr=expr,
        param_symbols=psyms,
        independent_symbols=indep,
        source=source if source is not None else expr,
    )


# expression string -> model: reading it takes ~1 ms (sympy's parse, when it runs, ~3 ms
# warm and 0.1-0.3 s on first use), which dominates fit_batch on small stacks called
# repeatedly with the same string
_FROM_STRING: dict[tuple, BatchModel] = {}


def from_text(text: str, indep: tuple, order: tuple | None) -> BatchModel:
    """The model of an expression string: a :class:`._text_model.TextModel` (numeric
    functions at once, sympy only when asked for) when :mod:`trustfit.models._forward`
    takes the expression, else the sympy model at once (its checks and errors)."""
    params = None if order is None else list(order)
    from trustfit.models.expression import Model

    from ._text_model import text_model

    bm = text_model(text, indep, order)
    if bm is not None:
        return bm
    return as_batch_model(Model(text, independent=list(indep), params=params))


def as_batch_model(model, params: Sequence[str] | None = None, independent="t") -> BatchModel:
    """Normalise ``model`` (trustfit Model, string, sympy expr or callable).

    Every name (``params``, ``independent``, the symbols of a sympy expression)
    is checked by :func:`trustfit.models.names.validate_name` before any work.
    """
    if isinstance(model, BatchModel):
        return model
    # trustfit.Model (duck-typed, so this module does not depend on trustfit.models)
    if hasattr(model, "param_names") and hasattr(model, "expr"):
        if getattr(model, "expr", None) is not None:
            from trustfit.models.expression import Model

            if type(model) is not Model:  # a Model checked its names and size itself
                _names(list(model.param_names), "model.param_names", "parameter")
                from trustfit.models._sympy_input import check_sympy_model

                check_sympy_model(model.expr, tuple(model.param_symbols),
                                  tuple(model.independent_symbols))
            return BatchModel(
                param_names=list(model.param_names),
                expr=model.expr,
                param_symbols=tuple(model.param_symbols),
                independent_symbols=tuple(model.independent_symbols),
                source=model,
            )
        # Model.from_callable(f): no expression, numeric evaluation only
        f = getattr(model, "eval")
        jac = getattr(model, "jacobian", None) if getattr(model, "has_jacobian", False) else None
        return BatchModel(
            param_names=list(model.param_names),
            func=lambda x, *p: f(p, x),
            jac_func=(lambda x, *p: jac(p, x)) if jac is not None else None,
            source=model,
        )
    if isinstance(model, str):
        # names validated first: they are the cache key (a list is not hashable)
        indep = _names(independent, "independent", "independent variable")
        order = None if params is None else _names(params, "params", "parameter")
        key = (model, indep, order)
        bm = _FROM_STRING.get(key)
        if bm is None:
            bm = from_text(model, indep, order)
            if len(_FROM_STRING) >= 256:
                _FROM_STRING.clear()
            _FROM_STRING[key] = bm
        return bm
    if callable(model) and not hasattr(model, "free_symbols"):
        if params is None:
            sig = inspect.signature(model)
            names = list(sig.parameters)
            if len(names) < 2:
                raise ValueError(
                    f"model: a callable must be f(x, p1, ..., pn) (curve_fit convention); "
                    f"{getattr(model, '__name__', model)!r} takes {len(names)} argument(s)"
                )
            params = names[1:]
        return BatchModel(param_names=list(_names(params, "params", "parameter")), func=model,
                          source=model)
    if hasattr(model, "free_symbols"):  # sympy expression
        return _from_sympy(model, params, independent)
    raise TypeError(
        f"model: expected a trustfit.Model, an expression string, a sympy expression or a "
        f"callable f(x, *params); got {type(model).__name__}"
    )
