"""Batch Levenberg-Marquardt under a change of units (issue 12): the exp2 curves of
``trustfit.apps.bench_batch`` (m = 64, default start) fitted by ``fit_batch`` with
``method='lm'`` and ``'varpro'`` (compiled backend, defaults otherwise, rescue on),

* unscaled; y times 1e-6 and 1e6 (the linear parameters' starts with it); the rate x1
  in 1/1000 units (model ``x3 exp(x1 t / 1000) + x4 exp(x2 t)``, start x1 = -1000).

For each: the share at the optimum (cost within 1e-6 relative of the lowest of the tight
fits, lm and varpro, gtol = xtol = ftol = 1e-14, maxiter 1000, no rescue, from the true
parameters in every variant, in unscaled units), the share reported a success, the
successes not at the optimum (false successes: target 0), the share whose success flag
equals the unscaled run's, and fits/s (the best of ``--repeat`` calls; the machine is
shared, single calls vary by +-25 %).

    python bench/batch_units.py [--n 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from trustfit.apps.bench_batch import MODELS, gen
from trustfit.batch import fit_batch
from trustfit.models import Model

SPEC = MODELS["exp2"]
X1_UNITS = 1000.0  # x1 in 1/1000 units: x1' = 1000 x1


def variants():
    """(label, model, y scale, start, transform of the true parameters)."""
    base = Model(SPEC["expr"], params=SPEC["params"])
    slow = Model("x3*exp(x1*t/1000) + x4*exp(x2*t)", params=SPEC["params"])
    out = []
    for s in (1.0, 1e-6, 1e6):
        p0 = np.array(SPEC["p0"])
        p0[SPEC["linear"]] *= s
        out.append((f"y*{s:g}", base, s, p0, (lambda P, s=s: P * np.where(
            np.isin(np.arange(4), SPEC["linear"]), s, 1.0))))
    p0 = np.array(SPEC["p0"])
    p0[0] *= X1_UNITS
    out.append(("x1 in 1/1000", slow, 1.0, p0, lambda P: P * np.array([X1_UNITS, 1, 1, 1])))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    t, Y, true = gen("exp2", args.n, 64)
    tight = dict(rescue=False, gtol=1e-14, xtol=1e-14, ftol=1e-14, maxiter=1000,
                 backend="compiled")
    ref = np.full(args.n, np.inf)
    runs = []
    for label, model, s, p0, to_units in variants():
        Ys = Y * s
        for method in ("lm", "varpro"):
            c = fit_batch(model, t, Ys, to_units(true), method=method, **tight).cost
            ref = np.minimum(ref, c / s**2)
        for method in ("lm", "varpro"):
            fit_batch(model, t, Ys[:64], p0, method=method, backend="compiled")  # warm
            best = np.inf
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                r = fit_batch(model, t, Ys, p0, method=method, backend="compiled")
                best = min(best, time.perf_counter() - t0)
            runs.append((label, method, s, r, args.n / best))
    print(f"exp2 m=64 N={args.n:,} (fit_batch compiled, rescue on; best of {args.repeat})")
    first = {}
    for label, method, s, r, rate in runs:
        at = r.cost / s**2 <= ref * (1 + 1e-6)
        first.setdefault(method, r.success)
        same = np.mean(r.success == first[method])
        print(f"{method:6s} {label:13s}: at optimum {at.mean() * 100:6.2f}%, success "
              f"{r.success.mean() * 100:6.2f}%, false successes {int((r.success & ~at).sum())}, "
              f"same success flag as unscaled {same * 100:6.2f}%, {rate:,.0f} fits/s",
              flush=True)


if __name__ == "__main__":
    main()
