"""Tests of trustfit.batch (issue 6): batch == single fits, rescue, NaN rows, dask, errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba")
sympy = pytest.importorskip("sympy")

from trustfit import StopReason  # noqa: E402
from trustfit.batch import CompileWarning, fit_batch  # noqa: E402



class _FakeModel:
    """Stands in for trustfit.Model (branch 'models'): the attributes fit_batch reads.
    Used so the tests fix the parameter order whatever order trustfit.Model gives
    expression strings."""

    def __init__(self, text, names, independent=("t",)):
        self.expr = sympy.sympify(text)
        by_name = {s.name: s for s in self.expr.free_symbols}
        self.independent_symbols = tuple(sympy.Symbol(v) for v in independent)
        self.param_symbols = tuple(by_name[k] for k in names)
        self.param_names = list(names)


EXP2_TEXT = "x3*exp(x1*t) + x4*exp(x2*t)"
EXP2 = _FakeModel(EXP2_TEXT, ["x1", "x2", "x3", "x4"])
P0 = np.array([-1.0, -0.2, 1.0, 1.0])


def exp2_data(N, m, seed=0, noise=0.02):
    """Two decays with well separated rates (the benchmark's generator, smaller)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, m)
    k1 = -rng.uniform(0.5, 1.5, N)
    k2 = -rng.uniform(0.05, 0.25, N)
    a1 = rng.uniform(0.5, 2.0, N)
    a2 = rng.uniform(0.5, 2.0, N)
    true = np.stack([k1, k2, a1, a2], 1)
    Y = a1[:, None] * np.exp(k1[:, None] * t) + a2[:, None] * np.exp(k2[:, None] * t)
    Y += noise * rng.standard_normal((N, m))
    return t, Y, true


def exp2_res_jac(t, y):
    def res(p):
        return p[2] * np.exp(p[0] * t) + p[3] * np.exp(p[1] * t) - y

    def jac(p):
        e1, e2 = np.exp(p[0] * t), np.exp(p[1] * t)
        return np.stack([p[2] * t * e1, p[3] * t * e2, e1, e2], 1)

    return res, jac


def mnt_lm(res, jac, x0, maxiter=200, gtol=1e-8, xtol=1e-8, ftol=1e-8, tau=1e-3):
    """Reference Levenberg-Marquardt, Madsen-Nielsen-Tingleff (2004) Alg. 3.16, with the
    stopping tests of trustfit's single fit (trustfit.stopping): MINPACK's gradient
    cosine, the componentwise step relative to the Jacobian's column norms, MINPACK's
    cost test on every trial step (written from the paper, numpy.linalg.solve); damped
    with Moré's scaling (Moré 1978, MINPACK lmder mode=1): ``(A + mu D^2) h = -g``, ``D_j``
    the running maximum of the column norms at the accepted points, ``mu_0 = tau`` times
    the largest diagonal of ``D^-1 A D^-1``."""
    x = np.array(x0, float)
    r, J = res(x), jac(x)
    F = 0.5 * r @ r

    def gradient_small(J, r):
        return np.all(np.abs(J.T @ r) <= gtol * np.linalg.norm(J, axis=0) * np.linalg.norm(r))

    A, g = J.T @ J, J.T @ r
    if gradient_small(J, r):
        return x, F, 0, 1
    D2 = np.where(np.diag(A) > 0, np.diag(A), 1.0)
    mu, nu = tau * np.max(np.diag(A) / D2), 2.0
    for k in range(1, maxiter + 1):
        h = np.linalg.solve(A + mu * np.diag(D2), -g)
        d = np.linalg.norm(J, axis=0)
        if np.all(np.abs(h) * d <= xtol * (np.abs(x) * d + xtol * np.linalg.norm(d * x))):
            return x, F, k, 2
        xn = x + h
        rn = res(xn)
        Fn = 0.5 * rn @ rn
        pred = -g @ h - 0.5 * h @ A @ h
        small = (np.isfinite(Fn) and abs(F - Fn) <= ftol * F and pred <= ftol * F
                 and (pred <= 0 or F - Fn <= 2 * pred))
        if np.isfinite(Fn) and pred > 0 and F - Fn > 0:
            rho = (F - Fn) / pred
            x, r, J, F = xn, rn, jac(xn), Fn
            A, g = J.T @ J, J.T @ r
            D2 = np.maximum(D2, np.diag(A))
            if small:
                return x, F, k, 3
            if gradient_small(J, r):
                return x, F, k, 1
            mu *= max(1 / 3, 1 - (2 * rho - 1) ** 3)
            nu = 2.0
        elif small:
            return x, F, k, 3
        else:
            mu *= nu
            nu *= 2.0
    return x, F, maxiter, 4


def test_import_trustfit_does_not_import_numba_sympy_dask():
    code = (
        "import sys, trustfit, trustfit.batch; "
        "bad = [m for m in ('numba', 'sympy', 'dask') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_batch_equals_mnt_reference_curve_by_curve():
    """Same algorithm: same iteration count, same stop reason, same point to 1e-9."""
    t, Y, _ = exp2_data(60, 40, seed=1)
    r = fit_batch(EXP2, t, Y, P0, rescue=False, method="lm")
    assert r.param_names == ["x1", "x2", "x3", "x4"]
    for i in range(Y.shape[0]):
        res, jac = exp2_res_jac(t, Y[i])
        x, F, nit, code = mnt_lm(res, jac, P0)
        assert r.stop_code[i] == code, i
        assert r.nit[i] == nit, i
        np.testing.assert_allclose(r.params[i], x, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(r.cost[i], F, rtol=1e-9)


def test_batch_equals_single_fits_scipy_lm():
    """Same optimum as SciPy's MINPACK LM from the same start, curve by curve."""
    from scipy.optimize import least_squares

    t, Y, _ = exp2_data(200, 32, seed=2)
    # tight tolerances, as SciPy's below: variable projection stops once the Gauss-Newton
    # step predicts a relative decrease <= ftol, which at ftol = 1e-12 leaves the
    # ill-conditioned curves (rcond ~1e-4) ~2e-6 from the optimum in their parameters
    r = fit_batch(EXP2, t, Y, P0, rescue=False, gtol=1e-14, xtol=1e-14, ftol=1e-14)
    agree = 0
    for i in range(Y.shape[0]):
        res, jac = exp2_res_jac(t, Y[i])
        s = least_squares(res, P0, jac=jac, method="lm", xtol=1e-14, ftol=1e-14, gtol=1e-14)
        # exchangeable parameters: compare with labels sorted by rate
        a = r.params[i][[0, 1, 2, 3]] if r.params[i][0] < r.params[i][1] else r.params[i][[1, 0, 3, 2]]
        b = s.x if s.x[0] < s.x[1] else s.x[[1, 0, 3, 2]]
        if np.allclose(a, b, rtol=1e-6, atol=1e-9) and abs(r.cost[i] - s.cost) <= 1e-9 * s.cost:
            agree += 1
    assert agree == Y.shape[0]


def test_trustfit_least_squares_if_available():
    ts = pytest.importorskip("trustfit")
    if not hasattr(ts, "least_squares"):
        pytest.skip("trustfit.least_squares not on this branch yet")
    # Same method, same start, both run to the optimum: the batch kernel with tight
    # tolerances, the single fit with its defaults (which run to rounding level and polish).
    t, Y, _ = exp2_data(50, 32, seed=3)
    r = fit_batch(EXP2, t, Y, P0, rescue=False, gtol=1e-14, xtol=1e-14, ftol=1e-14)
    for i in range(Y.shape[0]):
        res, jac = exp2_res_jac(t, Y[i])
        s = ts.least_squares(res, P0, jac=jac, method="lm", rescue=False)
        if r.rcond[i] > 1e-8:
            np.testing.assert_allclose(r.params[i], s.x, rtol=1e-6, atol=1e-9)


def test_numpy_fallback_matches_compiled_kernel():
    t, Y, _ = exp2_data(100, 24, seed=4)
    rc = fit_batch(EXP2, t, Y, P0, rescue=False, method="lm")
    rn = fit_batch(EXP2, t, Y, P0, rescue=False, backend="numpy")
    assert (rc.method, rn.method) == ("lm", "lm")
    assert rn.backend == "numpy"
    np.testing.assert_array_equal(rc.stop_code, rn.stop_code)
    np.testing.assert_array_equal(rc.nit, rn.nit)
    np.testing.assert_allclose(rc.params, rn.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rc.stderr, rn.stderr, rtol=1e-6)


def test_plain_callable_runs_vectorized():
    t, Y, true = exp2_data(100, 32, seed=5)

    def f(t, x1, x2, x3, x4):
        return x3 * np.exp(x1 * t) + x4 * np.exp(x2 * t)

    rf = fit_batch(f, t, Y, P0)
    rc = fit_batch(EXP2, t, Y, P0)
    assert rf.backend == "numpy" and rf.param_names == ["x1", "x2", "x3", "x4"]
    assert rf.success.all()
    np.testing.assert_allclose(rf.cost, rc.cost, rtol=1e-6)


def test_gaussian_with_sigma_and_stderr_match_curve_fit():
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(6)
    N, m = 40, 50
    t = np.linspace(0, 10, m)
    a, mu, s, c = (rng.uniform(1, 3, N), rng.uniform(4, 6, N), rng.uniform(0.7, 1.5, N),
                   rng.uniform(0, 0.5, N))
    Y = a[:, None] * np.exp(-((t - mu[:, None]) ** 2) / (2 * s[:, None] ** 2)) + c[:, None]
    sig = np.full(m, 0.05)
    Y += sig * rng.standard_normal((N, m))
    model = _FakeModel("a*exp(-(t - mu)**2/(2*s**2)) + c", ["a", "c", "mu", "s"])
    r = fit_batch(model, t, Y, {"a": 2.0, "mu": 5.0, "s": 1.0, "c": 0.2}, sigma=sig)
    assert r.param_names == ["a", "c", "mu", "s"]
    assert r.success.all()

    def g(t, a, c, mu, s):
        return a * np.exp(-((t - mu) ** 2) / (2 * s**2)) + c

    for i in range(N):
        p, cov = curve_fit(g, t, Y[i], p0=[2, 0.2, 5, 1], sigma=sig, method="lm")
        p[3] = abs(p[3])  # s and -s give the same model
        q = r.params[i].copy()
        q[3] = abs(q[3])
        # both stop within ftol = 1e-8 of the optimal cost F: a parameter off by d_i
        # costs at least d_i^2 / (2 (A^-1)_ii) = F d_i^2 / (dof se_i^2), so each is within
        # sqrt(ftol dof) se_i of the optimum (7e-4 se here), and the two within twice that
        se = np.sqrt(np.diag(cov))
        assert np.all(np.abs(q - p) <= 2 * np.sqrt(1e-8 * (m - 4)) * se), (i, q, p, se)
        np.testing.assert_allclose(q, p, rtol=1e-4)
        np.testing.assert_allclose(r.stderr[i], se, rtol=1e-4)


def test_rescue_on_constructed_stalled_curves():
    """Start in the x1 == x2 valley with a loose ftol: LM first fits one exponential,
    then the cost decreases too slowly along the valley and ftol stops it there
    (a stall: 'converged' but in the symmetric valley, J^T J nearly singular)."""
    t, Y, true = exp2_data(50, 64, seed=7)
    stall = np.array([-0.4, -0.4, 1.0, 1.0])
    ref = fit_batch(EXP2, t, Y, true, rescue=False, gtol=1e-14, xtol=1e-14, ftol=1e-14)
    r0 = fit_batch(EXP2, t, Y, stall, rescue=False, ftol=1e-3, method="lm")
    valley = np.abs(r0.params[:, 0] - r0.params[:, 1]) < 1e-2 * np.abs(r0.params[:, 0])
    assert valley.sum() >= 35
    assert (r0.cost[valley] > ref.cost[valley] * 1.01).all()  # far from the optimum
    r1 = fit_batch(EXP2, t, Y, stall, rescue=True, ftol=1e-3, method="lm")
    assert r1.rescued[valley].all()
    assert (r1.diagnosis[valley] == "rescued").all()
    assert (r1.cost <= ref.cost * (1 + 1e-3)).all()  # within the loose ftol of the optimum
    # same decay rates as the reference (up to the label swap)
    k_fit = np.sort(r1.params[:, :2], axis=1)
    k_ref = np.sort(ref.params[:, :2], axis=1)
    np.testing.assert_allclose(k_fit, k_ref, rtol=0.05)
    # with default tolerances every curve ends at the optimum
    r2 = fit_batch(EXP2, t, Y, stall, method="lm")
    assert (r2.cost <= ref.cost * (1 + 1e-6)).all()


def test_nan_rows_are_reported_and_do_not_poison_others():
    t, Y, _ = exp2_data(300, 32, seed=8)
    clean = fit_batch(EXP2, t, Y, P0)
    Yb = Y.copy()
    Yb[[3, 100, 299], 5] = np.nan
    Yb[150, 0] = np.inf
    sig = np.full(Y.shape, 0.02)
    sig[200, 7] = np.nan
    r = fit_batch(EXP2, t, Yb, P0, sigma=sig, chunk_size=64)
    rs = fit_batch(EXP2, t, Y, P0, sigma=np.full(Y.shape, 0.02), chunk_size=64)
    bad = [3, 100, 150, 200, 299]
    assert list(r.stop_reason[bad]) == [StopReason.INVALID_INPUT] * 5
    assert list(r.diagnosis[bad]) == ["invalid_data"] * 5
    assert np.isnan(r.params[bad]).all() and not r.success[bad].any()
    ok = np.setdiff1d(np.arange(300), bad)
    np.testing.assert_array_equal(r.params[ok], rs.params[ok])
    np.testing.assert_array_equal(r.cost[ok], rs.cost[ok])
    assert r.summary()["stop_reason"]["INVALID_INPUT"] == 5
    # unweighted clean fit unaffected by chunking
    np.testing.assert_array_equal(clean.params, fit_batch(EXP2, t, Y, P0, chunk_size=7).params)


def test_per_curve_p0_dict_and_bounds():
    t, Y, true = exp2_data(100, 32, seed=9)
    p0 = {"x1": -1.0, "x2": -0.2, "x3": np.full(100, 1.0), "x4": 1.0}
    free = fit_batch(EXP2, t, Y, p0)
    np.testing.assert_array_equal(free.params, fit_batch(EXP2, t, Y, P0).params)
    r = fit_batch(EXP2, t, Y, p0, bounds={"x1": (-1.0, 0.0), "x3": (0.0, 3.0)})
    assert (r.params[:, 0] >= -1.0).all() and (r.params[:, 0] <= 0.0).all()
    assert (r.params[:, 2] >= 0).all() and (r.params[:, 2] <= 3.0).all()
    at_bound = r.params[:, 0] == -1.0
    assert at_bound.sum() >= 20  # true fast rates below -1 are cut at the bound
    assert (r.cost[at_bound] >= free.cost[at_bound] * (1 - 1e-9)).all()
    interior = (free.params[:, 0] > -0.99) & (free.params[:, 0] < 0) & (free.params[:, 2] > 0)
    np.testing.assert_allclose(r.cost[interior], free.cost[interior], rtol=1e-7)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(Y=np.zeros(10)), ["Y", "(10,)", "2-D"]),
        (dict(Y=np.zeros((3, 10, 2))), ["Y", "(3, 10, 2)", "2-D"]),
        (dict(Y=np.zeros((3, 3))), ["Y", "3 points", "m >= n"]),
        (dict(x=np.zeros(9)), ["x", "(9,)", "(m,)", "(N, m)"]),
        (dict(p0=[1.0, 2.0, 3.0]), ["p0", "(3,)", "(n,) = (4,)"]),
        (dict(p0=np.zeros((5, 4))), ["p0", "(5, 4)", "(N, n) = (3, 4)"]),
        (dict(p0={"x1": 1, "x2": 1, "x3": 1}), ["p0", "missing ['x4']"]),
        (dict(p0={"x1": 1, "x2": 1, "x3": 1, "x4": 1, "k": 2}), ["p0", "unknown ['k']"]),
        (dict(p0={"x1": np.ones(2), "x2": 1, "x3": 1, "x4": 1}), ["p0['x1']", "(2,)", "(N,)"]),
        (dict(sigma=np.ones(4)), ["sigma", "(4,)", "(m,) = (10,)"]),
        (dict(sigma=-1.0), ["sigma", "<= 0", "> 0"]),
        (dict(bounds=([0, 0], [1, 1])), ["bounds", "(2,)", "(n,) = (4,)"]),
        (dict(bounds=(0.0, 1.0)), ["p0", "outside the bounds", "within bounds"]),
        (dict(method="trf"), ["method", "'trf'", "'lm'"]),
    ],
)
def test_bad_shapes_and_p0_give_clear_errors(kwargs, words):
    assert_refused(kwargs, words, Y=np.zeros((3, 10)))


def assert_refused(kwargs, words, Y):
    """fit_batch of EXP2 on 10 points with ``kwargs`` raises a ValueError naming ``words``."""
    args = dict(model=EXP2, x=np.linspace(0, 1, 10), Y=Y, p0=P0)
    args.update(kwargs)
    with pytest.raises(ValueError) as ei:
        fit_batch(**args)
    msg = str(ei.value)
    for w in words:
        assert w in msg, (w, msg)


def test_progress_callback_and_summary():
    t, Y, _ = exp2_data(50, 16, seed=10)
    seen = []
    r = fit_batch(EXP2, t, Y, P0, chunk_size=20, progress=lambda d, n: seen.append((d, n)))
    assert seen == [(20, 50), (40, 50), (50, 50)]
    s = r.summary()
    assert s["n_curves"] == 50 and sum(s["stop_reason"].values()) == 50
    assert sum(s["diagnosis"].values()) == 50
    assert "BatchResult(50 curves" in repr(r)


def test_dask_path_equals_in_memory_on_local_cluster():
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    t, Y, true = exp2_data(1200, 24, seed=11)
    Y[17, 3] = np.nan
    p0 = true * 1.2
    sig = np.full(Y.shape, 0.02)
    mem = fit_batch(EXP2, t, Y, p0, sigma=sig)
    mem2 = fit_batch(EXP2, t, Y, P0)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        dsk = fit_batch(EXP2, t, da.from_array(Y, chunks=(250, 12)), p0, sigma=sig)
        lazy = fit_batch(EXP2, t, da.from_array(Y, chunks=(400, 24)), P0, compute=False)
        dsk2 = lazy.compute()
    for a, b in ((mem, dsk), (mem2, dsk2)):
        for f in ("params", "cost", "stderr", "rcond"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        for f in ("nit", "stop_code", "rescued", "diagnosis_code", "success"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert dsk.stop_reason[17] is StopReason.INVALID_INPUT
    assert dsk.diagnosis[17] == "invalid_data"


def test_cli_entry_npy_and_csv(tmp_path, capsys):
    from trustfit.cli import main

    t, Y, _ = exp2_data(300, 20, seed=12)
    np.save(tmp_path / "Y.npy", Y)
    np.savetxt(tmp_path / "Y.csv", Y[:7], delimiter=",")
    rc = main(["batch", EXP2_TEXT, str(tmp_path / "Y.npy"), "--p0", "x1=-1,x2=-0.2,x3=1,x4=1",
                        "--x-linspace", "0,10", "--out", str(tmp_path / "o.npz"),
                        "--chunk-size", "100", "--backend", "compiled"])
    assert rc == 0
    out = np.load(tmp_path / "o.npz")
    ref = fit_batch(EXP2_TEXT, t, Y, {"x1": -1.0, "x2": -0.2, "x3": 1.0, "x4": 1.0},
                    backend="compiled")
    np.testing.assert_array_equal(out["params"], ref.params)
    assert list(out["param_names"]) == ref.param_names
    err = capsys.readouterr().err
    assert err == ""  # captured stderr is no terminal: no progress bar (test_cli_contract)
    rc = main(["batch", EXP2_TEXT, str(tmp_path / "Y.npy"), "--p0", "x1=-1,x2=-0.2,x3=1,x4=1",
                        "--x-linspace", "0,10", "--out", str(tmp_path / "lm.npz"),
                        "--method", "lm", "--no-progress", "--backend", "compiled"])
    assert rc == 0
    lm = fit_batch(EXP2_TEXT, t, Y, {"x1": -1.0, "x2": -0.2, "x3": 1.0, "x4": 1.0}, method="lm",
                   backend="compiled")
    np.testing.assert_array_equal(np.load(tmp_path / "lm.npz")["params"], lm.params)
    assert not np.array_equal(lm.params, ref.params)  # the default ran varpro
    rc = main(["batch", EXP2_TEXT, str(tmp_path / "Y.csv"), "--p0", "x1=-1,x2=-0.2,x3=1,x4=1",
                        "--x-linspace", "0,10", "--out", str(tmp_path / "o.csv"), "--no-progress"])
    assert rc == 0
    lines = (tmp_path / "o.csv").read_text().splitlines()
    assert len(lines) == 8 and lines[0].startswith(",".join(ref.param_names) + ",stderr_")
    rc = main(["batch", EXP2_TEXT, str(tmp_path / "Y.csv"), "--p0", "x1=-1"])
    err = capsys.readouterr().err
    assert rc == 2 and "p0: keys must be exactly" in err and "missing" in err


def test_expression_string_and_model_object_give_the_same_fits():
    t, Y, _ = exp2_data(50, 24, seed=13)
    r = fit_batch(EXP2_TEXT, t, Y, {"x4": 1.0, "x3": 1.0, "x2": -0.2, "x1": -1.0},
                  backend="compiled")
    ref = fit_batch(EXP2, t, Y, P0, backend="compiled")
    assert sorted(r.param_names) == ["x1", "x2", "x3", "x4"]
    for k in ref.param_names:  # whatever order the string parser chose
        np.testing.assert_allclose(r.params_dict()[k], ref.params_dict()[k], rtol=1e-9)


def test_two_independent_variables():
    rng = np.random.default_rng(14)
    N, m = 100, 30
    uv = rng.uniform(0, 1, (2, m))
    P = np.stack([rng.uniform(1, 2, N), rng.uniform(-1, 1, N), rng.uniform(0.5, 1.5, N)], 1)
    Y2 = P[:, :1] * np.exp(-P[:, 2:] * uv[0]) + P[:, 1:2] * uv[1]
    Y2 += 0.001 * rng.standard_normal((N, m))
    model = _FakeModel("a*exp(-c*u) + b*v", ["a", "b", "c"], independent=("u", "v"))
    r2 = fit_batch(model, uv, Y2, [1.5, 0.0, 1.0],
                   parallel=False)  # the serial driver compiles faster (test time)
    assert r2.success.all()
    np.testing.assert_allclose(r2.params, P, atol=0.02)


def test_uncompilable_expression_falls_back_with_a_warning(monkeypatch):
    t = np.linspace(0, 5, 40)
    rng = np.random.default_rng(15)
    from scipy.special import j0

    b = rng.uniform(0.5, 1.5, 20)
    Y = 2.0 * j0(b[:, None] * t) + 0.01 * rng.standard_normal((20, 40))
    # An expression *string* goes through the models' whitelist, which refuses besselj; a
    # sympy expression is the user's own code and may use it, at numpy speed.
    with pytest.raises(ValueError, match="unknown function 'besselj'"):
        fit_batch("a*besselj(0, b*t)", t, Y, [1.8, 1.0])
    a_, b_, t_ = sympy.symbols("a b t")
    # 20 curves: 'auto' runs numpy at once (compiling would not pay), nothing to warn about
    r = fit_batch(a_ * sympy.besselj(0, b_ * t_), t, Y, [1.8, 1.0])
    assert r.backend == "numpy" and r.success.all()
    assert r.backend_reason.startswith("numpy: the compiled kernel for this model is not loaded")
    # where compiling is predicted to pay, the failed compile falls back with one warning
    from trustfit.batch import _backend

    monkeypatch.setattr(_backend, "_predicted_choice",
                        lambda *a: ("compiled", "compiled: predicted sooner", False))
    with pytest.warns(CompileWarning, match="cannot compile the model") as caught:
        r = fit_batch(a_ * sympy.besselj(0, b_ * t_), t, Y, [1.8, 1.0])
    assert len(caught) == 1
    assert r.backend == "numpy" and r.success.all()
    assert r.backend_reason.startswith("numpy: the model could not be compiled")
    np.testing.assert_allclose(r.params[:, 1], b, rtol=0.02)


def test_string_models_are_parsed_once_per_expression_and_variable():
    from trustfit.batch._model import as_batch_model

    a = as_batch_model("a*exp(-k*t)")
    assert as_batch_model("a*exp(-k*t)") is a  # sympy parse and diff not repeated
    x = as_batch_model("a*exp(-k*x)", independent="x")
    assert x is not a and [str(s) for s in x.independent_symbols] == ["x"]
    assert [str(s) for s in a.independent_symbols] == ["t"]
    # the variable is part of the key: naming one the expression lacks is still an error
    with pytest.raises(ValueError, match="independent variable 'x' does not appear"):
        as_batch_model("a*exp(-k*t)", independent="x")
