"""NIST StRD benchmark: every solver configuration on the 54 certified cases.

The 27 NIST nonlinear regression problems x 2 starting vectors are solved by
each configuration in the same process, and each result is scored by its log
relative error (LRE, :func:`trustfit.reference.nist.lre`: the number of
correct significant digits of the worst parameter, 0..11).

A configuration is ``<solver>-<method>[-tight]``:

- ``tf-gn``, ``tf-lm``, ``tf-hybrid``, ``tf-dogleg``: :func:`trustfit.least_squares`
  with that method; ``tf-default``: its default call (``method=None``);
- ``sp-lm``, ``sp-trf``, ``sp-dogbox``: :func:`scipy.optimize.least_squares`;
- ``-tight``: ``ftol = xtol = gtol = 1e-15`` instead of the default tolerances;

and each runs with finite differences (``fd``: ``jac='2-point'``) and/or the
analytic Jacobian (``analytic``).

Costs are also counted here, not only taken from the solvers, because the
solvers' counts differ (SciPy >= 1.16 leaves finite-difference calls out of
``nfev`` for every method, older 'lm' counted them; 'lm' reports ``njev=None``
with finite differences): ``fevals`` is every call of the residual function,
finite-difference ones included; ``jevals`` every call of the analytic
Jacobian.  The solver's own ``nfev``/``njev`` are kept in the rows as well.

Use ``run_benchmark(configs, problems)`` from code, or the command line
(``python bench/nist.py --help``).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import scipy
import scipy.optimize

from trustfit.reference import nist

__all__ = ["Config", "parse_configs", "run_benchmark", "summarize", "trustfit_solver",
           "ALL_METHODS", "QUICK_PROBLEMS", "main"]

TF_METHODS = ("gn", "lm", "hybrid", "dogleg", "tr", "default")
SP_METHODS = ("lm", "trf", "dogbox")
#: The default configuration set: trustfit's methods and default call at their
#: default tolerances; SciPy's three methods at default and tight tolerances.
ALL_METHODS = (tuple(f"tf-{m}" for m in TF_METHODS) + tuple(f"sp-{m}" for m in SP_METHODS)
               + tuple(f"sp-{m}-tight" for m in SP_METHODS))
TIGHT_TOL = 1e-15
#: ``--quick``: a handful of problems spanning the three difficulty levels.
QUICK_PROBLEMS = ("Misra1a", "Lanczos3", "MGH17", "Roszman1", "MGH09", "BoxBOD", "Rat43")
#: A result "succeeds" in the scoring sense at LRE >= 4 (4 correct digits).
GOOD_LRE = 4.0


@dataclass(frozen=True)
class Config:
    """One solver configuration: ``solver`` is "trustfit" or "scipy",
    ``method`` a method name (None: trustfit's default call), ``jac`` "fd" or
    "analytic", ``tight`` whether ftol = xtol = gtol = 1e-15."""

    solver: str
    method: str | None
    jac: str
    tight: bool = False

    @property
    def name(self) -> str:
        prefix = "tf" if self.solver == "trustfit" else "sp"
        return f"{prefix}-{self.method or 'default'}" + ("-tight" if self.tight else "")

    @property
    def label(self) -> str:
        return f"{self.name}/{'an' if self.jac == 'analytic' else 'fd'}"


def parse_configs(methods=ALL_METHODS, jac: str = "both") -> list[Config]:
    """Build configurations from names like ``"tf-lm"`` or ``"sp-trf-tight"``.

    ``jac`` is "fd", "analytic" or "both" (each method with both Jacobians).
    """
    jacs = {"fd": ["fd"], "analytic": ["analytic"], "both": ["fd", "analytic"]}
    if jac not in jacs:
        raise ValueError(f"jac: must be one of fd, analytic, both; got {jac!r}")
    configs = []
    for name in methods:
        parts = name.split("-")
        tight = len(parts) == 3 and parts[2] == "tight"
        ok = (len(parts) in (2, 3) and (len(parts) == 2 or tight)
              and ((parts[0] == "tf" and parts[1] in TF_METHODS)
                   or (parts[0] == "sp" and parts[1] in SP_METHODS)))
        if not ok:
            raise ValueError(
                f"methods: unknown configuration {name!r}; use tf-<{'|'.join(TF_METHODS)}> "
                f"or sp-<{'|'.join(SP_METHODS)}>, optionally with -tight "
                f"(default set: {', '.join(ALL_METHODS)})")
        solver = "trustfit" if parts[0] == "tf" else "scipy"
        method = None if parts[1] == "default" else parts[1]
        configs += [Config(solver, method, j, tight) for j in jacs[jac]]
    return configs


def trustfit_solver():
    """``(trustfit.least_squares, None)``, or ``(None, reason)`` when the
    trustfit solver is not available in this checkout."""
    try:
        from trustfit import least_squares
    except ImportError as exc:
        return None, f"trustfit.least_squares is not importable ({exc})"
    return least_squares, None


class _Counted:
    """Wrap a function and count its calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, b):
        self.calls += 1
        return self.fn(b)


def _scaled(fn, scale: float):
    """``fn`` with its output multiplied by ``scale`` (exactly ``fn`` when scale is 1)."""
    return fn if scale == 1.0 else (lambda b: scale * fn(b))


def _label(config: Config, scale: float) -> str:
    """``config.label`` with ``@<scale>`` before the Jacobian kind when scale is not 1."""
    if scale == 1.0:
        return config.label
    name, kind = config.label.rsplit("/", 1)
    return f"{name}@{scale:g}/{kind}"


def _solve(config: Config, problem: nist.NistProblem, start: int, tf_solver,
           options: dict, scale: float = 1.0) -> dict:
    # Residuals (y and the model) times ``scale``, i.e. sigma / scale: the certified
    # parameters are unchanged, the cost scales by scale**2.
    fun = _Counted(_scaled(problem.residuals, scale))
    jac = _Counted(_scaled(problem.residual_jacobian, scale))
    x0 = np.array(problem.starts[start - 1], dtype=float)  # writable copy
    kwargs = dict(options, jac=jac if config.jac == "analytic" else "2-point")
    if config.method is not None:
        kwargs["method"] = config.method
    if config.tight:
        kwargs.update(ftol=TIGHT_TOL, xtol=TIGHT_TOL, gtol=TIGHT_TOL)
    solver = scipy.optimize.least_squares if config.solver == "scipy" else tf_solver

    row = dict(problem=problem.name, difficulty=problem.difficulty, start=start,
               config=_label(config, scale), scale=scale, solver=config.solver, method=config.method or "default",
               jac=config.jac, tight=config.tight, lre=0.0, lre_rss=0.0, success=False,
               status=None, stop_reason=None, message="", error=None, x=None, cost=None,
               nfev=None, njev=None, fevals=0, jevals=0, n_warnings=0, time=0.0)
    # Solvers probe wild parameter values (overflow in exp, division by ~0):
    # let them see inf/nan as they would in the wild, and count the warnings.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        try:
            res = solver(fun, x0, **kwargs)
        except Exception as exc:  # a crash is a result too: LRE 0
            row["error"] = f"{type(exc).__name__}: {exc}"
            res = None
        row["time"] = time.perf_counter() - t0
    row.update(fevals=fun.calls, jevals=jac.calls, n_warnings=len(caught))
    if res is None:
        return row
    x = np.asarray(res.x, dtype=float)
    rss = 2.0 * float(res.cost) / scale**2
    stop = getattr(res, "stop_reason", None)
    row.update(
        x=x.tolist(), cost=float(res.cost), success=bool(res.success), status=int(res.status),
        message=str(res.message), stop_reason=getattr(stop, "name", None),
        nfev=None if res.nfev is None else int(res.nfev),
        njev=None if res.njev is None else int(res.njev),
        lre=nist.score_lre(problem, x),
        # Lanczos1's certified RSS (1.4e-25) is below what double precision
        # can reproduce, so its lre_rss is ~0 even at the exact solution.
        lre_rss=nist.lre(rss, problem.certified_rss) if np.isfinite(rss) else 0.0,
    )
    return row


def run_benchmark(configs, problems, starts=(1, 2), max_nfev=None, x_scale=None,
                  progress=None, scales=(1.0,)) -> list[dict]:
    """Run every configuration on every (problem, start) case, in this process.

    ``configs``: :class:`Config` objects (see :func:`parse_configs`);
    ``problems``: names or :class:`~trustfit.reference.nist.NistProblem` objects;
    ``starts``: which NIST starting vectors (1 = far, 2 = near);
    ``max_nfev``: passed to every solver (None: each solver's default budget;
    SciPy >= 1.16 uses 100 * n for every method);
    ``x_scale``: None (each solver's default: SciPy 1.16+ 'lm' scales by the
    Jacobian, 'trf'/'dogbox' by 1) or "jac" for every solver.
    ``progress(done, total, label)``: called after each case (the command line draws its
    progress bar with it).
    ``scales``: run every case with the residuals multiplied by each factor (y and sigma
    scaled alike, the certified parameters unchanged); rows of a scale other than 1 carry
    ``@<scale>`` in their configuration label.
    Returns one dict per (problem, start, config), ordered by case, then config.
    Raises ValueError for a trustfit configuration when trustfit's solver is
    not importable (filter with :func:`trustfit_solver` first).
    """
    configs = list(configs)
    problems = [p if isinstance(p, nist.NistProblem) else nist.load(p) for p in problems]
    for s in starts:
        if s not in (1, 2):
            raise ValueError(f"starts: NIST gives starts 1 and 2, got {s!r}")
    tf_solver, reason = trustfit_solver()
    if tf_solver is None and any(c.solver == "trustfit" for c in configs):
        raise ValueError(f"configs: trustfit configurations given but {reason}")
    if max_nfev is not None and (not isinstance(max_nfev, int) or max_nfev <= 0):
        raise ValueError(f"max_nfev: must be a positive integer or None, got {max_nfev!r}")
    if x_scale is not None and not (isinstance(x_scale, str) and x_scale == "jac"):
        raise ValueError(f"x_scale: must be None or 'jac', got {x_scale!r}")
    options: dict[str, object] = {} if max_nfev is None else {"max_nfev": max_nfev}
    if x_scale is not None:
        options["x_scale"] = x_scale
    for f in scales:
        if not (isinstance(f, (int, float)) and math.isfinite(f) and f > 0):
            raise ValueError(f"scales: each must be a finite number > 0, got {f!r}")
    cases = [(c, p, s, f) for f in scales for p in problems for s in starts for c in configs]
    rows = []
    for k, (c, p, s, f) in enumerate(cases, start=1):
        rows.append(_solve(c, p, s, tf_solver, options, float(f)))
        if progress is not None:
            progress(k, len(cases), f"{p.name} start {s}")
    return rows


def summarize(rows) -> list[dict]:
    """One summary dict per configuration, in first-seen order."""
    by_config: dict[str, list[dict]] = {}
    for r in rows:
        by_config.setdefault(r["config"], []).append(r)

    def total(rs, key):
        vals = [r[key] for r in rs]
        return None if any(v is None for v in vals) else sum(vals)

    out = []
    for label, rs in by_config.items():
        lres = [r["lre"] for r in rs]
        njev = (total(rs, "jevals") if rs[0]["jac"] == "analytic" else total(rs, "njev"))
        out.append(dict(
            config=label, cases=len(rs),
            lre_ge4=sum(v >= 4 for v in lres), lre_ge6=sum(v >= 6 for v in lres),
            lre_ge7=sum(v >= 7 for v in lres),
            median_lre=statistics.median(lres), min_lre=min(lres),
            false_successes=sum(r["success"] and r["lre"] < GOOD_LRE for r in rs),
            errors=sum(r["error"] is not None for r in rs),
            nfev=total(rs, "nfev"), fevals=total(rs, "fevals"), njev=njev,
            time=sum(r["time"] for r in rs),
        ))
    return out


# --- printing ----------------------------------------------------------------
def _cell(r) -> str:
    if r["error"] is not None:
        return "err"
    mark = "!" if r["success"] and r["lre"] < GOOD_LRE else ("-" if not r["success"] else " ")
    # Truncate, not round: 3.97 digits must not print as "4.0".
    return f"{math.floor(r['lre'] * 10) / 10:4.1f}{mark}"


def format_lre_table(rows, jac: str) -> str:
    """Rows = cases, columns = configurations using Jacobian kind ``jac``."""
    rows = [r for r in rows if r["jac"] == jac]
    if not rows:
        return ""
    configs = list(dict.fromkeys(r["config"] for r in rows))
    cases = list(dict.fromkeys((r["problem"], r["start"]) for r in rows))
    cell = {(r["problem"], r["start"], r["config"]): r for r in rows}
    heads = [c.rsplit("/", 1)[0] for c in configs]
    width = max(6, *(len(h) for h in heads))
    kind = "analytic Jacobian" if jac == "analytic" else "finite differences (2-point)"
    lines = [f"LRE per case, {kind}",
             f"{'case':<12}" + "".join(f"{h:>{width + 1}}" for h in heads)]
    for prob, s in cases:
        lines.append(f"{prob + '/' + str(s):<12}"
                     + "".join(f"{_cell(cell[prob, s, c]):>{width + 1}}" for c in configs))
    return "\n".join(lines)


def format_summary(summary) -> str:
    def num(v, fmt="d"):
        return "n/a" if v is None else format(v, fmt)

    head = (f"{'config':<20}{'cases':>6}{'>=4':>5}{'>=6':>5}{'>=7':>5}{'median':>8}"
            f"{'min':>6}{'false+':>7}{'err':>4}{'nfev':>8}{'fevals':>9}{'njev':>7}{'time[s]':>9}")
    lines = ["Summary per configuration (LRE = correct significant digits, max 11)", head]
    for s in summary:
        lines.append(
            f"{s['config']:<20}{s['cases']:>6}{s['lre_ge4']:>5}{s['lre_ge6']:>5}"
            f"{s['lre_ge7']:>5}{s['median_lre']:>8.2f}{s['min_lre']:>6.2f}"
            f"{s['false_successes']:>7}{s['errors']:>4}{num(s['nfev']):>8}"
            f"{num(s['fevals']):>9}{num(s['njev']):>7}{s['time']:>9.3f}")
    return "\n".join(lines)


LEGEND = ("Cells: LRE (against the certified values, or their mirror image where the model "
          "has interchangeable parameters, e.g. MGH17's two exponentials), then '!' = solver "
          "reported success with LRE < 4 (false success), "
          "'-' = solver reported failure, 'err' = exception.\n"
          "nfev/njev: as the solvers report them (SciPy 'lm' with finite differences "
          "reports njev as None: n/a); fevals: residual calls counted here, "
          "finite-difference calls included.")


# --- command line ------------------------------------------------------------
def build_parser(prog: str = "bench/nist.py") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=prog,
        description="Solve the 54 NIST StRD nonlinear regression cases (27 problems x "
                    "2 starts) with trustfit and SciPy and score them by LRE.")
    ap.add_argument("--methods", default=",".join(ALL_METHODS),
                    help="comma-separated configurations (default: %(default)s); "
                         "'-tight' sets ftol=xtol=gtol=1e-15")
    ap.add_argument("--jac", choices=("fd", "analytic", "both"), default="both",
                    help="finite differences, analytic Jacobian, or both (default)")
    ap.add_argument("--problems", default=None,
                    help="comma-separated problem names (default: all 27)")
    ap.add_argument("--quick", action="store_true",
                    help=f"only {', '.join(QUICK_PROBLEMS)}")
    ap.add_argument("--max-nfev", type=int, default=None, metavar="N",
                    help="residual-evaluation budget for every solver "
                         "(default: each solver's own; SciPy: 100 * n)")
    ap.add_argument("--x-scale", choices=("jac",), default=None,
                    help="pass x_scale='jac' to every solver (default: each solver's own)")
    ap.add_argument("--scale", default="1", metavar="S[,S...]",
                    help="multiply the residuals (y and sigma alike) by each factor, e.g. "
                         "1,1e-100,1e100: every configuration runs at every scale "
                         "(default: %(default)s)")
    ap.add_argument("--json", metavar="OUT", default=None,
                    help="also write rows and summary as JSON to OUT")
    return ap


def main(argv=None, prog: str = "bench/nist.py") -> int:
    """Command line entry: ``argv`` without the program name (None: sys.argv);
    ``prog`` names the command in help and errors (e.g. "trustfit bench nist")."""
    args = build_parser(prog).parse_args(argv)
    if args.problems and args.quick:
        raise SystemExit("error: --problems and --quick exclude each other")
    try:
        scales = [float(v) for v in args.scale.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"error: --scale: numbers separated by commas, got {args.scale!r}")
    try:
        configs = parse_configs([m.strip() for m in args.methods.split(",") if m.strip()],
                                args.jac)
        problems = ([nist.load(p.strip()) for p in args.problems.split(",") if p.strip()]
                    if args.problems else
                    [nist.load(p) for p in QUICK_PROBLEMS] if args.quick else nist.load_all())
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None

    notes = []
    _, reason = trustfit_solver()
    if reason is not None and any(c.solver == "trustfit" for c in configs):
        notes.append(f"note: trustfit rows skipped: {reason}")
        configs = [c for c in configs if c.solver != "trustfit"]
    for n in notes:
        print(n)
    if not configs:
        print("nothing to run")
        return 1

    opts = {k: v for k, v in (("max_nfev", args.max_nfev), ("x_scale", args.x_scale))
            if v is not None}
    print(f"NIST StRD: {len(problems)} problems x 2 starts; Python {platform.python_version()}, "
          f"NumPy {np.__version__}, SciPy {scipy.__version__}; solver options: "
          + (", ".join(f"{k}={v!r}" for k, v in opts.items()) or "each solver's defaults")
          + ("" if scales == [1.0] else
             "; residuals scaled by " + ", ".join(f"{f:g}" for f in scales)),
          end="\n\n")
    try:
        from ..console.progress import Progress

        with Progress(len(configs) * len(problems) * 2 * len(scales), "NIST StRD") as bar:
            rows = run_benchmark(configs, problems, max_nfev=args.max_nfev,
                                 x_scale=args.x_scale, scales=scales,
                                 progress=lambda done, total, label: bar.advance(note=label))
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    summary = summarize(rows)
    for jac in ("fd", "analytic"):
        table = format_lre_table(rows, jac)
        if table:
            print(table, end="\n\n")
    print(LEGEND, end="\n\n")
    print(format_summary(summary))
    if args.json:
        env = dict(python=platform.python_version(), numpy=np.__version__,
                   scipy=scipy.__version__, options=opts,
                   argv=sys.argv[1:] if argv is None else list(argv))
        with open(args.json, "w") as fh:
            json.dump(dict(env=env, notes=notes, configs=[asdict(c) for c in configs],
                           summary=summary, rows=rows), fh, indent=1)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
