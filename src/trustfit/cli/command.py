"""The ``trustfit`` command: one entry point, subcommands.

    trustfit fit DATA.csv --model "a*exp(-b*t) + c" --x t --y signal --p0 a=1,b=0.1,c=0
    trustfit demo [--out DIR]
    trustfit bench nist [options]      (and ``trustfit bench batch`` where installed)

Exit status: 0 converged, 1 not converged (the report says why; for ``batch``: some curve
did not converge), 2 bad input, 3 an internal error (a bug: the message asks to report it).
Bad input (a missing file or column, a cell that is not a number, a bad expression, an
unknown parameter, an output that cannot be written, a missing optional dependency) is one
line on stderr naming the file, line and column, or the option; ``--debug`` adds the
traceback. Output paths are checked before any fitting, and an input file is never
overwritten. Numbers follow one rule everywhere (:mod:`trustfit.console.table`).
"""
from __future__ import annotations

import argparse
import errno
import importlib
import inspect
import os
import sys
import traceback

EXIT_NOT_CONVERGED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3

#: ``trustfit bench NAME`` runs ``main(argv, prog=...)`` of these modules when installed.
BENCHMARKS = {"nist": "trustfit.apps.bench_nist", "batch": "trustfit.apps.bench_batch",
              "single": "trustfit.apps.bench_single"}
#: Where a benchmark lives when it is not installed as a module.
BENCH_HINTS = {"batch": "; install the batch extra: pip install 'trustfit[batch]'"}
#: Optional dependencies and the extra that installs each.
EXTRAS = {"sympy": "models", "numba": "batch", "llvmlite": "batch", "matplotlib": "plot",
          "PIL": "plot", "dask": "dask", "distributed": "dask"}
#: The second half of an internal error's line.
REPORT_HINT = ("this is a bug in trustfit; please report it with the command line "
               "(--debug shows the traceback)")


def version() -> str:
    """The installed distribution's version (importlib.metadata), else the package's."""
    from importlib import metadata

    try:
        return metadata.version("trustfit")
    except metadata.PackageNotFoundError:
        from .. import __version__
        return __version__


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``trustfit fit: error: ... (see --help)``."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


FIT_EPILOG = """\
examples:
  trustfit fit decay.csv --model "a*exp(-b*time) + c" --x time --y signal --p0 a=1,b=0.1,c=0
  trustfit fit peak.csv --model gaussian --x t --y y      (a library model guesses its start)
  trustfit fit decay.csv --model "a*exp(-b*time) + c" --x time --y signal --sigma err \\
      --p0 a=1,b=0.1,c=0 --bounds b=0:10 --json fit.json --plot fit.png --animate fit.gif

The expression may use + - * / ** ^, numbers, pi, e and the functions exp log ln log10 sqrt
sin cos tan asin acos atan sinh cosh tanh abs erf erfc; every other name is a parameter,
except the independent variable (--x, or --var). Numbers (cells, --p0, --bounds) are ASCII
digits with an optional sign, decimal point and exponent; --bounds sides may be inf or
empty. Exit status: 0 converged, 1 not converged, 2 bad input, 3 internal error.
"""


def build_parser() -> argparse.ArgumentParser:
    from ..console.options import whole_number

    parser = Parser(prog="trustfit",
                    description="trustfit: nonlinear least squares and curve fitting that gets "
                                "the right answer, and says why when it can't.",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error with its one line")
    parser.add_argument("--version", action="version", version=f"trustfit {version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    fit = sub.add_parser("fit", help="fit an expression to two columns of a CSV file",
                         description="Fit an expression model to columns of a CSV file and "
                                     "print the report.", epilog=FIT_EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    fit.add_argument("data", metavar="DATA.csv",
                     help="CSV file with a header line of column names ('#' lines skipped)")
    fit.add_argument("--model", required=True, metavar="EXPR",
                     help='the model: an expression, e.g. "a*exp(-b*time) + c", or a library '
                          'model by name: exponential, double_exponential, gaussian, '
                          'lorentzian, voigt, logistic, power_law, michaelis_menten')
    fit.add_argument("--x", required=True, metavar="COL", help="column of the independent "
                     "variable")
    fit.add_argument("--y", required=True, metavar="COL", help="column of the measurements")
    fit.add_argument("--sigma", metavar="COL", default=None,
                     help="column of the measurement errors (weights 1/sigma^2)")
    fit.add_argument("--absolute-sigma", action="store_true",
                     help="take --sigma as absolute errors; by default the covariance is "
                          "scaled by the residual variance, as SciPy's curve_fit does")
    fit.add_argument("--var", metavar="NAME", default=None,
                     help="the name of the --x variable in the expression (default: the "
                          "column name)")
    fit.add_argument("--p0", default=None, metavar="a=1,b=0.1,...",
                     help="starting values; required for an expression, optional for a "
                          "library model (the others are guessed from the data)")
    fit.add_argument("--bounds", metavar="b=0:10,...", default=None,
                     help="bounds lower:upper of some parameters; either side may be empty")
    fit.add_argument("--method", default=None, metavar="M",
                     help="auto (default: dogleg, then Levenberg-Marquardt where not "
                          "certified), lm, hybrid, dogleg, gn (SciPy's trf, dogbox accepted)")
    fit.add_argument("--max-nfev", type=whole_number(1), default=None, metavar="N",
                     help="residual evaluation budget")
    fit.add_argument("--starts", type=whole_number(), default=None, metavar="N",
                     help="multi-start: N runs from --p0 and N-1 quasi-random points around "
                          "it (within --bounds where both are given); the best is reported "
                          "with the distinct minima found")
    fit.add_argument("--json", metavar="OUT.json", default=None,
                     help="write parameters, cost, stop reason, history and diagnosis")
    fit.add_argument("--plot", metavar="OUT.png", default=None,
                     help="write the fit plot (data, fit, 95%% band, residuals)")
    fit.add_argument("--convergence", metavar="OUT.png", default=None,
                     help="write the convergence plot (cost, gradient, damping per iteration)")
    fit.add_argument("--animate", metavar="OUT.gif", default=None,
                     help="write an animation of the fit, one frame per iteration "
                          "(.gif; .mp4 when ffmpeg is installed)")

    demo = sub.add_parser("demo", help="the textbook example: every method and SciPy side by "
                                       "side, and its pictures with --out")
    demo.add_argument("--out", metavar="DIR", default=None,
                      help="write per start a fit plot, a convergence plot and an animation "
                           "into DIR (created if missing)")

    from .batch_command import add_arguments as add_batch_arguments
    batch = sub.add_parser("batch", help="fit every curve of an (N, m) .npy / .csv stack "
                                         "with the batch fitter")
    add_batch_arguments(batch)
    # --debug also after these subcommands (hidden; SUPPRESS: not given there, the main
    # parser's value stands); not after bench, whose options go to the benchmark
    for command in (fit, demo, batch):
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help=argparse.SUPPRESS)

    bench = sub.add_parser("bench", help="benchmarks: nist (the NIST StRD problems), batch",
                           add_help=True)
    bench.add_argument("benchmark", choices=sorted(BENCHMARKS), help="which benchmark")
    bench.add_argument("options", nargs=argparse.REMAINDER,
                       help="options of the benchmark (see trustfit bench NAME --help)")
    return parser


def _bench(name: str, options: list[str]) -> int:
    module_name = BENCHMARKS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            from ..console.table import InputError
            raise InputError(f"the {name} benchmark ({module_name}) is not part of this "
                             f"installation of trustfit{BENCH_HINTS.get(name, '')}") from None
        raise
    prog = f"trustfit bench {name}"
    if "prog" in inspect.signature(module.main).parameters:
        return module.main(options, prog=prog)
    return module.main(options)


def _run(args) -> int:
    if args.command == "fit":
        from . import fit_command as _fit_command
        return _fit_command.main(args)
    if args.command == "demo":
        from ..apps.demo import main as demo_main
        return demo_main(out=args.out)
    if args.command == "bench":
        return _bench(args.benchmark, args.options)
    if args.command == "batch":
        from .batch_command import run_from_args
        return run_from_args(args)
    raise AssertionError(args.command)


def _one_line(exc: BaseException) -> str:
    """The first non-blank line of the message (the expression parser adds the expression
    and a caret under the column on lines of their own; the first line names the column)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _missing_extra(exc: ImportError) -> str | None:
    """The message for an optional dependency that is not installed, or None when the
    ImportError is something else (then it is an internal error)."""
    top = (exc.name or "").partition(".")[0]
    if top in EXTRAS:
        return (f"this needs {top}, which is not installed: pip install "
                f"'trustfit[{EXTRAS[top]}]'")
    text = str(exc)
    if "pip install 'trustfit[" in text:  # trustfit's own message, which names the extra
        return _one_line(exc)
    return None


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (a test's capture)
        pass


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    # argparse (before Python 3.12) drops the value of --opt=-- and leaves an empty list
    for name, value in vars(args).items():
        if isinstance(value, list) and name != "options":
            prog = f"{parser.prog} {args.command}"
            parser.exit(EXIT_BAD_INPUT, f"{prog}: error: argument --{name.replace('_', '-')}: "
                                        f"'--' is not a value (see {prog} --help)\n")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    from ..console.table import InputError

    def fail(code: int, message: str) -> int:
        if args.debug:
            traceback.print_exc()
        print(f"trustfit {args.command}: {message}", file=sys.stderr)
        return code

    try:
        code = _run(args)
        sys.stdout.flush()  # a full device or a closed pipe fails here, not at exit
        return code
    except OSError as exc:
        # Files trustfit writes report their own errors (InputError, naming the option);
        # a closed pipe or a full device left here is standard output.
        if exc.errno not in (errno.EPIPE, errno.ENOSPC):
            return fail(EXIT_INTERNAL, f"internal error: {type(exc).__name__}: "
                                       f"{_one_line(exc)}; {REPORT_HINT}")
        _quiet_stdout()
        return fail(EXIT_BAD_INPUT, f"error: cannot write to standard output: "
                                    f"{exc.strerror or exc}")
    except InputError as exc:
        return fail(EXIT_BAD_INPUT, f"error: {_one_line(exc)}")
    except KeyboardInterrupt:
        return fail(130, "interrupted")
    except ImportError as exc:
        missing = _missing_extra(exc)
        if missing is not None:
            return fail(EXIT_BAD_INPUT, f"error: {missing}")
        return fail(EXIT_INTERNAL, f"internal error: {type(exc).__name__}: {_one_line(exc)}; "
                                   f"{REPORT_HINT}")
    except Exception as exc:  # anything else is a bug or an environment problem
        return fail(EXIT_INTERNAL, f"internal error: {type(exc).__name__}: {_one_line(exc)}; "
                                   f"{REPORT_HINT}")


if __name__ == "__main__":
    sys.exit(main())
