"""Issue 13's parsing budget: every expression within the length limit is accepted or
refused within 1 s.

Generates an adversarial set of model expressions (the issue's own examples, then
families pushed to the length limit: long products and sums of parameters, products
of binomials, nested functions, towers of powers, huge and many constants,
non-finite constants, random formulas) and times, for each, what a user pays before
a fit starts: ``Model(expr)`` + the first evaluation + the first Jacobian, on 50
points.  Each case runs in a worker process with a hard timeout, so a case that
would run for minutes shows as ``>TIMEOUT`` instead of stalling the run.

The peer is the unguarded route (``sympy.sympify`` + ``diff`` + ``lambdify``, what
one writes without trustfit) on the issue's named examples, capped at
``PEER_TIMEOUT`` seconds each, in the same run.

Prints the slowest cases with their input (wall clock, and the worker's CPU time,
which does not count other processes' load), the refusal/acceptance counts, and any
exception that is not a ``ValueError``/``TypeError`` (there must be none).  The
families here are also the calibration set of :data:`trustfit.models._budget.WEIGHTS`.

Run: ``python bench/parse_budget.py [--quick]``.  Not part of the test run.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import re
import sys
import time

TIMEOUT = 20.0  # a trustfit case slower than this is reported as >TIMEOUT
PEER_TIMEOUT = 3.0
LIMIT = 5000  # trustfit.models._safe_parse.MAX_LENGTH


def _run_trustfit(expr):
    import warnings

    import numpy as np

    from trustfit.models import Model

    t = np.linspace(0.1, 2.0, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            m = Model(expr)
            p = np.full(m.nparams, 0.5)
            m.eval(p, t)
            m.jacobian(p, t)
        except (ValueError, TypeError) as exc:
            return "refused", f"{type(exc).__name__}: {str(exc).splitlines()[0][:150]}"
    return "accepted", f"{m.nparams} parameters"


def _run_sympy(expr):
    import numpy as np
    import sympy

    t = np.linspace(0.1, 2.0, 50)
    e = sympy.sympify(expr)
    syms = sorted(e.free_symbols - {sympy.Symbol("t")}, key=str)
    jac = [sympy.diff(e, s) for s in syms]
    args = [sympy.Symbol("t"), *syms]
    with np.errstate(all="ignore"):
        sympy.lambdify(args, e, "numpy")(t, *([0.5] * len(syms)))
        sympy.lambdify(args, jac, "numpy")(t, *([0.5] * len(syms)))
    return "accepted", f"{len(syms)} parameters"


def _worker(conn):
    import os
    import sys as _sys

    _sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    import sympy  # noqa: F401  (imported before timing starts)

    from trustfit.models import Model

    # load sympy's and scipy's lazily imported parts once, as any earlier model would
    Model("q*exp(-(t-r)**2/s) + log(t)*sin(t)/(1+cos(t)) + sqrt(t)*tanh(q*t) + t**q + "
          "erf(t) + atan(t) + abs(t)").jacobian([1.0, 1.0, 1.0], [1.0, 2.0])
    while True:
        job = conn.recv()
        if job is None:
            return
        kind, expr = job
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            status, detail = (_run_trustfit if kind == "trustfit" else _run_sympy)(expr)
        except BaseException as exc:  # noqa: BLE001 - reported, that is the point
            status, detail = "WRONG ERROR", f"{type(exc).__name__}: {str(exc)[:150]}"
        conn.send((status, time.perf_counter() - t0, time.process_time() - c0, detail))


class Pool:
    """One worker process, restarted after a timeout."""

    def __init__(self):
        self.proc = None

    def start(self):
        self.conn, child = mp.Pipe()
        self.proc = mp.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()

    def run(self, kind, expr, timeout):
        if self.proc is None or not self.proc.is_alive():
            self.start()
        self.conn.send((kind, expr))
        if self.conn.poll(timeout):
            return self.conn.recv()
        self.proc.kill()
        self.proc.join()
        self.proc = None
        return "TIMEOUT", timeout, timeout, f">{timeout:.0f} s"

    def close(self):
        if self.proc is not None and self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(5)


def _fit(make, lo=1, hi=100_000):
    """The largest n with len(make(n)) <= LIMIT (make grows with n)."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(make(mid)) <= LIMIT:
            lo = mid
        else:
            hi = mid - 1
    return lo


def issue_cases():
    return {
        "exp of 5 x 1e300": "a*t*exp(1e300*1e300*1e300*1e300*1e300)",
        "exp of 10 x 1e300": "a*t*exp(" + "*".join(["1e300"] * 10) + ")",
        "product of 200 parameters": "*".join(f"p{i}" for i in range(200)) + "*t",
        "product of 200 binomials": "*".join(f"(t+a{i})" for i in range(200)),
        "log(0)": "a*t*log(0)",
        "tan(pi/2)": "a*t + tan(pi/2)",
        "pi**pi**pi**pi": "a*t + pi**pi**pi**pi",
        "300-digit squared": "a*t + " + "7" * 300 + "*" + "3" * 300,
        "abs(exp^4(9)-3)": "a*t + abs(exp(exp(exp(exp(9))))-3)",
        "sqrt(-1)": "a*t+sqrt(-1)",
        "log(-1)": "a*t*log(-1)",
    }


def family_cases():
    out = {}

    def sized(name, make, sizes=None):
        nmax = _fit(make)
        for n in sizes or sorted({max(1, nmax // 8), max(1, nmax // 4), max(1, nmax // 2),
                                  nmax}):
            out[f"{name} (n={n})"] = make(n)

    sized("product of n parameters", lambda n: "*".join(f"p{i}" for i in range(n)) + "*t",
          [10, 20, 30, 40, 45, 50, 60, 80, 120])
    sized("product of n binomials", lambda n: "*".join(f"(t+a{i})" for i in range(n)),
          [10, 20, 30, 40, 45, 50, 60, 80])
    sized("product of n constant binomials", lambda n: "a*" + "*".join(
        f"(t+{i})" for i in range(n)))
    sized("quotient chain", lambda n: "/".join(f"(t+a{i})" for i in range(n)),
          [10, 20, 30, 40, 50, 60])
    sized("sum of n a_i*t*b_i", lambda n: "+".join(f"a{i}*t*b{i}" for i in range(n)),
          [20, 40, 60, 80, 100, 120, 160])
    sized("sum of n gaussians", lambda n: "+".join(
        f"a{i}*exp(-(t-b{i})**2/c{i})" for i in range(n)), [10, 15, 20, 22, 23, 30, 80])
    sized("sum of n lorentzians", lambda n: "+".join(
        f"a{i}/(1+((t-b{i})/c{i})**2)" for i in range(n)), [10, 15, 20, 22, 23, 30])
    sized("sum of n damped cosines", lambda n: "+".join(
        f"a{i}*exp(-b{i}*t)*cos(c{i}*t+d{i})" for i in range(n)), [10, 20, 25, 26, 27, 40])
    sized("sum of n exponentials", lambda n: "+".join(
        f"a{i}*exp(-b{i}*t)" for i in range(n)), [10, 30, 50, 51, 60, 100])
    sized("sum of n parameters", lambda n: "t*(" + "+".join(f"a{i}" for i in range(n)) + ")",
          [50, 100, 200, 400, 600])
    sized("polynomial of degree n", lambda n: "+".join(f"a{i}*t**{i}" for i in range(n)),
          [20, 40, 60, 80, 100, 120])
    sized("one parameter in n terms", lambda n: "+".join(f"a*t**{i}" for i in range(n)))
    sized("nested exp", lambda n: "exp(" * n + "a*t" + ")" * n, [5, 10, 20, 30, 40, 49])
    sized("nested sin with parameters", lambda n: "".join(
        f"sin(a{i}*" for i in range(n)) + "t" + ")" * n, [5, 10, 20, 30, 40, 49])
    sized("tower of powers", lambda n: "(t+a)" + "**(t+b)" * n, [5, 10, 20, 30, 49])
    sized("squared n times", lambda n: "(" * n + "a*t" + ")**2" * n, [5, 9, 10, 11, 20, 49])
    sized("exponent tower on t", lambda n: "t" + "**a" * n, [5, 10, 20, 30, 49])
    sized("sum of 1/prime", lambda n: "a*t+" + "+".join(f"1/{p}" for p in _primes(n)))
    sized("product of constants", lambda n: "a*t*" + "*".join(["1.5"] * n))
    sized("sum of big integers", lambda n: "a*t+" + "+".join(["9" * 300] * n))
    out.update({
        "5000-digit integer": "a*t+" + "9" * 4990,
        "(2*t)**1000000": "a*(2*t)**1000000",
        "(3*t)**1024": "a*(3*t)**1024",
        "(2*t)**1000": "a*(2*t)**1000",
        "((3*t)**64)**64": "a*((3*t)**64)**64",
        "sqrt(2)**-10**300": "a*t*sqrt(2)**(-10**300)",
        "sqrt(big integer)": "a*t+sqrt(" + "7" * 300 + ")",
        "exp(t)**1000": "a*exp(t)**1000",
        "t**(10**300)": "a*t**(10**300)",
        "sin(1e300)": "a*t+sin(1e300)",
        "sin(1e300*t)": "a*sin(1e300*t)",
        "erf(1e300)": "a*t+erf(1e300)",
        "log(cos(pi/2))": "a*t+log(cos(pi/2))",
        "1/tan(pi/2)": "a*t+1/tan(pi/2)",
        "log(0*t)": "a*log(0*t)",
        "(1e200*t)**2": "a*(1e200*t)**2",
        "exp(1000)*exp(-1000)": "a*t*exp(1000)*exp(-1000)",
        "1e308+1e308": "a*t+1e308+1e308",
        "(-8)**(1/3)": "a*t+(-8)**(1/3)",
        "asin(2)": "a*t+asin(2)",
        "0**-1": "a*t+0**-1",
        "1/(1-1)": "a*t+1/(1-1)",
        "t/(a-a)": "t/(a-a)+b",
    })
    return out


def _primes(n):
    ps, k = [], 2
    while len(ps) < n:
        if all(k % p for p in ps if p * p <= k):
            ps.append(k)
        k += 1
    return ps


def random_cases(count, seed=13):
    """Random formulas from the whole grammar, up to the length limit."""
    rng = random.Random(seed)
    funcs = ["exp", "log", "sqrt", "sin", "cos", "tan", "atan", "tanh", "abs", "erf", "asin"]
    leaves = ["t", "a", "b", "c", "p1", "p2", "2", "0.5", "1e3", "1e-3", "pi", "e", "0", "1"]

    def gen(depth):
        r = rng.random()
        if depth <= 0 or r < 0.25:
            return rng.choice(leaves)
        if r < 0.45:
            return f"{rng.choice(funcs)}({gen(depth - 1)})"
        op = rng.choice(["+", "-", "*", "/", "**", "*", "+"])
        return f"({gen(depth - 1)}){op}({gen(depth - 1)})"

    out = {}
    while len(out) < count:
        e = gen(rng.randint(2, 12))
        if len(e) <= LIMIT and "t" in e:
            out[f"random #{len(out)}"] = e
    return out


def _fresh_names(expr, k):
    """The parameters renamed per case (a0 -> a0_k7): sympy caches what it built, so
    families sharing names with a smaller case would be timed warm."""
    return re.sub(r"\b([a-dp]\d*)\b", lambda m: f"{m.group(1)}_k{k}", expr)


def main():
    quick = "--quick" in sys.argv
    pool = Pool()
    cases = {**issue_cases(), **family_cases(), **random_cases(40 if quick else 150)}
    rows = []
    print(f"{len(cases)} expressions, each timed for Model() + eval + jacobian (50 points)")
    for k, (label, expr) in enumerate(cases.items()):
        expr = cases[label] = _fresh_names(expr, k)
        status, secs, cpu, detail = pool.run("trustfit", expr, TIMEOUT)
        rows.append((secs, label, status, detail, expr, cpu))
    print("\nThe issue's examples, trustfit beside unguarded sympy (sympify+diff+lambdify):")
    print(f"  {'case':28s} {'trustfit':>9s} {'sympy':>9s}   trustfit says")
    for label, expr in issue_cases().items():
        tf = next(r for r in rows if r[1] == label)
        expr = cases[label]
        if quick:
            peer = "-"
        else:
            p_status, p_secs, _, _ = pool.run("sympy", expr, PEER_TIMEOUT)
            peer = f">{PEER_TIMEOUT:.0f} s" if p_status == "TIMEOUT" else f"{p_secs:.2f} s"
        print(f"  {label:28s} {tf[0]:8.2f}s {peer:>9s}   {tf[2]}: {tf[3][:90]}")
    pool.close()

    rows.sort(reverse=True)
    print("\nSlowest 12 (trustfit; wall clock, and CPU of the worker process):")
    for secs, label, status, detail, expr, cpu in rows[:12]:
        shown = expr if len(expr) <= 100 else expr[:60] + f"... ({len(expr)} chars)"
        print(f"  {secs:6.2f} s (cpu {cpu:5.2f} s)  {label:36s} {status:8s} {detail[:60]}\n"
              f"           {shown}")
    accepted = sum(r[2] == "accepted" for r in rows)
    refused = sum(r[2] == "refused" for r in rows)
    wrong = [r for r in rows if r[2] not in ("accepted", "refused")]
    over = [r for r in rows if r[0] > 1.0]
    slow_cpu = max(rows, key=lambda r: r[5])
    print(f"\naccepted {accepted}, refused {refused}, other outcomes {len(wrong)}; "
          f"slowest {rows[0][0]:.2f} s wall ({rows[0][1]}), {slow_cpu[5]:.2f} s CPU "
          f"({slow_cpu[1]}); over 1 s wall: {len(over)} (target: 0)")
    for r in wrong:
        print(f"  {r[2]}: {r[1]}: {r[3]}")


if __name__ == "__main__":
    main()
