"""The ``trustfit`` command line (``trustfit fit | demo | batch | bench``)."""
from .command import main

__all__ = ["main"]
