"""Analysis: pure functions of a :class:`~trustfit.FitResult` (covariance and intervals,
diagnostics, reports); nothing here runs the solver."""
