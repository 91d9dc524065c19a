"""trustfit: nonlinear least squares and curve fitting that gets the right answer, and says
why when it can't."""
from typing import TYPE_CHECKING

from .analysis.diagnostics import Diagnosis, Finding, diagnose
from .core.result import FitResult, IterationRecord, StopReason
from .faces.curve_fit import curve_fit, fit
from .faces.least_squares import DEFAULT_METHOD, METHODS, SOLVERS, least_squares, multistart
from .strategies.multistart import Minimum

if TYPE_CHECKING:
    from .faces.curve_fit import FitWarning as FitWarning

__all__ = ["DEFAULT_METHOD", "METHODS", "SOLVERS", "BatchResult", "Diagnosis", "Finding",
           "FitResult", "FitWarning", "GlobalFitResult", "IterationRecord", "Minimum",
           "StopReason", "curve_fit", "diagnose", "fit", "fit_batch", "fit_global",
           "least_squares", "multistart"]
__version__ = "0.1.0"

# Reachable as attributes after ``import trustfit``, imported on first use (PEP 562) so that
# ``import trustfit`` stays light: the model layer, the batch layer and the examples are not
# loaded until asked, nor scipy.optimize, whose OptimizeWarning FitWarning subclasses.
_LAZY_MODULES = {"models": "models", "reference": "reference", "plots": "plots",
                 "examples": "apps.examples"}
_LAZY_NAMES = {"FitWarning": "faces.curve_fit",
               "Model": "models", "Parameters": "models", "Parameter": "models",
               "odr": "faces.odr", "ODRResult": "faces.odr",
               "fit_batch": "batch", "BatchResult": "batch",
               "fit_global": "models.global_api", "GlobalFitResult": "faces.global_result"}


def __getattr__(name: str):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{_LAZY_MODULES[name]}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module 'trustfit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES) | set(_LAZY_NAMES))
