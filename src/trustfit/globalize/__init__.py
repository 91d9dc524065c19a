"""Globalizations: turn a proposed step into an accepted or rejected move.

* :class:`TrustRegionTest` evaluates the trial point once and accepts on the gain ratio
  (the damping or radius update belongs to the step strategy, which hears the outcome);
* :class:`ArmijoBacktracking` searches along the step for sufficient decrease.
"""
from .line_search import ArmijoBacktracking
from .trust_region import TrustRegionTest

__all__ = ["ArmijoBacktracking", "TrustRegionTest"]
