"""In-context graph tracing: graphs and walks, the metrics against brute force and scipy, one traced pass against
plain torch and against one pass per context length, the controls, and every bad input's error."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import xarray as xr

from tiny_models import tiny_word_model, word_tokenizer
from workbench import load_model
from workbench.analyses.incontext import metrics as gm
from workbench.analyses import incontext as ic
from workbench.data import DataModelError, validate_incontext
from workbench.zoo.tasks import graphs as G


@pytest.fixture(scope="module")
def grid():
    return G.grid()


@pytest.fixture(scope="module")
def tiny(grid):
    return load_model(tiny_word_model("gemma3", grid.n), tokenizer=word_tokenizer(grid.words))


@pytest.fixture(scope="module")
def tiny_study(tiny, grid):
    return ic.study(tiny, grid, n_walks=3, length=300, contexts=[20, 50, 100, 200, 300], n_perm=300, progress=False)


# --------------------------------------------------------------------------------------------------------- graphs
def test_grid_is_the_papers_grid(grid):
    assert grid.words[:4] == ("apple", "bird", "car", "egg") and grid.words[-1] == "phone"
    assert grid.n_edges == 24  # 4 x 3 horizontal + 3 x 4 vertical
    assert sorted(grid.words[j] for j in grid.neighbours("milk")) == ["bird", "house", "plane", "sand"]
    assert sorted(grid.words[j] for j in grid.neighbours("apple")) == ["bird", "house"]  # no wrap-around
    assert grid.degree.sum() / grid.n / grid.n == pytest.approx(0.1875)  # the paper's chance level


def test_ring_hexagonal_and_days():
    r = G.ring(16)
    assert (r.degree == 2).all() and r.n_edges == 16
    h = G.hexagonal(4, 4)
    assert h.degree.max() == 3 and h.n_edges == 18
    d = G.days_of_week(seed=3)
    assert sorted(d.words) == sorted(G.DAYS) and (d.degree == 2).all()
    assert (d.adjacency * d.prior).sum() == 0, "the in-context ring shares an edge with the week"
    assert (d.prior.sum(1) == 2).all()
    monday, tuesday = d.index("Monday"), d.index("Tuesday")
    assert d.prior[monday, tuesday] == 1 and d.adjacency[monday, tuesday] == 0


def test_laplacian_eigenvectors(grid):
    values, vectors = grid.spectral()
    lap = grid.laplacian()
    assert np.allclose(lap @ vectors, vectors * values, atol=1e-10)
    assert np.allclose(vectors.T @ vectors, np.eye(grid.n), atol=1e-10)
    assert values[0] == pytest.approx(0, abs=1e-10) and values[1] == pytest.approx(2 - np.sqrt(2))
    # eigenvectors 2-3 of a grid are smooth along rows and columns: they draw it as a grid (R^2 with its layout)
    r2, _ = gm.procrustes(vectors[:, 1:3], grid.layout)
    assert r2 > 0.9


def test_walks_are_seeded_uniform_random_walks(grid):
    w = grid.walk(20_000, seed=[7, 1])
    assert np.array_equal(w, grid.walk(20_000, seed=[7, 1]))
    assert not np.array_equal(w, grid.walk(20_000, seed=[7, 2]))
    assert all(grid.adjacency[a, b] for a, b in zip(w[:-1], w[1:])), "a step that is not an edge"
    # from each node, every neighbour is about equally likely (no self-loops)
    for node in (0, 5):
        nxt = w[1:][w[:-1] == node]
        counts = np.bincount(nxt, minlength=grid.n)[grid.neighbours(node)]
        assert counts.sum() == (w[:-1] == node).sum()
        assert counts.min() / counts.max() > 0.8
    starts = {int(grid.walk(3, seed=s)[0]) for s in range(60)}
    assert len(starts) > 10, "the start is random"
    assert grid.text([0, 1, 5]) == " apple bird milk"


def test_walk_tokens_with_and_without_bos(grid, tiny):
    tok = tiny.tokenizer
    ids = G.walk_token_ids(grid, [0, 1, 5], tok)
    assert ids.tolist() == [tok.bos_token_id] + [tok.convert_tokens_to_ids(" " + w) for w in ("apple", "bird", "milk")]
    assert tok(grid.text([0, 1, 5]))["input_ids"] == ids.tolist(), "the text tokenizes to the same ids"


# -------------------------------------------------------------------------------------------------------- metrics
def test_energy_ratio_against_loops():
    rng = np.random.default_rng(0)
    a = G.grid().adjacency.astype(float)
    x = rng.normal(size=(16, 5))
    energy = sum(a[i, j] * ((x[i] - x[j]) ** 2).sum() for i in range(16) for j in range(16))
    pairs = sum(((x[i] - x[j]) ** 2).sum() for i in range(16) for j in range(16) if i != j)
    assert gm.dirichlet_energy(x, a) == pytest.approx(energy)
    assert gm.energy_ratio(x, a) == pytest.approx(energy / (a.sum() / (16 * 15) * pairs))
    # scale-free; masked nodes are left out, not zero-filled
    assert gm.energy_ratio(7.0 * x, a) == pytest.approx(gm.energy_ratio(x, a))
    x_masked = x.copy()
    x_masked[3] = np.nan
    keep = np.arange(16) != 3
    assert gm.energy_ratio(x_masked, a) == pytest.approx(gm.energy_ratio(x[keep], a[np.ix_(keep, keep)]))


def test_energy_ratio_is_energy_over_its_expectation_under_relabelling():
    """Over ALL relabellings of a 5-node graph, the mean of rho is exactly 1."""
    rng = np.random.default_rng(1)
    a = G.ring(5, list("abcde")).adjacency
    x = rng.normal(size=(5, 3))
    rhos = [gm.energy_ratio(x[list(p)], a) for p in itertools.permutations(range(5))]
    assert np.mean(rhos) == pytest.approx(1.0, abs=1e-12)
    null = gm.permutation_null(x, a, n_perm=4000, seed=0)
    assert null.mean() == pytest.approx(1.0, abs=0.02)
    assert gm.percentile_in(min(rhos) - 1e-9, null) == 0.0 and gm.percentile_in(max(rhos) + 1e-9, null) == 100.0


def test_procrustes_against_scipy():
    from scipy.spatial import procrustes as scipy_procrustes

    rng = np.random.default_rng(2)
    y, z = rng.normal(size=(16, 2)), rng.normal(size=(16, 2))
    r2, fit = gm.procrustes(y, z)
    _, _, disparity = scipy_procrustes(y, z)
    assert r2 == pytest.approx(1 - disparity)
    assert gm.procrustes(z, y)[0] == pytest.approx(r2), "symmetric"
    # the fit is the best similarity transform: residual = (1 - R^2) of y's variance
    resid = ((y - fit) ** 2).sum() / ((y - y.mean(0)) ** 2).sum()
    assert resid == pytest.approx(1 - r2)


def test_pca_against_covariance_eigenvectors():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 40)) @ np.diag(np.linspace(3, 0.1, 40))
    coords, share = gm.pca(x, 4)
    xc = x - x.mean(0)
    values, vectors = np.linalg.eigh(xc.T @ xc)
    top = vectors[:, ::-1][:, :4]
    assert np.allclose(np.abs(coords), np.abs(xc @ top), atol=1e-8)
    assert np.allclose(share, values[::-1][:4] / values.sum())


def test_window_weights_average_the_occurrences_in_the_window():
    walk = np.array([0, 1, 0, 2, 0, 1])
    states = np.arange(6, dtype=np.float64)[:, None] * 10  # position p has state 10p
    w, counts = ic.window_weights(walk, 3, np.array([4, 6]), window=3)
    means = np.einsum("cnp,pd->cnd", w, states)
    # T = 4: positions 1..3 -> node 0 at 2, node 1 at 1, node 2 at 3
    assert counts[0].tolist() == [1, 1, 1] and means[0, :, 0].tolist() == [20.0, 10.0, 30.0]
    # T = 6: positions 3..5 -> node 0 at 4, node 1 at 5, node 2 at 3
    assert means[1, :, 0].tolist() == [40.0, 50.0, 30.0]
    w, counts = ic.window_weights(walk, 3, np.array([3]), window=2)
    assert counts[0].tolist() == [1, 1, 0]  # node 2 absent: masked later, never a zero vector


# ------------------------------------------------------------------------------------------ the traced pass itself
def _reference(hf, ids: np.ndarray, first: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Plain torch: block inputs/outputs by forward hooks, and the softmax of the logits."""
    outs = []
    hooks = [blk.register_forward_hook(lambda m, i, o: outs.append((o[0] if isinstance(o, tuple) else o)[0].detach()))
             for blk in hf.model.layers]
    embed = []
    hooks.append(hf.model.layers[0].register_forward_pre_hook(
        lambda m, args, kwargs: embed.append((args[0] if args else kwargs["hidden_states"])[0].detach()), with_kwargs=True))
    with torch.no_grad():
        logits = hf(input_ids=torch.from_numpy(ids)[None]).logits[0]
    for h in hooks:
        h.remove()
    states = [embed[0][first:].numpy()] + [o[first:].numpy() for o in outs]
    return states, torch.softmax(logits.double(), -1)[first:].numpy()


def test_trace_walk_matches_plain_torch(tiny, grid):
    walk = grid.walk(120, seed=[0, 5])
    contexts = [30, 60, 120]
    out = ic.trace_walk(tiny, grid, walk, None, contexts, window=25)
    ids = G.walk_token_ids(grid, walk, tiny.tokenizer)
    states, prob = _reference(tiny.envoy._module, ids, 1)
    word_ids = G.word_token_ids(grid, tiny.tokenizer)
    assert np.allclose(out["word_prob"], prob[:, word_ids], atol=1e-5)
    for li, layer in enumerate(out["layers"]):
        for ci, t in enumerate(contexts):
            for node in range(grid.n):
                hits = [p for p in range(t - 25, t) if walk[p] == node]
                got = out["node_mean"][li, ci, node]
                if not hits:
                    assert np.isnan(got).all() and out["counts"][ci, node] == 0
                else:
                    assert np.allclose(got, states[layer][hits].mean(0), atol=1e-5), (layer, t, node)


def test_one_pass_equals_one_pass_per_context_length(tiny, grid):
    walk = grid.walk(200, seed=[1, 1])
    contexts = [10, 40, 90, 200]
    single = ic.trace_walk(tiny, grid, walk, [0, 2], contexts, window=50)
    prev = 0
    for ci, t in enumerate(contexts):
        one = ic.trace_walk(tiny, grid, walk[:t], [0, 2], [t], window=min(50, t))
        np.testing.assert_allclose(one["node_mean"][:, 0], single["node_mean"][:, ci], atol=1e-5)
        np.testing.assert_allclose(one["word_prob"], single["word_prob"][:t], atol=1e-6)
        lean = ic.trace_walk(tiny, grid, walk[:t], [2], [t], window=min(50, t), probs_from=prev)
        assert np.isnan(lean["word_prob"][:prev]).all()
        np.testing.assert_allclose(lean["word_prob"][prev:], single["word_prob"][prev:t], atol=1e-6)
        prev = t


# ------------------------------------------------------------------------------------------------------ the study
def test_study_dataset_contract(tiny_study, grid):
    ds = validate_incontext(tiny_study)
    assert ds.node_mean.dims == ("layer", "context", "node", "hidden")
    assert ds.adjacency.dims[0] == "node" and ds.adjacency.shape == (16, 16)
    assert list(ds.word.values) == list(grid.words)
    for var in ("energy_ratio", "procrustes_r2", "energy", "energy_percentile"):
        assert ds[var].dims == ("layer", "context")
    assert ds.pca.dims == ("layer", "context", "node", "component")
    assert ds.accuracy.dims == ("walk", "position") and ds.sizes["position"] == 300
    assert ds.attrs["window"] == ic.DEFAULT_WINDOW and ds.attrs["n_walks"] == 3


def test_study_numbers_follow_from_node_means_and_probabilities(tiny_study, tiny, grid):
    ds = tiny_study
    # walk 1 regenerates alone from (seed, 1) and gives the same per-walk values
    walk = ds.walk_node.values[1]
    assert np.array_equal(walk, grid.walk(300, seed=[0, 1]))
    out = ic.trace_walk(tiny, grid, walk, None, ds.context.values, ic.DEFAULT_WINDOW)
    acc = (out["word_prob"] * grid.adjacency[walk]).sum(1)
    np.testing.assert_allclose(ds.accuracy.values[1], acc, atol=1e-6)
    # metrics of the walk-averaged node means, recomputed independently
    x = ds.node_mean.sel(layer=2, context=200).values
    assert float(ds.energy_ratio.sel(layer=2, context=200)) == pytest.approx(gm.energy_ratio(x, grid.adjacency))
    pcs = gm.pca(x, 2)[0]
    from scipy.spatial import procrustes as scipy_procrustes
    assert float(ds.procrustes_r2.sel(layer=2, context=200)) == pytest.approx(
        1 - scipy_procrustes(pcs, grid.spectral()[1][:, 1:3])[2], abs=1e-6)
    # walk-averaged node means: each walk's window mean, averaged over the walks where the node occurs
    per_walk = [ic.trace_walk(tiny, grid, ds.walk_node.values[w], [2], [200], ic.DEFAULT_WINDOW)["node_mean"][0, 0]
                for w in range(3)]
    with np.errstate(all="ignore"):
        expected = np.nanmean(np.stack(per_walk), axis=0)
    np.testing.assert_allclose(x, expected, atol=1e-5)
    assert ds.accuracy_smooth.values[40] == pytest.approx(ds.accuracy_mean.values[11:41].mean())


def test_masked_nodes_stay_nan(tiny, grid):
    # a walk that stays in the top-left corner for its first 30 steps never visits "phone" there
    walk = np.concatenate([np.tile([0, 1, 5, 4], 8), grid.walk(68, seed=0, start=4)])
    out = ic.trace_walk(tiny, grid, walk, [1], [20, 100], window=20)
    phone = grid.index("phone")
    assert out["counts"][0, phone] == 0 and np.isnan(out["node_mean"][0, 0, phone]).all()
    assert np.isfinite(out["node_mean"][0, 0, grid.index("apple")]).all()


def test_permutation_null_of_the_study(tiny_study):
    ds = tiny_study
    q = ds.energy_null.sel(layer=2)
    assert (q.sel(quantile=0.01) <= q.sel(quantile=0.5)).all() and (q.sel(quantile=0.5) <= q.sel(quantile=0.99)).all()
    x = ds.node_mean.sel(layer=2, context=100).values
    null = gm.permutation_null(x, ds.adjacency.values, n_perm=300, seed=int(np.flatnonzero(ds.context.values == 100)[0]))
    rho = float(ds.energy_ratio.sel(layer=2, context=100))
    assert float(ds.energy_percentile.sel(layer=2, context=100)) == pytest.approx(100 * (null < rho).mean())


def test_mixing_toy_draws_a_grid_and_its_unmixed_version_does_not(grid):
    contexts = [100, 400, 1000]
    toy = ic.mixing_toy(grid, n_walks=4, length=1000, contexts=contexts, n_perm=500)
    flat = ic.mixing_toy(grid, n_walks=4, length=1000, contexts=contexts, n_perm=500, mix=0.0)
    assert (toy.procrustes_r2.sel(layer=0) > 0.7).all()
    assert (toy.energy_percentile.sel(layer=0) < 1).all()
    assert (flat.procrustes_r2.sel(layer=0) < toy.procrustes_r2.sel(layer=0) - 0.3).all()
    assert (flat.energy_percentile.sel(layer=0) > 1).all()
    assert np.isnan(toy.accuracy).all(), "the toy makes no predictions"


def test_with_controls(tiny_study, grid):
    toy = ic.mixing_toy(grid, n_walks=2, length=300, contexts=tiny_study.context.values, n_perm=50)
    out = ic.with_controls(tiny_study, toy=toy, same=tiny_study)
    assert list(out.control.values) == ["toy", "same"]
    assert out.control_energy_ratio.dims == ("control", "layer", "context")
    np.testing.assert_allclose(out.control_energy_ratio.sel(control="same"), tiny_study.energy_ratio)
    for layer in tiny_study.layer.values:  # the one-layer toy is drawn at every layer
        np.testing.assert_allclose(out.control_procrustes_r2.sel(control="toy", layer=layer),
                                   toy.procrustes_r2.sel(layer=0))
    other = ic.mixing_toy(grid, n_walks=1, length=300, contexts=[50, 300], n_perm=10)
    with pytest.raises(ic.InContextError, match="context lengths"):
        ic.with_controls(tiny_study, toy=other)


# -------------------------------------------------------------------------------------------------------- errors
def test_a_word_that_is_not_one_token_is_named_with_its_split(tiny, tok):
    g = G.grid(words=[*G.GRID_WORDS[:15], "pineapple"])
    with pytest.raises(G.TokenizationError) as e:
        G.word_token_ids(g, tok)  # one token per character
    assert "'apple'" in str(e.value) and "6 tokens" in str(e.value) and "'a', 'p', 'p', 'l', 'e'" in str(e.value)
    with pytest.raises(G.TokenizationError, match="'pineapple'.*unknown token '<unk>'"):
        G.word_token_ids(g, tiny.tokenizer)  # a word-level vocabulary without it
    with pytest.raises(G.TokenizationError, match="pineapple"):
        ic.study(tiny, g, n_walks=1, length=50, progress=False)


def test_bad_graphs_and_nodes():
    with pytest.raises(G.GraphError, match="disconnected.*'c'"):
        G.Graph.from_edges("broken", ["a", "b", "c", "d"], [("a", "b"), ("c", "d")])
    g = G.grid()
    with pytest.raises(G.GraphError, match="'banana' is not in graph"):
        g.index("banana")
    with pytest.raises(G.GraphError, match="node 16 is outside"):
        g.walk(5, seed=0, start=16)
    with pytest.raises(G.GraphError, match="node 99 is outside"):
        g.text([0, 99])
    with pytest.raises(G.GraphError, match="self-loop"):
        G.Graph.from_edges("loop", ["a", "b"], [("a", "a")])


def test_window_and_length_errors(tiny, grid):
    with pytest.raises(ic.InContextError, match="window=400 is longer than the context"):
        ic.study(tiny, grid, n_walks=1, length=300, window=400, progress=False)
    with pytest.raises(ic.InContextError, match="longer than 'tiny-gemma3-words''s context of 2048"):
        ic.study(tiny, grid, n_walks=1, length=2048, progress=False)
    with pytest.raises(ic.InContextError, match="contexts must lie in 1..300"):
        ic.study(tiny, grid, n_walks=1, length=300, contexts=[10, 400], progress=False)
    with pytest.raises(ic.InContextError, match="layers must be residual layers in 0..2"):
        ic.trace_walk(tiny, grid, grid.walk(60, seed=0), [5], [60])


def test_nothing_computed_is_lost_on_a_bad_call(tiny_study):
    before = tiny_study.copy(deep=True)
    with pytest.raises(ic.InContextError):
        ic.with_controls(tiny_study, toy="not a dataset")
    xr.testing.assert_identical(before, tiny_study)


def test_validate_incontext_names_the_missing_variable(tiny_study):
    with pytest.raises(DataModelError, match="needs data variable 'procrustes_r2'"):
        validate_incontext(tiny_study.drop_vars("procrustes_r2"))
    with pytest.raises(DataModelError, match="coord 'word'"):
        validate_incontext(tiny_study.drop_vars("word"))
    with pytest.raises(DataModelError, match="must be an xarray.Dataset"):
        validate_incontext(tiny_study.pca)


def test_random_weights_control(tiny):
    from workbench.backend import ModelLoadError, random_weights

    a, b, c = random_weights(tiny, seed=5), random_weights(tiny, seed=5), random_weights(tiny, seed=6)
    pa, pb, pc, p0 = (dict(m.envoy._module.named_parameters()) for m in (a, b, c, tiny))
    name = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(pa[name], pb[name]) and not torch.equal(pa[name], pc[name])
    assert not torch.equal(pa[name], p0[name])
    assert a.tokenizer is tiny.tokenizer and a.config.to_dict() == tiny.config.to_dict()
    assert "random weights, seed 5" in a.name
    tiny.remote = True
    try:
        with pytest.raises(ModelLoadError, match="needs a local model"):
            random_weights(tiny)
    finally:
        tiny.remote = False


def test_shipped_form_keeps_node_means_at_the_picked_layer_only(tiny_study, tmp_path):
    from workbench import load, save
    from workbench.studies.incontext import compact, pick_layer

    layer = pick_layer(tiny_study)
    late = tiny_study.procrustes_r2.sel(context=tiny_study.context[tiny_study.context >= 100]).mean("context")
    assert layer == int(tiny_study.layer[int(np.argmax(late.values))])
    small = compact(tiny_study, layer)
    kept = small.node_mean.sel(layer=layer).values
    np.testing.assert_allclose(kept, tiny_study.node_mean.sel(layer=layer).values, rtol=1e-3, atol=1e-3)
    others = small.node_mean.sel(layer=[v for v in tiny_study.layer.values if v != layer]).values
    assert np.isnan(others.astype(np.float32)).all() and small.attrs["picked_layer"] == layer
    xr.testing.assert_identical(small.drop_vars("node_mean"), tiny_study.drop_vars("node_mean").assign_attrs(
        small.attrs))
    dropped = compact(tiny_study, layer, node_mean=False)
    assert "node_mean" not in dropped and "recomputes it" in dropped.attrs["node_mean_shipped"]
    path = save(small, tmp_path / "s.nc", compress=True)
    xr.testing.assert_identical(load(path), small)
