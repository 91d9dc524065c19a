"""The textbook example that runs through trustfit's documentation and tests.

Madsen, Nielsen & Tingleff (2004), Example 3.7 data: ``t = 0, 2, ..., 20`` and the sum of two
exponentials ``y = x3 exp(x1 t) + x4 exp(x2 t)``. The global minimum has cost
``1/2 ||r||^2 = 0.0255953`` at ``x = [-0.4622, -0.2085, -13.6218, 13.6189]`` or the same with
the two terms swapped. The three starting points are those of the article this project grew
from: from ``[-1, 1, -10, 10]`` and ``[-4, 1, 2, -3]`` Madsen's hybrid finds the minimum; from
``[0, 0, 0, 0]`` every Gauss-Newton-type method stalls at a symmetric point (``x1 = x2``,
``x3 = x4``), where the two exponentials are the same function.
"""
from __future__ import annotations

from typing import Any

import numpy as np

T = np.arange(0.0, 21.0, 2.0)
Y = np.array([0.0, 3.55, 3.82, 2.98, 2.32, 1.48, 1.02, 0.81, 0.41, 0.42, 0.15])
PARAM_NAMES = ("x1", "x2", "x3", "x4")
EXPRESSION = "x3*exp(x1*t) + x4*exp(x2*t)"
STARTS = (
    np.array([-1.0, 1.0, -10.0, 10.0]),
    np.array([-4.0, 1.0, 2.0, -3.0]),
    np.array([0.0, 0.0, 0.0, 0.0]),
)
MINIMUM_COST = 0.0255953
MINIMUM_X = np.array([-0.4622, -0.2085, -13.6218, 13.6189])
#: The article's settings: method 'hybrid', tau = 1e-3, eps1 = eps2 = 1e-5, kmax = 1000, and
#: none of trustfit's additions (no cost test, no rounding test, no polish, no rescue).
ARTICLE_SETTINGS: dict[str, Any] = dict(method="hybrid", tau=1e-3, gtol=1e-5, xtol=1e-5,
                                         ftol=None, max_iter=1000, rounding_stop=False,
                                         polish=False, rescue=False)


def model(x: np.ndarray, t: np.ndarray = T) -> np.ndarray:
    return x[2] * np.exp(x[0] * t) + x[3] * np.exp(x[1] * t)


def residuals(x: np.ndarray, t: np.ndarray = T, y: np.ndarray = Y) -> np.ndarray:
    return model(x, t) - y


def jacobian(x: np.ndarray, t: np.ndarray = T, y: np.ndarray = Y) -> np.ndarray:
    e1, e2 = np.exp(x[0] * t), np.exp(x[1] * t)
    return np.column_stack([x[2] * t * e1, x[3] * t * e2, e1, e2])
