"""Validation at the boundary: every bad input becomes a ValueError naming the argument, the
value and the rule it breaks (Ceres ``Solver::Options::IsValid``), before any work is done."""
from __future__ import annotations

import math
import numbers
from typing import Any, cast

import numpy as np


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def tolerance(name: str, value: Any) -> float | None:
    """A stopping tolerance: None (test off) or a finite number >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number >= 0 or None, got {_show(value)}.")
    value = float(value)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(
            f"{name} must be a finite number >= 0 (or None to switch the test off), got {value}.")
    return value


def positive_int_or_none(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1 or None, got {_show(value)}.")
    return int(value)


def positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            math.isfinite(value) and cast(float, value) > 0):  # stubs: Real has no >
        raise ValueError(f"{name} must be a finite number > 0, got {_show(value)}.")
    return float(value)


def choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {_show(value)}.")
    return value


def starting_point(x0: Any) -> np.ndarray:
    try:
        x = np.atleast_1d(np.asarray(x0))
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"x0 must be a 1-D array of numbers, got {_show(x0)} ({exc}).") from None
    if x.ndim != 1:
        raise ValueError(f"`x0` must have at most 1 dimension. x0 must be a 1-D array of "
                         f"numbers, got shape {x.shape}.")
    if np.iscomplexobj(x):
        raise ValueError("`x0` must be real. x0 must be real; got complex values.")
    try:
        x = x.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"x0 must be a 1-D array of numbers, got {_show(x0)}.") from None
    if x.size == 0:
        raise ValueError("x0 is empty: there must be at least one parameter.")
    if not np.all(np.isfinite(x)):
        bad = np.flatnonzero(~np.isfinite(x)).tolist()
        raise ValueError(f"x0 must be finite; x0{bad} = {x[bad].tolist()}.")
    return x


def box(bounds: Any, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(lb, ub)`` broadcast to ``x0``'s shape; also accepts ``scipy.optimize.Bounds``."""
    n = x0.size
    if (type(bounds) is tuple and len(bounds) == 2 and type(bounds[0]) is float
            and type(bounds[1]) is float and bounds[0] == -math.inf and bounds[1] == math.inf):
        return np.full(n, -np.inf), np.full(n, np.inf)  # the default: nothing to check
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        bounds = (bounds.lb, bounds.ub)
    try:
        lb_in, ub_in = bounds
    except (TypeError, ValueError):
        raise ValueError(
            f"`bounds` must contain 2 elements. bounds must be a pair (lb, ub) of scalars or "
            f"arrays of length {n}, got {_show(bounds)}.") from None
    try:
        lb = np.broadcast_to(np.asarray(lb_in, dtype=float), (n,)).copy()
        ub = np.broadcast_to(np.asarray(ub_in, dtype=float), (n,)).copy()
    except (TypeError, ValueError):
        raise ValueError(
            f"Inconsistent shapes between bounds and `x0`. bounds must be a pair (lb, ub) of "
            f"scalars or arrays of length {n} (the length of x0), got lb={_show(lb_in)}, "
            f"ub={_show(ub_in)}.") from None
    if np.any(np.isnan(lb)) or np.any(np.isnan(ub)):
        raise ValueError("bounds must not contain NaN; use -inf / inf for no bound.")
    bad = np.flatnonzero(lb >= ub)
    if bad.size:
        j = int(bad[0])
        raise ValueError(
            f"Each lower bound must be strictly less than each upper bound. lb[{j}] = {lb[j]} >= "
            f"ub[{j}] = {ub[j]}.")
    outside = np.flatnonzero((x0 < lb) | (x0 > ub))
    if outside.size:
        j = int(outside[0])
        raise ValueError(
            f"Initial guess is outside of provided bounds: x0 must lie within the bounds, but "
            f"x0[{j}] = {x0[j]} is outside "
            f"[{lb[j]}, {ub[j]}].")
    return lb, ub


def x_scale(value: Any, n: int) -> str | np.ndarray:
    if type(value) is float and 0.0 < value < math.inf:  # the default, 1.0
        return np.full(n, value)
    if isinstance(value, str):
        if value != "jac":
            raise ValueError(f"`x_scale` must be 'jac' or array_like with positive numbers. "
                             f"x_scale must be 'jac' or positive numbers, got {value!r}.")
        return value
    try:
        given = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"`x_scale` must be 'jac' or array_like with positive numbers. x_scale must be "
            f"'jac', a positive number or {n} positive numbers, got {_show(value)}.") from None
    if given.ndim != 0 and given.shape != (n,):
        raise ValueError(f"Inconsistent shapes between `x_scale` and `x0`: x_scale must be a "
                         f"number or {n} numbers, got shape {given.shape}.")
    scale = np.broadcast_to(given, (n,)).copy()
    if not np.all(np.isfinite(scale) & (scale > 0)):
        raise ValueError(f"`x_scale` must be 'jac' or array_like with positive numbers. "
                         f"x_scale must be positive and finite, got {scale.tolist()}.")
    return scale


def diff_step(value: Any, n: int) -> np.ndarray | None:
    if value is None:
        return None
    try:
        step = np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()
    except (TypeError, ValueError):
        raise ValueError(f"diff_step must be a positive number or {n} positive numbers, "
                         f"got {_show(value)}.") from None
    if not np.all(np.isfinite(step) & (step > 0)):
        raise ValueError(f"diff_step must be positive and finite, got {step.tolist()}.")
    return step


def function(name: str, value: Any) -> Any:
    """A callable argument (``fun``, ``f``); anything else is a TypeError."""
    if not callable(value):
        raise TypeError(f"{name} must be callable (a function), got {_show(value)} of type "
                        f"{type(value).__name__}.")
    return value


def returned_numbers(name: str, out: Any) -> np.ndarray:
    """What the user's ``name`` returned, as an array of numbers: a TypeError for a dict, a
    generator, a string, None or other objects; a ValueError for a ragged sequence. The
    user's own errors are raised before this runs, so they pass through unchanged."""
    try:
        arr = np.asarray(out)
    except ValueError:
        raise ValueError(f"{name} returned a ragged sequence {_show(out)}; it must return a "
                         f"1-D array of numbers.") from None
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"{name} must return an array of numbers, but it returned "
                        f"{type(out).__name__} {_show(out)}.")
    return arr


def param_names(value: Any, n: int) -> list[str] | None:
    """``param_names``: None, or a list or tuple of ``n`` strings."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
        raise TypeError(f"param_names must be a list or tuple of {n} strings, got "
                        f"{_show(value)}.")
    bad = [v for v in value if not isinstance(v, str)]
    if bad:
        raise TypeError(f"param_names must be strings, got {_show(bad[0])} of type "
                        f"{type(bad[0]).__name__} in {_show(value)}.")
    if len(value) != n:
        raise ValueError(f"param_names has {len(value)} names for {n} parameters; give one "
                         f"name per parameter.")
    return [str(v) for v in value]


def whole_number(name: str, value: Any, low: int, high: int | None = None) -> int:
    """A whole number in ``[low, high]``: a TypeError for None, floats, strings and bools,
    a ValueError outside the range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, got {_show(value)} of type "
                        f"{type(value).__name__}.")
    value = int(value)  # an Integral: exact
    if value < low or (high is not None and value > high):
        where = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be a whole number {where}, got {value}.")
    return int(value)
