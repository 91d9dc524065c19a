"""The NIST StRD reference problems: parsing, models, analytic Jacobians, LRE."""

import dataclasses
import math
import re
from importlib import resources

import numpy as np
import pytest

from trustfit.reference import nist

ALL = nist.load_all()
IDS = [p.name for p in ALL]

# (n_params, n_obs) from NIST's summary table, typed in independently of the files.
SIZES = {
    "Misra1a": (2, 14), "Chwirut2": (3, 54), "Chwirut1": (3, 214), "Lanczos3": (6, 24),
    "Gauss1": (8, 250), "Gauss2": (8, 250), "DanWood": (2, 6), "Misra1b": (2, 14),
    "Kirby2": (5, 151), "Hahn1": (7, 236), "Nelson": (3, 128), "MGH17": (5, 33),
    "Lanczos1": (6, 24), "Lanczos2": (6, 24), "Gauss3": (8, 250), "Misra1c": (2, 14),
    "Misra1d": (2, 14), "Roszman1": (4, 25), "ENSO": (9, 168), "MGH09": (4, 11),
    "Thurber": (7, 37), "BoxBOD": (2, 6), "Rat42": (3, 9), "MGH10": (3, 16),
    "Eckerle4": (3, 35), "Rat43": (4, 15), "Bennett5": (3, 154),
}


def _header_int(name, pattern):
    text = (resources.files("trustfit") / "data" / "nist" / f"{name}.dat").read_text("ascii")
    return int(re.search(pattern, text).group(1))


# --- parsing -----------------------------------------------------------------
def test_all_27_in_difficulty_order():
    assert len(ALL) == 27
    assert IDS == list(nist.PROBLEMS)
    groups = [p.difficulty for p in ALL]
    assert groups == ["lower"] * 8 + ["average"] * 11 + ["higher"] * 8
    assert sorted(IDS) == sorted(SIZES)


@pytest.mark.parametrize("p", ALL, ids=IDS)
def test_parsed_shapes_and_counts(p):
    n, m = SIZES[p.name]
    assert p.n_params == n
    assert p.n_obs == m == _header_int(p.name, r"(\d+) Observations")
    assert _header_int(p.name, r"(\d+) Parameters") == n
    assert p.dof == _header_int(p.name, r"Degrees of Freedom:\s*(\d+)")
    assert p.starts.shape == (2, n)
    assert p.certified.shape == p.certified_sd.shape == (n,)
    assert p.y.shape == (m,)
    assert p.x.shape == ((m, 2) if p.name == "Nelson" else (m,))
    assert np.all(np.isfinite(p.x)) and np.all(np.isfinite(p.y))
    assert np.all(p.certified_sd > 0) and p.certified_rss > 0
    assert p.difficulty == nist.DIFFICULTY[p.name]
    assert p.model_text.splitlines()[-1].rstrip().endswith("e")  # "... + e"


@pytest.mark.parametrize("p", ALL, ids=IDS)
def test_dof_and_residual_sd_consistent(p):
    # sqrt(RSS / (m - n)) reproduces the certified residual SD everywhere.
    assert nist.lre(math.sqrt(p.certified_rss / (p.n_obs - p.n_params)), p.residual_sd) > 9
    if p.name == "Rat43":
        # Rat43.dat states 9 degrees of freedom, but 15 - 4 = 11 and its residual
        # SD uses 11; we keep the file's number.
        assert p.dof == 9
    else:
        assert p.dof == p.n_obs - p.n_params


def test_spot_values_from_the_files():
    p = nist.load("Misra1a")
    np.testing.assert_array_equal(p.starts, [[500, 1e-4], [250, 5e-4]])
    np.testing.assert_array_equal(p.certified, [2.3894212918e02, 5.5015643181e-04])
    assert (p.y[0], p.x[0], p.y[-1], p.x[-1]) == (10.07, 77.6, 81.78, 760.0)
    r = nist.load("Roszman1")
    assert r.certified[0] == 2.0196866396e-01  # NIST's b1, not Ceres's atan2 one
    pi_text = re.search(r"pi = (\S+)", r.model_text).group(1)
    assert float(pi_text) == np.pi
    nel = nist.load("Nelson")
    np.testing.assert_array_equal(nel.x[0], [1.0, 180.0])
    assert nel.y[0] == 15.0 and nel.response[0] == np.log(15.0)
    assert not nel.response.flags.writeable
    assert nist.load("ENSO").model_text.count("\n") == 2  # three formula lines


def test_files_are_byte_copies_with_crlf():
    raw = (resources.files("trustfit") / "data" / "nist" / "Misra1a.dat").read_bytes()
    assert raw.startswith(b"NIST/ITL StRD\r\n")
    assert raw.count(b"\r\n") == raw.count(b"\n") == 74


def test_problem_is_immutable():
    p = nist.load("DanWood")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "x"
    with pytest.raises(ValueError):
        p.certified[0] = 1.0
    assert nist.load("danwood") is p  # case-insensitive, cached


def test_bad_input_messages():
    with pytest.raises(ValueError, match=r"unknown NIST problem 'Misra9'.*Misra1a"):
        nist.load("Misra9")
    with pytest.raises(ValueError, match=r"b: Misra1a has 2 parameters.*\(3,\)"):
        nist.load("Misra1a").residuals([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="estimate: shape"):
        nist.lre([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="certified: must be finite"):
        nist.lre(1.0, np.nan)
    good = (resources.files("trustfit") / "data" / "nist" / "Misra1a.dat").read_text("ascii")
    with pytest.raises(ValueError, match="Misra1a.dat: 13 data rows"):
        nist.parse(good.replace("Data              (lines 61 to 74)",
                                "Data              (lines 61 to 73)"), "Misra1a")
    with pytest.raises(ValueError, match="Misra1a.dat: data line 61 has 3 columns"):
        nist.parse(good.replace("10.07E0      77.6E0", "10.07E0 1 77.6E0"), "Misra1a")
    with pytest.raises(ValueError, match="Misra1a.dat: line 42 is not the row of b2"):
        nist.parse(good.replace("b2 =", "b3 ="), "Misra1a")
    assert nist.parse(good, "Misra1a").certified[1] == 5.5015643181e-04


# --- models and Jacobians ----------------------------------------------------
def _complex_step_jacobian(p, b):
    b = np.asarray(b, dtype=float)
    jac = np.empty((p.n_obs, p.n_params))
    for j in range(p.n_params):
        h = 1e-20 * max(1.0, abs(b[j]))
        bc = b.astype(complex)
        bc[j] += 1j * h
        jac[:, j] = p.residuals(bc).imag / h
    return jac


@pytest.mark.parametrize("p", ALL, ids=IDS)
@pytest.mark.parametrize("where", ["start1", "start2", "certified"])
def test_analytic_jacobian_matches_complex_step(p, where):
    b = {"start1": p.starts[0], "start2": p.starts[1], "certified": p.certified}[where]
    jac = p.residual_jacobian(b)
    assert jac.shape == (p.n_obs, p.n_params) and jac.dtype == float
    cs = _complex_step_jacobian(p, b)
    # Column by column, so a badly scaled column cannot hide behind a large one.
    err = np.linalg.norm(jac - cs, axis=0)
    scale = np.linalg.norm(cs, axis=0)
    assert np.all(scale > 0)
    assert np.max(err / scale) <= 1e-8, (p.name, where, err / scale)
    # complex-step derivatives are exact to rounding: the match is much closer
    assert np.max(err / scale) <= 1e-12


def test_complex_step_check_catches_a_wrong_jacobian():
    # The comparison above must be able to fail: perturb one analytic column.
    p = nist.load("Rat43")
    jac = p.residual_jacobian(p.certified).copy()
    jac[:, 3] *= 1 + 1e-7
    cs = _complex_step_jacobian(p, p.certified)
    rel = np.linalg.norm(jac - cs, axis=0) / np.linalg.norm(cs, axis=0)
    assert rel[3] > 1e-8 and rel[:3].max() < 1e-12


@pytest.mark.parametrize("p", ALL, ids=IDS)
def test_rss_at_certified_values(p):
    r = p.residuals(p.certified)
    rss = float(r @ r)
    if p.name == "Lanczos1":
        # Certified RSS is 1.4e-25: the data are the model to ~13 digits, and
        # the 11-digit certified parameters plus double rounding leave residuals
        # near 1e-11, so the double-precision RSS is ~4e-21, not 1.4e-25.
        assert rss < 1e-19
    else:
        assert nist.lre(rss, p.certified_rss) >= 6, (rss, p.certified_rss)


def test_nelson_response_is_log_y():
    p = nist.load("Nelson")
    b = p.certified
    np.testing.assert_array_equal(p.residuals(b), p.model(b) - np.log(p.y))
    # With y instead of log(y) the certified RSS is far off.
    r_raw = p.model(b) - p.y
    assert nist.lre(float(r_raw @ r_raw), p.certified_rss) < 1


def test_model_accepts_complex_and_other_x():
    p = nist.load("Roszman1")
    out = p.model(p.certified.astype(complex), x=np.array([-500.0, -1000.0]))
    assert out.dtype == complex and out.shape == (2,)
    assert np.all(out.imag == 0)


# --- LRE ---------------------------------------------------------------------
def test_lre_exact_match_scores_11():
    c = np.array([2.3894212918e02, 5.5015643181e-04])
    assert nist.lre(c, c) == 11.0
    assert nist.lre(c * (1 + 1e-14), c) == 11.0  # beyond 11 digits: clipped


def test_lre_counts_digits():
    assert nist.lre(1.1, 1.0) == pytest.approx(1.0)
    assert nist.lre([1.0, 2.002], [1.0, 2.0]) == pytest.approx(3.0)  # worst component
    assert nist.lre([1.2345678, 5.0], [1.2345679, 5.0]) == pytest.approx(
        -math.log10(1e-7 / 1.2345679))
    assert nist.lre(-3.0, 3.0) == 0.0  # relative error 2: clipped at 0
    assert nist.lre([1e-6, 1.0], [0.0, 1.0]) == pytest.approx(6.0)  # zero: absolute


def test_lre_nonfinite_scores_0():
    assert nist.lre([np.nan, 1.0], [1.0, 1.0]) == 0.0
    assert nist.lre([np.inf, 1.0], [1.0, 1.0]) == 0.0
