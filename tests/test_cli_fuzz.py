"""Fuzzing the command line (issue 13): generated CSV files, stacks and option values.

Whatever the input, ``trustfit`` exits 0 or 1 with nothing on stderr, or 2 with exactly one
stderr line and no traceback; never 3 (an internal error). pytest turns every warning into
an error, which the command would report as exit 3, so these also prove that no warning
leaks. The normal suite runs a few examples of each; ``make fuzz`` runs many
(``HYPOTHESIS_PROFILE=fuzz``, see tests/conftest.py)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from trustfit.cli import command as cli

pytest.importorskip("sympy")
pytestmark = pytest.mark.fuzz

FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"


def examples(quick: int) -> int:
    """``quick`` examples in the normal suite, the fuzz profile's number under make fuzz."""
    return settings.get_profile("fuzz").max_examples if FUZZ else quick


def fuzz_settings(quick: int):
    return settings(max_examples=examples(quick), deadline=None, derandomize=not FUZZ,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


#: Cells that broke, or could break, a reader: Python-only numbers, non-ASCII digits,
#: non-finite words, overflow, quotes, delimiters, control characters.
ODD_CELLS = ["nan", "NaN", "inf", "-inf", "Infinity", "0_5", "\u0663", "\uff11", "1e400",
             "1e300", "-1e300", "1e-400", "1e154", "", " ", "abc", '"1"', '"1,5"', "1,5",
             "#", "\x00", "0x10", "1e", ".", "-", "+.5", "5.", "\u20031", "1 2", "\t3",
             "\ufeff1", "x" * 200]


def numbers():
    return st.one_of(st.integers(-100, 100).map(str),
                     st.floats(-1e3, 1e3).map(lambda v: f"{v:.3g}"),
                     st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr))


def cells():
    return st.one_of(numbers(), st.sampled_from(ODD_CELLS), st.text(max_size=6))


@st.composite
def rows_of(draw, width, count):
    """Rows of ``width`` cells: all numbers, numbers with one odd cell, or anything."""
    mode = draw(st.sampled_from(["numbers", "numbers", "one odd cell", "anything"]))
    rows = draw(st.lists(st.lists(numbers() if mode != "anything" else cells(),
                                  min_size=width, max_size=width), max_size=count))
    if mode == "one odd cell" and rows and width:
        i, j = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, width - 1))
        rows[i][j] = draw(st.one_of(st.sampled_from(ODD_CELLS), st.text(max_size=6)))
    return rows


def run(capsys, argv) -> tuple[int, str, str]:
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_contract(code, out, err, command):
    event(f"exit {code}")  # --hypothesis-show-statistics: how often each exit was reached
    assert code in (0, 1, 2), f"exit {code}: {err}"
    assert "Traceback" not in err and "Warning" not in err, err
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"trustfit {command}: error: "), err
    else:
        assert err == "", err


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory(prefix="trustfit-fuzz-") as name:
        yield Path(name)


# --- trustfit fit -------------------------------------------------------------------------------
@st.composite
def csv_files(draw):
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(st.sampled_from([["t", "y"], ["y", "t", "note"], ["t", "y", "s"],
                                   ["s", "y", "t"], ["t", "y", "t"], ["t"], ["time", "y"]]))
    width = len(header) + (draw(st.integers(-1, 1)) if draw(st.booleans()) else 0)
    rows = draw(rows_of(width, 10))
    lines = [delimiter.join(header)] + [delimiter.join(r) for r in rows]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), "# a comment")
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines) + "\n"


@fuzz_settings(40)
@given(text=csv_files(), sigma=st.booleans())
def test_fuzz_fit_over_csv_files(capsys, folder, text, sigma):
    path = folder / "data.csv"
    path.write_text(text, encoding="utf-8", newline="")
    argv = ["fit", path, "--model", "a*t + b", "--x", "t", "--y", "y", "--p0", "a=1,b=0"]
    code, out, err = run(capsys, argv + (["--sigma", "s"] if sigma else []))
    assert_contract(code, out, err, "fit")


@fuzz_settings(25)
@given(data=st.binary(max_size=64))
def test_fuzz_fit_over_bytes(capsys, folder, data):
    path = folder / "bytes.csv"
    path.write_bytes(b"t,y\n" + data)
    argv = ["fit", path, "--model", "a*t + b", "--x", "t", "--y", "y", "--p0", "a=1,b=0"]
    assert_contract(*run(capsys, argv), "fit")


def option_text():
    pieces = st.sampled_from(["a", "b", "c", "=", ",", ":", "1", "0", "-", ".", "e", "5",
                              "inf", "nan", "_", "\u0663", " ", "1e400", "__", "lambda"])
    return st.one_of(st.lists(pieces, max_size=12).map("".join), st.text(max_size=10))


@fuzz_settings(40)
@given(p0=st.one_of(option_text(), st.builds("a={},b={}".format, numbers(), numbers())),
       bounds=st.none() | option_text(),
       max_nfev=st.none() | st.sampled_from(["1", "0", "-3", "2_0", "\u0663", "x", "10"]))
def test_fuzz_fit_options(capsys, folder, p0, bounds, max_nfev):
    path = folder / "line.csv"
    path.write_text("t,y\n" + "".join(f"{t},{2 * t + 1 + 0.01 * (-1) ** t}\n"
                                      for t in range(8)))
    # NAME=VALUE: a value starting with '-' is not read as an option
    argv = ["fit", path, "--model", "a*t + b", "--x", "t", "--y", "y", f"--p0={p0}"]
    argv += [f"--bounds={bounds}"] if bounds is not None else []
    argv += [f"--max-nfev={max_nfev}"] if max_nfev is not None else []
    assert_contract(*run(capsys, argv), "fit")


# --- trustfit batch ------------------------------------------------------------------------------
@st.composite
def stack_files(draw):
    rows = draw(rows_of(draw(st.integers(1, 6)), 5))
    if rows and draw(st.integers(0, 4)) == 0:  # a ragged row
        rows[draw(st.integers(0, len(rows) - 1))] = draw(st.lists(numbers(), max_size=7))
    return "\n".join(",".join(r) for r in rows) + "\n"


def batch_options():
    return st.fixed_dictionaries({}, optional={
        "--x-linspace": st.sampled_from(["0,4", "-1,1", "4,0", "0", "0,1,2", "a,b", "nan,1",
                                         "1e400,2", "0_1,2", "\u0663,1"]),
        "--sigma": st.sampled_from(["1", "0.5", "2e-3", "0", "-1", "nan", "inf", "1e-300",
                                    "x", "0_5"]),
        "--maxiter": st.sampled_from(["5", "50", "0", "1", "-1", "2_0", "99999999999"]),
        "--method": st.sampled_from(["auto", "lm", "varpro"]),
        "--p0": st.sampled_from(["a=1,k=1", "k=0.1,a=3", "a=-1,k=-50", "a=1e300,k=1e300",
                                 "a=1", "a=1,k=1,c=2", "k=1,a=nan", "a=1,k=0_5"]),
    })


@fuzz_settings(30)
@given(text=stack_files(), options=batch_options())
def test_fuzz_batch_over_csv_stacks(capsys, folder, text, options):
    path = folder / "stack.csv"
    path.write_text(text, encoding="utf-8")
    options = {"--p0": "a=1,k=1", **options}
    argv = ["batch", "a*exp(-k*t)", path, "--no-rescue"] + [v for kv in options.items()
                                                            for v in kv]
    assert_contract(*run(capsys, argv), "batch")


def stacks():
    dtype = st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128,
                             np.dtype(">f8"), np.dtype("U2")])
    shape = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)
    return dtype.flatmap(lambda d: hnp.arrays(d, shape))


@fuzz_settings(30)
@given(Y=stacks())
def test_fuzz_batch_over_npy_stacks(capsys, folder, Y):
    path = folder / "stack.npy"
    np.save(path, Y)
    argv = ["batch", "a*exp(-k*t)", path, "--p0", "a=1,k=1", "--no-rescue"]
    assert_contract(*run(capsys, argv), "batch")
