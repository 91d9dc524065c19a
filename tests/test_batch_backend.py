"""fit_batch's backend choice (issue 21): 'auto' by predicted time, the reason in words, the
same answers on both backends, the compile notice only on a terminal."""

import io
import json

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("sympy")

from trustfit.batch import _backend, _cost, _kernel, _records, fit_batch  # noqa: E402
from trustfit.batch._model import as_batch_model  # noqa: E402

MODEL = "a*exp(-t/tau) + b*sin(w*t)"
TRUE = np.array([2.0, 1.0, 2.5, 1.7])  # a, b, tau, w
WRITTEN = [0, 2, 1, 3]  # the model's columns, as written: a, tau, b, w


def _data(N, seed=21, m=40):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, m)
    P = TRUE * (1 + 0.05 * rng.standard_normal((N, 4)))
    Y = P[:, [0]] * np.exp(-t / P[:, [2]]) + P[:, [1]] * np.sin(P[:, [3]] * t)
    return t, Y + 0.05 * rng.standard_normal(Y.shape), TRUE[WRITTEN] * 1.1


# Taken at collection, before conftest's session fixture swaps in the suite's own record.
_real_machine_record = _cost.machine_record


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty private cache folder and a process that has loaded no kernel; the machine's
    constants are kept there, as a user's are (not the suite's in-memory ones: conftest)."""
    monkeypatch.setenv("TRUSTFIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_cost, "machine_record", _real_machine_record)
    monkeypatch.setattr(_cost, "update_record", _records.update_record)
    _records.forget_memory()
    _kernel.forget_loaded()
    yield tmp_path / "cache"
    _records.forget_memory()
    _kernel.forget_loaded()


def test_small_batch_of_a_new_model_runs_on_numpy_and_says_why(fresh):
    t, Y, p0 = _data(100)
    r = fit_batch(MODEL, t, Y, p0)
    assert r.backend == "numpy" and r.method == "lm"
    assert r.backend_reason.startswith(
        "numpy: the compiled kernel for this model is not loaded in this process, and 100 "
        "curves finish sooner on numpy (predicted ")
    assert "than loading it from the cache or compiling it (predicted at least " \
        in r.backend_reason
    assert r.backend_reason in repr(r) and r.summary()["backend_reason"] == r.backend_reason
    # clear at the numpy path's upper bounds: nothing compiled, nothing calibrated
    assert "(predicted at most " in r.backend_reason
    assert not list(fresh.glob("tf_batch_*.py"))
    assert not (fresh / _cost.machine_record()).exists()
    # a batch where the bounds do not settle it calibrates, once, and records the constants
    const = _cost.constants()
    rec = json.loads((fresh / _cost.machine_record()).read_text())
    assert all(np.isfinite(rec[k]) and 0 < rec[k] == const[k] for k in ("iter_s", "elem_s"))


def test_forced_backends_are_respected(fresh):
    t, Y, p0 = _data(20)
    rn = fit_batch(MODEL, t, Y, p0, backend="numpy")
    assert (rn.backend, rn.backend_reason) == ("numpy", "numpy: backend='numpy' was asked for")
    with pytest.raises(ValueError, match="method: 'varpro' needs the compiled backend"):
        fit_batch(MODEL, t, Y, p0, backend="numpy", method="varpro")


def test_loaded_or_cached_kernel_and_large_batches_run_compiled(monkeypatch):
    """Uses the suite's own cache folder (the kernel is compiled once per machine)."""
    _kernel.forget_loaded()
    t, Y, p0 = _data(30)
    rc = fit_batch(MODEL, t, Y, p0, backend="compiled", method="lm")
    assert (rc.backend, rc.backend_reason) == ("compiled",
                                               "compiled: backend='compiled' was asked for")
    r = fit_batch(MODEL, t, Y, p0, method="lm")  # loaded in this process now
    assert r.backend == "compiled"
    assert r.backend_reason == "compiled: the kernel for this model is loaded in this process"
    np.testing.assert_array_equal(r.params, rc.params)
    bm = as_batch_model(MODEL)
    assert _kernel.kernel_is_loaded(bm, "lm", True, 40)
    assert _kernel.kernel_is_cached(bm, "lm", True, 40)
    # a new process (forgotten here): cached on disk, but loading it costs more than 30
    # curves on numpy
    _kernel.forget_loaded()
    assert not _kernel.kernel_is_loaded(bm, None, True, 40)
    assert _kernel.kernel_is_cached(bm, "lm", True, 40)
    r = fit_batch(MODEL, t, Y, p0, method="lm")
    assert r.backend == "numpy"
    assert r.backend_reason.startswith("numpy: the compiled kernel for this model is not "
                                       "loaded in this process, and 30 curves")
    # where numpy is predicted slow (a large batch, here slow constants), the kernel runs
    const = dict(_cost.constants(), iter_s=1.0, elem_s=1.0, bounds=False)
    monkeypatch.setattr(_cost, "constants", lambda measure=True: const)
    r = fit_batch(MODEL, t, Y, p0, method="lm")
    assert r.backend == "compiled"
    assert r.backend_reason.startswith(
        "compiled: the kernel for this model is cached but not loaded in this process; "
        "loading it and fitting is predicted to finish 30 curves sooner")
    np.testing.assert_array_equal(r.params, rc.params)
    assert _kernel.kernel_is_loaded(bm, "lm", True, 40)  # loaded again, from the disk cache
    _kernel.forget_loaded()


def test_the_prediction_chooses_numpy_below_a_size_and_compiled_above():
    const = {"iter_s": 2e-4, "elem_s": 4e-9, "compile_s": 12.0, "load_s": 0.35,
             "kernel_elem_s": 4e-9 / 25}
    sizes = [10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000]
    for ready in (const["load_s"], const["compile_s"]):
        numpy_first = [_cost.predict_numpy(N, 40, 4, const)
                       <= _cost.predict_compiled(N, 40, 4, const, ready) for N in sizes]
        assert numpy_first[0] and not numpy_first[-1]
        assert numpy_first == sorted(numpy_first, reverse=True)  # one switch, from numpy


def test_unusable_records_are_ignored(fresh):
    fresh.mkdir(mode=0o700)
    (fresh / _cost.machine_record()).write_text('{"iter_s": "fast", "elem_s": -1}')
    const = _cost.constants()
    assert const["iter_s"] > 0 and const["elem_s"] > 0
    assert const["compile_s"] == _cost.DEFAULT_COMPILE_S


def test_both_backends_give_the_same_answers():
    """The same method on both backends: >= 99 % of the curves agree to 1e-5 (relative,
    every parameter); the defaults' tolerances (1e-8) leave the parameters about
    sqrt(1e-8) from the minimum, so both run to 1e-12 here.  (On this periodic model
    'varpro', which does not use the linear parameters' starts, ends at another local
    minimum than 'lm' on some curves: the methods, not the backends, differ there.)"""
    t, Y, p0 = _data(200, seed=5)
    tol = dict(gtol=1e-12, xtol=1e-12, ftol=1e-12, method="lm")
    rc = fit_batch(MODEL, t, Y, p0, backend="compiled", **tol)
    rn = fit_batch(MODEL, t, Y, p0, backend="numpy", **tol)
    rel = np.max(np.abs(rc.params - rn.params) / np.abs(rn.params), axis=1)
    assert np.mean(rel <= 1e-5) >= 0.99
    assert np.mean(rc.success == rn.success) >= 0.99


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _resolve_with_a_compile(monkeypatch):
    """resolve() for a model that is not cached, the compile itself stubbed out."""
    monkeypatch.setattr(_backend, "kernel_is_loaded", lambda *a: False)
    monkeypatch.setattr(_backend, "kernel_is_cached", lambda *a: False)
    monkeypatch.setattr(_cost, "observe", lambda *a: None)
    monkeypatch.setattr(_backend, "warm_kernel", lambda *a: 0.0)
    bm = as_batch_model(MODEL)
    inf = np.full(4, np.inf)
    return _backend.resolve(bm, "lm", "compiled", True, -inf, inf, 10, 40)


def test_compile_notice_on_a_terminal_only(monkeypatch, capsys):
    assert _resolve_with_a_compile(monkeypatch)[1] == "compiled"
    assert capsys.readouterr().err == ""  # captured stderr is no terminal
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    assert _resolve_with_a_compile(monkeypatch)[1] == "compiled"
    assert term.getvalue() == "compiling the model (first use only)...\n"


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=5, deadline=None)
@given(ey=st.integers(-60, 60), es=st.integers(-60, 60))
def test_the_choice_does_not_depend_on_the_units(ey, es):
    """The prediction reads only sizes (curves, points, parameters): data and sigma in
    other units give the same backend and the same reason."""
    from unittest import mock

    t, Y, p0 = _data(20, seed=3)
    # Each call starts from the same state: nothing loaded, and no timing recorded by the
    # first call (a load it measures) may move the second call's prediction.
    with mock.patch.object(_cost, "observe", lambda *a: None):
        _kernel.forget_loaded()
        base = fit_batch(MODEL, t, Y, p0, method="lm")
        _kernel.forget_loaded()
        r = fit_batch(MODEL, t, Y * 10.0**ey, p0, sigma=10.0**es, method="lm")
    assert (r.backend, r.backend_reason) == (base.backend, base.backend_reason)
