"""Cold compile of a new model's batch kernel against a plain numba LM kernel (issue 21).

Every case runs in a fresh subprocess with an empty kernel cache (numba's and trustfit's),
model ``a*exp(-t/tau) + b*sin(w*t)``, 40 points per curve:

* trustfit: ``warm_kernel`` for the method ``fit_batch`` picks by default ('varpro' for
  this separable model) and for ``'lm'``: sympy -> source -> numba, the parallel entry
  point compiled for curves of 40 points.  ``'lm'`` twice: with an empty cache (its solver,
  shared by every model, is compiled too: once per installation), and a new model once the
  solver is cached (another model's 'lm' kernel warmed first, in another process: the
  cost of every later new model);
* peer: :func:`plain_lm`, a plain numba Levenberg-Marquardt kernel written here (prange
  over curves, hand-written Jacobian, normal equations solved by a Cholesky factorization
  in loops), JIT-compiled by its first call;
* throughput: 200,000 curves with the kernel cached (best of 3 ``fit_batch`` calls, rescue
  and polish as by default), in this tree and, with ``--baseline-src DIR``, in another
  source tree (e.g. ``git archive 81679f8 src | tar -x -C DIR``) in the same run.

Run: ``PYTHONPATH=src python bench/compile.py [--baseline-src DIR] [--repeat 2]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

EXPR = "a*exp(-t/tau) + b*sin(w*t)"
OTHER = "a*exp(-t/tau) + b*cos(w*t)"  # warms the shared 'lm' solver (another model)
TRUE = (1.0, 0.5, 1.3, 2.0)  # a, b, tau, w
M = 40


def plain_lm(t, Y, P0, maxiter, out):
    """LM (Nielsen's damping, mu I) on every row of Y, one row per prange iteration."""
    from numba import njit, prange

    @njit(fastmath=False, error_model="numpy")
    def accum(t, y, p, A, g):
        # residuals' F = 1/2 ||r||^2, A = J^T J and g = J^T r, Jacobian written by hand
        a, b, tau, w = p[0], p[1], p[2], p[3]
        n = 4
        A[:, :] = 0.0
        g[:] = 0.0
        F = 0.0
        J = np.empty(n)
        for j in range(t.shape[0]):
            e = math.exp(-t[j] / tau)
            s = math.sin(w * t[j])
            r = a * e + b * s - y[j]
            J[0] = e
            J[1] = s
            J[2] = a * e * t[j] / (tau * tau)
            J[3] = b * t[j] * math.cos(w * t[j])
            F += r * r
            for u in range(n):
                g[u] += J[u] * r
                for v in range(n):
                    A[u, v] += J[u] * J[v]
        return 0.5 * F

    @njit(fastmath=False, error_model="numpy")
    def cholesky_step(A, g, mu, L, h):
        # (A + mu I) h = -g by Cholesky; False when not positive definite
        n = g.shape[0]
        for u in range(n):
            for v in range(u + 1):
                s = A[u, v] + (mu if u == v else 0.0)
                for k in range(v):
                    s -= L[u, k] * L[v, k]
                if u == v:
                    if not s > 0.0:
                        return False
                    L[u, u] = math.sqrt(s)
                else:
                    L[u, v] = s / L[v, v]
        for u in range(n):
            s = -g[u]
            for k in range(u):
                s -= L[u, k] * h[k]
            h[u] = s / L[u, u]
        for u in range(n - 1, -1, -1):
            s = h[u]
            for k in range(u + 1, n):
                s -= L[k, u] * h[k]
            h[u] = s / L[u, u]
        return True

    @njit(parallel=True, fastmath=False, error_model="numpy")
    def kernel(t, Y, P0, maxiter, out):
        N = Y.shape[0]
        n = P0.shape[1]
        for i in prange(N):
            p = P0[i].copy()
            A, g, L = np.empty((n, n)), np.empty(n), np.empty((n, n))
            At, gt, h, pt = np.empty((n, n)), np.empty(n), np.empty(n), np.empty(n)
            F = accum(t, Y[i], p, A, g)
            mu = 1e-3 * max(A[0, 0], A[1, 1], A[2, 2], A[3, 3])
            nu = 2.0
            for _ in range(maxiter):
                if not cholesky_step(A, g, mu, L, h):
                    mu *= nu
                    nu *= 2.0
                    continue
                pred = 0.0
                for u in range(n):
                    pred += 0.5 * h[u] * (mu * h[u] - g[u])
                    pt[u] = p[u] + h[u]
                Ft = accum(t, Y[i], pt, At, gt)
                if math.isfinite(Ft) and pred > 0.0 and F - Ft > 0.0:
                    rho = (F - Ft) / pred
                    small = F - Ft <= 1e-8 * F
                    p[:] = pt
                    A[:, :] = At
                    g[:] = gt
                    F = Ft
                    if small:
                        break
                    mu *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                    nu = 2.0
                else:
                    mu *= nu
                    nu *= 2.0
            out[i] = p

    return kernel(t, Y, P0, maxiter, out)


def data(N, seed=7):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.05, 4.0, M)
    P = np.array(TRUE) * (1 + 0.1 * rng.standard_normal((N, 4)))
    Y = (P[:, :1] * np.exp(-t / P[:, 2:3]) + P[:, 1:2] * np.sin(P[:, 3:4] * t)
         + 0.01 * rng.standard_normal((N, M)))
    return t, Y, np.tile(np.array(TRUE) * 1.1, (N, 1))


def case(name):
    """One case, in this (fresh) process; prints a JSON line."""
    t0 = time.perf_counter()
    if name == "plain":
        import numba  # noqa: F401

        t, Y, P0 = data(1)
        t1, c1 = time.perf_counter(), time.process_time()
        plain_lm(t, Y, P0, 1, np.empty((1, 4)))
        res = {"import": t1 - t0, "compile": time.perf_counter() - t1,
               "cpu": time.process_time() - c1}
    elif name.startswith("trustfit"):
        import trustfit  # noqa: F401
        from trustfit.batch._kernel import warm_kernel
        from trustfit.batch._model import as_batch_model

        bm = as_batch_model(OTHER if name.endswith(":prime") else EXPR)
        method = name.split(":")[1]
        t1, c1 = time.perf_counter(), time.process_time()
        res = {"import": t1 - t0, "compile": warm_kernel(bm, True, method, M),
               "cpu": time.process_time() - c1}
    else:  # throughput with the kernel cached: "throughput:<method>"
        import trustfit

        method = name.split(":")[1]
        t, Y, P0 = data(200_000)
        kw = dict(method=method, backend="compiled")
        trustfit.fit_batch(EXPR, t, Y[:10], P0[0], **kw)  # load the kernel
        best = cpu = math.inf
        for _ in range(3):
            t1, c1 = time.perf_counter(), time.process_time()
            r = trustfit.fit_batch(EXPR, t, Y, P0[0], **kw)
            best = min(best, time.perf_counter() - t1)
            cpu = min(cpu, time.process_time() - c1)
        res = {"seconds": best, "fits_per_s": Y.shape[0] / best, "method": r.method,
               "fits_per_cpu_s": Y.shape[0] / cpu, "success": float(np.mean(r.success))}
    print(json.dumps(res))


def run(name, src, cache):
    env = dict(os.environ, PYTHONPATH=src, TRUSTFIT_CACHE_DIR=cache, NUMBA_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, __file__, "--case", name], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case")
    ap.add_argument("--baseline-src", help="another source tree for the throughput row")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-compile", action="store_true")
    ap.add_argument("--methods", default="varpro,lm", help="throughput rows' methods")
    ns = ap.parse_args(argv)
    if ns.case:
        case(ns.case)
        return 0
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    for rep in range(0 if ns.skip_compile else ns.repeat):
        rows = {}
        for name in ("plain", "trustfit:varpro", "trustfit:lm"):
            with tempfile.TemporaryDirectory() as cache:  # empty caches for every case
                rows[name] = run(name, src, cache)
        with tempfile.TemporaryDirectory() as cache:  # the shared solver cached, new model
            run("trustfit:lm:prime", src, cache)
            rows["trustfit:lm, solver cached"] = run("trustfit:lm", src, cache)
        peer, peer_cpu = rows["plain"]["compile"], rows["plain"]["cpu"]
        print(f"[{rep + 1}] cold compile, {EXPR}, m={M}, fresh process each "
              "(wall s / CPU s of this process; the machine is shared, CPU is the steadier):")
        print(f"  plain numba LM kernel (peer)   {peer:6.2f} / {peer_cpu:6.2f}")
        for name in ("trustfit:varpro", "trustfit:lm", "trustfit:lm, solver cached"):
            c, cpu = rows[name]["compile"], rows[name]["cpu"]
            label = name.split(":", 1)[1] + (" (empty cache)" if name == "trustfit:lm" else "")
            print(f"  trustfit {label:26s} {c:6.2f} / {cpu:6.2f}"
                  f"   ratio {c / peer:5.2f} / {cpu / peer_cpu:5.2f} (target <= 1)")
    if ns.skip_throughput:
        return 0
    trees = [("this tree", src)] + ([("baseline", ns.baseline_src)] if ns.baseline_src else [])
    for method in ns.methods.split(","):
        with tempfile.TemporaryDirectory() as cache:
            got = {}
            for label, tree in trees:
                got[label] = run(f"throughput:{method}", tree,
                                 cache + "/" + label.replace(" ", "_"))
            print(f"throughput, 200,000 curves, method {method}, kernel cached (best of 3 "
                  f"fit_batch calls; wall and CPU of the process, both threads):")
            for label, r in got.items():
                print(f"  {label:10s} {r['fits_per_s']:10.0f} fits/s, "
                      f"{r['fits_per_cpu_s']:10.0f} fits/CPU-s ({r['seconds']:.3f} s, "
                      f"success {r['success']:.4f})")
            if len(got) == 2:
                a, b = got["this tree"], got["baseline"]
                print(f"  ratio this/baseline {a['fits_per_s'] / b['fits_per_s']:.3f} wall, "
                      f"{a['fits_per_cpu_s'] / b['fits_per_cpu_s']:.3f} CPU (target >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
