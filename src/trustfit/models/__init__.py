"""Models for curve fitting: expression strings, callables, and a small library.

>>> from trustfit.models import Model
>>> m = Model("x3*exp(x1*t) + x4*exp(x2*t)")
>>> m.param_names
['x1', 'x2', 'x3', 'x4']

Built-in models (``gaussian``, ``exponential``, ... see :data:`library.NAMES`)
are attributes of this package and are also found by name with :func:`get`.
They are built on first use, so importing this package (or ``trustfit``)
does not import sympy.
"""

import importlib

from .expression import FitProblem, Model
from .names import validate_name
from .parameters import Parameter, Parameters

__all__ = ["FitProblem", "Model", "Parameter", "Parameters", "available", "get",
           "validate_name"]


def _library():
    # import_module, not "from . import library": the latter looks the name up on
    # this package first, which would re-enter __getattr__ below.
    return importlib.import_module(__name__ + ".library")


def get(name: str) -> Model:
    """The built-in model called ``name`` (e.g. ``"gaussian"``)."""
    library = _library()
    return library.get(name)


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
