"""Issue 4's two measurable targets, trustfit and SciPy side by side in the same run.

1. The textbook example (Madsen, Nielsen & Tingleff 2004) from the article's three starts:
   does the default call reach the global minimum (cost 0.0255953)? trustfit's
   least_squares and curve_fit with no arguments besides the data and the start; SciPy's
   least_squares (lm, trf, dogbox) and curve_fit (lm, trf, dogbox) likewise.
2. NIST StRD, start 1, curve_fit with default settings and no Jacobian: how many of the 26
   problems (all but Lanczos1) give standard errors that agree with the certified standard
   deviations to 4 or more digits (LRE >= 4)?

Run: ``python bench/issue4_targets.py``. Prints numbers; not part of the test run.
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.optimize as so

import trustfit
from trustfit import examples as ex
from trustfit.reference import nist


def two_exp(t, x1, x2, x3, x4):
    return x3 * np.exp(x1 * t) + x4 * np.exp(x2 * t)


def cost_of(p) -> float:
    return 0.5 * float(np.sum((two_exp(ex.T, *p) - ex.Y) ** 2))


def textbook() -> None:
    print("Textbook example: cost reached from each start (* = global minimum 0.0255953)")
    rows = {}
    for x0 in ex.STARTS:
        out = {}
        out["trustfit least_squares"] = trustfit.least_squares(ex.residuals, x0).cost
        try:
            out["trustfit curve_fit"] = cost_of(trustfit.curve_fit(two_exp, ex.T, ex.Y, p0=x0)[0])
        except RuntimeError:
            out["trustfit curve_fit"] = np.nan
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for m in ("lm", "trf", "dogbox"):
                out[f"scipy least_squares {m}"] = so.least_squares(ex.residuals, x0,
                                                                   method=m).cost
                try:
                    out[f"scipy curve_fit {m}"] = cost_of(so.curve_fit(two_exp, ex.T, ex.Y,
                                                                       p0=x0, method=m)[0])
                except RuntimeError:
                    out[f"scipy curve_fit {m}"] = np.nan
        rows[tuple(x0)] = out
    for name in next(iter(rows.values())):
        cells = []
        hits = 0
        for x0, out in rows.items():
            c = out[name]
            hit = abs(c - ex.MINIMUM_COST) <= 1e-6
            hits += hit
            cells.append(f"{c:12.6g}{'*' if hit else ' '}")
        print(f"  {name:26s} {' '.join(cells)}   {hits}/3")


def nist_stderr() -> None:
    print("\nNIST StRD start 1, curve_fit defaults, no Jacobian: LRE of the standard errors")
    ok_t = ok_s = 0
    for p in nist.load_all():
        def f(x, *b):
            return p.model(np.array(b), x)

        t0 = time.perf_counter()
        try:
            popt, pcov = trustfit.curve_fit(f, p.x, p.response, p0=p.starts[0])
            lt = nist.lre(np.sqrt(np.diag(pcov)), p.certified_sd)
        except RuntimeError:
            lt = 0.0
        dt = time.perf_counter() - t0
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                sp, sc = so.curve_fit(f, p.x, p.response, p0=p.starts[0])
                ls = nist.lre(np.sqrt(np.diag(sc)), p.certified_sd)
            except (RuntimeError, ValueError):
                ls = 0.0
        if p.name != "Lanczos1":
            ok_t += lt >= 4
            ok_s += ls >= 4
        print(f"  {p.name:9s} trustfit {lt:5.1f}   scipy {ls:5.1f}   ({dt:.2f} s)")
    print(f"  LRE >= 4 on {ok_t}/26 (trustfit) and {ok_s}/26 (SciPy), Lanczos1 excluded")


if __name__ == "__main__":
    textbook()
    nist_stderr()
