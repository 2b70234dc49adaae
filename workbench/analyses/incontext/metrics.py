"""How well a set of node representations mirrors a graph: numpy only, no model.

Used by :mod:`workbench.analyses.incontext` (Park et al. 2025, "ICLR: In-Context Learning of Representations",
arXiv 2501.00070). Every function takes node vectors ``x`` of shape (n, d) with NaN rows for masked nodes (a node with
no occurrence in the window) and simply leaves those nodes out; nothing is filled with zeros.

* **Dirichlet energy** ``E(X) = sum_ij A_ij ||x_i - x_j||^2`` over ordered pairs (each edge counted twice). Its scale
  depends on the representation's, so we also report the
* **energy ratio** ``rho(X) = E(X) / ((sum_ij A_ij / (n (n - 1))) * sum_{i != j} ||x_i - x_j||^2)``: the energy over its
  expectation under a uniformly random relabelling of the nodes. 1 = no graph structure; below 1 = neighbours sit
  closer than random pairs. The paper's own normalisation is not known, so only these two are reported.
* **Permutation null**: rho under many random relabellings (its mean is 1 by construction), to say where the real
  rho falls (a percentile), which a single number cannot.
* **Procrustes R^2** between two point sets, after the best translation, rotation/reflection and uniform scale:
  ``(sum of singular values of Yc^T Zc)^2 / (||Yc||^2 ||Zc||^2)``; symmetric in Y and Z, 1 = same shape.
"""

from __future__ import annotations

import numpy as np


def present(x: np.ndarray) -> np.ndarray:
    """Boolean mask of the nodes whose vector is fully finite."""
    return np.isfinite(np.asarray(x)).all(axis=-1)


def squared_distances(x: np.ndarray) -> np.ndarray:
    """(n, n) squared Euclidean distances, computed in float64."""
    x = np.asarray(x, dtype=np.float64)
    sq = (x * x).sum(-1)
    d = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.fill_diagonal(d, 0.0)
    return np.maximum(d, 0.0)


def dirichlet_energy(x: np.ndarray, adjacency: np.ndarray) -> float:
    """Raw Dirichlet energy over the present nodes (NaN when fewer than 2 are present).

    >>> dirichlet_energy(np.array([[0.0], [1.0], [3.0]]), np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]))
    10.0
    """
    keep = present(x)
    if keep.sum() < 2:
        return float("nan")
    d = squared_distances(np.asarray(x)[keep])
    return float((np.asarray(adjacency, dtype=np.float64)[np.ix_(keep, keep)] * d).sum())


def _ratio_parts(x: np.ndarray, adjacency: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    keep = present(x)
    m = int(keep.sum())
    a = np.asarray(adjacency, dtype=np.float64)[np.ix_(keep, keep)]
    if m < 2 or a.sum() == 0:
        return None
    d = squared_distances(np.asarray(x)[keep])
    norm = a.sum() / (m * (m - 1)) * d.sum()
    return a, d, norm


def energy_ratio(x: np.ndarray, adjacency: np.ndarray) -> float:
    """The scale-free energy ratio rho (NaN when it is undefined: < 2 nodes, no edge among them, or all equal).

    >>> a = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    >>> round(energy_ratio(np.array([[0.0], [1.0], [2.0]]), a), 4)   # a path drawn as a path: 4 / ((4 / 6) * 12)
    0.5
    """
    parts = _ratio_parts(x, adjacency)
    if parts is None or parts[2] == 0:
        return float("nan")
    a, d, norm = parts
    return float((a * d).sum() / norm)


def permutation_null(x: np.ndarray, adjacency: np.ndarray, n_perm: int = 1000,
                     seed: int = 0) -> np.ndarray:
    """rho of ``x`` under ``n_perm`` uniformly random relabellings of the present nodes (seeded).

    >>> a = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    >>> null = permutation_null(np.array([[0.0], [1.0], [2.0]]), a, n_perm=3000)
    >>> round(float(null.mean()), 1)
    1.0
    """
    parts = _ratio_parts(x, adjacency)
    if parts is None or parts[2] == 0:
        return np.full(n_perm, np.nan)
    a, d, norm = parts
    rng = np.random.default_rng(seed)
    m = len(a)
    perms = np.argsort(rng.random((n_perm, m)), axis=1)
    permuted = a[perms[:, :, None], perms[:, None, :]]  # (n_perm, m, m): A relabelled
    return np.einsum("pij,ij->p", permuted, d) / norm


def percentile_in(value: float, null: np.ndarray) -> float:
    """Where ``value`` falls in ``null``: the percentage of null draws strictly below it (NaN if undefined)."""
    null = np.asarray(null)
    if not np.isfinite(value) or not np.isfinite(null).any():
        return float("nan")
    null = null[np.isfinite(null)]
    return float(100.0 * (null < value).mean())


def pca(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Principal-component coordinates (n, k) of the centred present nodes (NaN rows for masked nodes), and each
    component's share of the variance (k,). No standardisation, as in the paper. Components beyond the rank are NaN.

    >>> c, share = pca(np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]]), 2)
    >>> np.abs(c[:, 0]).round(3).tolist(), share.round(3).tolist()
    ([2.0, 0.0, 2.0], [1.0, 0.0])
    """
    x = np.asarray(x, dtype=np.float64)
    keep = present(x)
    coords = np.full((len(x), k), np.nan)
    share = np.full(k, np.nan)
    if keep.sum() < 2:
        return coords, share
    xc = x[keep] - x[keep].mean(0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    r = min(k, len(s))
    # fix each component's sign: its largest-magnitude coordinate is positive
    top = np.abs(u[:, :r]).argmax(0)
    signs = np.sign(u[top, np.arange(r)])
    signs[signs == 0] = 1
    coords[np.flatnonzero(keep)[:, None], np.arange(r)[None, :]] = u[:, :r] * s[:r] * signs
    total = (s ** 2).sum()
    if total > 0:
        share[:r] = s[:r] ** 2 / total
    return coords, share


def procrustes(y: np.ndarray, z: np.ndarray) -> tuple[float, np.ndarray]:
    """Fit ``z`` onto ``y`` (both (n, p), NaN rows left out of the fit) by translation, rotation/reflection and
    uniform scale. Returns (R^2, the fitted z in y's coordinates, NaN where either is missing).

    >>> z = np.array([[0.0, 0], [1, 0], [0, 1], [1, 1]])
    >>> r2, fit = procrustes(3 * z[:, ::-1] + 5, z)
    >>> round(r2, 6), np.allclose(fit, 3 * z[:, ::-1] + 5)
    (1.0, True)
    """
    y = np.asarray(y, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    keep = present(y) & present(z)
    fit = np.full(y.shape, np.nan)
    if keep.sum() < 3:
        return float("nan"), fit
    ym, zm = y[keep].mean(0), z[keep].mean(0)
    yc, zc = y[keep] - ym, z[keep] - zm
    u, s, vt = np.linalg.svd(zc.T @ yc)
    ny, nz = (yc ** 2).sum(), (zc ** 2).sum()
    if ny == 0 or nz == 0:
        return float("nan"), fit
    rotation = u @ vt
    scale = s.sum() / nz
    fit[keep] = scale * zc @ rotation + ym
    return float(s.sum() ** 2 / (ny * nz)), fit


def align_signs(coords: np.ndarray) -> np.ndarray:
    """Flip each component's sign along a sweep (axis 0, e.g. context length) so consecutive frames agree, starting
    from the last frame. PCA signs are arbitrary; aligning them keeps an animation from flickering.

    ``coords`` is (frames, n, k) with NaN for masked nodes; a copy is returned.
    """
    out = np.array(coords, dtype=np.float64, copy=True)
    for f in range(len(out) - 2, -1, -1):
        dots = np.nansum(out[f] * out[f + 1], axis=0)  # (k,)
        out[f] *= np.where(dots < 0, -1.0, 1.0)
    return out
