"""The arguments of :func:`trustfit.fit_global`, checked at the boundary: the data sets, the
model(s), ``shared``, ``p0``, ``bounds`` and ``sigma``; each error a ``TypeError`` (wrong
kind of thing) or ``ValueError`` (wrong value) naming the argument, the value and the rule.
Builds the parameter layout (``theta = [shared, locals of data set 0, 1, ...]``) and the
groups of :mod:`trustfit.kinds.global_problem`."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..kinds.global_problem import Group, GroupModel, LoopedModel, split_groups
from ._shared import signature_names


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _real(name: str, value: Any, ndim: tuple[int, ...]) -> np.ndarray:
    if type(value) is np.ndarray and value.dtype == np.float64 and value.ndim in ndim:
        if not np.isfinite(value).all():  # the common case, without the general checks
            raise ValueError(f"{name} must be finite (no NaN or inf); drop those points.")
        return value
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers, got {_show(value)}.") from None
    if np.iscomplexobj(a) or a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be real numbers, got dtype {a.dtype} "
                         f"({_show(value)}).")
    a = a.astype(float, copy=False)
    if a.ndim not in ndim:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndim))} dimensions, got "
                         f"shape {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no NaN or inf); drop those points.")
    return a


def as_group_model(model: Any, name: str) -> GroupModel:
    """A :class:`GroupModel` from one given here: itself; an object with ``param_names``
    and ``eval(params, x)`` (a :class:`trustfit.Model`; its ``jacobian`` when it has one);
    or a callable ``f(x, a, b, ...)`` (parameters named by its signature)."""
    if isinstance(model, GroupModel):
        return model
    if isinstance(model, str):
        raise TypeError(f"{name}={model!r}: an expression model is built by "
                        "trustfit.fit_global (trustfit.models), not here; pass a Model.")
    names = getattr(model, "param_names", None)
    if names is not None and callable(getattr(model, "eval", None)):
        jac = model.jacobian if getattr(model, "has_jacobian", False) else None
        return LoopedModel(lambda x, *p: model.eval(p, x), list(names),
                           (lambda x, *p: jac(p, x)) if jac is not None else None)
    if callable(model):
        names = signature_names(model)
        if not names:
            raise ValueError(f"{name}: cannot read the parameter names of {_show(model)} "
                             "from f(x, a, b, ...); give a trustfit.Model with params=[...].")
        return LoopedModel(model, names)
    raise TypeError(f"{name} must be a trustfit.Model, an expression string or a callable "
                    f"f(x, a, b, ...), got {type(model).__name__}.")


@dataclass(frozen=True)
class DataSet:
    name: Any
    x: tuple[np.ndarray, ...]  # one (m,) array per independent variable
    y: np.ndarray
    sigma: np.ndarray | None


def datasets(value: Any, sigma: Any) -> list[DataSet]:
    """``datasets``: a sequence, or a mapping name -> data, of ``(x, y)`` or
    ``(x, y, sigma)``; ``sigma`` (the argument): ``None``, one number for all, or one entry
    per data set (a sequence, or a mapping with the data's keys), each a number or one value
    per point."""
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"datasets must be a sequence (or a mapping name -> data) of (x, y) "
                        f"or (x, y, sigma), got {type(value).__name__}.")
    else:
        items = list(enumerate(value))
    if not items:
        raise ValueError("datasets is empty: there is nothing to fit.")
    per = _per_set_sigma(sigma, [k for k, _ in items], isinstance(value, Mapping))
    out = []
    for (key, data), s_arg in zip(items, per):
        label = f"datasets[{key!r}]"
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError(f"{label} must be (x, y) or (x, y, sigma), got {_show(data)}.")
        x = _real(f"{label} x", data[0], (1, 2))
        y = _real(f"{label} y", data[1], (1,))
        if y.size == 0:
            raise ValueError(f"{label} y is empty.")
        if x.shape[-1] != y.size:
            raise ValueError(f"{label}: x has shape {x.shape} and y {y.shape}; x must be "
                             f"({y.size},), or (k, {y.size}) for k independent variables.")
        s = data[2] if len(data) == 3 else None
        if s is not None and s_arg is not None:
            raise ValueError(f"{label} gives sigma and so does the sigma argument; give it "
                             "once.")
        s = s if s is not None else s_arg
        sa = None
        if s is not None:
            sa = _real(f"sigma of {label}", s, (0, 1))
            sa = np.broadcast_to(sa, y.shape).copy() if sa.ndim == 0 else sa
            if sa.shape != y.shape:
                raise ValueError(f"sigma of {label} must be a number or have shape "
                                 f"{y.shape}, got {sa.shape}.")
            if np.any(sa <= 0):
                raise ValueError(f"sigma of {label} must be positive (a standard deviation), "
                                 f"got a minimum of {float(np.min(sa))!r}.")
        xs = (x,) if x.ndim == 1 else tuple(x)
        out.append(DataSet(key, xs, y, sa))
    return out


def _per_set_sigma(sigma: Any, keys: list, mapping: bool) -> list:
    if sigma is None:
        return [None] * len(keys)
    if np.isscalar(sigma):
        return [sigma] * len(keys)
    if isinstance(sigma, Mapping):
        unknown = [k for k in sigma if k not in keys]
        if unknown:
            raise ValueError(f"sigma names data sets that are not in datasets: {unknown[:5]}.")
        return [sigma.get(k) for k in keys]
    if isinstance(sigma, Sequence) or isinstance(sigma, np.ndarray):
        if len(sigma) != len(keys):
            raise ValueError(f"sigma must be a number or give one entry per data set "
                             f"({len(keys)}), got {len(sigma)}.")
        return list(sigma)
    raise TypeError(f"sigma must be None, a number, or one entry per data set, got "
                    f"{type(sigma).__name__}.")


def models_for(model: Any, n_sets: int, keys: list) -> tuple[list[GroupModel], list[int]]:
    """The distinct models and each data set's model index: one model for all, or a
    sequence (or a mapping with the data's keys) of one per data set."""
    if isinstance(model, Mapping):
        missing = [k for k in keys if k not in model]
        if missing:
            raise ValueError(f"model: no model for the data sets {missing[:5]}.")
        given = [model[k] for k in keys]
    elif isinstance(model, (list, tuple)):
        if len(model) != n_sets:
            raise ValueError(f"model: a sequence of models needs one per data set "
                             f"({n_sets}), got {len(model)}.")
        given = list(model)
    else:
        given = [model] * n_sets
    single = not isinstance(model, (Mapping, list, tuple))
    distinct: list[GroupModel] = []
    seen: dict[int, int] = {}
    index = []
    for i, m in enumerate(given):
        if id(m) not in seen:
            seen[id(m)] = len(distinct)
            distinct.append(as_group_model(m, "model" if single else
                                           f"model[{keys[i]!r}]"))
        index.append(seen[id(m)])
    return distinct, index


def shared_names(shared: Any, models: list[GroupModel]) -> list[str]:
    if isinstance(shared, str):
        shared = [shared]
    if not isinstance(shared, (list, tuple)) or not all(isinstance(s, str) for s in shared):
        raise TypeError(f"shared must be a sequence of parameter names, got {_show(shared)}.")
    every = {n for m in models for n in m.names}
    unknown = [s for s in shared if s not in every]
    if unknown:
        raise ValueError(f"shared names {unknown} that no model has (the parameters are "
                         f"{sorted(every)}).")
    if len(set(shared)) != len(shared):
        raise ValueError(f"shared names a parameter twice: {list(shared)}.")
    return list(shared)


@dataclass(frozen=True)
class Layout:
    """``theta = [shared, locals of data set 0, ...]``: ``local_names[k]`` and
    ``local_start[k]`` of each data set, ``pidx[k]`` the position in ``theta`` of each of
    its model's parameters."""

    shared: list[str]
    local_names: list[list[str]]
    local_start: np.ndarray
    pidx: list[np.ndarray]
    n: int


def layout(shared: list[str], models: list[GroupModel], index: list[int]) -> Layout:
    if len(models) == 1:  # one model: every data set's layout is the first's, shifted
        only = models[0].names
        own = [p for p in only if p not in shared]
        K, nl, ns = len(index), len(own), len(shared)
        first = ns + nl * np.arange(K)
        base = np.array([shared.index(p) if p in shared else -1 for p in only])
        offset = np.array([own.index(p) if p not in shared else 0 for p in only])
        rows = np.where(base >= 0, base, first[:, None] + offset)
        return Layout(shared, [own] * K, first, list(rows), ns + nl * K)
    pos = len(shared)
    names, starts, pidx = [], [], []
    for i in index:
        model = models[i]
        local = [p for p in model.names if p not in shared]
        starts.append(pos)
        where = {p: pos + j for j, p in enumerate(local)}
        pidx.append(np.array([shared.index(p) if p in shared else where[p]
                              for p in model.names], dtype=int))
        names.append(local)
        pos += len(local)
    return Layout(shared, names, np.array(starts, dtype=int), pidx, pos)


def _values_for(name: str, value: Any, keys: list, shared: bool) -> np.ndarray:
    """One value per data set for parameter ``name`` (a shared one: one value)."""
    if isinstance(value, Mapping):
        missing = [k for k in keys if k not in value]
        if missing:
            raise ValueError(f"p0[{name!r}] has no value for the data sets {missing[:5]}.")
        value = [value[k] for k in keys]
    a = _real(f"p0[{name!r}]", value, (0, 1))
    if a.ndim == 1:
        if a.size != len(keys):
            raise ValueError(f"p0[{name!r}] must be one number or one per data set "
                             f"({len(keys)}), got {a.size}.")
        if shared and np.any(a != a[0]):
            raise ValueError(f"p0[{name!r}]: {name} is shared, so it takes one start value, "
                             f"got different values per data set ({a[:4].tolist()}...).")
    return np.broadcast_to(a, (len(keys),))


def start(p0: Any, lay: Layout, models: list[GroupModel], index: list[int], keys: list
          ) -> np.ndarray:
    """``theta0`` from ``p0``: a mapping name -> a number (every data set), one number per
    data set (a sequence, or a mapping with the data's keys; local parameters); or a
    sequence of one mapping per data set."""
    if isinstance(p0, (list, tuple)) and p0 and all(isinstance(d, Mapping) for d in p0):
        if len(p0) != len(keys):
            raise ValueError(f"p0 as a list of mappings needs one per data set ({len(keys)}), "
                             f"got {len(p0)}.")
        every = {n for d in p0 for n in d}
        p0 = {n: [d.get(n, np.nan) for d in p0] for n in every}
    if not isinstance(p0, Mapping):
        raise TypeError(f"p0 must map parameter names to start values (one number, or one "
                        f"per data set), got {type(p0).__name__}.")
    every = {n for m in models for n in m.names}
    unknown = [n for n in p0 if n not in every]
    if unknown:
        raise ValueError(f"p0 names {unknown} that no model has (the parameters are "
                         f"{sorted(every)}).")
    theta = np.full(lay.n, np.nan)
    for name, value in p0.items():
        vals = _values_for(name, value, keys, name in lay.shared)
        if name in lay.shared:
            theta[lay.shared.index(name)] = vals[0]
            continue
        for k, i in enumerate(index):
            if name in models[i].names:
                theta[lay.pidx[k][models[i].names.index(name)]] = vals[k]
    if np.any(np.isnan(theta)):
        j = int(np.flatnonzero(np.isnan(theta))[0])
        raise ValueError(f"p0 gives no start value for {_theta_name(lay, keys, j)}; every "
                         "parameter needs one (one number for all data sets, or one each).")
    return theta


def _theta_name(lay: Layout, keys: list, j: int) -> str:
    if j < len(lay.shared):
        return repr(lay.shared[j])
    k = int(np.searchsorted(lay.local_start, j, side="right") - 1)
    return f"{lay.local_names[k][j - lay.local_start[k]]!r} of data set {keys[k]!r}"


def box(bounds: Any, lay: Layout, models, index, keys) -> tuple[np.ndarray, np.ndarray]:
    """``bounds``: ``None`` or a mapping name -> ``(low, high)`` for every data set's
    parameter of that name."""
    lb, ub = np.full(lay.n, -np.inf), np.full(lay.n, np.inf)
    if bounds is None:
        return lb, ub
    if not isinstance(bounds, Mapping):
        raise TypeError(f"bounds must be None or a mapping name -> (low, high), got "
                        f"{type(bounds).__name__}.")
    for name, pair in bounds.items():
        if not any(name in m.names for m in models):
            raise ValueError(f"bounds names {name!r}, which no model has.")
        try:
            lo, hi = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise ValueError(f"bounds[{name!r}] must be (low, high), got {_show(pair)}."
                             ) from None
        if np.isnan(lo) or np.isnan(hi) or not lo < hi:
            raise ValueError(f"bounds[{name!r}] = {_show(pair)}: need low < high (no NaN).")
        for k, i in enumerate(index):
            if name in models[i].names:
                j = lay.pidx[k][models[i].names.index(name)]
                lb[j], ub[j] = lo, hi
    return lb, ub


def build_groups(sets: list[DataSet], models: list[GroupModel], index: list[int],
                 lay: Layout) -> list[Group]:
    """Data sets of one model, one length and one number of independent variables, in
    groups (:func:`trustfit.kinds.global_problem.split_groups`)."""
    ns = len(lay.shared)
    keyed: dict[tuple, list[int]] = {}
    for k, d in enumerate(sets):
        keyed.setdefault((index[k], d.y.size, len(d.x)), []).append(k)
    groups: list[Group] = []
    for (i, _, _), members in keyed.items():
        names = models[i].names
        shared_pos = np.array([j for j, p in enumerate(names) if p in lay.shared], dtype=int)
        shared_at = np.array([lay.shared.index(names[j]) for j in shared_pos], dtype=int)
        local = np.array([j for j, p in enumerate(names) if p not in lay.shared], dtype=int)
        groups += split_groups(
            i, members, [sets[k].x for k in members], [sets[k].y for k in members],
            [sets[k].sigma for k in members], np.stack([lay.pidx[k] for k in members]), local, shared_pos,
            shared_at, local.size + ns + 1)
    return groups


