"""``trustfit fit``: a CSV file and an expression in, a report, JSON and pictures out.

The command is a layer over the library: it reads the columns (:mod:`trustfit.console.table`),
builds the expression model (:mod:`trustfit.models`), solves with
:func:`trustfit.least_squares`, takes uncertainties from :mod:`trustfit.analysis.uncertainty` and
draws with :mod:`trustfit.plots`. Bad input raises :class:`InputError` with one line that
says what and where; the entry point prints it without a traceback.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..console.options import check_output, parse_bounds, parse_p0, writing
from ..console.table import InputError, read_columns
from ..core.result import plain

CONFIDENCE = 0.95


# --- option parsing (the values themselves: trustfit.console.options) --------------------
def _check_names(option: str, given, params: list[str]) -> None:
    from ..models.names import validate_name

    for name in given:
        try:
            validate_name(name, f"{option} name")
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if name not in params:
            why = (f"; in an expression {name} is the constant {name}, so call the parameter "
                   f"something else" if name in ("e", "pi") else "")
            raise InputError(f"{option}: the model has no parameter {name!r} (its parameters "
                             f"are {', '.join(params)}){why}")


# --- the fit --------------------------------------------------------------------------------
@dataclass
class FitOutcome:
    model: Any
    result: Any
    names: list[str]
    x: np.ndarray
    y: np.ndarray
    sigma: np.ndarray | None
    stderr: np.ndarray | None
    intervals: np.ndarray | None   # (n, 2), or None without degrees of freedom
    quantile_note: str
    diagnosis: Any = None


def build_model(expr: str, var: str):
    """A library model by name (``gaussian``, ...: :mod:`trustfit.models.library`, with its
    data-driven guess), else the expression's model with ``var`` as independent variable."""
    try:
        from ..models import Model, available, get
    except ImportError as exc:
        raise InputError(f"--model: expression models are not available ({exc}); install "
                         f"them with pip install 'trustfit[models]'") from None
    if expr.strip() in available():
        return get(expr.strip())
    if not var.isidentifier():
        raise InputError(f"--x column {var!r} is not a name an expression can use; pass "
                         f"--var NAME and write NAME for it in --model")
    try:
        return Model(expr, independent=var)
    except ImportError as exc:  # sympy is imported when the first expression is built
        raise InputError(f"--model: expression models are not available ({exc})") from None
    except (ValueError, SyntaxError, TypeError) as exc:
        # The parser's messages end with the expression and a caret under the column on
        # lines of their own; the first line already names the column.
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = msg.replace("pass independent=... with the variable's name",
                          "choose the column with --x, or its name in the expression with --var")
        raise InputError(f"--model: {msg}") from None


def _library_names() -> list[str]:
    from ..models import available

    return available()


def uncertainties(result, absolute_sigma: bool, level: float = CONFIDENCE):
    """Standard errors and ``level`` intervals from :mod:`trustfit.analysis.uncertainty`, and the note
    saying how the intervals were made.

    Parameters in an undetermined direction of a rank-deficient Jacobian (a null-space
    component of at least ``diagnostics.NULL_COMPONENT``, the rule of the report) get
    ``nan``: the pseudo-inverse gives them an error of 0, which would read as "exact".
    """
    from ..analysis import uncertainty as statistics

    cov = statistics.covariance(result, absolute_sigma=absolute_sigma)
    m, n = np.shape(result.jac)
    dof = m - n
    if absolute_sigma:
        note = "normal quantile, sigma taken as absolute"
    elif dof > 0:
        note = f"Student t, {dof} degrees of freedom"
    else:
        return None, None, "no degrees of freedom left: no standard errors"
    se = cov.stderr.copy()
    intervals = statistics.confidence_intervals(result, level, absolute_sigma, cov=cov)
    if cov.rank_deficient:
        from ..analysis.diagnostics import NULL_COMPONENT

        undetermined = np.any(np.abs(cov.null_space) >= NULL_COMPONENT, axis=1)
        se[undetermined] = np.nan
        intervals[undetermined] = np.nan
        note += "; rank-deficient Jacobian: no error for the undetermined parameters"
    return se, intervals, note


def run_fit(args) -> FitOutcome:
    var = args.var or args.x
    columns = [args.x, args.y] + ([args.sigma] if args.sigma else [])
    if len(set(columns)) != len(columns):
        raise InputError(f"--x, --y and --sigma must name different columns, got "
                         f"{', '.join(columns)}")
    model = build_model(args.model, var)
    names = list(model.param_names)
    p0 = parse_p0(args.p0) if args.p0 else {}
    bounds = parse_bounds(args.bounds) if args.bounds else {}
    _check_names("--p0", p0, names)
    _check_names("--bounds", bounds, names)
    missing = [n for n in names if n not in p0]
    guessed = missing and model._guess is not None
    if missing and not guessed:
        raise InputError(f"--p0: no starting value for {', '.join(missing)} (the model's "
                         f"parameters are {', '.join(names)}; the library models "
                         f"--model {'|'.join(_library_names())} guess them from the data)")
    data = read_columns(args.data, columns, positive=[args.sigma] if args.sigma else [])
    x, y = data[args.x], data[args.y]
    sigma = data[args.sigma] if args.sigma else None
    if x.size < len(names):
        raise InputError(f"{args.data}: {x.size} data rows for {len(names)} parameters; "
                         f"a fit needs at least as many points as parameters")
    if guessed:
        try:
            start = model.guess(y, x=x).valuesdict()
        except ValueError as exc:
            raise InputError(f"--p0: {exc}") from None
        p0 = {**start, **p0}
    spec: dict[str, dict[str, float | None]] = {}
    for n in names:
        lo, hi = bounds.get(n, (None, None))
        entry: dict[str, float | None] = {"value": p0[n]}
        spec[n] = entry | ({"min": lo, "max": hi} if n in bounds else {})
    try:
        params = model.make_params(**spec)
        problem = model.fit_problem(x, y, params, sigma=sigma)
    except ValueError as exc:
        raise InputError(f"--p0/--bounds: {exc}") from None

    try:
        result = _solve(problem, args)
    except ValueError as exc:  # e.g. the model is not finite at --p0
        raise InputError(f"cannot start the fit: {exc}") from None
    # The command knows the names and the data: the result it reports is built with them.
    result = dataclasses.replace(result, param_names=tuple(names), ydata=y, sigma=sigma,
                                 absolute_sigma=bool(args.absolute_sigma))
    se, intervals, note = uncertainties(result, args.absolute_sigma)
    out = FitOutcome(model, result, names, x, y, sigma, se, intervals, note)
    out.diagnosis = _diagnose(result, names)
    return out


def _solve(problem, args):
    """One run from --p0, or with --starts N a multi-start (:func:`trustfit.multistart`)
    with a progress bar on a terminal."""
    options = dict(jac=problem.jac if problem.jac is not None else "2-point",
                   bounds=problem.bounds, method=args.method, max_nfev=args.max_nfev)
    if args.starts is None:
        from ..faces.least_squares import least_squares

        return least_squares(problem.fun, problem.x0, **options)
    if args.starts < 2:
        raise InputError(f"--starts: give at least 2 starts, got {args.starts}")
    from ..console.progress import Progress
    from ..faces.least_squares import multistart

    with Progress(args.starts, "multi-start") as bar:
        return multistart(problem.fun, problem.x0, starts=args.starts,
                          progress=lambda done, total: bar.advance(note="runs"),
                          param_names=tuple(problem.names), **options)


def _diagnose(result, names):
    """:func:`trustfit.diagnose` of the result, the parameters named."""
    from ..analysis.diagnostics import diagnose

    return diagnose(result, param_names=names)


# --- output -----------------------------------------------------------------------------------
def report(out: FitOutcome, args) -> str:
    """The library's report (``result.report()``) under a line naming model and data."""
    data = (f"model:   {args.model}   ({args.y} against {args.x} in {args.data}, "
            f"{out.x.size} points" + (f", sigma from {args.sigma!r})" if out.sigma is not None
                                      else ")"))
    return f"{data}\n{out.result.report()}"


def to_json(out: FitOutcome, args) -> dict:
    """The JSON document: the command's inputs, the parameters with their errors, and the
    result's own fields (:meth:`trustfit.FitResult.to_dict`), with parameter vectors keyed by
    name."""
    d = out.result.to_dict()
    names = out.names

    def named(x):
        return dict(zip(names, x))

    params = {name: dict(value=d["x"][i],
                         stderr=None if out.stderr is None else out.stderr[i],
                         interval=None if out.intervals is None else out.intervals[i],
                         initial=None if d["x0"] is None else d["x0"][i])
              for i, name in enumerate(names)}
    history = [dict(h, x=named(h["x"])) for h in d["history"]]
    minima = (None if not d["minima"] else
              [dict(m, x=named(m["x"])) for m in d["minima"]])
    return plain(dict(
        data=str(args.data), model=args.model, x=args.x, y=args.y, sigma=args.sigma,
        absolute_sigma=args.absolute_sigma, points=int(out.x.size),
        parameters=params, confidence=CONFIDENCE, interval_note=out.quantile_note,
        **{k: d[k] for k in ("cost", "success", "stop_reason", "message", "method", "nit",
                             "nfev", "njev", "optimality", "events")},
        minima=minima, history=history,
        diagnosis=None if out.diagnosis is None else plain(out.diagnosis.findings)))


OUTPUTS = ("json", "plot", "convergence", "animate")


def check_outputs(args) -> None:
    """Fail before the fit, not after it, on an output that cannot be written
    (:func:`trustfit.console.options.check_output`; the data file is never overwritten)."""
    if args.animate is not None:
        from ..plots.animate import _check_format
        try:
            _check_format(Path(args.animate))
        except ValueError as exc:
            raise InputError(f"--animate: {exc}") from None
    pictures = [o for o in ("plot", "convergence", "animate") if getattr(args, o) is not None]
    if pictures:
        try:
            from matplotlib.backend_bases import FigureCanvasBase
        except ImportError:
            raise InputError(f"--{pictures[0]} needs matplotlib: pip install 'trustfit[plot]'") \
                from None
        kinds = FigureCanvasBase.get_supported_filetypes()
        for option in ("plot", "convergence"):
            target = getattr(args, option)
            suffix = Path(target).suffix.lower().lstrip(".") if target else None
            if target is not None and suffix not in kinds:
                raise InputError(f"--{option}: cannot tell the image format of {target!r} "
                                 f"from its name; end it in .png, .pdf or .svg")
    given = [(f"--{o}", getattr(args, o)) for o in OUTPUTS if getattr(args, o) is not None]
    for k, (option, target) in enumerate(given):
        check_output(option, target, inputs=[args.data], others=given[:k])


def write_outputs(out: FitOutcome, args) -> list[str]:
    written = []
    if args.json:
        text = json.dumps(to_json(out, args), indent=1) + "\n"
        with writing("--json", args.json):
            Path(args.json).write_text(text)
        written.append(args.json)
    if args.plot or args.convergence or args.animate:
        import matplotlib.pyplot as plt

        from .. import plots

        model = out.model

        def model_fn(p, x):
            return model.eval(p, x)

        jac_fn = (lambda p, x: model.jacobian(p, x)) if model.has_jacobian else None
        if args.plot:
            fig = plots.plot_fit(out.result, model_fn, out.x, out.y, out.sigma,
                                 jac_fn=jac_fn, absolute_sigma=args.absolute_sigma,
                                 xlabel=args.x, ylabel=args.y)
            with writing("--plot", args.plot):
                fig.savefig(args.plot, dpi=100)
            plt.close(fig)
            written.append(args.plot)
        if args.convergence:
            fig = plots.plot_convergence(out.result)
            with writing("--convergence", args.convergence):
                fig.savefig(args.convergence, dpi=100)
            plt.close(fig)
            written.append(args.convergence)
        if args.animate:
            with writing("--animate", args.animate):
                plots.animate_fit(out.result, model_fn, out.x, out.y, args.animate,
                                  sigma=out.sigma, param_names=out.names, xlabel=args.x,
                                  ylabel=args.y)
            written.append(args.animate)
    return written


def main(args) -> int:
    check_outputs(args)
    # Data near the ends of the double range (1e300) overflow in the statistics' sums of
    # squares: the report shows inf or n/a there; a RuntimeWarning would only be noise.
    with np.errstate(all="ignore"):
        out = run_fit(args)
        print(report(out, args))
        for path in write_outputs(out, args):
            print(f"wrote {path}")
    return 0 if out.result.success else 1
