"""Step strategies: each proposes a step from the current iterate and owns its local model."""
from .base import Iterate, Step, StepStrategy
from .damped import LevenbergMarquardt
from .dogleg import Dogleg
from .gauss_newton import GaussNewton
from .hybrid import Hybrid

__all__ = ["Dogleg", "GaussNewton", "Hybrid", "Iterate", "LevenbergMarquardt", "Step",
           "StepStrategy"]
