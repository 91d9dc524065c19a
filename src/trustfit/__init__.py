"""trustfit: nonlinear least squares and curve fitting."""
