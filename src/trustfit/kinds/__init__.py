"""Kinds of data that least squares in y alone gets wrong, solved on trustfit's machinery.

* :mod:`.odr_linalg` and :mod:`.odr_loop`: orthogonal distance regression (errors in x and
  in y), a Levenberg-Marquardt loop over the parameters and the corrections to x with the
  corrections eliminated from every step (Boggs, Byrd & Schnabel 1987), O(m n^2) per
  iteration; :mod:`.odr_implicit`: implicit models ``g(x, y, p) = 0`` (circles, ellipses)
  with exact weighted foot points and least squares in ``p``;
* :mod:`.global_problem`, :mod:`.global_linalg` and :mod:`.global_loop`: global fits with
  parameters shared between data sets, each data set's local parameters eliminated from
  every step;
* :mod:`.structured_lm`: the one Levenberg-Marquardt loop of both, written against what a
  structured linearization provides (the damped step, the predicted reduction, the
  gradient and its cosine), never a dense Jacobian;
* :mod:`.poisson`: Poisson maximum likelihood for counts, as least squares on deviance
  residuals, with the Fisher information and the goodness-of-fit statistics.

The public entry points are :func:`trustfit.odr` and ``noise='poisson'`` of
:func:`trustfit.curve_fit` / :func:`trustfit.fit` (:mod:`trustfit.faces.odr`,
:mod:`trustfit.faces.poisson`). This layer sits between ``faces`` and ``strategies``: it may
use the rescue, the analysis and the core; the faces use it, and the batch layer uses
:mod:`.poisson`'s residuals for ``fit_batch(..., noise='poisson')``.
"""
