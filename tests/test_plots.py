"""trustfit.plots: the numbers behind the pictures, and pictures that are not blank."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")  # the backend: MPLBACKEND=Agg from conftest
pytest.importorskip("PIL")

import matplotlib.pyplot as plt  # noqa: E402
from _images import assert_picture, n_frames, pixels  # noqa: E402

import trustfit  # noqa: E402
from trustfit import examples as ex  # noqa: E402
from trustfit import plots  # noqa: E402
from trustfit.plots.animate import select_frames  # noqa: E402
from trustfit.plots.convergence import phases  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def article(k):
    return trustfit.least_squares(ex.residuals, ex.STARTS[k], jac=ex.jacobian,
                                  **ex.ARTICLE_SETTINGS)


@pytest.fixture(scope="module")
def decay():
    """A two-parameter fit, a*exp(-b*t), with known data."""
    t = np.linspace(0.0, 10.0, 25)
    y = 3.0 * np.exp(-0.4 * t) + 0.05 * np.sin(7 * t)

    def model(p, t):
        return p[0] * np.exp(-p[1] * t)

    r = trustfit.least_squares(lambda p: model(p, t) - y, [1.0, 1.5], method="lm")
    assert r.success
    return r, model, t, y


def line(p, x):
    return p[0] + p[1] * x


def test_importing_trustfit_and_plots_does_not_import_matplotlib():
    code = ("import sys, trustfit, trustfit.plots; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_band_of_a_straight_line_is_the_textbook_formula():
    # For y = a + b x the delta method is exact: se_fit(x0) = s sqrt(1/n + (x0-xbar)^2/Sxx).
    rng = np.random.default_rng(3)
    x = np.linspace(0, 9, 12)
    y = 1.5 + 0.7 * x + rng.normal(0, 0.3, x.size)
    r = trustfit.least_squares(lambda p: line(p, x) - y, [0.0, 0.0])
    x0 = np.array([-2.0, 0.0, 4.5, 11.0])
    band = plots.confidence_band(r, line, x0, level=0.9)
    n, xbar = x.size, x.mean()
    s = np.sqrt(2 * r.cost / (n - 2))
    se = s * np.sqrt(1 / n + (x0 - xbar) ** 2 / np.sum((x - xbar) ** 2))
    from scipy import stats
    q = stats.t.ppf(0.95, n - 2)
    np.testing.assert_allclose(band.upper - band.f, q * se, rtol=1e-6)
    np.testing.assert_allclose(band.f - band.lower, q * se, rtol=1e-6)
    assert band.dof == n - 2 and band.distribution == "t"


def test_band_with_exact_jacobian_matches_finite_differences():
    r = article(0)
    t = np.linspace(0, 20, 50)
    fd = plots.confidence_band(r, ex.model, t)
    exact = plots.confidence_band(r, ex.model, t, jac_fn=lambda p, t: ex.jacobian(p, t))
    np.testing.assert_allclose(fd.upper - fd.f, exact.upper - exact.f, rtol=1e-5)
    assert np.all(exact.upper > exact.f)


def test_no_band_at_a_singular_point_and_the_plot_says_why():
    r = article(2)  # the stall at x1 = x2, x3 = x4: condition number ~1e12
    with pytest.raises(ValueError, match="nearly singular"):
        plots.confidence_band(r, ex.model, ex.T)
    fig = plots.plot_fit(r, ex.model, ex.T, ex.Y)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("no confidence band" in s for s in labels)
    assert not any("% confidence band" in s for s in labels)


def test_band_needs_degrees_of_freedom():
    x = np.array([0.0, 1.0])
    r = trustfit.least_squares(lambda p: line(p, x) - np.array([1.0, 2.0]), [0.0, 0.0])
    with pytest.raises(ValueError, match="degrees of freedom"):
        plots.confidence_band(r, line, x)
    plots.confidence_band(r, line, x, absolute_sigma=True)  # known error scale: defined


def test_fit_plot_has_data_fit_band_and_residual_panel(tmp_path, decay):
    r, model, t, y = decay
    fig = plots.plot_fit(r, model, t, y, sigma=0.05, xlabel="time", ylabel="signal")
    ax_fit, ax_res = fig.axes
    labels = [tx.get_text() for tx in ax_fit.get_legend().get_texts()]
    assert labels == ["95% confidence band (t, 23 dof)", "fit", "data ± σ"]
    assert ax_res.get_xlabel() == "time" and ax_fit.get_ylabel() == "signal"
    assert "(y − fit)/σ" in ax_res.get_ylabel()
    path = tmp_path / "fit.png"
    fig.savefig(path, dpi=80)
    assert_picture(path)


def test_fit_plot_into_given_axes():
    fig, ax = plt.subplots()
    out = plots.plot_fit(article(0), ex.model, ex.T, ex.Y, ax=ax, band=None)
    assert out is fig and len(fig.axes) == 1 and ax.get_xlabel() == "x"


def test_phases_are_runs_of_equal_step_kind():
    assert phases(["LM", "LM", "QN", "QN", "LM"], [1, 2, 3, 4, 5]) == [
        ("LM", 0.5, 2.5), ("QN", 2.5, 4.5), ("LM", 4.5, 5.5)]
    assert phases([], []) == []


def test_convergence_plot_shades_lm_and_qn_phases(tmp_path):
    r = article(1)  # LM, then a QN phase, then LM again
    assert {h.step_kind for h in r.history} == {"LM", "QN"}
    fig = plots.plot_convergence(r)
    axes = fig.axes
    assert [ax.get_yscale() for ax in axes] == ["log", "log", "log"]
    assert axes[-1].get_xlabel() == "iteration"
    labels = [tx.get_text() for tx in axes[0].get_legend().get_texts()]
    assert "LM steps" in labels and "quasi-Newton steps" in labels
    assert any(s.startswith("rejected step") for s in labels)
    damp = [tx.get_text() for tx in axes[2].get_legend().get_texts()]
    assert damp == ["damping μ", "radius Δ"]
    # Three spans (LM, QN, LM, ...) per panel: at least 3 shaded patches in each.
    assert all(len(ax.patches) >= 3 for ax in axes)
    path = tmp_path / "conv.png"
    fig.savefig(path, dpi=80)
    assert_picture(path)


def test_convergence_plot_of_a_method_without_damping(tmp_path):
    r = trustfit.least_squares(ex.residuals, ex.STARTS[0], jac=ex.jacobian, method="gn",
                               max_nfev=30)
    fig = plots.plot_convergence(r)
    texts = [t.get_text() for t in fig.axes[2].texts]
    assert any("no damping or radius" in s for s in texts)


def test_select_frames_keeps_first_and_last():
    assert select_frames(5, None) == [0, 1, 2, 3, 4]
    sel = select_frames(100, 10)
    assert sel[0] == 0 and sel[-1] == 99 and len(sel) == 10


def test_animation_has_one_frame_per_accepted_iterate(tmp_path):
    r = article(2)  # 14 iterations, 7 accepted
    path = tmp_path / "a.gif"
    n = plots.animate_fit(r, ex.model, ex.T, ex.Y, path)
    accepted = sum(h.accepted for h in r.history)
    assert n == accepted + 1 == n_frames(path)
    first = assert_picture(path, frame=0)
    last = assert_picture(path, frame=n - 1)
    assert np.abs(first - last).mean() > 0.5  # the curve moved


def test_two_parameter_animation_draws_the_path_over_contours(tmp_path, decay):
    r, model, t, y = decay
    one, two = tmp_path / "one.gif", tmp_path / "two.gif"
    n = plots.animate_fit(r, model, t, y, two, sigma=0.05, param_names=["a", "b"])
    assert n == sum(h.accepted for h in r.history) + 1 == n_frames(two)
    plots.animate_fit(r, model, t, y, one, contour=False, max_frames=3)
    assert n_frames(one) == 3
    wide, narrow = pixels(two), pixels(one)
    assert wide.shape[1] > 1.3 * narrow.shape[1]  # the contour panel is there
    right = wide[:, wide.shape[1] // 2:]
    assert right.std() > 30  # filled contours, not white space


def test_animation_refuses_what_it_cannot_write(tmp_path, decay, monkeypatch):
    r, model, t, y = decay
    with pytest.raises(ValueError, match=r"must end in \.gif or \.mp4"):
        plots.animate_fit(r, model, t, y, tmp_path / "a.avi")
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ValueError, match="needs ffmpeg"):
        plots.animate_fit(r, model, t, y, tmp_path / "a.mp4")
    with pytest.raises(ValueError, match="2 parameters"):
        plots.animate_fit(article(2), ex.model, ex.T, ex.Y, tmp_path / "b.gif", contour=True)
    assert not list(tmp_path.iterdir())


def test_mp4_pipes_every_frame_to_ffmpeg(tmp_path, decay, monkeypatch):
    # No ffmpeg here: a stand-in records its arguments and the raw frames it is sent.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "ffmpeg"
    fake.write_text('#!/bin/sh\nfor a; do last="$a"; done\necho "$@" > "$last.args"\n'
                    'cat > "$last"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ['PATH']}")
    r, model, t, y = decay
    out = tmp_path / "a.mp4"
    n = plots.animate_fit(r, model, t, y, out, contour=False, dpi=50)
    args = (tmp_path / "a.mp4.args").read_text().split()
    w, h = map(int, args[args.index("-s") + 1].split("x"))
    assert args[args.index("-pix_fmt") + 1] == "rgba" and "-r" in args
    assert out.stat().st_size == n * w * h * 4
    assert (w, h) == (350, 220)  # 7 x 4.4 inches at 50 dpi


def test_rescue_restarts_are_marked():
    # From [0, 0, 0, 0] the default method stalls at the symmetric point; the rescue layer
    # restarts it. The convergence plot marks the restart, the animation has its frame.
    r = trustfit.least_squares(ex.residuals, ex.STARTS[2], jac=ex.jacobian)
    # the first record of each restart: where the run number changes
    restarts = [h for h, before in zip(r.history, (0, *(g.restart for g in r.history)))
                if h.restart != before]
    if not restarts:
        pytest.skip("no rescue restart in this version of the solver")
    fig = plots.plot_convergence(r)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels.count("rescue restart") == 1
    from trustfit.plots._common import iterates
    frames = iterates(r)
    expected = 1 + sum(h.accepted or h in restarts for h in r.history)
    assert len(frames) == expected
    marked = [f for f in frames if "rescue restart 1" in f[2]]
    assert len(marked) == 1 and marked[0][0] == restarts[0].iteration


def test_plots_never_switch_the_users_backend():
    # a script that chose a backend (here through MPLBACKEND, as a user's matplotlibrc or
    # environment does) keeps it after trustfit draws; the old pyplot() forced Agg
    code = ("import matplotlib, numpy as np, trustfit; from trustfit import plots; "
            "r = trustfit.curve_fit; import trustfit.plots._common as c; c.pyplot(); "
            "print(matplotlib.get_backend())")
    env = dict(os.environ, MPLBACKEND="svg")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stdout.strip() == "svg"


def test_a_model_result_draws_itself_on_a_given_axes_or_a_new_figure():
    pytest.importorskip("sympy")
    from trustfit import Model

    x = np.linspace(0.0, 4.0, 30)
    y = 2.0 * np.exp(-0.8 * x) + 0.1 + 0.01 * np.sin(9 * x)
    res = Model("a*exp(-k*x) + c").fit(y, x=x, a=1, k=1, c=0)
    fig, (top, bottom) = plt.subplots(2, 1)
    assert res.plot_fit(ax=top) is top and res.plot_residuals(ax=bottom) is bottom
    # data, band and best fit: the band is the delta method's at 95 %
    assert len(top.collections) >= 1 and len(top.lines) >= 2
    np.testing.assert_allclose(bottom.lines[0].get_ydata(), y - res.best_fit)
    plt.close(fig)
    fig2 = res.plot()
    assert len(fig2.axes) == 2
    plt.close(fig2)
