"""Global fits: many data sets, some parameters shared. The stacked problem and its evaluation.

The problem (a "global analysis" in spectroscopy and kinetics, Beechem 1992) is

``min over s, l_1, ..., l_K of  1/2 sum_k ||(f_k(x_k; s, l_k) - y_k) / sigma_k||^2``,

``s`` the parameters shared by every data set, ``l_k`` those of data set ``k`` alone. The
parameter vector is ``theta = [s, l_1, ..., l_K]``. The stacked Jacobian is block sparse,

``J = [[A_1, B_1, 0, ...], [A_2, 0, B_2, ...], ...]``,  ``A_k = dr_k/ds``, ``B_k = dr_k/dl_k``,

and is never formed: data sets are evaluated in *groups* (one model, one number of points;
the groups split so that one group's Jacobian stays a few megabytes), each group's model
called once on a ``(G, m)`` stack where the model is vectorized (:class:`GroupModel`), and
each data set's ``[B_k, A_k, r_k]`` reduced at once to the ``(q, q)`` triangle of its
Householder QR (``q = n_local + n_shared + 1``) by :mod:`.global_linalg`. Memory is
O(K q^2) plus one group's Jacobian, whatever K is.

Derivatives: the model's own (an expression model's exact Jacobian) or central differences
with relative step ``eps^(1/3)`` (``'3-point'``, :mod:`trustfit.core.differentiation`), and
fourth-order ones (``'5-point'``, ``eps^(1/5)``) for the polish and the certificate, as in
:mod:`.odr_loop`; one parameter column of a whole group per difference.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.differentiation import DEFAULT_RELATIVE_STEP

#: The largest group, in numbers of one ``(G, m, q)`` Jacobian stack (8 MB): small enough for
#: the batched QR to stay in cache (measured here: a 65,536 x 256 x 6 stack in one call took
#: 7.4 s, in chunks of 8,192 1.5 s), large enough that the Python overhead per group is
#: negligible.
GROUP_NUMBERS = 1 << 20


class GroupModel:
    """A model evaluated on a stack of data sets: ``names`` (its parameters, in order),
    ``values(P, xs)`` with ``P`` of shape ``(G, n)`` and ``xs`` a tuple of ``(G or 1, m)``
    arrays (one per independent variable), returning ``(G, m)``; ``jacobian(P, xs)``
    returning ``(G, m, n)``, or ``None`` for finite differences (``has_jacobian``)."""

    names: tuple[str, ...]
    has_jacobian: bool = False

    def values(self, P: np.ndarray, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        raise NotImplementedError

    def jacobian(self, P: np.ndarray, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        raise NotImplementedError

    def jacobian_columns(self, P: np.ndarray, xs: tuple[np.ndarray, ...]) -> list:
        """The columns of :meth:`jacobian`, each broadcastable to ``(G, m)`` (a model that
        has them one by one need not stack them)."""
        J = self.jacobian(P, xs)
        return [J[:, :, j] for j in range(J.shape[2])]


class LoopedModel(GroupModel):
    """A model called one data set at a time: ``f(x, *p)`` (``x`` as the data set gave it:
    ``(m,)``, or ``(k, m)`` for ``k`` independent variables) and optionally
    ``jac(x, *p) -> (m, n)``."""

    def __init__(self, f: Callable, names: Sequence[str], jac: Callable | None = None):
        self.f, self.jac, self.names = f, jac, tuple(names)
        self.has_jacobian = jac is not None

    def _x(self, xs, i):
        rows = [x[i if x.shape[0] > 1 else 0] for x in xs]
        return rows[0] if len(rows) == 1 else np.stack(rows)

    def values(self, P, xs):
        m = xs[0].shape[1]
        out = np.empty((P.shape[0], m))
        for i, p in enumerate(P):
            v = np.asarray(self.f(np.array(self._x(xs, i)), *p), dtype=float)
            if v.size != m and v.size != 1:
                raise ValueError(f"the model returned shape {v.shape} for a data set of {m} "
                                 "points; it must return one value per point.")
            out[i] = v.ravel() if v.size == m else v.ravel()[0]
        return out

    def jacobian(self, P, xs):
        m, n = xs[0].shape[1], len(self.names)
        out = np.empty((P.shape[0], m, n))
        assert self.jac is not None
        for i, p in enumerate(P):
            J = np.asarray(self.jac(np.array(self._x(xs, i)), *p), dtype=float)
            if J.shape != (m, n):
                raise ValueError(f"the model's Jacobian has shape {J.shape}; it must be "
                                 f"(m, n) = ({m}, {n}).")
            out[i] = J
        return out


@dataclass
class Group:
    """Data sets fitted by one model with one number of points, evaluated together.

    ``members``: their data-set indices (G,); ``xs``: one ``(G or 1, m)`` array per
    independent variable (one row when every member has the same grid); ``y``, ``w``:
    ``(G, m)`` data and weights ``1/sigma``; ``pidx``: ``(G, n)`` the position in ``theta`` of
    each model parameter; ``local``: the model's local parameter positions (``n_l``);
    ``shared``: the model's shared parameter positions and ``shared_at``, their indices among
    the shared parameters."""

    model: int
    members: np.ndarray
    xs: tuple[np.ndarray, ...]
    y: np.ndarray
    w: np.ndarray
    pidx: np.ndarray
    local: np.ndarray
    shared: np.ndarray
    shared_at: np.ndarray

    @property
    def m(self) -> int:
        return self.y.shape[1]

    @property
    def n_local(self) -> int:
        return self.local.size

    def local_index(self) -> np.ndarray:
        """``(G, n_l)``: the positions in ``theta`` of each member's local parameters."""
        return self.pidx[:, self.local]


class GlobalProblem:
    """The stacked problem: groups of data sets, ``n_shared`` shared parameters first in
    ``theta``, and the evaluation counts (``nfev``: evaluations of every data set at one
    point; ``nfev_fd``: the same, spent on finite differences)."""

    def __init__(self, models: Sequence[GroupModel], groups: Sequence[Group], n_shared: int,
                 n_params: int, n_datasets: int):
        self.models, self.groups = list(models), list(groups)
        self.n_shared, self.n = n_shared, n_params
        self.K = n_datasets
        self.m_total = sum(g.y.size for g in groups)
        self.nfev = self.njev = self.nfev_fd = 0
        self.exact = all(model.has_jacobian for model in self.models)
        self.jac_method = "callable" if self.exact else "3-point"

    def values(self, g: Group, theta: np.ndarray) -> np.ndarray:
        """``(G, m)`` model values of group ``g`` at ``theta``."""
        P = theta[g.pidx]
        out = np.asarray(self.models[g.model].values(P, g.xs), dtype=float)
        if out.shape != g.y.shape:
            out = np.broadcast_to(out, g.y.shape)
        return out

    def residuals(self, theta: np.ndarray) -> list[np.ndarray]:
        """Weighted residuals ``(f - y) / sigma`` of every group, user units."""
        self.nfev += 1
        with np.errstate(all="ignore"):
            return [(self.values(g, theta) - g.y) * g.w for g in self.groups]

    def jacobian(self, g: Group, theta: np.ndarray, refined: bool) -> list:
        """``d f / d p`` of group ``g``'s model, one ``(G, m)``-broadcastable column per model
        parameter (model-parameter order)."""
        model = self.models[g.model]
        P = theta[g.pidx]
        with np.errstate(all="ignore"):
            if model.has_jacobian:
                return model.jacobian_columns(P, g.xs)
            return self._differences(model, g, P, refined)

    def _differences(self, model: GroupModel, g: Group, P: np.ndarray, refined: bool
                     ) -> list:
        scheme = "5-point" if refined else "3-point"
        rel = DEFAULT_RELATIVE_STEP[scheme]
        out = []
        for j in range(P.shape[1]):
            h = rel * np.where(P[:, j] != 0.0, np.abs(P[:, j]), 1.0)
            h = (P[:, j] + h) - P[:, j]  # representable

            def at(t: float) -> np.ndarray:
                Q = P.copy()
                Q[:, j] = P[:, j] + t * h
                return np.asarray(model.values(Q, g.xs), dtype=float)

            if refined:
                out.append((at(-2) - 8 * at(-1) + 8 * at(1) - at(2)) / (12 * h[:, None]))
            else:
                out.append((at(1) - at(-1)) / (2 * h[:, None]))
        return out

    def count_jacobian(self, refined: bool) -> None:
        """One Jacobian of every group: ``njev``, and what its differences cost in whole
        evaluations (the widest model's columns)."""
        self.njev += 1
        if not self.exact:
            widest = max(len(model.names) for model in self.models)
            self.nfev_fd += (4 if refined else 2) * widest


def split_groups(model: int, members: Sequence[int], xs: Sequence[tuple[np.ndarray, ...]],
                 ys: Sequence[np.ndarray], sigmas: Sequence[np.ndarray | None],
                 pidx: np.ndarray, local: np.ndarray, shared: np.ndarray,
                 shared_at: np.ndarray, q: int) -> list[Group]:
    """Groups of at most :data:`GROUP_NUMBERS` Jacobian numbers from data sets of one model
    and one length; one grid row where every member's grid is the same. The weights
    ``1/sigma`` are computed on the stacked group (``sigma`` None: 1), not per data set."""
    members = list(members)
    m = ys[0].size
    size = max(1, GROUP_NUMBERS // max(1, m * q))
    out = []
    for start in range(0, len(members), size):
        chunk = slice(start, start + size)
        rows = xs[chunk]
        same = all(all(np.array_equal(a, b) for a, b in zip(r, rows[0])) for r in rows[1:])
        stacked = tuple(np.asarray(rows[0][v])[None, :] if same
                        else np.stack([r[v] for r in rows]) for v in range(len(rows[0])))
        w = np.stack([s if s is not None else np.ones(m) for s in sigmas[chunk]])
        np.divide(1.0, w, out=w)
        out.append(Group(model, np.asarray(members[chunk]), stacked,
                         np.stack(ys[chunk]), w, pidx[chunk], local, shared, shared_at))
    return out
