"""The hook of :func:`trustfit.curve_fit` and :func:`trustfit.fit` for data that least squares
in y alone gets wrong: ``sigma_x`` (errors in x: orthogonal distance regression,
:mod:`trustfit.faces.odr`) and ``noise='poisson'`` (counts: Poisson maximum likelihood,
:mod:`trustfit.faces.poisson`)."""
from __future__ import annotations

from typing import Any

from .odr import odr_curve_fit
from .poisson import poisson_curve_fit

NOISE = ("gaussian", "poisson")


def dispatch(*args: Any, sigma_x: Any, noise: Any, **kwargs: Any):
    """``curve_fit``/``fit``'s positional arguments and keywords, to the fit for this kind."""
    if not isinstance(noise, str) or noise not in NOISE:
        raise ValueError(f"noise must be 'gaussian' or 'poisson', got {noise!r}.")
    if noise == "poisson":
        if sigma_x is not None:
            raise ValueError("sigma_x and noise='poisson' together are not supported: "
                             "errors in x with Poisson counts in y.")
        return poisson_curve_fit(*args, **kwargs)
    return odr_curve_fit(*args, sigma_x=sigma_x, **kwargs)
