"""trustfit: nonlinear least squares and curve fitting that gets the right answer,
and says why when it can't."""
