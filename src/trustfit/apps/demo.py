"""``trustfit demo``: the textbook example from its three starts, every trustfit method and
every SciPy method side by side, in the same run; with ``--out DIR`` also, per start, the
fit plot, the convergence plot and an animation of the article's method (``'hybrid'`` with
the article's settings), and the data as a CSV file for ``trustfit fit``."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import scipy.optimize

from . import examples
from ..core.events import RescueRestart
from ..faces.least_squares import SOLVERS, least_squares


def _row(tool: str, method: str, cost: float, x: np.ndarray, iterations: str, stop: str) -> str:
    mark = "*" if abs(cost - examples.MINIMUM_COST) <= 1e-5 * examples.MINIMUM_COST else " "
    xs = " ".join(f"{v:10.4g}" for v in x)
    return f"  {tool:8s} {method:7s} {cost:12.6g}{mark} {xs}  {iterations:>6s}  {stop}"


def run_table(out=print) -> list[dict]:
    """Fit the textbook example from each start with every method; print and return rows."""
    rows = []
    for x0 in examples.STARTS:
        out(f"\nstart x0 = {x0.tolist()}   (* = global minimum, cost {examples.MINIMUM_COST})")
        out(f"  {'tool':8s} {'method':7s} {'cost':>12s}  {'x1':>10s} {'x2':>10s} {'x3':>10s} "
            f"{'x4':>10s}  {'iters':>6s}  stop reason")
        for method in SOLVERS:
            settings = dict(examples.ARTICLE_SETTINGS, method=method)
            r = least_squares(examples.residuals, x0, jac=examples.jacobian, **settings)
            out(_row("trustfit", method, r.cost, r.x, str(r.nit), r.stop_reason.name))
            rows.append(dict(tool="trustfit", method=method, x0=x0.tolist(), cost=r.cost,
                             x=r.x.tolist(), nit=r.nit, stop=r.stop_reason.name))
        r = least_squares(examples.residuals, x0)
        restarts = sum(isinstance(e, RescueRestart) for e in r.events)
        out(_row("trustfit", "default", r.cost, r.x, str(r.nit),
                 f"{r.stop_reason.name} (no jac; {restarts} rescue restarts)"))
        rows.append(dict(tool="trustfit", method="default", x0=x0.tolist(), cost=r.cost,
                         x=r.x.tolist(), nit=r.nit, stop=r.stop_reason.name))
        for method in ("lm", "trf", "dogbox"):
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                r = scipy.optimize.least_squares(examples.residuals, x0, jac=examples.jacobian,
                                                 method=method)
            out(_row("scipy", method, r.cost, r.x, f"{r.nfev}ev", r.message[:60]))
            rows.append(dict(tool="scipy", method=method, x0=x0.tolist(), cost=r.cost,
                             x=r.x.tolist(), nfev=r.nfev, stop=r.message))
    return rows


def _model_jacobian(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    return examples.jacobian(x, t)


def write_pictures(out: Path, starts=(1, 2, 3)) -> list[Path]:
    """Per start (numbered 1 to 3 as in ``examples.STARTS``): ``start{k}_fit.png``,
    ``start{k}_convergence.png`` and ``start{k}_animation.gif`` for the article's method and
    settings; and ``textbook.csv``. A progress bar runs on stderr when it is a terminal."""
    import matplotlib.pyplot as plt

    from .. import plots
    from ..console.progress import Progress
    from ..console.table import write_columns
    from ..plots._common import outcome

    out.mkdir(parents=True, exist_ok=True)
    written = []
    csv_path = out / "textbook.csv"
    write_columns(csv_path, {"t": examples.T, "y": examples.Y})
    written.append(csv_path)
    with Progress(3 * len(starts), "demo pictures") as bar:
        for k in starts:
            x0 = examples.STARTS[k - 1]
            r = least_squares(examples.residuals, x0, jac=examples.jacobian,
                              **examples.ARTICLE_SETTINGS)
            where = "start {} = [{}]".format(k, ", ".join(f"{v:g}" for v in x0))
            fig = plots.plot_fit(r, examples.model, examples.T, examples.Y,
                                 jac_fn=_model_jacobian, xlabel="t", ylabel="y",
                                 title=f"{where}: cost {r.cost:.6g}, {outcome(r)}")
            path = out / f"start{k}_fit.png"
            fig.savefig(path, dpi=100)
            plt.close(fig)
            written.append(path)
            bar.advance(note=path.name)
            fig = plots.plot_convergence(
                r, title=f"hybrid from {where}: final cost {r.cost:.6g}, {outcome(r)}")
            path = out / f"start{k}_convergence.png"
            fig.savefig(path, dpi=100)
            plt.close(fig)
            written.append(path)
            bar.advance(note=path.name)
            path = out / f"start{k}_animation.gif"
            plots.animate_fit(r, examples.model, examples.T, examples.Y, path,
                              xlabel="t", ylabel="y")
            written.append(path)
            bar.advance(note=path.name)
    return written


def check_out(out: Path) -> None:
    """Before the table: ``--out`` must be a folder, or a path where one is made now, and
    the pictures need matplotlib."""
    from ..console.table import InputError

    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a folder; give a folder for the "
                         f"pictures")
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise InputError(f"--out: cannot make the folder {out}: {existing} is a file")
    import matplotlib  # noqa: F401  (an ImportError here names the missing plot extra)

    from ..console.options import writing

    with writing("--out", out):
        out.mkdir(parents=True, exist_ok=True)


def main(out: str | Path | None = None) -> int:
    if out is not None:
        check_out(Path(out))
    print("trustfit demo: y = x3*exp(x1*t) + x4*exp(x2*t), t = 0, 2, ..., 20 "
          "(Madsen, Nielsen & Tingleff 2004)")
    print("trustfit with the article's settings (gtol = xtol = 1e-5, at most 1000 iterations, "
          "no rescue), and trustfit's default call (no Jacobian, rescue on); SciPy with its "
          "defaults and the same analytic Jacobian.")
    run_table()
    if out is not None:
        out = Path(out)
        print(f"\npictures of the article's method ('hybrid') from each start, in {out}/:")
        from ..console.options import writing

        with writing("--out", out):
            written = write_pictures(out)
        for path in written:
            print(f"  wrote {path}")
        print(f"\nthe same fit from the command line (start 1):\n  trustfit fit "
              f"{out / 'textbook.csv'} --model \"{examples.EXPRESSION}\" --x t --y y "
              f"--p0 x1=-1,x2=1,x3=-10,x4=10 --method hybrid\n"
              f"  (after `make demo` the command is .venv/bin/trustfit, or run "
              f"`source .venv/bin/activate` first)")
    return 0
