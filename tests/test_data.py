"""The data model: validators say what is wrong; save/load round-trips exactly and never corrupts a file."""

from __future__ import annotations

import os

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from workbench.data import (DataModelError, load, provenance, save, validate_attention, validate_logit_lens,
                            validate_residuals)


def attention_da(dims=("layer", "head", "query", "key"), shape=(2, 3, 4, 4)):
    return xr.DataArray(np.random.default_rng(0).random(shape), dims=dims)


# ----------------------------------------------------------------------------------------------- validators
def test_validate_attention_accepts_good_and_prompted():
    validate_attention(attention_da())
    validate_attention(attention_da(("prompt", "layer", "head", "query", "key"), (2, 2, 3, 4, 4)))


@pytest.mark.parametrize("dims,needle", [
    (("layer", "heads", "query", "key"), "missing 'head'"),
    (("layer", "head", "query"), "missing 'key'"),
    (("layer", "head", "query", "key", "batch"), "unexpected dim(s) 'batch'"),
])
def test_validate_attention_names_the_wrong_dim(dims, needle):
    shape = (2,) * len(dims)
    with pytest.raises(DataModelError) as e:
        validate_attention(attention_da(dims, shape))
    assert needle in str(e.value)
    assert str(e.value).count(".") >= 1 and "\n" not in str(e.value)   # one sentence


def test_validators_reject_wrong_types_and_dtypes():
    with pytest.raises(DataModelError, match="must be an xarray.DataArray, got ndarray"):
        validate_attention(np.zeros((1, 1, 2, 2)))
    with pytest.raises(DataModelError, match="floating point"):
        validate_attention(xr.DataArray(np.zeros((1, 1, 2, 2), int), dims=("layer", "head", "query", "key")))
    bad_tokens = attention_da().assign_coords(query_token=("query", np.arange(4)))
    with pytest.raises(DataModelError, match="query_token"):
        validate_attention(bad_tokens)
    with pytest.raises(DataModelError, match="missing 'hidden'"):
        validate_residuals(xr.DataArray(np.zeros((2, 3)), dims=("layer", "position")))
    with pytest.raises(DataModelError, match="needs data variable 'entropy'"):
        validate_logit_lens(xr.Dataset({"token": (("layer", "position", "rank"), np.full((1, 1, 1), "a")),
                                        "token_id": (("layer", "position", "rank"), np.zeros((1, 1, 1), int)),
                                        "prob": (("layer", "position", "rank"), np.zeros((1, 1, 1)))}))


def test_provenance_has_the_required_keys():
    attrs = provenance(model="m", revision="r", task="t", seed=3)
    assert {"model", "revision", "task", "seed", "workbench_version", "created"} <= set(attrs)
    assert attrs["seed"] == 3 and attrs["created"].endswith("+00:00")


# ------------------------------------------------------------------------------------------------ save / load
token_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
float_dtypes = st.sampled_from([np.float16, np.float32, np.float64])


@st.composite
def labelled_arrays(draw):
    dtype = draw(float_dtypes)
    n_pos = draw(st.integers(1, 5))
    n_layer = draw(st.integers(1, 3))
    values = draw(hnp.arrays(dtype, (n_layer, n_pos), elements=st.floats(allow_nan=True, allow_infinity=True,
                                                                          width=np.dtype(dtype).itemsize * 8)))
    tokens = draw(st.lists(token_text, min_size=n_pos, max_size=n_pos))
    tok_arr = np.empty(n_pos, dtype=object)
    tok_arr[:] = tokens
    attrs = {"model": draw(token_text), "seed": draw(st.integers(-2**31, 2**31 - 1)),
             "flag": draw(st.booleans()), "note": draw(st.one_of(st.none(), token_text))}
    return xr.DataArray(values, dims=("layer", "position"),
                        coords={"layer": np.arange(n_layer), "token": ("position", tok_arr)},
                        attrs=attrs, name=draw(st.one_of(st.none(), st.text("abc", min_size=1, max_size=3))))


@settings(max_examples=int(os.environ.get("WB_HYPOTHESIS_EXAMPLES", 40)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(da=labelled_arrays(), fmt=st.sampled_from(["nc", "zarr", "nc+zlib"]))
def test_save_load_roundtrip_is_exact(tmp_path_factory, da, fmt):
    path = tmp_path_factory.mktemp("rt") / f"x.{fmt.split('+')[0]}"
    back = load(save(da, path, compress=fmt.endswith("zlib")))
    assert isinstance(back, xr.DataArray)
    assert back.dtype == da.dtype
    # bitwise equality, NaN payloads included
    assert back.values.tobytes() == da.values.tobytes()
    assert list(back.coords["token"].values) == list(da.coords["token"].values)
    assert back.attrs == da.attrs and back.name == da.name and back.dims == da.dims


def test_dataset_roundtrip_with_unicode_and_float16(tmp_path):
    ds = xr.Dataset(
        {"prob": (("position", "rank"), np.array([[0.5, np.nan]], np.float16)),
         "token": (("position", "rank"), np.array([["Ġ東京", "\x00nul\\0"]], dtype=object)),
         "fixed": (("position",), np.array(["über"]))},
        attrs=provenance(model="x", task="t"))
    for name, compress in (("a.nc", False), ("a.zarr", False), ("z.nc", True)):
        back = load(save(ds, tmp_path / name, compress=compress))
        assert isinstance(back, xr.Dataset)
        xr.testing.assert_identical(back, ds)
        assert back["fixed"].dtype == ds["fixed"].dtype and back["prob"].dtype == np.float16


def test_zarr_chunks_and_lazy_load(tmp_path):
    da = xr.DataArray(np.arange(24, dtype=np.float16).reshape(4, 6), dims=("layer", "position"))
    path = save(da, tmp_path / "c.zarr", chunks={"layer": 1})
    lazy = load(path, lazy=True)
    assert lazy.chunks is not None and lazy.chunks[0] == (1, 1, 1, 1)
    assert lazy.dtype == np.float16
    np.testing.assert_array_equal(lazy.values, da.values)


def _failing_dataset():
    def boom(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 1:
            raise RuntimeError("disk full (simulated by a failing dask chunk)")
        return block
    arr = dsa.ones((4, 4), chunks=(2, 4)).map_blocks(boom, dtype=float)
    return xr.Dataset({"x": (("layer", "position"), arr)})


@pytest.mark.parametrize("name", ["keep.nc", "keep.zarr"])
def test_failed_save_leaves_the_old_file_intact(tmp_path, name):
    path = tmp_path / name
    good = xr.Dataset({"x": (("layer",), np.arange(3.0))}, attrs={"model": "original"})
    save(good, path)
    with pytest.raises(RuntimeError, match="disk full"):
        save(_failing_dataset(), path)      # fails half-way through writing
    xr.testing.assert_identical(load(path), good)
    assert sorted(os.listdir(tmp_path)) == [name]   # no temporary left behind


def test_save_errors_name_the_problem(tmp_path):
    da = attention_da()
    with pytest.raises(DataModelError, match="does not exist"):
        save(da, tmp_path / "missing" / "x.nc")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.geteuid() != 0:       # root can write anywhere; the check is then the OS's own
            with pytest.raises(DataModelError, match="not writable"):
                save(da, ro / "x.nc")
    finally:
        ro.chmod(0o700)
    with pytest.raises(DataModelError, match="got list"):
        save([1, 2], tmp_path / "x.nc")
    with pytest.raises(DataModelError, match="format must be"):
        save(da, tmp_path / "x.nc", format="hdf5")
    with pytest.raises(DataModelError, match="Python objects of type dict"):
        save(xr.DataArray(np.array([{}], dtype=object), dims="x"), tmp_path / "x.nc")
    with pytest.raises(DataModelError, match="no file"):
        load(tmp_path / "nothing.nc")
    (tmp_path / "junk.nc").write_bytes(b"not a netcdf file")
    with pytest.raises(DataModelError, match="not a readable netcdf file"):
        load(tmp_path / "junk.nc")


def test_save_into_unwritable_location_fails_cleanly(tmp_path):
    """A path whose parent is a file, not a directory: the error names the path."""
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataModelError, match="afile"):
        save(attention_da(), tmp_path / "afile" / "x.nc")


DIM_POOL = ["layer", "head", "query", "key", "prompt", "heads", "position", "batch", "token"]


@settings(max_examples=80, deadline=None)
@given(dims=st.lists(st.sampled_from(DIM_POOL), min_size=1, max_size=6, unique=True), data=st.data())
def test_validate_attention_property(dims, data):
    """Accepted iff the dims are exactly layer/head/query/key (any order) plus at most an optional prompt; otherwise
    the one-sentence message names a missing or an unexpected dim."""
    shape = tuple(data.draw(st.integers(1, 3)) for _ in dims)
    da = xr.DataArray(np.zeros(shape), dims=dims)
    required = {"layer", "head", "query", "key"}
    should_pass = required <= set(dims) and set(dims) <= required | {"prompt"}
    if should_pass:
        assert validate_attention(da) is da
    else:
        with pytest.raises(DataModelError) as e:
            validate_attention(da)
        msg = str(e.value)
        missing = required - set(dims)
        unexpected = set(dims) - required - {"prompt"}
        assert any(f"'{d}'" in msg for d in missing | unexpected)
        assert "\n" not in msg
