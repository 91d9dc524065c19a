"""trustfit: nonlinear least squares and curve fitting that gets the right answer, and says
why when it can't."""
from ._curve_fit import FitWarning, curve_fit, fit
from ._least_squares import DEFAULT_METHOD, METHODS, SOLVERS, least_squares
from .batch import BatchResult, fit_batch
from .diagnostics import Diagnosis, Finding, diagnose
from .multistart import Minimum, multistart
from .result import FitResult, IterationRecord, StopReason

__all__ = ["DEFAULT_METHOD", "METHODS", "SOLVERS", "BatchResult", "Diagnosis", "Finding",
           "FitResult", "FitWarning", "IterationRecord", "Minimum", "StopReason", "curve_fit",
           "diagnose", "fit", "fit_batch", "least_squares", "multistart"]
__version__ = "0.1.0"

# Reachable as attributes after ``import trustfit``, imported on first use (PEP 562) so that
# ``import trustfit`` stays light: the model layer and the examples are not loaded until asked.
_LAZY_MODULES = ("models", "examples", "statistics", "reference", "plots")
_LAZY_NAMES = {"Model": "models", "Parameters": "models", "Parameter": "models"}


def __getattr__(name: str):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module 'trustfit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES) | set(_LAZY_NAMES))
