"""The command line's contract (issue 13, item 6): exit 0 converged, 1 not converged, 2 bad
input with exactly one stderr line naming the file, line and column or the option, 3 an
internal error that asks to be reported. Output paths are checked before the fit, an input
file is never overwritten, ``--out`` is written exactly where it says, and every number is
read by one rule (:func:`trustfit.console.table.parse_number`).

In-process through ``trustfit.cli.main`` (pytest turns any warning into an error, which the
command would report as exit 3, so "no warning" is checked by every exit code here); a few
real subprocesses for what only a process shows (--version, a missing extra, a full
stdout)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trustfit.cli import command as cli
from trustfit.console.table import InputError, parse_number, read_matrix
from _cli_calls import Stream as _Stream, call  # noqa: E402

pytest.importorskip("sympy")

MODEL = "a*exp(-k*t)"


def bad(capsys, *args, command=None) -> str:
    """Run a bad input: exit 2, nothing on stdout, one stderr line; that line's message."""
    code, out, err = call(capsys, *args)
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Warning" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    prefix = f"trustfit {command or args[0]}: error: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0][len(prefix):]


@pytest.fixture
def line_csv(tmp_path):
    path = tmp_path / "line.csv"
    path.write_text("t,y\n" + "".join(f"{t},{2 * t + 1}\n" for t in range(6)))
    return path


def fit_args(path, *extra, model="a*t+b", p0="a=1,b=0"):
    return ["fit", path, "--model", model, "--x", "t", "--y", "y", "--p0", p0, *extra]


@pytest.fixture
def stack(tmp_path):
    t = np.linspace(0, 4, 12)
    noise = 1e-3 * np.random.default_rng(0).standard_normal((2, t.size))
    Y = np.stack([2.0 * np.exp(-0.5 * t), 1.0 * np.exp(-1.5 * t)]) + noise
    path = tmp_path / "stack.npy"
    np.save(path, Y)
    return path


def batch_args(data, *extra):
    return ["batch", MODEL, data, "--p0", "a=1,k=1", "--x-linspace", "0,4", *extra]


# --- the number rule --------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [
    ("1", 1.0), (" -1.5e3 ", -1500.0), (".5", 0.5), ("2.", 2.0), ("+7E-2", 0.07),
    ("1e-400", 0.0),
])
def test_numbers_by_the_rule(text, value):
    assert parse_number(text, "X") == value


@pytest.mark.parametrize("text, why", [
    ("0_5", "'0_5' is not a number (write numbers with ASCII digits"),
    ("\u0663", "is not a number (write numbers with ASCII digits"),     # Arabic-Indic 3
    ("\uff11", "is not a number (write numbers with ASCII digits"),     # full-width 1
    ("\u20031", "is not a number"),                                     # em space, then 1
    ("0x10", "'0x10' is not a number"),
    ("1e", "'1e' is not a number"),
    ("nan", "'nan' is not a finite number"),
    ("-inf", "'-inf' is not a finite number"),
    ("1e400", "'1e400' is beyond the range of double precision numbers"),
    ("", "no number given"),
])
def test_everything_else_is_refused(text, why):
    with pytest.raises(InputError, match="^X: ") as exc:
        parse_number(text, "X")
    assert why in str(exc.value)


def test_inf_only_where_allowed_nan_only_in_stacks():
    assert parse_number("-Inf", "X", allow_inf=True) == -np.inf
    assert parse_number("infinity", "X", allow_inf=True) == np.inf
    assert np.isnan(parse_number("NaN", "X", allow_nan=True))
    with pytest.raises(InputError, match="not a finite number"):
        parse_number("nan", "X", allow_inf=True)


@pytest.mark.parametrize("cell", ["0_5", "\u0663", "1e400", "inf"])
def test_fit_csv_cells_follow_the_rule(capsys, tmp_path, cell):
    path = tmp_path / "d.csv"
    path.write_text("t,y\n0,1\n1,3\n2,5\n3," + cell + "\n")
    msg = bad(capsys, *fit_args(path))
    assert msg.startswith(f"{path}, line 5, column 'y': {cell!r} ")


@pytest.mark.parametrize("args, expected", [
    (["--p0", "a=\u0663,b=0"], "--p0: a='\u0663' is not a number (write numbers with ASCII"),
    (["--p0", "a=0_5,b=0"], "--p0: a='0_5' is not a number"),
    (["--p0", "a=nan,b=0"], "--p0: a='nan' is not a finite number"),
    (["--bounds", "a=nan:1"], "--bounds: a='nan' is not a finite number"),
    (["--bounds", "a=0_1:5"], "--bounds: a='0_1' is not a number"),
    (["--max-nfev", "0_5"], "argument --max-nfev: '0_5' is not a whole number"),
    (["--max-nfev", "0"], "argument --max-nfev: 0 must be at least 1"),
    (["--starts", "\u0663"], "argument --starts: '\u0663' is not a whole number"),
])
def test_fit_options_follow_the_rule(capsys, line_csv, args, expected):
    argv = fit_args(line_csv)
    for i in range(0, len(args), 2):
        if args[i] in argv:
            argv[argv.index(args[i]) + 1] = args[i + 1]
        else:
            argv += args[i:i + 2]
    assert expected in bad(capsys, *argv)


def test_bounds_may_be_infinite(capsys, line_csv):
    code, out, err = call(capsys, *fit_args(line_csv, "--bounds", "a=-inf:inf,b=:1e3"))
    assert code == 0 and err == "" and "converged" in out


# --- fit: the CSV file --------------------------------------------------------------------------
def test_a_long_text_cell_in_an_unused_column_does_no_harm(capsys, tmp_path):
    path = tmp_path / "d.csv"
    rows = [f"{t},{2 * t + 1},{'x' * 131073 if t == 2 else 'note'}" for t in range(6)]
    path.write_text("t,y,label\n" + "\n".join(rows) + "\n")
    code, out, err = call(capsys, *fit_args(path))
    assert code == 0 and err == ""
    assert "converged" in out
    # the process-wide csv limit is left as it was
    import csv
    assert csv.field_size_limit() == 131072


def test_values_whose_squares_overflow_are_refused_without_a_warning(capsys, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("t,y\n" + "".join(f"{t}e300,{2 * t + 1}e300\n" for t in range(1, 7)))
    msg = bad(capsys, *fit_args(path))
    assert msg == (f"{path}, column 't': values up to 6e+300: their sum of squares overflows "
                   f"double precision (about 1.8e308); rescale the column")


# --- fit: outputs -------------------------------------------------------------------------------
def test_json_to_a_folder_is_refused_before_the_fit(capsys, tmp_path, line_csv):
    msg = bad(capsys, *fit_args(line_csv, "--json", tmp_path))
    assert msg == f"--json: {tmp_path} is a folder; give a file name"


def test_json_in_a_missing_folder_is_refused_before_the_fit(capsys, tmp_path, line_csv):
    target = tmp_path / "no" / "fit.json"
    msg = bad(capsys, *fit_args(line_csv, "--json", target))
    assert msg == f"--json: cannot write {target}: the folder {target.parent} does not exist"


def test_json_where_nothing_can_be_created_is_refused_before_the_fit(capsys, line_csv):
    # /proc refuses new files even to root, for whom permission bits do not count.
    msg = bad(capsys, *fit_args(line_csv, "--json", "/proc/trustfit.json"))
    assert msg.startswith("--json: cannot write /proc/trustfit.json: ")


def test_json_never_overwrites_the_input(capsys, tmp_path, line_csv):
    before = line_csv.read_text()
    msg = bad(capsys, *fit_args(line_csv, "--json", line_csv))
    assert msg == f"--json: {line_csv} is the input file {line_csv}; refusing to overwrite it"
    link = tmp_path / "link.json"
    link.symlink_to(line_csv)
    assert "is the input file" in bad(capsys, *fit_args(line_csv, "--json", link))
    assert line_csv.read_text() == before


def test_two_outputs_in_one_file_are_refused(capsys, tmp_path, line_csv):
    pytest.importorskip("matplotlib")
    target = tmp_path / "same.png"
    msg = bad(capsys, *fit_args(line_csv, "--plot", target, "--convergence", target))
    assert msg == f"--convergence: {target} is also the file of --plot; give each output its " \
                  f"own file"
    assert not target.exists()  # the check leaves nothing behind


def test_a_write_error_after_the_fit_is_exit_2_with_the_path(capsys, line_csv):
    # A device passes the checks (it may be /dev/stdout); a full one fails at the write.
    code, out, err = call(capsys, *fit_args(line_csv, "--json", "/dev/full"))
    assert code == 2 and "converged" in out  # the report came first
    assert err.strip() == ("trustfit fit: error: --json: cannot write /dev/full: No space "
                           "left on device")


def test_checked_outputs_leave_existing_files_alone(capsys, tmp_path, line_csv):
    target = tmp_path / "old.json"
    target.write_text("keep")
    msg = bad(capsys, *fit_args(line_csv, "--json", target, "--p0", "a=x,b=0"))
    assert msg.startswith("--p0: ")
    assert target.read_text() == "keep"
    assert call(capsys, *fit_args(line_csv, "--json", target))[0] == 0
    assert json.loads(target.read_text())["success"] is True


# --- errors: --debug, internal errors, missing extras, version ----------------------------------
def test_debug_keeps_exit_2_and_adds_the_traceback(capsys, tmp_path):
    code, out, err = call(capsys, "--debug", *fit_args(tmp_path / "nope.csv"))
    assert code == 2 and out == ""
    assert "Traceback" in err and "InputError" in err
    assert err.strip().splitlines()[-1] == (f"trustfit fit: error: {tmp_path / 'nope.csv'}: no "
                                            f"such file")


def test_an_internal_error_is_exit_3_with_a_hint_to_report_it(capsys, monkeypatch, line_csv):
    from trustfit.cli import fit_command as _fit_command

    def broken(args):
        raise RuntimeError("something inside\nthat spans lines")

    monkeypatch.setattr(_fit_command, "run_fit", broken)
    code, out, err = call(capsys, *fit_args(line_csv))
    assert code == 3
    assert err.strip() == ("trustfit fit: internal error: RuntimeError: something inside; this "
                           "is a bug in trustfit; please report it with the command line "
                           "(--debug shows the traceback)")
    code, _, err = call(capsys, "--debug", *fit_args(line_csv))
    assert code == 3 and "Traceback" in err and "RuntimeError" in err


def _python(code: str, *args, stdout=subprocess.PIPE):
    env = dict(os.environ, PYTHONPATH=str(Path(cli.__file__).parents[2]))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=120, env=env)


def test_without_the_models_extra_the_message_names_it(line_csv):
    p = _python("import sys; sys.modules['sympy'] = None\n"
                "from trustfit.cli import main\nsys.exit(main(sys.argv[1:]))",
                *fit_args(line_csv))
    assert p.returncode == 2 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1
    assert p.stderr.startswith("trustfit fit: error: --model: expression models are not "
                               "available") and "pip install 'trustfit[models]'" in p.stderr


def test_version_and_a_full_stdout_through_subprocesses(line_csv):
    from importlib import metadata

    p = _python("from trustfit.cli import main; main(['--version'])")
    assert p.returncode == 0 and p.stdout.strip() == f"trustfit {metadata.version('trustfit')}"
    with open("/dev/full", "w") as full:
        p = _python("import sys; from trustfit.cli import main; sys.exit(main(sys.argv[1:]))",
                    *fit_args(line_csv), stdout=full)
    assert p.returncode == 2
    assert p.stderr.strip() == ("trustfit fit: error: cannot write to standard output: No "
                                "space left on device")


# --- demo ----------------------------------------------------------------------------------------
def test_demo_out_that_is_a_file_is_refused_before_the_table(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "file"
    path.write_text("x")
    msg = bad(capsys, "demo", "--out", path)
    assert msg == f"--out: {path} exists and is not a folder; give a folder for the pictures"
    msg = bad(capsys, "demo", "--out", path / "sub")
    assert msg == f"--out: cannot make the folder {path / 'sub'}: {path} is a file"


# --- batch: input files -------------------------------------------------------------------------
def test_read_matrix_is_strict_and_points_at_the_cell(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("# curves\n1, 2 ,nan\n\n3,4,5\n")
    np.testing.assert_array_equal(read_matrix(path, allow_nan=True),
                                  [[1, 2, np.nan], [3, 4, 5]])
    with pytest.raises(InputError, match=r"m.csv, line 2, column 3: 'nan' is not a finite"):
        read_matrix(path)


@pytest.mark.parametrize("content, expected", [
    (None, "{path}: no such file"),
    ("a,b,c\n1,2,3\n", "{path}, line 1, column 1: 'a' is not a number (a stack has one curve "
                       "per row and no header line)"),
    ("1,2,3\n4,5\n", "{path}, line 2: 2 values, but line 1 has 3; every row must have the "
                     "same number of values"),
    ("1,2,3\n4,,6\n", "{path}, line 2, column 2: the cell is empty; write nan for a missing "
                      "point"),
    ("1,2,3\n4,0_5,6\n", "{path}, line 2, column 2: '0_5' is not a number (write numbers "
                         "with ASCII digits"),
    ("1,2,3\n4,1e999,6\n", "{path}, line 2, column 2: '1e999' is beyond the range"),
    (b"\x80\x81binary", "{path}: not a UTF-8 text file"),
    ("# nothing\n", "{path}: no rows of numbers in the file"),
])
def test_batch_bad_csv_stacks(capsys, tmp_path, content, expected):
    path = tmp_path / "stack.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    msg = bad(capsys, *batch_args(path))
    assert msg.startswith(expected.format(path=path)), msg


def test_batch_bad_npy_files(capsys, tmp_path):
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([object(), 1], dtype=object), allow_pickle=True)
    assert bad(capsys, *batch_args(obj)) == (f"{obj}: holds Python objects, not numbers (an "
                                             f"object array or a pickle); save a float array "
                                             f"with numpy.save")
    cplx = tmp_path / "c.npy"
    np.save(cplx, np.ones((2, 5), dtype=complex))
    assert bad(capsys, *batch_args(cplx)) == f"{cplx}: holds complex128 values, not real numbers"
    archive = tmp_path / "a.npy"
    with open(archive, "wb") as fh:
        np.savez(fh, Y=np.ones((2, 5)))
    assert bad(capsys, *batch_args(archive)) == f"{archive}: a .npz archive, not a .npy array"
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"\x93NUMPY garbage")
    assert bad(capsys, *batch_args(junk)).startswith(f"{junk}: not a readable .npy array")
    scalar = tmp_path / "s.npy"
    np.save(scalar, np.float64(3))
    assert "a single number" in bad(capsys, *batch_args(scalar))
    other = tmp_path / "stack.dat"
    other.write_text("1,2\n")
    assert bad(capsys, *batch_args(other)) == f"DATA: {other}: unsupported file type; use " \
                                              f".npy or .csv"


@pytest.mark.parametrize("extra, expected", [
    (["--x-linspace", "0,abc"], "--x-linspace: STOP='abc' is not a number"),
    (["--x-linspace", "0"], "--x-linspace: '0' must be START,STOP, two numbers"),
    (["--x-linspace", "0,1,2"], "--x-linspace: '0,1,2' must be START,STOP"),
    (["--x-linspace", "nan,1"], "--x-linspace: START='nan' is not a finite number"),
    (["--sigma", "nan"], "--sigma: 'nan' is not a finite number (give a positive number or "
                         "a .npy/.csv file)"),
    (["--sigma", "0"], "--sigma: '0' must be positive"),
    (["--sigma", "-1"], "--sigma: '-1' must be positive"),
    (["--sigma", "missing.csv"], "missing.csv: no such file"),
    (["--p0", "a=1,k=0_5"], "--p0: k='0_5' is not a number"),
    (["--maxiter", "2_0"], "argument --maxiter: '2_0' is not a whole number"),
    (["--chunk-size", "0"], "argument --chunk-size: 0 must be at least 1"),
])
def test_batch_bad_options(capsys, monkeypatch, tmp_path, stack, extra, expected):
    monkeypatch.chdir(tmp_path)
    argv = batch_args(stack)
    if extra[0] in argv:
        argv[argv.index(extra[0]) + 1] = extra[1]
    else:
        argv += extra
    assert expected in bad(capsys, *argv)


def test_batch_expression_errors_are_one_line(capsys, stack):
    msg = bad(capsys, "batch", "a*exp(-k*t", stack, "--p0", "a=1,k=1")
    assert msg == "model expression 'a*exp(-k*t': syntax error: '(' was never closed at column 6"


# --- batch: outputs -----------------------------------------------------------------------------
def test_batch_out_in_a_missing_folder_is_refused_before_the_fit(capsys, tmp_path, stack):
    target = tmp_path / "no" / "fits.npz"
    msg = bad(capsys, *batch_args(stack, "--out", target))
    assert msg == f"--out: cannot write {target}: the folder {target.parent} does not exist"


def test_batch_out_needs_a_known_suffix_and_never_an_input(capsys, tmp_path, stack):
    assert bad(capsys, *batch_args(stack, "--out", tmp_path / "fits")) == (
        f"--out: {tmp_path / 'fits'}: end the name in .npz or .csv (the format follows the "
        f"name)")
    csv_stack = tmp_path / "stack.csv"
    np.savetxt(csv_stack, np.load(stack), delimiter=",")
    before = csv_stack.read_text()
    assert bad(capsys, *batch_args(csv_stack, "--out", csv_stack)) == (
        f"--out: {csv_stack} is the input file {csv_stack}; refusing to overwrite it")
    assert csv_stack.read_text() == before


@pytest.mark.parametrize("name", ["fits.npz", "FITS.NPZ", "fits.csv"])
def test_batch_out_is_written_exactly_where_it_says(capsys, tmp_path, stack, name):
    target = tmp_path / name
    code, out, err = call(capsys, *batch_args(stack, "--out", target))
    assert code == 0 and err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["stack.npy", name])
    assert json.loads(out)["n_success"] == 2
    if name.lower().endswith(".npz"):
        res = np.load(target)
        np.testing.assert_allclose(res["params"], [[2.0, 0.5], [1.0, 1.5]], rtol=3e-3)
    else:
        lines = target.read_text().splitlines()
        assert lines[0].startswith("a,k,stderr_a,stderr_k,cost") and len(lines) == 3


def test_batch_exit_1_when_a_curve_did_not_converge(capsys, tmp_path, stack):
    Y = np.load(stack)
    Y[1, 3] = np.nan  # invalid data: that curve is not fitted
    path = tmp_path / "nan.npy"
    np.save(path, Y)
    code, out, err = call(capsys, *batch_args(path))
    assert code == 1 and err == ""
    summary = json.loads(out)
    assert summary["n_success"] == 1 and summary["diagnosis"]["invalid_data"] == 1


def test_batch_progress_bar_only_on_a_terminal(capsys, monkeypatch, stack):
    code, _, err = call(capsys, *batch_args(stack))
    assert code == 0 and err == ""  # captured stderr is not a terminal
    tty = _Stream(True)
    monkeypatch.setattr(sys, "stderr", tty)
    assert cli.main([str(a) for a in batch_args(stack)]) == 0
    assert "batch [" in tty.getvalue() and "2/2 curves" in tty.getvalue()
    quiet = _Stream(True)
    monkeypatch.setattr(sys, "stderr", quiet)
    assert cli.main([str(a) for a in batch_args(stack, "--no-progress")]) == 0
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("p0,why", [("lambda=1", "a reserved word in Python; call it lam"),
                                    ("a__b=1", "dunder"), ("x;y=2", "contains ';'")])
def test_p0_names_follow_the_one_name_rule(p0, why):
    from trustfit.cli.fit_command import _check_names
    from trustfit.console.options import parse_p0
    from trustfit.console.table import InputError

    with pytest.raises(InputError, match=why):
        _check_names("--p0", parse_p0(p0), ["a", "b"])
