"""Sparse and large problems: trustfit against SciPy ``least_squares(method='trf',
tr_solver='lsmr')`` in the same run (issue 15's targets: time and memory at most 2x SciPy's,
the same minimum).

Problems (Moré, Garbow & Hillstrom 1981, "Testing unconstrained optimization software"):

* Broyden tridiagonal, ``f_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1``, ``x0 = -1``;
* extended Rosenbrock, ``f_{2i} = 10 (x_{2i+1} - x_{2i}^2)``, ``f_{2i+1} = 1 - x_{2i}``,
  ``x0 = (-1.2, 1, ...)``;

each with ``n = 1,000`` and ``10,000``, once with ``jac_sparsity`` (finite differences) and once
with a sparse ``jac``; and a synthetic bundle adjustment (200 cameras with a translation and a
focal length, 20,000 points, 80,000 observations of two residuals each, and a prior residual on
every parameter (the first camera's strong: it fixes the gauge): 60,800 parameters, 220,800
residuals, a block-sparse Jacobian with 7 nonzeros in an observation's row), with a sparse
``jac``.

Time: the best of ``--repeat`` runs (``time.perf_counter``). Memory: the peak of ``tracemalloc``
during one more run of each (numpy reports its buffers to tracemalloc), the same method for
both. Both solvers run with their defaults otherwise (trustfit's tolerances are 1e-15 and it
certifies the result; SciPy's are 1e-8). ``cost agree``: the final costs agree to 1e-8 of the
starting cost; otherwise which one is lower, and by how much.

    PYTHONPATH=src python bench/sparse.py [--repeat 3] [--quick]
"""
from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp
from scipy.optimize import least_squares as scipy_least_squares

import trustfit
from trustfit.reference.problems import broyden_tridiagonal as broyden


# --- problems ----------------------------------------------------------------------------------
def rosenbrock(n: int):
    def fun(x):
        f = np.empty(n)
        f[0::2] = 10.0 * (x[1::2] - x[0::2] ** 2)
        f[1::2] = 1.0 - x[0::2]
        return f

    r = np.concatenate([np.arange(0, n, 2), np.arange(0, n, 2), np.arange(1, n, 2)])
    c = np.concatenate([np.arange(0, n, 2), np.arange(1, n, 2), np.arange(0, n, 2)])

    def jac(x):
        v = np.concatenate([-20.0 * x[0::2], np.full(n // 2, 10.0), np.full(n // 2, -1.0)])
        return sp.csr_matrix((v, (r, c)), shape=(n, n))

    pattern = sp.csr_matrix((np.ones(r.size), (r, c)), shape=(n, n))
    x0 = np.tile([-1.2, 1.0], n // 2)
    return fun, jac, pattern, x0


def bundle(cameras: int = 200, points: int = 20000, observations: int = 80000, seed: int = 0):
    """Pinhole cameras without rotation: ``u = s (X + tx) / (Z + tz)``,
    ``v = s (Y + ty) / (Z + tz)``; each point seen by 4 distinct cameras."""
    rng = np.random.default_rng(seed)
    per_point = observations // points
    cam_true = np.column_stack([rng.uniform(-1, 1, (cameras, 2)), rng.uniform(-0.5, 0.5, cameras),
                                rng.uniform(0.8, 1.2, cameras)])
    pts_true = np.column_stack([rng.uniform(-2, 2, (points, 2)), rng.uniform(8, 12, points)])
    cam_of = np.concatenate([rng.choice(cameras, per_point, replace=False)
                             for _ in range(points)])
    pt_of = np.repeat(np.arange(points), per_point)
    nc = 4 * cameras

    def project(cam, pts):
        c, p = cam[cam_of], pts[pt_of]
        depth = p[:, 2] + c[:, 2]
        return c[:, 3:4] * (p[:, :2] + c[:, :2]) / depth[:, None]

    observed = project(cam_true, pts_true) + 1e-3 * rng.standard_normal((cam_of.size, 2))
    m_obs, n = 2 * cam_of.size, nc + 3 * points
    x_true = np.concatenate([cam_true.ravel(), pts_true.ravel()])
    # priors (a GPS-like position for every camera and a rough survey of every point, weight
    # `soft`; the first camera known well, weight `weight`): they fix the gauge and keep the
    # problem as well conditioned as a real BA with priors
    prior = x_true + 0.01 * rng.standard_normal(n) * np.abs(x_true)
    soft, weight = 0.1, 100.0
    prior_weight = np.full(n, soft)
    prior_weight[:4] = weight

    def split(x):
        return x[:nc].reshape(cameras, 4), x[nc:].reshape(points, 3)

    def fun(x):
        cam, pts = split(x)
        res = (project(cam, pts) - observed).ravel()
        return np.concatenate([res, prior_weight * (x - prior)])

    k = cam_of.size
    obs_rows = np.arange(2 * k).reshape(k, 2)
    # per observation: u row depends on tx, tz, s, X, Z; v row on ty, tz, s, Y, Z (7 entries a
    # row with the zero ones kept in the pattern, as a generic BA code would)
    cam_cols = 4 * cam_of[:, None] + np.arange(4)[None, :]
    pt_cols = nc + 3 * pt_of[:, None] + np.arange(3)[None, :]
    cols_row = np.hstack([cam_cols, pt_cols])                      # (k, 7)
    rows = np.concatenate([np.repeat(obs_rows[:, 0], 7), np.repeat(obs_rows[:, 1], 7),
                           m_obs + np.arange(n)])
    cols = np.concatenate([cols_row.ravel(), cols_row.ravel(), np.arange(n)])
    m = m_obs + n

    def jac(x):
        cam, pts = split(x)
        c, p = cam[cam_of], pts[pt_of]
        depth = p[:, 2] + c[:, 2]
        s = c[:, 3]
        a = (p[:, :2] + c[:, :2])                                  # (k, 2)
        du = np.zeros((k, 7))
        dv = np.zeros((k, 7))
        for d, row, axis in ((du, 0, 0), (dv, 1, 1)):
            d[:, axis] = s / depth                                 # d/dt_axis
            d[:, 2] = -s * a[:, axis] / depth**2                   # d/dtz
            d[:, 3] = a[:, axis] / depth                           # d/ds
            d[:, 4 + axis] = s / depth                             # d/dX or d/dY
            d[:, 6] = -s * a[:, axis] / depth**2                   # d/dZ
        vals = np.concatenate([du.ravel(), dv.ravel(), prior_weight])
        return sp.csr_matrix((vals, (rows, cols)), shape=(m, n))

    x0 = x_true + 0.02 * rng.standard_normal(n) * np.abs(x_true)
    x0[:4] = prior[:4]
    return fun, jac, x0


# --- measurement -------------------------------------------------------------------------------
def timed(call, repeat: int):
    best, result = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - t)
    tracemalloc.start()
    tracemalloc.reset_peak()
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, best, peak


def compare(label: str, fun, x0, kwargs: dict, repeat: int, ours_extra=None) -> None:
    cost0 = 0.5 * float(fun(x0) @ fun(x0))
    ours_kwargs = {**kwargs, **(ours_extra or {})}
    ours, t_ours, m_ours = timed(lambda: trustfit.least_squares(fun, x0, **ours_kwargs), repeat)
    peer, t_peer, m_peer = timed(lambda: scipy_least_squares(fun, x0, method="trf",
                                                             tr_solver="lsmr", **kwargs), repeat)
    agree = abs(ours.cost - peer.cost) <= 1e-8 * cost0
    verdict = ("yes" if agree else f"NO, trustfit {'lower' if ours.cost < peer.cost else 'HIGHER'}"
               f" by {abs(ours.cost - peer.cost) / peer.cost:.2g} relative")
    print(f"{label:<34} trustfit {t_ours:8.3f} s {m_ours / 2**20:8.1f} MB  cost {ours.cost:9.3e} "
          f"nfev {ours.nfev + ours.nfev_fd:5d} {'certified' if ours.success else ours.stop_reason.name}"
          f" | scipy {t_peer:8.3f} s {m_peer / 2**20:8.1f} MB  cost {peer.cost:9.3e} "
          f"nfev {peer.nfev:5d} | time x{t_ours / t_peer:5.2f} mem x{m_ours / m_peer:5.2f} "
          f"cost agree {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="n = 1,000 only, no bundle")
    parser.add_argument("--scipy-tolerances", action="store_true",
                        help="also run trustfit with SciPy's ftol = xtol = gtol = 1e-8")
    args = parser.parse_args()
    sizes = (1000,) if args.quick else (1000, 10000)
    for name, make in (("Broyden tridiagonal", broyden), ("extended Rosenbrock", rosenbrock)):
        for n in sizes:
            fun, jac, pattern, x0 = make(n)
            compare(f"{name} n={n} jac_sparsity", fun, x0, {"jac_sparsity": pattern},
                    args.repeat)
            compare(f"{name} n={n} sparse jac", fun, x0, {"jac": jac}, args.repeat)
            if args.scipy_tolerances:
                compare(f"{name} n={n} sparse jac, tol 1e-8", fun, x0, {"jac": jac},
                        args.repeat, dict(ftol=1e-8, xtol=1e-8, gtol=1e-8))
    if not args.quick:
        fun, jac, x0 = bundle()
        print(f"bundle adjustment: {x0.size} parameters, {fun(x0).size} residuals, "
              f"{jac(x0).nnz} Jacobian nonzeros")
        compare("bundle adjustment sparse jac", fun, x0, {"jac": jac}, 1)


if __name__ == "__main__":
    main()
