"""Models for curve fitting: expression strings, callables, and a small library.

>>> from trustfit.models import Model
>>> m = Model("a*exp(-k*t) + c")
>>> m.param_names
['a', 'k', 'c']

``Model(f)`` takes a Python function ``f(x, a, b, ...)`` as well (lmfit's ``Model``);
``model.fit(data, params, x=x)`` returns a :class:`ModelResult` (``params`` with
``stderr`` and ``correl``, ``best_fit``, ``fit_report()``, ...); ``Model + Model`` and
``Model * Model`` combine models (give them ``prefix=...``).

Built-in models (``gaussian``, ``exponential``, ... see :data:`library.NAMES`)
are attributes of this package and are also found by name with :func:`get`.
They are built on first use, so importing this package (or ``trustfit``)
does not import sympy.
"""

import importlib

from .base import FitProblem
from .expression import Model
from .names import validate_name
from .parameters import Parameter, Parameters
from .result import ModelResult

__all__ = ["FitProblem", "Model", "ModelResult", "Parameter", "Parameters", "available", "get",
           "validate_name"]


def _library():
    # import_module, not "from . import library": the latter looks the name up on
    # this package first, which would re-enter __getattr__ below.
    return importlib.import_module(__name__ + ".library")


def get(name: str, prefix: str = "") -> Model:
    """The built-in model called ``name`` (e.g. ``"gaussian"``); with ``prefix`` a new copy
    whose parameter names start with it (``get("gaussian", prefix="g1_")``)."""
    library = _library()
    return library.get(name, prefix=prefix)


def available() -> list[str]:
    """Names of the built-in models."""
    library = _library()
    return list(library.NAMES)


def __getattr__(name: str):
    # PEP 562: trustfit.models.gaussian etc. are built lazily, on first access.
    library = _library()
    if name == "library":
        return library
    if name in library.NAMES:
        return library.get(name)
    raise AttributeError(f"module 'trustfit.models' has no attribute {name!r}")


def __dir__():
    library = _library()
    return sorted(list(globals()) + list(library.NAMES))
