"""The SciPy-compatible faces (``least_squares``, ``curve_fit``, ``fit``, ``multistart``):
validate the arguments at the boundary, then compose solving, strategies and analysis."""
