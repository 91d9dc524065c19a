"""What the curve_fit-shaped faces (:mod:`.curve_fit`, :mod:`.odr`, :mod:`.poisson`) share:
the parameter names read from ``f(x, p1, p2, ...)`` and SciPy's ``curve_fit`` return
convention for a finished fit."""

from __future__ import annotations

import inspect
import warnings
import weakref
from collections.abc import Callable
from typing import Any

from ..core.result import StopReason


#: signature_names per function: a fit in a loop over files, channels or pixels calls it with
#: the same ``f`` each time, and reading a signature costs more than a 20-point model. Weak
#: keys: a cached function is not kept alive by the cache.
_NAMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def signature_names(f: Callable) -> tuple[str, ...] | None:
    """Parameter names of ``f(x, p1, p2, ...)``; ``None`` for ``f(x, *p)`` or a callable
    without a readable signature."""
    try:
        return _NAMES[f]
    except (KeyError, TypeError):  # not seen yet, or not weakly referable / hashable
        pass
    names = _signature_names(f)
    try:
        _NAMES[f] = names
    except TypeError:
        pass
    return names


def _signature_names(f: Callable) -> tuple[str, ...] | None:
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return None
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                         p.POSITIONAL_OR_KEYWORD)]
    return tuple(positional[1:])


def curve_fit_return(result: Any, full_output: bool, warning: type[Warning]) -> tuple:
    """SciPy's ``curve_fit`` return for a result with ``pcov`` and ``rank_deficient``:
    ``RuntimeError`` when no optimum was found; a ``warning`` for a degenerate fit or a
    pseudo-inverse covariance (its reason, the last event); ``(popt, pcov)``, with
    ``full_output`` also ``infodict, mesg, ier``."""
    degenerate = result.stop_reason is StopReason.DEGENERATE
    if not (result.success or degenerate):
        raise RuntimeError(f"Optimal parameters not found: {result.message}")
    if result.rank_deficient or degenerate:
        warnings.warn(str(result.events[-1]) if result.rank_deficient else result.message,
                      warning, stacklevel=4)
    if not full_output:
        return result.x, result.pcov
    infodict = {"nfev": result.nfev, "fvec": result.fun, "fjac": result.jac,
                "result": result}
    return result.x, result.pcov, infodict, result.message, result.status
