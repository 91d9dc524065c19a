"""Global fits (issue 19): trustfit.fit_global beside SciPy's least_squares on the
hand-concatenated problem, in the same run, at the issue's sizes.

1. small: 5 data sets of different lengths and grids, 2 shared lifetimes + 2 local
   amplitudes. Peer: least_squares (trf, exact dense Jacobian, tolerances 1e-15, started at
   the true parameters) and its ``inv(J^T J) chi2/(m - n)``. Target: parameters to 1e-8
   relative, standard errors to 1e-6.
2. medium: ``--sets`` (1000) data sets x ``--points`` (100), 2 shared + 3 local
   (``a1 exp(-t/tau1) + a2 exp(-t/tau2) + c``). Target: <= 2 s and <= 300 MB. Peers, same
   data and start: least_squares with ``jac_sparsity`` (trf + LSMR, SciPy's sparse path) on
   all the data sets, and the dense concatenated fit (exact Jacobian) on ``--dense-sets``
   (default 100: at 1000 its Jacobian alone is 2.4 GB). Both at SciPy's default tolerances
   (1e-8) and trustfit at its own (1e-15, then the certificate).
3. image: a ``--image`` x ``--image`` (256) lifetime image, 256 bins, bi-exponential decay,
   2 shared lifetimes, 2 amplitudes and a background per pixel, Gaussian noise with
   ``sigma = sqrt(counts)``. Target: <= 60 s on 2 cores, lifetimes within their standard
   errors of the truth, and on an 8 x 8 (64-pixel) sub-image equal to the dense
   concatenated least_squares fit. Peer on the whole image: ``jac_sparsity`` on a
   ``--peer-image`` (16) square sub-image only (its time per pixel printed; the whole image
   would take hours).

A SciPy peer is stopped by its callback after ``--peer-timeout`` seconds (300; its time is
then a lower bound, and the line says so). Memory is ``tracemalloc``'s peak of each call (numpy's buffers are traced). Times are wall
clock: the best of 3 runs for the small problem (the first pays first-use costs), one run
otherwise, after a warm-up call that compiles the model (a loaded 2-core machine: expect
+-20 %).

Run: ``python bench/global_fit.py [--only small,medium,image] [--image 256] [--sets 1000]``.
"""
from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import scipy.sparse
from scipy.optimize import least_squares

import trustfit

EXPR = "a1*exp(-t/tau1) + a2*exp(-t/tau2) + c"


def measured(fn, repeat=1):
    """``(result, seconds, peak MB)``: the best time of ``repeat`` runs (the first pays for
    first-use costs on both sides), the peak memory of the last."""
    best = float("inf")
    for _ in range(repeat):
        tracemalloc.start()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return out, best, peak


#: The longest a SciPy peer may run (seconds; ``--peer-timeout``): its callback stops it
#: there (status -2), and its time is then a lower bound.
PEER_TIMEOUT = [300.0]


def capped(**kwargs):
    """``least_squares(**kwargs)`` stopped by its callback after ``PEER_TIMEOUT``."""
    start = time.perf_counter()

    def callback(intermediate_result):
        if time.perf_counter() - start > PEER_TIMEOUT[0]:
            raise StopIteration

    return least_squares(callback=callback, **kwargs)


def peer_state(ref) -> str:
    return ("stopped at the time cap: a lower bound" if ref.status == -2
            else f"status {ref.status}, nfev {ref.nfev}")


def decays(K, m, seed, t=None, counts=(200.0, 1000.0)):
    """K bi-exponential decays with a background; Gaussian noise, sigma = sqrt(counts)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 12.5, m, endpoint=False) if t is None else t
    tau = (0.5, 2.5)
    A1 = rng.uniform(*counts, K)
    A2 = rng.uniform(counts[0] / 2, counts[1] / 2, K)
    C = rng.uniform(1, 10, K)
    Y = A1[:, None] * np.exp(-t / tau[0]) + A2[:, None] * np.exp(-t / tau[1]) + C[:, None]
    S = np.sqrt(np.maximum(Y, 1.0))
    return t, Y + S * rng.standard_normal(Y.shape), S, tau, np.column_stack([A1, A2, C])


def concatenated(t, Y, S):
    """theta = [tau1, tau2, (a1, a2, c) per data set]: residuals, exact dense Jacobian, the
    sparsity pattern."""
    K, m = Y.shape

    def split(th):
        return th[0], th[1], th[2:].reshape(K, 3)

    def fun(th):
        t1, t2, L = split(th)
        F = L[:, :1] * np.exp(-t / t1) + L[:, 1:2] * np.exp(-t / t2) + L[:, 2:]
        return ((F - Y) / S).ravel()

    def jac_blocks(th):
        t1, t2, L = split(th)
        e1, e2 = np.exp(-t / t1), np.exp(-t / t2)
        d1 = L[:, :1] * e1 * t / t1**2 / S
        d2 = L[:, 1:2] * e2 * t / t2**2 / S
        return d1, d2, e1 / S, e2 / S, 1.0 / S

    def jac(th):
        d1, d2, b1, b2, b3 = jac_blocks(th)
        J = np.zeros((K * m, 2 + 3 * K))
        J[:, 0], J[:, 1] = d1.ravel(), d2.ravel()
        rows = np.arange(K * m)
        sets = rows // m
        J[rows, 2 + 3 * sets] = b1.ravel()
        J[rows, 3 + 3 * sets] = b2.ravel()
        J[rows, 4 + 3 * sets] = b3.ravel()
        return J

    rows = np.arange(K * m)
    sets = rows // m
    pattern = scipy.sparse.lil_matrix((K * m, 2 + 3 * K), dtype=int)
    pattern[:, 0] = 1
    pattern[:, 1] = 1
    for j in range(3):
        pattern[rows, 2 + j + 3 * sets] = 1
    return fun, jac, pattern.tocsr()


def p0_of(L):
    return {"tau1": 0.3, "tau2": 2.0, "a1": L[:, 0] * 0.8, "a2": L[:, 1] * 1.2,
            "c": np.full(len(L), 5.0)}


def theta0(L):
    return np.concatenate([[0.3, 2.0], (L * [0.8, 1.2, 0.0] + [0, 0, 5.0]).ravel()])


def covariance(J, cost, n):
    J = J.toarray() if scipy.sparse.issparse(J) else J
    return np.linalg.inv(J.T @ J) * 2 * cost / (J.shape[0] - n)


def small():
    rng = np.random.default_rng(1)
    data, truth = [], []
    for k in range(5):
        t = np.sort(rng.uniform(0, 10, 30 + 7 * k))
        a1, a2 = 500 + 100 * k, 200 + 40 * k
        y = a1 * np.exp(-t / 0.5) + a2 * np.exp(-t / 2.5)
        s = np.sqrt(np.maximum(y, 1.0))
        data.append((t, y + s * rng.standard_normal(t.size), s))
        truth.append((a1, a2))
    model = "a1*exp(-t/tau1) + a2*exp(-t/tau2)"
    p0 = {"tau1": 0.3, "tau2": 2.0, "a1": [a for a, _ in truth], "a2": 300.0}

    def fun(th):
        return np.concatenate([(th[2 + 2 * k] * np.exp(-t / th[0]) + th[3 + 2 * k]
                                * np.exp(-t / th[1]) - y) / s
                               for k, (t, y, s) in enumerate(data)])

    def jac(th):
        blocks = []
        for k, (t, _, s) in enumerate(data):
            a1, a2 = th[2 + 2 * k], th[3 + 2 * k]
            e1, e2 = np.exp(-t / th[0]), np.exp(-t / th[1])
            B = np.zeros((t.size, th.size))
            B[:, 0], B[:, 1] = a1 * e1 * t / th[0]**2, a2 * e2 * t / th[1]**2
            B[:, 2 + 2 * k], B[:, 3 + 2 * k] = e1, e2
            blocks.append(B / s[:, None])
        return np.vstack(blocks)

    ours, t_ours, m_ours = measured(lambda: trustfit.fit_global(
        model, data, shared=["tau1", "tau2"], p0=p0), repeat=3)
    start = np.concatenate([[0.5, 2.5], np.ravel(truth)])
    ref = least_squares(fun, start, jac=jac, xtol=1e-15, ftol=1e-15, gtol=1e-15)
    same = np.concatenate([[0.3, 2.0], np.column_stack([[a for a, _ in truth],
                                                         np.full(5, 300.0)]).ravel()])
    peer, t_ref, m_ref = measured(lambda: least_squares(fun, same, jac=jac, xtol=1e-15,
                                                        ftol=1e-15, gtol=1e-15), repeat=3)
    se = np.sqrt(np.diag(covariance(ref.jac, ref.cost, ref.x.size)))
    dx = float(np.max(np.abs(ours.x - ref.x) / np.abs(ref.x)))
    dse = float(np.max(np.abs(ours.stderr - se) / se))
    print("small: 5 data sets (30..58 points, different grids), 2 shared + 2 local")
    print(f"  trustfit.fit_global  {t_ours:7.3f} s {m_ours:7.1f} MB  {ours.stop_reason.name}, "
          f"success {ours.success}, {ours.nit} iterations")
    print(f"  scipy least_squares  {t_ref:7.3f} s {m_ref:7.1f} MB  (concatenated, exact "
          f"jac, 1e-15, the same start: nfev {peer.nfev})  ratios: time {t_ours / t_ref:.2f}, "
          f"memory {m_ours / m_ref:.2f}")
    print(f"  against least_squares from the true parameters, max relative difference: "
          f"parameters {dx:.1e} (target 1e-8), standard errors "
          f"{dse:.1e} (target 1e-6)  -> {'met' if dx <= 1e-8 and dse <= 1e-6 else 'MISSED'}")


def medium(K, m, dense_sets):
    t, Y, S, tau, L = decays(K, m, seed=2, t=np.linspace(0, 10, m))
    data = [(t, Y[k], S[k]) for k in range(K)]
    trustfit.fit_global(EXPR, data[:2], shared=["tau1", "tau2"], p0=p0_of(L[:2]))  # compile
    ours, t_ours, m_ours = measured(lambda: trustfit.fit_global(
        EXPR, data, shared=["tau1", "tau2"], p0=p0_of(L)))
    print(f"medium: {K} data sets x {m} points, 2 shared + 3 local ({2 + 3 * K} parameters)")
    print(f"  trustfit.fit_global        {t_ours:7.2f} s {m_ours:8.1f} MB  "
          f"{ours.stop_reason.name}, success {ours.success}, {ours.nit} iterations "
          f"(target <= 2 s, <= 300 MB)")
    fun, jac, pattern = concatenated(t, Y, S)
    ref, t_ref, m_ref = measured(lambda: capped(fun=fun, x0=theta0(L), jac_sparsity=pattern))
    print(f"  scipy trf + jac_sparsity   {t_ref:7.2f} s {m_ref:8.1f} MB  {peer_state(ref)}"
          f"   ratios: time {t_ours / t_ref:.2f}, memory "
          f"{m_ours / m_ref:.2f}; tau {ref.x[:2]} vs trustfit {ours.shared_values}")
    Kd = min(dense_sets, K)
    fun_d, jac_d, _ = concatenated(t, Y[:Kd], S[:Kd])
    sub, t_sub, m_sub = measured(lambda: trustfit.fit_global(
        EXPR, data[:Kd], shared=["tau1", "tau2"], p0=p0_of(L[:Kd])))
    dense, t_d, m_d = measured(lambda: capped(fun=fun_d, x0=theta0(L[:Kd]), jac=jac_d))
    print(f"  on the first {Kd} data sets: trustfit {t_sub:.2f} s {m_sub:.1f} MB; scipy dense "
          f"concatenated (trf, exact jac) {t_d:.2f} s {m_d:.1f} MB   ratios: time "
          f"{t_sub / t_d:.3f}, memory {m_sub / m_d:.3f}; max relative difference of the "
          f"parameters {np.max(np.abs(sub.x - dense.x) / np.abs(dense.x)):.1e} (SciPy at "
          f"its 1e-8 tolerances)")


def image(n, peer_n):
    K, m = n * n, 256
    t, Y, S, tau, L = decays(K, m, seed=3)
    data = [(t, Y[k], S[k]) for k in range(K)]
    trustfit.fit_global(EXPR, data[:2], shared=["tau1", "tau2"], p0=p0_of(L[:2]))  # compile
    ours, t_ours, m_ours = measured(lambda: trustfit.fit_global(
        EXPR, data, shared=["tau1", "tau2"], p0=p0_of(L)))
    z = (ours.shared_values - tau) / ours.shared_stderr
    print(f"image: {n} x {n} pixels x {m} bins, 2 shared lifetimes + 2 amplitudes and a "
          f"background per pixel ({2 + 3 * K} parameters, {K * m} residuals)")
    print(f"  trustfit.fit_global        {t_ours:7.1f} s {m_ours:8.1f} MB  "
          f"{ours.stop_reason.name}, success {ours.success}, {ours.nit} iterations "
          f"(target <= 60 s)")
    print(f"  lifetimes {ours.shared_values} +- {ours.shared_stderr}: (fit - truth) / stderr "
          f"= {np.round(z, 2)} (target |z| <= 1)")
    sub = [(t, Y[k], S[k]) for k in range(64)]  # an 8 x 8 block of the image's first rows
    ours64 = trustfit.fit_global(EXPR, sub, shared=["tau1", "tau2"], p0=p0_of(L[:64]))
    fun, jac, _ = concatenated(t, Y[:64], S[:64])
    dense = least_squares(fun, np.concatenate([tau, L[:64].ravel()]), jac=jac, xtol=1e-15,
                          ftol=1e-15, gtol=1e-15)
    se = np.sqrt(np.diag(covariance(dense.jac, dense.cost, dense.x.size)))
    print(f"  64-pixel sub-image vs the dense concatenated least_squares (exact jac, 1e-15, "
          f"from the truth): parameters {np.max(np.abs(ours64.x - dense.x) / np.abs(dense.x)):.1e}"
          f", standard errors {np.max(np.abs(ours64.stderr - se) / se):.1e} (relative)")
    Kp = peer_n * peer_n
    fun_p, _, pattern = concatenated(t, Y[:Kp], S[:Kp])
    part, t_part, m_part = measured(lambda: trustfit.fit_global(
        EXPR, data[:Kp], shared=["tau1", "tau2"], p0=p0_of(L[:Kp])))
    ref, t_ref, m_ref = measured(lambda: capped(fun=fun_p, x0=theta0(L[:Kp]),
                                                jac_sparsity=pattern))
    print(f"  {peer_n} x {peer_n} sub-image: trustfit {t_part:.2f} s {m_part:.1f} MB; scipy trf "
          f"+ jac_sparsity {t_ref:.2f} s {m_ref:.1f} MB ({peer_state(ref)})   ratios: time "
          f"{t_part / t_ref:.3f}, memory {m_part / m_ref:.3f}; per pixel: trustfit "
          f"{1e3 * t_ours / K:.2f} ms on the whole image, scipy {1e3 * t_ref / Kp:.2f} ms on "
          f"the sub-image")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="small,medium,image")
    parser.add_argument("--sets", type=int, default=1000)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--dense-sets", type=int, default=100)
    parser.add_argument("--image", type=int, default=256)
    parser.add_argument("--peer-image", type=int, default=16)
    parser.add_argument("--peer-timeout", type=float, default=300.0)
    opts = parser.parse_args()
    PEER_TIMEOUT[0] = opts.peer_timeout
    parts = opts.only.split(",")
    if "small" in parts:
        small()
    if "medium" in parts:
        medium(opts.sets, opts.points, opts.dense_sets)
    if "image" in parts:
        image(opts.image, opts.peer_image)


if __name__ == "__main__":
    main()
