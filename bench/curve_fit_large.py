"""``curve_fit`` on m = 1e6 points and 5 parameters: time and peak memory, trustfit beside
SciPy's ``curve_fit(method='trf')`` in the same run (issue 12, "Thin SVD everywhere").

Targets: trustfit's peak memory at most 3x the Jacobian's size (m n 8 bytes = 40 MB here) and
its time at most 3x SciPy's (issue 12); time and peak memory at most 1.2x SciPy trf's (issue
16). Printed as ratios to SciPy trf measured in the same run, and to the Jacobian's size.

Each fit runs in a fresh subprocess, so that one library's allocations cannot hide the
other's. Memory is measured two ways, both as the growth during the fit alone (the data,
the imports and a small warm-up fit are in the baseline):

* ``rss``: peak resident set size (``VmHWM``, reset through ``/proc/self/clear_refs`` just
  before the fit) minus the resident size then. It counts everything, LAPACK's workspace
  included. Pages that the allocator keeps after a free are counted once.
* ``tracemalloc``: the peak of Python's traced allocations (numpy's arrays are traced; the
  buffers numpy's linalg allocates internally with ``malloc`` are not), in a second run.

Time is the best of ``--repeat`` fits (default 3), each in its own subprocess, the two
libraries alternating; peak RSS the largest of them. Both fits use
finite differences (no Jacobian given), the defaults of each library, and the same start.

Run: ``python bench/curve_fit_large.py [--m 1000000] [--repeat 3]``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

TRUE = np.array([3.0, 0.5, 1.0, 2.0, 0.5])
P0 = np.array([2.5, 0.4, 1.2, 2.02, 0.3])


def model(x, a, b, c, d, e):
    return a * np.exp(-b * x) + c * np.sin(d * x) + e


def data(m: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(0.0, 10.0, m)
    noise = np.random.default_rng(1).normal(0.0, 0.05, m)
    return x, model(x, *TRUE) + noise


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # Linux >= 4.0: reset VmHWM to the current RSS


def _fitter(lib: str):
    if lib == "trustfit":
        import trustfit

        return trustfit.curve_fit, {}
    import scipy.optimize

    return scipy.optimize.curve_fit, {"method": "trf"}


def one(lib: str, m: int, repeat: int, traced: bool) -> dict:
    """One library's measurements (runs in the subprocess)."""
    fit, options = _fitter(lib)
    x, y = data(m)
    xs, ys = data(1000)
    fit(model, xs, ys, p0=P0, **options)  # warm-up: imports, first-call costs
    if traced:
        import tracemalloc

        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        popt, pcov = fit(model, x, y, p0=P0, **options)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        return {"traced_peak": peak}
    times, rss = [], []
    for _ in range(repeat):
        _reset_peak()
        before = _status("VmRSS")
        t0 = time.perf_counter()
        popt, pcov = fit(model, x, y, p0=P0, **options)
        times.append(time.perf_counter() - t0)
        rss.append(_status("VmHWM") - before)
        del pcov
    r = y - model(x, *popt)
    return {"time": min(times), "rss_peak": max(rss), "cost": 0.5 * float(r @ r),
            "popt": popt.tolist()}


def _run(lib: str, m: int, repeat: int, traced: bool) -> dict:
    cmd = [sys.executable, __file__, "--one", lib, "--m", str(m), "--repeat", str(repeat)]
    if traced:
        cmd.append("--traced")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", choices=("trustfit", "scipy"))
    parser.add_argument("--traced", action="store_true")
    a = parser.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.m, a.repeat, a.traced)))
        return
    n = TRUE.size
    jac_bytes = a.m * n * 8
    print(f"curve_fit, m = {a.m}, n = {n}, finite differences; Jacobian = "
          f"{jac_bytes / 1e6:.0f} MB")
    # Alternating subprocesses, best time of each: on a shared machine the load changes
    # between runs, and alternating exposes both libraries to the same spells of it.
    res: dict[str, dict] = {}
    for _ in range(a.repeat):
        for lib in ("trustfit", "scipy"):
            r = _run(lib, a.m, 1, traced=False)
            if lib not in res:
                res[lib] = r
            else:
                res[lib]["time"] = min(res[lib]["time"], r["time"])
                res[lib]["rss_peak"] = max(res[lib]["rss_peak"], r["rss_peak"])
    for lib in res:
        res[lib].update(_run(lib, a.m, 1, traced=True))
    names = {"trustfit": "trustfit", "scipy": "scipy trf"}
    for lib, r in res.items():
        print(f"{names[lib]:9s} time {r['time']:7.3f} s  peak RSS growth {r['rss_peak'] / 1e6:7.1f} MB "
              f"({r['rss_peak'] / jac_bytes:4.2f} x J)  tracemalloc peak "
              f"{r['traced_peak'] / 1e6:7.1f} MB ({r['traced_peak'] / jac_bytes:4.2f} x J)  "
              f"cost {r['cost']:.10g}")
    t, s = res["trustfit"], res["scipy"]
    gap = np.max(np.abs(np.subtract(t["popt"], s["popt"])) / np.abs(s["popt"]))
    print(f"ratio trustfit / scipy trf: time {t['time'] / s['time']:.2f} (issue 16: <= 1.2, "
          f"issue 12: <= 3), peak RSS {t['rss_peak'] / s['rss_peak']:.2f} (issue 16: <= 1.2), "
          f"tracemalloc peak {t['traced_peak'] / s['traced_peak']:.2f}")
    print(f"trustfit peak memory / Jacobian size: RSS {t['rss_peak'] / jac_bytes:.2f}, "
          f"tracemalloc {t['traced_peak'] / jac_bytes:.2f} (issue 12: <= 3); scipy trf: RSS "
          f"{s['rss_peak'] / jac_bytes:.2f}, tracemalloc {s['traced_peak'] / jac_bytes:.2f}")
    print(f"popt: largest relative difference from scipy trf {gap:.1e}")

if __name__ == "__main__":
    main()
