"""fit_batch on an xarray DataArray with dim= (issue 17): the same fits as the (N, m) array,
a Dataset over the other dimensions with their coordinates and attrs, NaN pixels reported,
dask-backed arrays lazy, several independent variables as any sequence."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import least_squares as scipy_least_squares

xr = pytest.importorskip("xarray")
pytest.importorskip("sympy")

from trustfit.batch import fit_batch  # noqa: E402

MODEL = "a*exp(-k*t) + c"
NAMES = ["a", "k", "c"]
P0 = {"a": 1.0, "k": 1.0, "c": 0.0}


def stack(seed=0, shape=(6, 5), m=40):
    """A (6, 5, 40) decay stack with coordinates and attrs (one NaN sample at (2, 3))."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 5.0, m)
    a = rng.uniform(1.0, 2.0, shape)
    k = rng.uniform(0.5, 1.5, shape)
    c = rng.uniform(-0.2, 0.2, shape)
    Y = a[..., None] * np.exp(-k[..., None] * t) + c[..., None]
    Y += 0.01 * rng.standard_normal(Y.shape)
    if shape == (6, 5):
        Y[2, 3, 7] = np.nan
    return xr.DataArray(
        Y, dims=("row", "col", "t"),
        coords={"t": ("t", t, {"units": "s"}), "row": np.arange(shape[0]) * 0.5,
                "col": list("abcde")[: shape[1]], "label": ("row", list("uvwxyz")[: shape[0]])},
        attrs={"units": "counts", "instrument": "test"},
        name="intensity",
    )


@pytest.fixture(scope="module")
def fitted():
    da = stack()
    ds = fit_batch(MODEL, Y=da, p0=P0, dim="t", backend="numpy")
    flat = fit_batch(MODEL, da.t.values, da.values.reshape(30, 40), P0, backend="numpy")
    return da, ds, flat


def test_same_fits_as_the_array_bit_for_bit(fitted):
    da, ds, flat = fitted
    assert list(ds.param.values) == NAMES
    assert ds.params.dims == ("row", "col", "param")
    np.testing.assert_array_equal(ds.params.values.reshape(30, 3), flat.params)
    np.testing.assert_array_equal(ds.stderr.values.reshape(30, 3), flat.stderr)
    np.testing.assert_array_equal(ds.cost.values.ravel(), flat.cost)
    np.testing.assert_array_equal(ds.success.values.ravel(), flat.success)
    assert [str(r) for r in ds.stop_reason.values.ravel()] == [r.name for r in flat.stop_reason]
    assert ds.success.values.sum() == 29


def test_pixels_match_scipy_at_tight_tolerance(fitted):
    da, ds, _ = fitted
    t = da.t.values
    for i, j in [(0, 0), (5, 4), (3, 1)]:
        y = da.values[i, j]
        ref = scipy_least_squares(lambda p: p[0] * np.exp(-p[1] * t) + p[2] - y,
                                  [1.0, 1.0, 0.0], xtol=1e-15, ftol=1e-15, gtol=1e-15).x
        np.testing.assert_allclose(ds.params.values[i, j], ref, rtol=1e-6, atol=1e-9)


def test_dims_coords_and_attrs_kept(fitted):
    da, ds, _ = fitted
    assert dict(ds.sizes) == {"row": 6, "col": 5, "param": 3}
    np.testing.assert_array_equal(ds.row.values, da.row.values)
    assert list(ds.col.values) == list("abcde")
    assert list(ds.label.values) == list("uvwxyz") and ds.label.dims == ("row",)
    assert "t" not in ds.coords
    assert ds.attrs["units"] == "counts" and ds.attrs["instrument"] == "test"
    assert ds.attrs["trustfit_backend"] == "numpy" and ds.attrs["trustfit_method"] == "lm"
    assert ds.cost.dims == ("row", "col")


def test_nan_pixel_is_invalid_input_others_unaffected(fitted):
    _, ds, _ = fitted
    px = ds.isel(row=2, col=3)
    assert str(px.stop_reason.values) == "INVALID_INPUT"
    assert not bool(px.success) and np.isnan(px.params.values).all()
    assert str(px.diagnosis.values) == "invalid_data"
    assert np.isfinite(ds.params.values[ds.success.values]).all()


def test_dim_not_last_gives_the_same_fits(fitted):
    da, ds, _ = fitted
    moved = fit_batch(MODEL, Y=da.transpose("t", "col", "row"), p0=P0, dim="t",
                      backend="numpy")
    assert moved.params.dims == ("col", "row", "param")
    np.testing.assert_array_equal(moved.params.transpose("row", "col", "param").values,
                                  ds.params.values)


@settings(max_examples=6, deadline=None)
@given(order=st.permutations(["row", "col", "t"]), scale=st.sampled_from([1e-3, 1.0, 1e4]))
def test_any_dimension_order_and_scale(order, scale):
    """The fitted parameters do not depend on how the dimensions are ordered, and scale
    with the data (a and c with y, k not)."""
    da = stack(seed=1, shape=(3, 2), m=30)
    base = fit_batch(MODEL, Y=da, p0=P0, dim="t", backend="numpy")
    p0 = {"a": scale, "k": 1.0, "c": 0.0}
    out = fit_batch(MODEL, Y=(da * scale).transpose(*order), p0=p0, dim="t", backend="numpy")
    got = out.params.transpose("row", "col", "param").values
    ok = base.success.values
    assert (out.success.transpose("row", "col").values == ok).all()
    np.testing.assert_allclose(got[ok] / [scale, 1.0, scale], base.params.values[ok],
                               rtol=1e-6, atol=1e-8)


def test_per_curve_p0_and_sigma_as_dataarrays(fitted):
    da, ds, flat = fitted
    p0 = dict(P0, a=xr.DataArray(np.full((6, 5), 1.5), dims=("row", "col")))
    sigma = xr.DataArray(np.full(40, 0.01), dims=("t",))
    out = fit_batch(MODEL, Y=da, p0=p0, sigma=sigma, dim="t", backend="numpy")
    ref = fit_batch(MODEL, da.t.values, da.values.reshape(30, 40),
                    dict(P0, a=np.full(30, 1.5)), sigma=np.full(40, 0.01), backend="numpy")
    np.testing.assert_array_equal(out.params.values.reshape(30, 3), ref.params)


def test_dim_validation_names_the_argument():
    da = stack()
    with pytest.raises(ValueError, match=r"dim: 'z' is not a dimension of Y.*'row', 'col', 't'"):
        fit_batch(MODEL, Y=da, p0=P0, dim="z")
    with pytest.raises(ValueError, match=r"dim: required when Y is an xarray DataArray"):
        fit_batch(MODEL, None, da, P0)
    with pytest.raises(TypeError, match=r"dim: 3 \(int\); must be the name"):
        fit_batch(MODEL, Y=da, p0=P0, dim=3)
    with pytest.raises(TypeError, match=r"dim: 't' is given but Y is a ndarray"):
        fit_batch(MODEL, da.t.values, da.values.reshape(30, 40), P0, dim="t")
    with pytest.raises(ValueError, match=r"x: None, and the fitted dimension dim='col' has "
                                         r"no coordinate"):
        fit_batch(MODEL, Y=da.drop_vars("col"), p0=P0, dim="col")
    with pytest.raises(ValueError, match=r"x\[0\]: 'w' is not a coordinate of Y"):
        fit_batch(MODEL, "w", da, P0, dim="t")
    with pytest.raises(ValueError, match=r"p0\['a'\]: a DataArray with dims \('t',\)"):
        fit_batch(MODEL, Y=da, p0=dict(P0, a=da.t), dim="t")


def test_missing_xarray_names_the_extra(monkeypatch):
    from trustfit.batch import _xarray

    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match=r"pip install 'trustfit\[xarray\]'"):
        _xarray._xarray()


def test_import_trustfit_does_not_import_xarray():
    code = "import sys, trustfit, trustfit.batch; print('xarray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_dask_backed_dataarray_is_lazy_and_equal(fitted):
    pytest.importorskip("dask.array")
    da, ds, _ = fitted
    lazy = fit_batch(MODEL, Y=da.chunk({"row": 2}), p0=P0, dim="t", backend="numpy",
                     compute=False)
    assert lazy.params.chunks == ((2, 2, 2), (5,), (3,))
    assert lazy.stop_reason.chunks == ((2, 2, 2), (5,))
    assert lazy.attrs["trustfit_backend"] == "numpy+dask"
    done = lazy.compute()
    np.testing.assert_array_equal(done.params.values, ds.params.values)
    np.testing.assert_array_equal(done.stop_reason.values, ds.stop_reason.values)
    eager = fit_batch(MODEL, Y=da.chunk({"row": 4}), p0=P0, dim="t", backend="numpy")
    assert eager.params.chunks is None
    np.testing.assert_array_equal(eager.params.values, ds.params.values)


def test_several_independent_variables_as_a_list_or_tuple():
    """x from two coordinates of the fitted dimension, independent= as a list and as a
    tuple (compiled: the numpy path fits one independent variable)."""
    rng = np.random.default_rng(3)
    u = np.linspace(0.0, 2.0, 30)
    v = np.cos(3.0 * u)
    a = rng.uniform(1.0, 2.0, 4)
    b = rng.uniform(0.5, 1.0, 4)
    Y = a[:, None] * np.exp(-b[:, None] * u) + 0.3 * v
    da = xr.DataArray(Y, dims=("pixel", "p"), coords={"u": ("p", u), "v": ("p", v)})
    model = "a*exp(-b*u) + c*v"
    p0 = {"a": 1.0, "b": 1.0, "c": 0.0}
    as_list = fit_batch(model, ["u", "v"], da, p0, dim="p", independent=["u", "v"],
                        backend="compiled")
    as_tuple = fit_batch(model, np.stack([u, v]), Y, p0, independent=("u", "v"),
                         backend="compiled")
    np.testing.assert_array_equal(as_list.params.values, as_tuple.params)
    assert as_list.success.values.all()
    np.testing.assert_allclose(as_list.params.values, np.stack([a, b, np.full(4, 0.3)], 1),
                               rtol=1e-7, atol=1e-9)
