"""A patching Dataset (:func:`workbench.data.validate_patching`) as the plain arrays PatchMap and its static chart
read: every variable with a leading ``pair`` axis (a Dataset without one is one pair), the mean over pairs that
ignores NaN, token labels and the positions where the clean and corrupted prompts differ, and top-k token ids turned
into indices of one string table. Pure numpy on xarray; no widget here.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from workbench.data import DataModelError


def cells_dim(ds: xr.Dataset) -> str:
    """The dim along which a map's cells lie: ``"span"`` when positions were patched in sets, else ``"position"``.

    >>> cells_dim(xr.Dataset({"effect": (("site", "layer", "span"), np.zeros((1, 1, 2)))}))
    'span'
    """
    return "span" if "span" in ds["effect"].dims else "position"


def per_pair(da: xr.DataArray, dims: tuple[str, ...], dtype: Any = np.float32) -> np.ndarray:
    """``da``'s values ordered as ``("pair", *dims)``; a DataArray without ``pair`` gets a leading axis of one. A dim
    of ``dims`` that ``da`` lacks becomes an axis of one (e.g. ``span`` of a head view patched at one set).

    >>> da = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=("position", "layer"))
    >>> per_pair(da, ("layer", "position")).shape
    (1, 3, 2)
    """
    for d in dims:
        if d not in da.dims:
            da = da.expand_dims(d)
    if "pair" not in da.dims:
        da = da.expand_dims("pair")
    return np.ascontiguousarray(da.transpose("pair", *dims).values, dtype=dtype)


def pair_mean(a: np.ndarray) -> np.ndarray:
    """Mean over the leading pair axis that ignores NaN (a cell NaN in every pair stays NaN), as float32.

    >>> pair_mean(np.array([[1.0, np.nan, np.nan], [3.0, 2.0, np.nan]])).tolist()
    [2.0, 2.0, nan]
    """
    a = np.asarray(a, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "Mean of empty slice" for an all-NaN cell
        return np.nanmean(a, axis=0).astype(np.float32)


def token_rows(ds: xr.Dataset, coord: str, n_pairs: int, n_cells: int) -> list[list[str]]:
    """The strings of a token coord on (pair, position) as ``n_pairs`` rows of ``n_cells`` (``""`` where absent).

    >>> ds = xr.Dataset(coords={"token": ("position", ["a", "b"])})
    >>> token_rows(ds, "token", 2, 2)
    [['a', 'b'], ['a', 'b']]
    """
    if coord not in ds.coords:
        return [[""] * n_cells for _ in range(n_pairs)]
    c = ds.coords[coord]
    values = per_pair(c, ("position",), dtype=object)
    rows = [["" if v is None else str(v) for v in row] for row in values]
    return rows * n_pairs if len(rows) == 1 and n_pairs > 1 else rows


def differs(clean: list[list[str]], corrupted: list[list[str]]) -> np.ndarray:
    """``(pair, position)`` float32 1/0: the clean token exists and is not the corrupted one there.

    >>> differs([[" When", " Mary", ""]], [[" When", " John", ""]]).tolist()
    [[0.0, 1.0, 0.0]]
    """
    return np.array([[float(c != "" and c != k) for c, k in zip(cr, kr)] for cr, kr in zip(clean, corrupted)],
                    np.float32).reshape(len(clean), -1)


def mean_labels(rows: list[list[str]]) -> list[str]:
    """Labels of the mean over pairs: the token where every pair that has one agrees, else up to three of them
    joined by ``|`` (the widget's ``meanLabels``).

    >>> mean_labels([[" When", " Mary"], [" When", " John"], ["", " Anna"]])
    [' When', ' Mary| John| Anna']
    """
    out = []
    for x in range(len(rows[0]) if rows else 0):
        seen = list(dict.fromkeys(r[x] for r in rows if r[x] != ""))
        out.append(seen[0] if len(seen) == 1 else "|".join(seen[:3]) + ("|…" if len(seen) > 3 else ""))
    return out


def vocab_table(datasets: list[xr.Dataset]) -> tuple[dict[int, int], list[str]]:
    """One string table for the top-k token ids of every Dataset: ``({token id: index}, strings)`` from the coords
    ``vocab_id`` / ``vocab_token`` (on dim ``vocab``), first seen first.

    >>> ds = xr.Dataset(coords={"vocab_id": ("vocab", [7, 3]), "vocab_token": ("vocab", [" Mary", " John"])})
    >>> vocab_table([ds])
    ({7: 0, 3: 1}, [' Mary', ' John'])
    """
    index: dict[int, int] = {}
    strings: list[str] = []
    for ds in datasets:
        if "vocab_id" not in ds.coords or "vocab_token" not in ds.coords:
            continue
        for i, s in zip(np.asarray(ds.coords["vocab_id"].values).tolist(), ds.coords["vocab_token"].values.tolist()):
            if int(i) not in index:
                index[int(i)] = len(strings)
                strings.append(str(s))
    return index, strings


def top_indices(ids: np.ndarray, index: dict[int, int], strings: list[str]) -> np.ndarray:
    """Token ids as float32 indices into ``strings`` (-1 for a negative id, i.e. no token); an id the vocab coords do
    not name is appended to ``strings`` as ``"⟨id N⟩"`` so it still shows.

    >>> strings = [" Mary"]
    >>> top_indices(np.array([[7, 9, -1]]), {7: 0}, strings).tolist(), strings
    ([[0.0, 1.0, -1.0]], [' Mary', '⟨id 9⟩'])
    """
    ids = np.asarray(ids)
    uniq, inverse = np.unique(ids, return_inverse=True)
    mapped = np.full(uniq.shape, -1.0, np.float32)
    for j, i in enumerate(uniq.tolist()):
        if i < 0:
            continue
        if i not in index:
            index[i] = len(strings)
            strings.append(f"⟨id {i}⟩")
        mapped[j] = index[i]
    return mapped[inverse.reshape(-1)].reshape(ids.shape)


def check_same_grid(exact: xr.Dataset, attribution: xr.Dataset) -> None:
    """A one-sentence :class:`~workbench.data.DataModelError` unless ``attribution`` covers the same pairs, sites,
    layers and cells as ``exact`` (the toggle swaps one map for the other, cell for cell)."""
    dim = cells_dim(exact)
    for d in ("pair", "site", "layer", dim):
        a = exact["effect"].sizes.get(d, 1)
        b = attribution["effect"].sizes.get(d, 1)
        if a != b:
            raise DataModelError(f"attribution must cover the same cells as the exact Dataset, but its {d!r} has "
                                 f"{b} entries and the exact one {a}.")
    if [str(s) for s in exact["site"].values] != [str(s) for s in attribution["site"].values]:
        raise DataModelError(f"attribution's sites {[str(s) for s in attribution['site'].values]} must be the exact "
                             f"Dataset's {[str(s) for s in exact['site'].values]}, in the same order.")


__all__ = ["cells_dim", "per_pair", "pair_mean", "token_rows", "differs", "mean_labels", "vocab_table", "top_indices",
           "check_same_grid"]
