"""Reference problems with certified answers (NIST StRD nonlinear regression)."""

from . import nist
from .nist import NistProblem, load, load_all, lre

__all__ = ["nist", "NistProblem", "load", "load_all", "lre"]
