"""POLCA's numerical core against independent computations: forward-mode and vmap projections against a per-sample
autograd loop, Hessian-vector products, curvatures and the Lanczos basis against the dense Hessian of a tiny model,
and the complete-basis identity (first-order terms summed over a full orthonormal basis = per-sample LCA)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers as T

from workbench.analyses.polca import findings as F
from workbench.analyses.polca.basis import BasisError, build_basis, check_orthonormal, lanczos_top, random_basis
from workbench.analyses.polca.gradients import (FlatModel, project, project_jvp, project_loop, project_vmap, curvature,
                                           hvp, sample_losses, tokenize_ids, vmap_chunk)
from workbench.zoo.tasks import addition as task


def _model(n_embd: int, dtype: torch.dtype, seed: int = 0) -> FlatModel:
    torch.manual_seed(seed)
    cfg = T.GPT2Config(n_layer=1, n_embd=n_embd, n_head=2, n_positions=task.SEQ_LEN, vocab_size=len(task.VOCAB),
                       bos_token_id=12, eos_token_id=12, pad_token_id=12, resid_pdrop=0.0, embd_pdrop=0.0,
                       attn_pdrop=0.0)
    m = T.GPT2LMHeadModel(cfg)
    with torch.no_grad():  # a less symmetric starting point than the default init
        for p in m.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return FlatModel(m, dtype=dtype)


def _tokens(n: int, seed: int = 0, positions=task.TARGET_POSITIONS):
    probs = task.problems(n, seed)
    return tokenize_ids(task.encode(probs).tolist(), [list(positions)] * n)


def _dense_hessian(fm: FlatModel, theta: torch.Tensor, toks) -> np.ndarray:
    """The full Hessian by plain autograd double backward, one row per parameter: independent of the torch.func code
    under test (torch.func's own ``hessian`` and ``jacrev(jacrev)`` return an asymmetric matrix through layer_norm
    in torch 2.13, so they cannot serve as the reference)."""
    leaf = theta.detach().clone().requires_grad_(True)
    loss = fm.losses(leaf, toks, slice(0, toks.n_seq), slice(0, toks.n_samples)).mean()
    (g,) = torch.autograd.grad(loss, leaf, create_graph=True)
    rows = [torch.autograd.grad(g[i], leaf, retain_graph=True)[0] for i in range(leaf.numel())]
    h = torch.stack(rows).detach().double().numpy()
    assert np.abs(h - h.T).max() < 1e-8
    return h


def _loop_grads(fm: FlatModel, theta: torch.Tensor, toks) -> torch.Tensor:
    """Per-sample gradients written independently: a fresh forward and backward per sample."""
    rows = []
    for i in range(toks.n_samples):
        leaf = theta.detach().clone().requires_grad_(True)
        s = int(toks.seq[i])
        logits = fm.logits(leaf, toks.input_ids[s: s + 1], None)[0]
        loss = torch.nn.functional.cross_entropy(logits[int(toks.pos[i])][None], toks.target[i: i + 1])
        (g,) = torch.autograd.grad(loss, leaf)
        rows.append(g)
    return torch.stack(rows)


@pytest.fixture(scope="module")
def small():
    """A float32 model shaped like the zoo's (d = 32), 16 problems = 64 answer-token samples, 9 orthonormal directions."""
    fm = _model(32, torch.float32, seed=1)
    toks = _tokens(16, seed=3)
    vectors = torch.as_tensor(random_basis(fm.n_params, 9, seed=4), dtype=torch.float32)
    grads = _loop_grads(fm, fm.flat(), toks)
    return fm, toks, vectors, grads


def test_forward_mode_matches_per_sample_loop(small):
    fm, toks, vectors, grads = small
    ref = (vectors @ grads.T).double()
    for dir_chunk in (1, 4, 8):
        got = project_jvp(fm, fm.flat(), toks, vectors, seq_chunk=7, dir_chunk=dir_chunk).double()
        assert got.shape == (9, toks.n_samples)
        np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=1e-5, rtol=0)
    assert float(ref.abs().max()) > 1e-2  # the comparison is not between zeros


def test_compiled_forward_mode_matches_per_sample_loop(small):
    """The compiled path (the benchmark's headline) pads chunks and directions to one shape: the padding must not leak
    into the result, whatever the last chunk's size (16 problems in chunks of 6 sequences, 9 directions in 4s)."""
    fm, toks, vectors, grads = small
    ref = (vectors @ grads.T).double().numpy()
    got = project_jvp(fm, fm.flat(), toks, vectors, seq_chunk=6, dir_chunk=4, compile=True)
    assert got.shape == (9, toks.n_samples)
    np.testing.assert_allclose(got.double().numpy(), ref, atol=1e-5, rtol=0)
    via_project = project(fm, fm.flat(), toks, vectors, method="jvp", seq_chunk=6, compile=True)
    np.testing.assert_allclose(via_project.double().numpy(), ref, atol=1e-5, rtol=0)


def test_vmap_and_loop_projections_match_forward_mode(small):
    fm, toks, vectors, grads = small
    ref = project_jvp(fm, fm.flat(), toks, vectors).double().numpy()
    np.testing.assert_allclose(project_vmap(fm, fm.flat(), toks, vectors, seq_chunk=5).double().numpy(), ref,
                               atol=1e-5, rtol=0)
    np.testing.assert_allclose(project_loop(fm, fm.flat(), toks, vectors).double().numpy(), ref, atol=1e-5, rtol=0)
    for method in ("auto", "jvp", "vmap"):
        np.testing.assert_allclose(project(fm, fm.flat(), toks, vectors, method=method).double().numpy(), ref,
                                   atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="method must be"):
        project(fm, fm.flat(), toks, vectors, method="magic")


def test_vmap_chunks_fit_the_memory_budget(small):
    """Per-sample gradients are held a chunk at a time, cut to ``max_bytes`` (a 9.5M-parameter model's default
    64-sequence chunk would need ~10 GB): a budget of two sequences' gradients gives chunks of two, one smaller than a
    sequence still goes one at a time, and both give the loop's numbers."""
    fm, toks, vectors, grads = small
    per_seq = 4 * fm.n_params * 4  # 4 targets per sequence, float32
    assert vmap_chunk(fm, toks, 64) == 64
    assert vmap_chunk(fm, toks, 64, max_bytes=2 * per_seq + 1) == 2
    assert vmap_chunk(fm, toks, 64, max_bytes=per_seq // 3) == 1
    ref = (vectors @ grads.T).double().numpy()
    for budget in (2 * per_seq, 1):
        got = project_vmap(fm, fm.flat(), toks, vectors, max_bytes=budget).double().numpy()
        np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)


def test_projection_with_padding_and_uneven_positions():
    """Sequences of different lengths (right padding, attention mask) and different numbers of target positions."""
    fm = _model(16, torch.float64, seed=2)
    rows = [[1, 2, 3, 10, 4, 5, 6, 11, 0, 5, 7, 9], [3, 4, 10, 5, 11, 9], [7, 7, 7]]
    toks = tokenize_ids(rows, [[2, 5, 9], [0, 4], [1]], pad_id=12)
    vectors = torch.as_tensor(random_basis(fm.n_params, 3, seed=0))
    grads = _loop_grads_masked(fm, rows, [[2, 5, 9], [0, 4], [1]])
    ref = (vectors @ grads.T).numpy()
    for got in (project_jvp(fm, fm.flat(), toks, vectors, seq_chunk=2), project_vmap(fm, fm.flat(), toks, vectors)):
        np.testing.assert_allclose(got.numpy(), ref, atol=1e-10, rtol=0)
    losses = sample_losses(fm, fm.flat(), toks).numpy()
    assert losses.shape == (6,) and np.all(losses > 0)


def _loop_grads_masked(fm, rows, positions):
    out = []
    for row, ps in zip(rows, positions):  # each text alone, unpadded
        for p in ps:
            leaf = fm.flat().clone().requires_grad_(True)
            ids = torch.tensor([row])
            logits = fm.logits(leaf, ids, None)[0]
            loss = torch.nn.functional.cross_entropy(logits[p][None], torch.tensor([row[p + 1]]))
            out.append(torch.autograd.grad(loss, leaf)[0])
    return torch.stack(out)


def test_bad_positions_and_directions():
    with pytest.raises(ValueError, match="sample 0 has no target position"):
        tokenize_ids([[1, 2, 3]], [[]])
    with pytest.raises(ValueError, match="target position 2, outside 0..1"):
        tokenize_ids([[1, 2, 3]], [[2]])
    fm = _model(8, torch.float64)
    with pytest.raises(ValueError, match=r"vectors must have shape \(k, \d+\)"):
        project_jvp(fm, fm.flat(), _tokens(1), torch.zeros(2, 5))


@pytest.fixture(scope="module")
def tiny():
    """A float64 1-layer model with d = 4 (about 400 parameters) and its dense Hessian on 6 problems."""
    fm = _model(4, torch.float64, seed=5)
    toks = _tokens(6, seed=9)
    theta = fm.flat()
    return fm, toks, theta, _dense_hessian(fm, theta, toks)


def test_hvp_and_curvature_match_dense_hessian(tiny):
    fm, toks, theta, h = tiny
    v = torch.as_tensor(random_basis(fm.n_params, 4, seed=1))
    np.testing.assert_allclose(hvp(fm, theta, toks, v, seq_chunk=4).numpy(), (h @ v.numpy().T).T, atol=1e-9)
    quad = np.einsum("kp,pq,kq->k", v.numpy(), h, v.numpy())
    np.testing.assert_allclose(curvature(fm, theta, toks, v, seq_chunk=4, dir_chunk=3).numpy(), quad, atol=1e-9)


def test_lanczos_basis_matches_dense_eigendecomposition(tiny):
    """Algorithm 1 at two checkpoints: vector 1 = top eigenvector of H(theta_0); vector 2 = top eigenvector of
    P H(theta_1) P with P = I - b1 b1^T (dense eigh, no Lanczos)."""
    fm, toks, theta0, h0 = tiny
    theta1 = theta0 + 0.05 * torch.as_tensor(np.random.default_rng(0).standard_normal(fm.n_params))
    h1 = _dense_hessian(fm, theta1, toks)
    basis = build_basis(fm, [(0, theta0), (10, theta1)], toks, tol=1e-12, progress=False)
    assert basis.found_at.tolist() == [0, 10]
    w0, v0 = np.linalg.eigh(h0)
    b1 = basis.vectors[0].astype(np.float64)
    assert abs(b1 @ v0[:, -1]) > 1 - 1e-5
    assert basis.eigenvalue[0] == pytest.approx(w0[-1], rel=1e-8)
    p = np.eye(fm.n_params) - np.outer(v0[:, -1], v0[:, -1])
    w1, v1 = np.linalg.eigh(p @ h1 @ p)
    b2 = basis.vectors[1].astype(np.float64)
    assert abs(b2 @ v1[:, -1]) > 1 - 1e-4
    assert basis.eigenvalue[1] == pytest.approx(w1[-1], rel=1e-8)
    check_orthonormal(basis.vectors, tol=1e-6)
    # the second vector is not simply the top eigenvector of H(theta_1) (the projection matters)
    assert abs(b2 @ np.linalg.eigh(h1)[1][:, -1]) < 0.99 or abs(b1 @ np.linalg.eigh(h1)[1][:, -1]) > 0.99


def test_lanczos_top_on_a_known_matrix():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((60, 60)))
    w = np.linspace(-3, 5, 60)
    h = (q * w) @ q.T
    vals, vecs = lanczos_top(lambda x: h @ x, 60, k=2, tol=1e-12)
    np.testing.assert_allclose(vals, [5.0, w[-2]], rtol=1e-9)
    vals, vecs = lanczos_top(lambda x: h @ x, 60, k=1, basis=q[:, -1:].T, tol=1e-12)
    assert vals[0] == pytest.approx(w[-2], rel=1e-9)
    assert abs(vecs[0] @ q[:, -1]) < 1e-8


def test_complete_basis_first_order_terms_sum_to_lca(tiny):
    """Over a complete orthonormal basis, sum_b <b, g(x)> <b, dtheta> = <g(x), dtheta> (LCA of each sample)."""
    fm, toks, theta0, _ = tiny
    rng = np.random.default_rng(1)
    theta1 = theta0 + 0.01 * torch.as_tensor(rng.standard_normal(fm.n_params))
    full = torch.as_tensor(random_basis(fm.n_params, fm.n_params, seed=2))
    d0 = project_jvp(fm, theta0, toks, full, dir_chunk=16).numpy()
    d1 = project_jvp(fm, theta1, toks, full, dir_chunk=16).numpy()
    coords = np.stack([full.numpy() @ theta0.numpy(), full.numpy() @ theta1.numpy()])
    terms = F.first_order_terms(np.stack([d0, d1]), coords)  # (1, P, N)
    lca = (_loop_grads(fm, theta0, toks) @ (theta1 - theta0)).numpy()
    np.testing.assert_allclose(terms[0].sum(0), lca, atol=1e-10)
    # an incomplete basis does not add up (the identity is not trivially true)
    assert np.abs(terms[0, : fm.n_params // 2].sum(0) - lca).max() > 1e-4


def test_check_orthonormal_names_the_problem():
    check_orthonormal(random_basis(20, 5))
    with pytest.raises(BasisError, match="row 1 has norm 2"):
        check_orthonormal(np.eye(4)[:2] * [[1], [2]])
    with pytest.raises(BasisError, match="rows 0 and 1 have dot product"):
        check_orthonormal(np.array([[1.0, 0, 0], [0.6, 0.8, 0]]))
    with pytest.raises(BasisError, match="must be a"):
        check_orthonormal(np.zeros(3))
