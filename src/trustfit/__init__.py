"""trustfit: nonlinear least squares and curve fitting that gets the right answer, and says
why when it can't."""
from ._least_squares import DEFAULT_METHOD, METHODS, least_squares
from .result import FitResult, IterationRecord, StopReason

__all__ = ["DEFAULT_METHOD", "METHODS", "FitResult", "IterationRecord", "StopReason",
           "least_squares"]
__version__ = "0.1.0"
