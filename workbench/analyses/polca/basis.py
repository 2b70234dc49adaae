"""The low-rank training subspace of POLCA: Hessian eigenvectors found by Lanczos along training (Algorithm 1).

Kangaslahti, Rosenfeld & Saphra, "Hidden Breakthroughs in Language Model Training" (arXiv 2506.15872), Algorithm 1:
start with an empty basis ``B``; at each basis checkpoint ``t``, with ``P = I - B (B^T B)^-1 B^T`` (``I - B B^T`` for an
orthonormal ``B``), append the top-``k`` eigenvectors of ``P H_t P`` (the same nonzero eigenpairs as ``P H_t``, and
symmetric, so Lanczos applies), ``H_t`` being the Hessian of the mean loss on a fixed training sample. The Hessian is
never formed: ``scipy.sparse.linalg.eigsh`` runs Lanczos over a ``LinearOperator`` whose matrix-vector product is a
Hessian-vector product (:func:`workbench.analyses.polca.gradients.hvp`). "Top" is the largest algebraic eigenvalue.

>>> import numpy as np
>>> h = np.diag([3.0, 2.0, 1.0])
>>> vals, vecs = lanczos_top(lambda v: h @ v, 3, k=1)
>>> round(float(vals[0]), 6), np.abs(vecs[0]).round(3).tolist()
(3.0, [1.0, 0.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh
from tqdm.auto import tqdm

from workbench.analyses.polca.gradients import FlatModel, Tokens, hvp


class BasisError(ValueError):
    """A basis that cannot be used (not orthonormal, wrong shape); the message says what is wrong."""


@dataclass
class Basis:
    """Orthonormal directions (rows of ``vectors``, ``(K, P)``), the training step each was found at and its
    eigenvalue of ``P H P`` when found."""

    vectors: np.ndarray
    found_at: np.ndarray
    eigenvalue: np.ndarray

    def __len__(self) -> int:
        return int(self.vectors.shape[0])


def check_orthonormal(vectors: np.ndarray, tol: float = 1e-4, what: str = "basis") -> np.ndarray:
    """Raise :class:`BasisError` unless the rows of ``vectors`` are orthonormal (``|B B^T - I| <= tol``).

    >>> check_orthonormal(np.eye(3)[:2]).shape
    (2, 3)
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[0] > v.shape[1]:
        raise BasisError(f"{what} must be a (K, P) array of K <= P row vectors, got shape {v.shape}.")
    if not np.all(np.isfinite(v)):
        raise BasisError(f"{what} holds NaN or infinite values; expected orthonormal rows.")
    gram = v @ v.T
    err = np.abs(gram - np.eye(v.shape[0]))
    worst = float(err.max())
    if worst > tol:
        i, j = np.unravel_index(int(err.argmax()), err.shape)
        kind = f"row {i} has norm {np.sqrt(gram[i, i]):.4g}" if i == j else f"rows {i} and {j} have dot product " \
                                                                            f"{gram[i, j]:.4g}"
        raise BasisError(f"{what} is not orthonormal: {kind} (|B B^T - I| = {worst:.3g}, expected <= {tol:g}).")
    return np.asarray(vectors)


def _projector(basis: np.ndarray | None) -> Callable[[np.ndarray], np.ndarray]:
    if basis is None or len(basis) == 0:
        return lambda x: x
    b = np.asarray(basis, dtype=np.float64)
    return lambda x: x - b.T @ (b @ x)


def lanczos_top(matvec: Callable[[np.ndarray], np.ndarray], n: int, k: int = 1, basis: np.ndarray | None = None,
                tol: float = 1e-6, seed: int = 0, maxiter: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (largest algebraic) eigenpairs of ``P H P`` for a symmetric ``H`` given by ``matvec``, with ``P`` the
    projector off the rows of ``basis`` (orthonormal); Lanczos (``eigsh``) over a ``LinearOperator``.
    Returns ``(values (k,), vectors (k, n))``, largest first, each vector orthogonal to ``basis``.

    >>> h = np.diag([3.0, 2.0, 1.0])
    >>> vals, _ = lanczos_top(lambda v: h @ v, 3, basis=np.eye(3)[:1])
    >>> round(float(vals[0]), 6)
    2.0
    """
    proj = _projector(basis)

    def mv(x: np.ndarray) -> np.ndarray:
        x = proj(np.asarray(x, dtype=np.float64).reshape(-1))
        return proj(np.asarray(matvec(x), dtype=np.float64).reshape(-1))

    rng = np.random.default_rng(seed)
    v0 = proj(rng.standard_normal(n))
    m = 0 if basis is None else len(basis)
    if n - m <= k + 1:  # tiny problems: the projected matrix itself
        dense = np.stack([mv(e) for e in np.eye(n)], 1)
        vals, vecs = np.linalg.eigh((dense + dense.T) / 2)
        order = [i for i in np.argsort(vals)[::-1] if np.linalg.norm(proj(vecs[:, i])) > 0.5][:k]
        return vals[order], vecs[:, order].T
    op = LinearOperator((n, n), matvec=mv, dtype=np.float64)
    ncv = min(n - 1, max(2 * k + 1, 20))
    try:
        vals, vecs = eigsh(op, k=k, which="LA", v0=v0, tol=tol, ncv=ncv, maxiter=maxiter)
    except ArpackNoConvergence as e:
        if len(e.eigenvalues) < k:
            raise
        vals, vecs = e.eigenvalues, e.eigenvectors
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    vecs = np.stack([proj(vecs[:, i]) for i in range(vecs.shape[1])], 1)  # exactly off the basis
    vecs /= np.linalg.norm(vecs, axis=0, keepdims=True)
    return vals, vecs.T


def _orthonormal_append(basis: np.ndarray | None, new: np.ndarray) -> np.ndarray:
    """Append rows, re-orthogonalised against the basis and each other (two Gram-Schmidt passes)."""
    rows = [] if basis is None else list(basis)
    for v in new:
        v = np.asarray(v, dtype=np.float64).copy()
        for _ in range(2):
            for b in rows:
                v -= (b @ v) * b
        v /= np.linalg.norm(v)
        rows.append(v)
    return np.stack(rows)


def build_basis(fm: FlatModel, thetas: Iterable[tuple[int, torch.Tensor]], hessian: Tokens, k: int = 1,
                tol: float = 1e-4, seed: int = 0, progress: bool = True, seq_chunk: int = 128,
                maxiter: int | None = None) -> Basis:
    """Algorithm 1: at every ``(step, theta)`` of ``thetas`` (the basis checkpoints, in order) add the top-``k``
    eigenvectors of ``P H P``, ``H`` being the Hessian of the mean loss on the ``hessian`` samples at ``theta`` and
    ``P`` the projector off the vectors found so far. Lanczos with Hessian-vector products (float64 Lanczos, HVPs in
    the model's dtype).

    >>> basis = build_basis(fm, [(0, theta0), (200, theta200)], hessian_tokens)      # doctest: +SKIP
    >>> basis.vectors.shape                                                           # doctest: +SKIP
    (2, 151744)
    """
    vectors: np.ndarray | None = None
    found_at: list[int] = []
    eig: list[float] = []
    items = list(thetas)
    bar = tqdm(items, desc="POLCA basis (Lanczos)", disable=not progress)
    for i, (step, theta) in enumerate(bar):
        def matvec(x: np.ndarray, theta: torch.Tensor = theta) -> np.ndarray:
            v = torch.as_tensor(x, dtype=fm.dtype)[None]
            return hvp(fm, theta, hessian, v, seq_chunk=seq_chunk)[0].double().numpy()

        vals, vecs = lanczos_top(matvec, fm.n_params, k=k, basis=vectors, tol=tol, seed=seed + i, maxiter=maxiter)
        vectors = _orthonormal_append(vectors, vecs)
        found_at += [int(step)] * len(vals)
        eig += [float(v) for v in vals]
        bar.set_postfix(step=int(step), eigenvalue=f"{vals[0]:.3g}", refresh=False)
    bar.close()
    if vectors is None:
        raise BasisError("thetas is empty; give at least one basis checkpoint.")
    return Basis(vectors.astype(np.float32), np.asarray(found_at, np.int64), np.asarray(eig, np.float64))


def random_basis(n_params: int, k: int, seed: int = 0) -> np.ndarray:
    """``k`` random orthonormal directions in parameter space (QR of a Gaussian matrix): POLCA's random baseline.

    >>> b = random_basis(10, 3)
    >>> np.allclose(b @ b.T, np.eye(3))
    True
    """
    g = np.random.default_rng(seed).standard_normal((n_params, k))
    q, _ = np.linalg.qr(g)
    return q.T.copy()


__all__ = ["Basis", "BasisError", "check_orthonormal", "lanczos_top", "build_basis", "random_basis"]
