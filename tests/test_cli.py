"""The ``trustfit`` command end to end: subprocesses on CSV files written here, JSON
contents against known numbers, pictures checked, and every kind of bad input answered with
one line on stderr and a non-zero exit.

Bad inputs run in-process through ``trustfit.cli.main`` (same code path, no interpreter
start-up per case); the main flows and a few bad inputs run as real subprocesses."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.optimize
from _images import assert_picture, n_frames

import trustfit
from trustfit.cli import command as cli
from trustfit import examples as ex
from trustfit.console.progress import Progress
from _cli_calls import Stream as _Stream, call  # noqa: E402

pytest.importorskip("sympy")

TEXTBOOK = "x3*exp(x1*t) + x4*exp(x2*t)"
START1 = "x1=-1,x2=1,x3=-10,x4=10"


def run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "trustfit", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def textbook_csv(tmp_path):
    path = tmp_path / "textbook.csv"
    rows = "\n".join(f"{t:g},{y:g}" for t, y in zip(ex.T, ex.Y))
    path.write_text(f"# Madsen, Nielsen & Tingleff, example 3.7\nt,y\n{rows}\n")
    return path


@pytest.fixture
def decay_csv(tmp_path):
    """Decay data with an error column and a text column the fit does not use."""
    rng = np.random.default_rng(7)
    t = np.linspace(0, 10, 21)
    err = np.full(t.size, 0.05)
    y = 2.5 * np.exp(-0.45 * t) + 0.5 + rng.normal(0, 0.05, t.size)
    lines = ["time;signal;err;label"] + [f"{a:.6g};{b:.10g};{c:g};run {i}"
                                         for i, (a, b, c) in enumerate(zip(t, y, err))]
    path = tmp_path / "decay.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, t, y, err


# --- the fit, end to end -------------------------------------------------------------------
def test_fit_textbook_from_csv_json_and_pictures(tmp_path, textbook_csv):
    out_json, png, conv, gif = (tmp_path / n for n in ("fit.json", "fit.png", "conv.png",
                                                        "fit.gif"))
    p = run("fit", textbook_csv, "--model", TEXTBOOK, "--x", "t", "--y", "y", "--p0", START1,
            "--method", "hybrid", "--json", out_json, "--plot", png, "--convergence", conv,
            "--animate", gif)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""  # not a terminal: no progress bar, no noise
    assert "x1" in p.stdout and "95% interval" in p.stdout and "converged" in p.stdout
    d = json.loads(out_json.read_text())
    assert d["cost"] == pytest.approx(ex.MINIMUM_COST, abs=5e-8)
    assert d["success"] is True and d["method"] == "hybrid"
    assert d["stop_reason"] in {s.name for s in trustfit.StopReason}
    assert list(d["parameters"]) == ["x3", "x1", "x4", "x2"]  # as written in the expression
    got = np.array([d["parameters"][n]["value"] for n in ("x1", "x2", "x3", "x4")])
    np.testing.assert_allclose(got, ex.MINIMUM_X, atol=2e-4)
    # stderr and intervals: the same numbers as the library's covariance of the same fit.
    r = trustfit.least_squares(ex.residuals, ex.STARTS[0], jac=ex.jacobian, method="hybrid")
    from trustfit.analysis.uncertainty import covariance
    se = covariance(r).stderr
    for i, name in enumerate(("x1", "x2", "x3", "x4")):
        par = d["parameters"][name]
        assert par["stderr"] == pytest.approx(se[i], rel=1e-4)
        lo, hi = par["interval"]
        assert lo < par["value"] < hi
        assert hi - lo == pytest.approx(2 * 2.3646 * se[i], rel=1e-3)  # t(0.975, 7 dof)
    assert d["nfev"] >= d["nit"] == len(d["history"]) > 0
    h = d["history"][0]
    assert set(h) >= {"iteration", "x", "cost", "grad_norm", "step_kind", "accepted", "mu"}
    assert h["radius"] is None  # NaN (no radius in LM mode) is written as null
    assert "diagnosis" in d
    assert_picture(png)
    assert_picture(conv)
    accepted = sum(h["accepted"] for h in d["history"])
    assert n_frames(gif) == accepted + 1
    assert_picture(gif, frame=n_frames(gif) - 1)


def test_fit_with_sigma_matches_scipy_curve_fit(tmp_path, decay_csv):
    path, t, y, err = decay_csv
    out_json = tmp_path / "d.json"
    p = run("fit", path, "--model", "a*exp(-b*time) + c", "--x", "time", "--y", "signal",
            "--sigma", "err", "--p0", "a=1,b=0.1,c=0", "--bounds", "b=0:10",
            "--json", out_json)
    assert p.returncode == 0, p.stderr
    d = json.loads(out_json.read_text())
    popt, pcov = scipy.optimize.curve_fit(lambda t, a, b, c: a * np.exp(-b * t) + c, t, y,
                                          p0=[1, 0.1, 0], sigma=err)
    got = [d["parameters"][n]["value"] for n in "abc"]
    np.testing.assert_allclose(got, popt, rtol=1e-6)
    np.testing.assert_allclose([d["parameters"][n]["stderr"] for n in "abc"],
                               np.sqrt(np.diag(pcov)), rtol=1e-4)
    assert d["sigma"] == "err" and d["points"] == 21


def test_not_converged_exits_1_with_the_report(capsys, textbook_csv):
    code, out, err = call(capsys, "fit", textbook_csv, "--model", TEXTBOOK, "--x", "t",
                          "--y", "y", "--p0", START1, "--max-nfev", "3")
    assert code == cli.EXIT_NOT_CONVERGED
    assert "not converged" in out.lower() and "MAX_NFEV" in out and err == ""


def test_undetermined_parameters_have_no_error_in_the_json(capsys, tmp_path, textbook_csv):
    # One evaluation from start 1 with x3 = 0: x1's column x3 t exp(x1 t) is exactly zero,
    # rank 3. (x3's column exp(-t) is 1e-10 of x4's exp(t), but exact: a huge error, not none.)
    out_json = tmp_path / "u.json"
    code, out, _ = call(capsys, "fit", textbook_csv, "--model", TEXTBOOK, "--x", "t",
                        "--y", "y", "--p0", START1.replace("x3=-10", "x3=0"), "--max-nfev", "1",
                        "--json", out_json)
    assert code == cli.EXIT_NOT_CONVERGED
    d = json.loads(out_json.read_text())
    codes = [f["code"] for f in d["diagnosis"]]
    assert "rank_deficient" in codes and "budget_exhausted" in codes
    assert d["parameters"]["x1"]["stderr"] is None
    assert d["parameters"]["x1"]["interval"] == [None, None]
    assert d["parameters"]["x3"]["stderr"] > 1e6
    assert d["parameters"]["x2"]["stderr"] > 0
    assert "undetermined" in d["interval_note"]


def test_var_names_a_column_that_is_not_an_identifier(capsys, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("time (s),y\n" + "\n".join(f"{t},{2 * t + 1}" for t in range(6)))
    code, out, err = call(capsys, "fit", path, "--model", "a + b*s", "--x", "time (s)",
                          "--var", "s", "--y", "y", "--p0", "a=0,b=0")
    assert code == 0, err
    code, _, err = call(capsys, "fit", path, "--model", "a + b*s", "--x", "time (s)",
                        "--y", "y", "--p0", "a=0,b=0")
    assert code == 2 and "--var" in one_line(err)


def test_multistart_reports_minima_and_draws_a_bar_only_on_a_terminal(
        capsys, tmp_path, textbook_csv, monkeypatch):
    argv = ["fit", textbook_csv, "--model", TEXTBOOK, "--x", "t", "--y", "y",
            "--p0", "x1=0,x2=0,x3=0,x4=0", "--starts", "4"]
    p = run(*argv, "--json", tmp_path / "m.json")
    assert p.returncode == 0 and p.stderr == ""  # a pipe: no bar
    d = json.loads((tmp_path / "m.json").read_text())
    assert d["cost"] == pytest.approx(ex.MINIMUM_COST, rel=1e-6)
    assert d["minima"] and d["minima"][0]["cost"] == pytest.approx(ex.MINIMUM_COST, rel=1e-6)
    assert set(d["minima"][0]["x"]) == {"x1", "x2", "x3", "x4"}
    summary = [e for e in d["events"] if e["kind"] == "multistart_summary"]
    assert [(e["starts"], e["design"]) for e in summary] == [(4, "sobol")]
    assert summary[0]["text"].startswith("multistart: 4 starts")
    tty = _Stream(True)
    monkeypatch.setattr(sys, "stderr", tty)
    assert cli.main([str(a) for a in argv]) == 0
    assert "multi-start [" in tty.getvalue() and "4/4" in tty.getvalue()
    code, _, err = call(capsys, *argv[:-1], "1")
    monkeypatch.undo()
    assert code == 2 and "--starts: give at least 2 starts" in tty.getvalue()


# --- bad input: one line, exit 2 ------------------------------------------------------------
def test_missing_file_through_a_subprocess(tmp_path):
    p = run("fit", tmp_path / "nope.csv", "--model", "a*t", "--x", "t", "--y", "y",
            "--p0", "a=1")
    assert p.returncode == 2 and p.stdout == ""
    assert one_line(p.stderr) == f"trustfit fit: error: {tmp_path / 'nope.csv'}: no such file"


def test_non_numeric_cell_through_a_subprocess(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("t,y\n0,1\n1,2\n# comment\n2,abc\n3,4\n")
    p = run("fit", path, "--model", "a*t+b", "--x", "t", "--y", "y", "--p0", "a=1,b=0")
    assert p.returncode == 2
    assert one_line(p.stderr) == (f"trustfit fit: error: {path}, line 5, column 'y': "
                                  f"'abc' is not a number")


@pytest.mark.parametrize("csv_text, expected", [
    ("time,signal\n1,2\n", "no column 't'; the columns are 'time', 'signal'"),
    ("t,y\n0,1\n1,\n", "line 3, column 'y': the cell is empty"),
    ("t,y\n0,1\n1,nan\n", "line 3, column 'y': 'nan' is not a finite number"),
    ("t,y\n0,1\n5\n", "line 3: 1 fields, too few for column 'y'"),
    ("", "the file is empty"),
    ("# only a comment\n", "the file is empty"),
    ("t,y\n", "no data rows after the header"),
    ("t,y,t\n1,2,3\n", "column 't' appears 2 times"),
])
def test_bad_csv(capsys, tmp_path, csv_text, expected):
    path = tmp_path / "d.csv"
    path.write_text(csv_text)
    code, out, err = call(capsys, "fit", path, "--model", "a*t", "--x", "t", "--y", "y",
                          "--p0", "a=1")
    assert code == 2 and out == ""
    line = one_line(err)
    assert line.startswith(f"trustfit fit: error: {path}")
    assert expected in line


def test_directory_instead_of_a_file(capsys, tmp_path):
    code, _, err = call(capsys, "fit", tmp_path, "--model", "a*t", "--x", "t", "--y", "y",
                        "--p0", "a=1")
    assert code == 2 and "is a directory" in one_line(err)


def test_non_positive_sigma(capsys, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("t,y,s\n0,1,1\n1,2,0\n2,3,1\n")
    code, _, err = call(capsys, "fit", path, "--model", "a*t+b", "--x", "t", "--y", "y",
                        "--sigma", "s", "--p0", "a=1,b=0")
    assert code == 2
    assert one_line(err).endswith(f"{path}, line 3, column 's': '0' is not positive "
                                  f"(measurement errors must be)")


@pytest.mark.parametrize("args, expected", [
    (["--model", "a*exp(-b*t"], "--model: "),
    (["--model", "a*exp(-b*q)"], "--model: "),                       # t absent
    (["--model", "a*t", "--p0", "a=1,b=2"], "--p0: the model has no parameter 'b' "
                                            "(its parameters are a)"),
    (["--model", "a*t+b", "--p0", "a=1"], "--p0: no starting value for b"),
    (["--p0", "a=x"], "--p0: a='x' is not a number"),
    (["--p0", "a"], "--p0: 'a' is not of the form name=value"),
    (["--p0", "a=1,a=2"], "--p0: 'a' is given twice"),
    (["--bounds", "a=5"], "--bounds: a='5' must be lower:upper"),
    (["--bounds", "a=5:1"], "the lower bound must be below the upper bound"),
    (["--bounds", "z=0:1"], "--bounds: the model has no parameter 'z'"),
    (["--bounds", "a=2:3"], "--p0/--bounds: "),                      # p0 outside its bounds
    (["--method", "newton"], "method"),
    (["--animate", "out.avi"], "--animate: "),
    (["--plot", "out.xyz"], "--plot: cannot tell the image format"),
    (["--json", "no/such/dir/o.json"], "--json: cannot write"),
    (["--x", "y"], "--x, --y and --sigma must name different columns"),
    (["--model", "a*log(t)"], "cannot start the fit: Residuals are not finite in the initial "
                              "point. fun returned non-finite residuals"),
    (["--model", "+".join(f"p{i}*t**{i}" for i in range(12)), "--p0",
      ",".join(f"p{i}=1" for i in range(12))], "11 data rows for 12 parameters"),
    (["--model", "a*t + e", "--p0", "a=1,e=2"], "is the constant e, so call the parameter"),
])
def test_bad_options(capsys, tmp_path, textbook_csv, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    base = {"--model": "a*t", "--x": "t", "--y": "y", "--p0": "a=1"}
    extra = []
    for i in range(0, len(args), 2):
        if args[i] in base:
            base[args[i]] = args[i + 1]
        else:
            extra += args[i:i + 2]
    argv = ["fit", textbook_csv] + [v for kv in base.items() for v in kv] + extra
    code, out, err = call(capsys, *argv)
    assert code == 2, (out, err)
    line = one_line(err)
    assert line.startswith("trustfit fit: error: ") and expected in line
    assert not list(tmp_path.glob("out.*"))


def test_usage_errors_are_one_line(capsys, textbook_csv):
    code, out, err = call(capsys, "fit", textbook_csv, "--x", "t", "--y", "y", "--p0", "a=1")
    assert code == 2
    assert one_line(err) == ("trustfit fit: error: the following arguments are required: "
                             "--model (see trustfit fit --help)")
    code, _, err = call(capsys, "frobnicate")
    assert code == 2 and "invalid choice" in one_line(err)


@pytest.mark.parametrize("expr", [
    "__import__('os').system('touch PWNED')",
    "a*t + open('PWNED', 'w')",
    "a.__class__.__mro__",
    "(lambda: a)() * t",
    "[a for a in t]",
    "a*t; import os",
    "a*t if a else t",
    "eval('a')*t",
    "a*t + exec('1')",
    "t[0]*a",
])
def test_expression_whitelist_refuses_injection(capsys, tmp_path, textbook_csv, monkeypatch,
                                                expr):
    monkeypatch.chdir(tmp_path)
    code, out, err = call(capsys, "fit", textbook_csv, "--model", expr, "--x", "t",
                          "--y", "y", "--p0", "a=1")
    assert code == 2 and out == ""
    assert one_line(err).startswith("trustfit fit: error: --model: ")
    assert not (tmp_path / "PWNED").exists()


def test_injection_through_a_subprocess_runs_nothing(tmp_path, textbook_csv):
    marker = tmp_path / "PWNED"
    p = run("fit", textbook_csv, "--model", f"__import__('pathlib').Path('{marker}').touch()",
            "--x", "t", "--y", "y", "--p0", "a=1")
    assert p.returncode == 2 and not marker.exists()
    assert one_line(p.stderr).startswith("trustfit fit: error: --model: ")


def test_debug_shows_the_traceback(tmp_path):
    p = run("--debug", "fit", tmp_path / "nope.csv", "--model", "a*t", "--x", "t", "--y", "y",
            "--p0", "a=1")
    assert p.returncode != 0 and "Traceback" in p.stderr and "InputError" in p.stderr


# --- demo, bench, progress -------------------------------------------------------------------
def test_demo_table_through_a_subprocess():
    p = run("demo")
    assert p.returncode == 0 and p.stderr == ""
    assert p.stdout.count("trustfit hybrid") == 3 and p.stdout.count("scipy    lm") == 3
    assert "0.0255953*" in p.stdout


def test_demo_pictures(tmp_path):
    from trustfit.apps.demo import write_pictures

    written = write_pictures(tmp_path / "demo", starts=(3,))
    names = sorted(p.name for p in written)
    assert names == ["start3_animation.gif", "start3_convergence.png", "start3_fit.png",
                     "textbook.csv"]
    for p in written:
        if p.suffix == ".png":
            assert_picture(p)
    r = trustfit.least_squares(ex.residuals, ex.STARTS[2], jac=ex.jacobian,
                               **ex.ARTICLE_SETTINGS)
    gif = tmp_path / "demo" / "start3_animation.gif"
    assert n_frames(gif) == sum(h.accepted for h in r.history) + 1
    from trustfit.console.table import read_columns
    cols = read_columns(tmp_path / "demo" / "textbook.csv", ["t", "y"])
    np.testing.assert_array_equal(cols["t"], ex.T)
    np.testing.assert_array_equal(cols["y"], ex.Y)


def test_bench_nist_is_wired(capsys):
    pytest.importorskip("trustfit.apps.bench_nist")
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "nist", "--help"])
    assert exc.value.code == 0
    assert "usage: trustfit bench nist" in capsys.readouterr().out


def test_bench_that_is_not_installed(capsys, monkeypatch):
    monkeypatch.setitem(cli.BENCHMARKS, "batch", "trustfit._no_such_benchmark")
    code, out, err = call(capsys, "bench", "batch")
    assert code == 2
    assert one_line(err) == ("trustfit bench: error: the batch benchmark "
                             "(trustfit._no_such_benchmark) is not part of this installation "
                             "of trustfit; install the batch extra: pip install 'trustfit[batch]'")


def test_progress_bar_only_on_a_terminal():
    quiet, loud = _Stream(False), _Stream(True)
    for stream in (quiet, loud):
        with Progress(4, "work", stream=stream) as bar:
            for _ in range(4):
                bar.advance(note="step")
    assert quiet.getvalue() == ""
    text = loud.getvalue()
    assert "work [" in text and "4/4" in text and text.endswith("\r\033[K")


def test_bench_nist_progress_bar_only_on_a_terminal(capsys, monkeypatch):
    pytest.importorskip("trustfit.apps.bench_nist")
    argv = ["bench", "nist", "--problems", "Misra1a", "--methods", "tf-lm", "--jac",
            "analytic"]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert "Misra1a" in out and err == ""
    tty = _Stream(True)
    monkeypatch.setattr(sys, "stderr", tty)
    assert cli.main(argv) == 0
    assert "NIST StRD [" in tty.getvalue() and "2/2 Misra1a start 2" in tty.getvalue()


def test_batch_subcommand_end_to_end(tmp_path):
    # 3 exponential decays, one of them with a NaN: fitted and reported per curve.
    t = np.linspace(0, 4, 20)
    Y = np.stack([a * np.exp(-k * t) for a, k in ((2.0, 0.5), (1.0, 1.5), (3.0, 0.2))])
    Y[2, 5] = np.nan
    np.save(tmp_path / "stack.npy", Y)
    out = tmp_path / "fits.npz"
    proc = subprocess.run(
        [sys.executable, "-m", "trustfit", "batch", "a*exp(-k*t)", str(tmp_path / "stack.npy"),
         "--p0", "a=1,k=1", "--x-linspace", "0,4", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    res = np.load(out)
    names = list(res["param_names"])
    np.testing.assert_allclose(res["params"][:2, names.index("a")], [2.0, 1.0], rtol=1e-8)
    np.testing.assert_allclose(res["params"][:2, names.index("k")], [0.5, 1.5], rtol=1e-8)
    assert np.all(np.isnan(res["params"][2]))


def test_fit_a_library_model_without_p0(tmp_path):
    # --model gaussian: the library model with its data-driven guess; no --p0 needed
    t = np.linspace(0.0, 10.0, 60)
    y = 3.0 * np.exp(-(t - 4.2) ** 2 / (2 * 0.9 ** 2)) + 0.5 + 0.01 * np.cos(5 * t)
    data = tmp_path / "peak.csv"
    data.write_text("t,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(t.tolist(), y.tolist())))
    out = tmp_path / "fit.json"
    p = run("fit", data, "--model", "gaussian", "--x", "t", "--y", "y", "--json", out)
    assert p.returncode == 0, p.stderr
    d = json.loads(out.read_text())
    assert list(d["parameters"]) == ["amplitude", "center", "sigma", "offset"]
    from scipy.optimize import curve_fit

    def gauss(x, a, c, s, o):
        return a * np.exp(-(x - c) ** 2 / (2 * s ** 2)) + o

    ref, _ = curve_fit(gauss, t, y, p0=[3.0, 4.2, 0.9, 0.5], method="lm", ftol=1e-15,
                       xtol=1e-15, gtol=1e-15)
    got = [d["parameters"][n]["value"] for n in d["parameters"]]
    np.testing.assert_allclose(got, ref, rtol=1e-7)
    # an expression has no guess: --p0 is required, and the message names the library
    p = run("fit", data, "--model", "a*exp(-b*t)", "--x", "t", "--y", "y")
    assert p.returncode == 2 and "--p0: no starting value for a, b" in p.stderr
    assert "gaussian" in p.stderr
