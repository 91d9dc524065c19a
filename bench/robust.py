"""Robust losses: trustfit beside SciPy ``trf`` with the same loss, in the same process
(issue 15, "A true drop-in for SciPy": every loss reaches SciPy's minimum, cost within 1e-8
relative, from the same start; on the held-out MGH problems the losses cost no accuracy).

Sections:

* ``outliers``: a line and an exponential decay with 10 % gross outliers, each loss (and
  f_scale), from a cold start and from the least-squares fit (the usual start of a robust
  refit; from the cold start with ``C`` far below the residuals, cauchy and arctan start on
  the plateau where every point is an outlier, and both solvers stop at different
  meaningless points): trustfit's cost, SciPy ``trf``'s cost at its defaults and at 1e-15, the relative
  difference to the tight one, residual evaluations, CPU time (median over interleaved
  rounds) and the ratio trustfit / SciPy (tight);
* ``mgh``: NIST MGH09, MGH10, MGH17 from both starts, analytic Jacobian. With Huber and
  f_scale above every residual (Huber is then least squares) the LRE against NIST's certified
  values beside ``loss='linear'``; with each loss at ``f_scale`` = the certified residual SD,
  the robust cost trustfit reaches beside SciPy ``trf`` at 1e-15 from the same start (lower
  is better) and whether each certifies/reports success.

    python bench/robust.py [--rounds N]
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import scipy
import scipy.optimize as so

import trustfit
from trustfit.reference import nist
from trustfit.reference.problems import gross_outliers

LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")
TIGHT = dict(ftol=1e-15, xtol=1e-15, gtol=1e-15)


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def _problems():
    t = np.linspace(0.0, 10.0, 200)
    rng = np.random.default_rng(3)
    y_line = gross_outliers(1.5 * t + 2.0 + 0.1 * rng.normal(size=t.size), 1, 10.0)
    y_exp = gross_outliers(2.5 * np.exp(-0.4 * t) + 0.3 + 0.02 * rng.normal(size=t.size), 2, 1.0)
    return {
        "line": (lambda p: p[0] * t + p[1] - y_line, [0.0, 0.0], (0.1, 1.0)),
        "exponential": (lambda p: p[0] * np.exp(-p[1] * t) + p[2] - y_exp, [1.0, 1.0, 0.0],
                        (0.02, 0.1)),
    }


def _median_time(work, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


def outliers(rounds: int) -> None:
    print("outliers: 10 % gross outliers; cost = 1/2 sum C^2 rho(f^2/C^2); time in ms (CPU)")
    print(f"{'problem':12} {'loss':8} {'C':>5} {'trustfit':>16} {'scipy 1e-8':>16} "
          f"{'scipy 1e-15':>16} {'rel.diff':>9} {'nfev':>9} {'t_tf':>7} {'t_sp':>7} "
          f"{'ratio':>6}")
    worst = 0.0
    for name, (fun, cold, scales) in _problems().items():
        warm = trustfit.least_squares(fun, cold).x  # the least-squares fit: a robust refit's start
        for loss, c, start, x0 in [(loss, c, start, x0) for loss in LOSSES
                                   for c in (scales if loss != "linear" else scales[:1])
                                   for start, x0 in (("cold", cold), ("ls", warm))
                                   if loss != "linear" or start == "cold"]:
            if True:
                tf = trustfit.least_squares(fun, x0, loss=loss, f_scale=c)
                sp = _quiet(so.least_squares, fun, x0, loss=loss, f_scale=c, method="trf")
                tight = _quiet(so.least_squares, fun, x0, loss=loss, f_scale=c, method="trf",
                               max_nfev=20000, **TIGHT)
                rel = (tf.cost - tight.cost) / tight.cost
                if start == "ls":
                    worst = max(worst, abs(rel))
                t_tf = _median_time(lambda: trustfit.least_squares(fun, x0, loss=loss,
                                                                   f_scale=c), rounds)
                t_sp = _median_time(lambda: _quiet(so.least_squares, fun, x0, loss=loss,
                                                   f_scale=c, method="trf", max_nfev=20000,
                                                   **TIGHT), rounds)
                print(f"{name[:4] + ' ' + start:12} {loss:8} {c:5.3g} {tf.cost:16.10e} {sp.cost:16.10e} "
                      f"{tight.cost:16.10e} {rel:9.1e} {tf.nfev:4d}/{tight.nfev:<4d} "
                      f"{1e3 * t_tf:7.2f} {1e3 * t_sp:7.2f} {t_tf / t_sp:6.2f}")
    print(f"largest |relative cost difference| to SciPy trf at 1e-15 from the least-squares "
          f"start: {worst:.1e} (target 1e-8)")


def mgh() -> None:
    print()
    print("mgh: NIST MGH09/MGH10/MGH17, analytic Jacobian, both starts")
    print(f"{'problem':8} {'start':>5} {'LRE linear':>10} {'LRE huber(C>|f|)':>16}")
    for name in ("MGH09", "MGH10", "MGH17"):
        p = nist.load(name)
        for k, start in enumerate(p.starts):
            plain = trustfit.least_squares(p.residuals, start, jac=p.residual_jacobian)
            big = 10.0 * max(np.max(np.abs(p.residuals(start))), 1.0)
            huber = trustfit.least_squares(p.residuals, start, jac=p.residual_jacobian,
                                           loss="huber", f_scale=big)
            print(f"{name:8} {k + 1:5d} {nist.score_lre(p, plain.x):10.1f} "
                  f"{nist.score_lre(p, huber.x):16.1f}")
    print()
    print("each loss at C = certified residual SD: robust cost reached (lower is better)")
    print(f"{'problem':8} {'start':>5} {'loss':8} {'trustfit':>16} {'ok':>3} "
          f"{'scipy trf 1e-15':>16} {'ok':>3} {'rel.diff':>9}")
    worse = 0
    for name in ("MGH09", "MGH10", "MGH17"):
        p = nist.load(name)
        for k, start in enumerate(p.starts):
            for loss in LOSSES[1:]:
                tf = trustfit.least_squares(p.residuals, start, jac=p.residual_jacobian,
                                            loss=loss, f_scale=p.residual_sd)
                sp = _quiet(so.least_squares, p.residuals, start, jac=p.residual_jacobian,
                            loss=loss, f_scale=p.residual_sd, method="trf", max_nfev=20000,
                            **TIGHT)
                rel = (tf.cost - sp.cost) / sp.cost
                worse += rel > 1e-8
                print(f"{name:8} {k + 1:5d} {loss:8} {tf.cost:16.10e} "
                      f"{'y' if tf.success else 'n':>3} {sp.cost:16.10e} "
                      f"{'y' if sp.success else 'n':>3} {rel:9.1e}")
    print(f"cases where trustfit's robust cost is above SciPy's by more than 1e-8: {worse}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"trustfit {trustfit.__version__ if hasattr(trustfit, '__version__') else ''} "
          f"SciPy {scipy.__version__} NumPy {np.__version__}")
    outliers(args.rounds)
    mgh()


if __name__ == "__main__":
    main()
