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
