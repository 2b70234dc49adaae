"""Activation and attribution patching against independent computations.

The reference is a naive loop written with plain torch forward hooks on the HuggingFace module (no nnsight): one
clean forward to record the activation, then one corrupted forward per cell with a hook that overwrites it. Batched
`patch` must equal it to 1e-5 at every site, for heads on grouped-query models too (tiny Llama with 4 query heads on 2
key/value heads, tiny Gemma with 1). Attribution patching is checked against plain-torch autograd the same way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import workbench as wb
from tiny_models import char_tokenizer, tiny_model
from workbench.analyses import patching as P
from workbench.analyses.metrics import MetricError

PAIRS = [("The cat sat on it", "The dog sat on it"), ("a big red ball!", "a big tan ball!")]
RIGHT, WRONG = "t", "g"


def metric_ids(tok):
    return tok.convert_tokens_to_ids(RIGHT), tok.convert_tokens_to_ids(WRONG)


@pytest.fixture(scope="module", params=["gpt2", "llama", "gemma", "gpt_neox"])
def tiny(request):
    hf = tiny_model(request.param, seed=3)
    tok = char_tokenizer()
    return request.param, hf, tok, wb.load_model(hf, tok)


# ------------------------------------------------------------------------------------------ the naive reference
def _module(hf, kind, layer):
    base = getattr(hf, hf.base_model_prefix)
    blocks = base.h if hasattr(base, "h") else base.layers
    block = blocks[layer]
    if kind == "mlp":
        return block.mlp
    if hasattr(block, "self_attn"):
        return block.self_attn.o_proj
    if hasattr(block, "attention"):
        return block.attention.dense
    return block.attn.c_proj


def _blocks(hf):
    base = getattr(hf, hf.base_model_prefix)
    return base.h if hasattr(base, "h") else base.layers


def _last_logits(hf, ids):
    with torch.no_grad():
        return hf(input_ids=ids[None], use_cache=False).logits[0, -1]


def naive_patch(hf, source_ids, target_ids, kind, layer, positions, head=None, n_heads=4):
    """One forward of the target per cell, the source's activation written in by a plain torch hook."""
    n_layers = len(_blocks(hf))
    positions = list(positions)
    store = {}

    def record(_m, args, out=None):
        store["x"] = (args[0] if out is None else out).detach().clone()

    if kind == "resid" and layer < n_layers:
        h = _blocks(hf)[layer].register_forward_pre_hook(lambda m, a: record(m, a))
    elif kind == "resid":
        h = _blocks(hf)[n_layers - 1].register_forward_hook(lambda m, a, o: record(m, a, o[0] if isinstance(o, tuple) else o))
    elif kind == "head":
        h = _module(hf, "attn", layer).register_forward_pre_hook(lambda m, a: record(m, a))
    else:
        h = _module(hf, kind, layer).register_forward_hook(lambda m, a, o: record(m, a, o))
    _last_logits(hf, source_ids)
    h.remove()
    src = store["x"]

    def overwrite(x):
        x = x.clone()
        if kind == "head":
            d = x.shape[-1] // n_heads
            x[0, positions, head * d:(head + 1) * d] = src[0, positions, head * d:(head + 1) * d]
        else:
            x[0, positions] = src[0, positions]
        return x

    if kind == "resid" and layer < n_layers:
        h = _blocks(hf)[layer].register_forward_pre_hook(lambda m, a: (overwrite(a[0]),) + tuple(a[1:]))
    elif kind == "resid":
        def post(m, a, o):
            return (overwrite(o[0]),) + tuple(o[1:]) if isinstance(o, tuple) else overwrite(o)
        h = _blocks(hf)[n_layers - 1].register_forward_hook(post)
    elif kind == "head":
        h = _module(hf, "attn", layer).register_forward_pre_hook(lambda m, a: (overwrite(a[0]),) + tuple(a[1:]))
    else:
        h = _module(hf, kind, layer).register_forward_hook(lambda m, a, o: overwrite(o))
    try:
        return _last_logits(hf, target_ids)
    finally:
        h.remove()


def ids_of(tok, text):
    return torch.tensor(tok(text)["input_ids"])


# ----------------------------------------------------------------------------------------------- exact patching
@pytest.mark.parametrize("direction", ["denoise", "noise"])
def test_patch_equals_the_naive_loop_at_every_site(tiny, direction):
    kind, hf, tok, model = tiny
    right, wrong = metric_ids(tok)
    ds = P.patch(model, PAIRS, metric=wb.logit_diff(RIGHT, WRONG), heads=True, direction=direction, progress=False)
    assert set(ds.site.values) == {"resid", "attn", "mlp"}
    n_layers = model.n_layers
    for i, (clean, corrupted) in enumerate(PAIRS):
        c, k = ids_of(tok, clean), ids_of(tok, corrupted)
        src, tgt = (c, k) if direction == "denoise" else (k, c)
        m_clean = float(_last_logits(hf, c)[right] - _last_logits(hf, c)[wrong])
        m_corr = float(_last_logits(hf, k)[right] - _last_logits(hf, k)[wrong])
        assert abs(float(ds.clean_metric[i]) - m_clean) < 1e-5 and abs(float(ds.corrupted_metric[i]) - m_corr) < 1e-5
        base, goal = (m_corr, m_clean) if direction == "denoise" else (m_clean, m_corr)
        for site in ("resid", "attn", "mlp"):
            for layer in range(n_layers + (site == "resid")):
                for pos in range(len(c)):
                    logits = naive_patch(hf, src, tgt, site, layer, [pos])
                    expected = float(logits[right] - logits[wrong])
                    got = float(ds.metric.sel(site=site, layer=layer, position=pos)[i])
                    assert abs(got - expected) < 1e-5, (site, layer, pos, got, expected)
                    eff = float(ds.effect.sel(site=site, layer=layer, position=pos)[i])
                    assert abs(eff - (expected - base) / (goal - base)) < 1e-4
            if site != "resid":  # attn and mlp have no layer n_layers
                assert np.isnan(ds.effect.sel(site=site, layer=n_layers)[i]).all()
        for layer in range(n_layers):
            for head in range(model.n_heads):
                logits = naive_patch(hf, src, tgt, "head", layer, range(len(c)), head=head, n_heads=model.n_heads)
                expected = float(logits[right] - logits[wrong])
                assert abs(float(ds.head_metric.sel(layer=layer, head=head)[i]) - expected) < 1e-5


def test_spans_patch_positions_together(tiny):
    kind, hf, tok, model = tiny
    right, wrong = metric_ids(tok)
    clean, corrupted = PAIRS[0]
    spans = {"subject": [4, 5, 6], "last": [-1], "all": list(range(len(clean)))}
    ds = P.patch(model, [(clean, corrupted)], metric=wb.logit_diff(RIGHT, WRONG), sites=("resid", "mlp"), spans=spans,
                 heads=True, progress=False)
    assert "span" in ds.effect.dims and "position" not in ds.effect.dims
    assert list(ds.span_label.values) == ["subject", "last", "all"]
    c, k = ids_of(tok, clean), ids_of(tok, corrupted)
    for s, positions in enumerate([[4, 5, 6], [len(c) - 1], list(range(len(c)))]):
        for site in ("resid", "mlp"):
            for layer in (0, 1):
                logits = naive_patch(hf, c, k, site, layer, positions)
                assert abs(float(ds.metric.sel(site=site, layer=layer, span=s)[0]) - float(logits[right] - logits[wrong])) < 1e-5
        logits = naive_patch(hf, c, k, "head", 1, positions, head=2, n_heads=model.n_heads)
        assert abs(float(ds.head_metric.sel(layer=1, head=2, span=s)[0]) - float(logits[right] - logits[wrong])) < 1e-5
    # the whole sequence's residual stream at any layer is the clean run itself
    np.testing.assert_allclose(ds.effect.sel(site="resid", span=2)[0], 1.0, atol=1e-5)


def test_small_chunks_give_the_same_map(tiny):
    kind, hf, tok, model = tiny
    one = P.patch(model, PAIRS[:1], metric=wb.logit_diff(RIGHT, WRONG), sites=("resid", "attn"), progress=False)
    tiny_budget = P._row_bytes(model, len(PAIRS[0][0])) * 5  # three patched runs per chunk
    many = P.patch(model, PAIRS[:1], metric=wb.logit_diff(RIGHT, WRONG), sites=("resid", "attn"),
                   memory_budget=tiny_budget, progress=False)
    np.testing.assert_allclose(one.metric.values, many.metric.values, atol=1e-5)
    a, b = one.top_change.values, many.top_change.values
    np.testing.assert_allclose(a, b, atol=1e-5)  # NaN (no change) in the same cells
    gaps = np.abs(np.diff(np.abs(np.nan_to_num(a)), axis=-1))
    clear = np.ones_like(a, dtype=bool)  # ranks whose neighbours are not near-ties (float noise may swap those)
    clear[..., 1:] &= gaps > 1e-4
    clear[..., :-1] &= gaps > 1e-4
    np.testing.assert_array_equal(one.top_token_id.values[clear], many.top_token_id.values[clear])


def test_identity_checks_pass(tiny):
    kind, hf, tok, model = tiny
    ds = P.patch(model, PAIRS, metric=wb.logit_diff(RIGHT, WRONG), sites=("resid", "mlp"), check=True, progress=False)
    assert ds.attrs["identity_check_max_error"] < 1e-4


def test_top_changes_are_the_largest_logit_moves(tiny):
    kind, hf, tok, model = tiny
    clean, corrupted = PAIRS[0]
    ds = P.patch(model, [(clean, corrupted)], metric=wb.logit_diff(RIGHT, WRONG), sites=("mlp",), top_k=4,
                 progress=False)
    c, k = ids_of(tok, clean), ids_of(tok, corrupted)
    base = _last_logits(hf, k)
    delta = naive_patch(hf, c, k, "mlp", 1, [len(c) - 1]) - base
    order = torch.argsort(delta.abs(), descending=True)[:4]
    cell = dict(site="mlp", layer=1, position=len(c) - 1)
    np.testing.assert_array_equal(ds.top_token_id.sel(**cell)[0].values, order.numpy())
    np.testing.assert_allclose(ds.top_change.sel(**cell)[0].values, delta[order].numpy(), atol=1e-5)
    names = dict(zip(ds.vocab_id.values.tolist(), ds.vocab_token.values.tolist()))
    assert [names[i] for i in order.tolist()] == [tok.decode([i]) for i in order.tolist()]


# ---------------------------------------------------------------------------------------------------- attribution
def test_attribution_equals_autograd(tiny):
    kind, hf, tok, model = tiny
    right, wrong = metric_ids(tok)
    clean, corrupted = PAIRS[1]
    est = P.attribution_patch(model, [(clean, corrupted)], metric=wb.logit_diff(RIGHT, WRONG), heads=True,
                              progress=False)
    assert all(p.grad is None for p in hf.parameters()) and all(p.requires_grad for p in hf.parameters())
    c, k = ids_of(tok, clean), ids_of(tok, corrupted)
    n_layers = model.n_layers
    acts = {}

    def keep(name):
        def hook(m, a, o=None):
            x = a[0] if o is None else (o[0] if isinstance(o, tuple) else o)
            acts[name] = x
        return hook

    def run(ids, grad):
        hooks = []
        for l in range(n_layers):
            hooks.append(_blocks(hf)[l].register_forward_pre_hook(keep(("resid", l))))
            hooks.append(_module(hf, "attn", l).register_forward_pre_hook(keep(("head", l))))
            hooks.append(_module(hf, "attn", l).register_forward_hook(keep(("attn", l))))
            hooks.append(_module(hf, "mlp", l).register_forward_hook(keep(("mlp", l))))
        hooks.append(_blocks(hf)[n_layers - 1].register_forward_hook(keep(("resid", n_layers))))
        try:
            with torch.set_grad_enabled(grad):
                logits = hf(input_ids=ids[None], use_cache=False).logits[0, -1]
        finally:
            for h in hooks:
                h.remove()
        for v in acts.values():
            if grad:
                v.retain_grad()
        return logits[right] - logits[wrong], dict(acts)

    _, clean_acts = run(c, False)
    m, corr_acts = run(k, True)
    m.backward()
    for (site, layer), a in corr_acts.items():
        contrib = ((clean_acts[(site, layer)] - a) * a.grad)[0]
        if site == "head":
            per_head = contrib.view(contrib.shape[0], model.n_heads, -1).sum(-1).sum(0)
            np.testing.assert_allclose(est.head_metric.sel(layer=layer).values[0] - m.item(),
                                       per_head.detach().numpy(), atol=1e-5)
        else:
            np.testing.assert_allclose(est.metric.sel(site=site, layer=layer).values[0][: len(c)] - m.item(),
                                       contrib.sum(-1).detach().numpy(), atol=1e-5)
    for p in hf.parameters():
        p.grad = None


def test_attribution_tracks_exact_on_a_near_linear_patch(tiny):
    """Patching a small perturbation, first order is nearly exact: r close to 1 at every site."""
    kind, hf, tok, model = tiny
    pair = [PAIRS[0]]
    exact = P.patch(model, pair, metric=wb.logit_diff(RIGHT, WRONG), progress=False)
    est = P.attribution_patch(model, pair, metric=wb.logit_diff(RIGHT, WRONG), exact=exact, progress=False)
    assert est.attrs["method"] == "attribution" and "pearson_r" in est
    assert (est.pearson_r.values > 0.5).all(), est.pearson_r.values


# -------------------------------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def llama():
    hf, tok = tiny_model("llama", seed=1), char_tokenizer()
    return wb.load_model(hf, tok)


@pytest.mark.parametrize("kwargs, match", [
    (dict(pairs=[("abc", "abcd")]), r"pairs\[0\].*different lengths \(3 vs 4\).*'a', 'b', 'c'"),
    (dict(pairs=[]), "pairs is empty"),
    (dict(pairs="abc"), "pairs must be a list"),
    (dict(pairs=[("abc",)]), r"pairs\[0\] must be"),
    (dict(sites=("resid", "ffn")), "sites must be a non-empty subset"),
    (dict(layers=[7]), r"layers must hold residual layers in 0\.\.2"),
    (dict(heads=True, head_indices=[4]), r"head_indices must hold heads in 0\.\.3"),
    (dict(spans=[[9]]), r"spans\[0\] must hold positions"),
    (dict(direction="sideways"), "direction must be"),
    (dict(metric=lambda logits: logits.sum()), r"must return one value per run.*shape \(\)"),
    (dict(metric=wb.logit_diff("ab", "c")), r"'ab' is 2 tokens"),
    (dict(metric=None), "each pair must carry its answer"),
])
def test_bad_input_gets_a_clear_error(llama, kwargs, match):
    args = dict(pairs=[("abc", "abd")], metric=wb.logit_diff("a", "b"))
    args.update(kwargs)
    with pytest.raises((P.PatchingError, MetricError), match=match):
        P.patch(llama, args.pop("pairs"), progress=False, **args)


def test_pairs_with_answers_need_no_metric(llama):
    ds = P.patch(llama, [("abc", "abd", "a", "b")], sites=("resid",), progress=False)
    assert ds.attrs["metric"] == "logit_diff('a', 'b')" and list(ds.answer.values) == ["a"]
    wb.validate_patching(ds)


# ------------------------------------------------------------------------------------------------------ many models
def test_patch_many_runs_each_zoo_model_as_a_task_and_matches_patch_alone(tmp_path):
    """Two Dyck zoo models on the shared Dask runner; each map equals patch() on that model alone, and a rerun skips
    the finished models (their files are not rewritten)."""
    pairs = [("[start](())()[end]", "[start](()))([end]"), ("[start]((()))[end]", "[start]((())([end]")]
    names = ["dyck-hierarchical", "dyck-sign-matching"]
    metric = wb.logit_diff("True", "False")
    ds = P.patch_many(names, pairs, tmp_path, metric=metric, sites=("resid", "mlp"), progress=False)
    assert list(ds.model.values) == names and ds.effect.dims[0] == "model"
    for name in names:
        alone = P.patch(wb.load_model(name), pairs, metric=metric, sites=("resid", "mlp"), progress=False)
        got = ds.metric.sel(model=name).sel(layer=alone.layer)
        np.testing.assert_allclose(got.values, alone.metric.values, atol=1e-5)
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.nc")}
    again = P.patch_many(names, pairs, tmp_path, metric=metric, sites=("resid", "mlp"), progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.nc")} == stamps
    np.testing.assert_array_equal(again.metric.values, ds.metric.values)


@pytest.mark.slow
def test_identity_checks_pass_on_smollm2(smollm2):
    """On the real SmolLM2: clean into clean gives 1 and corrupted into corrupted 0 at every cell (check=True), the
    last layer's residual at the final position restores the clean run exactly, and an unchanged first token at
    the embeddings changes nothing."""
    pair = [("The Eiffel Tower is located in the city of", "The Colosseum is located in the city of")]
    ds = wb.patch(smollm2, pair, metric=wb.logit_diff(" Paris", " Rome"), layers=[0, 10, 20, 30], heads=True,
                  check=True, progress=False)
    assert ds.attrs["identity_check_max_error"] < 1e-4
    last = ds.sizes["position"] - 1
    assert abs(float(ds.effect.sel(site="resid", layer=30, position=last)[0]) - 1.0) < 1e-4
    assert abs(float(ds.effect.sel(site="resid", layer=0, position=0)[0])) < 1e-6
    assert float(ds.clean_metric[0]) > 0 > float(ds.corrupted_metric[0])


# ------------------------------------------------------------------------------------------------------ summaries
def test_pair_metrics_equal_plain_forwards(llama):
    hf, tok = llama.envoy._module, llama.tokenizer
    pairs = [("The cat sat on it", "The dog sat on it", "t", "g"), ("abcab", "abdab", "a", "b")]
    ds = P.pair_metrics(llama, pairs, progress=False)
    for i, (clean, corrupted, right, wrong) in enumerate(pairs):
        r, w = tok.convert_tokens_to_ids(right), tok.convert_tokens_to_ids(wrong)
        for text, var in ((clean, "clean_metric"), (corrupted, "corrupted_metric")):
            logits = _last_logits(hf, ids_of(tok, text))
            assert abs(float(ds[var][i]) - float(logits[r] - logits[w])) < 1e-5
        assert bool(ds.clean_correct[i]) == (float(ds.clean_metric[i]) > 0)


def test_answer_lens_equals_plain_final_norm_and_unembedding(llama):
    from workbench.analyses.lens import answer_lens

    hf, tok = llama.envoy._module, llama.tokenizer
    texts = ["The cat sat", "a b"]
    got = answer_lens(llama, texts, ["t", "a", "b"])
    ids = [tok.convert_tokens_to_ids(c) for c in "tab"]
    for i, text in enumerate(texts):
        with torch.no_grad():
            out = hf(input_ids=ids_of(tok, text)[None], output_hidden_states=True, use_cache=False)
        for layer in range(llama.n_layers + 1):
            h = out.hidden_states[layer][0, -1]
            with torch.no_grad():
                h = h if layer == llama.n_layers else hf.model.norm(h)  # HF's last entry is already normed
            with torch.no_grad():
                want = torch.softmax(hf.lm_head(h), -1)[ids]
            np.testing.assert_allclose(got.isel(prompt=i, layer=layer).values, want.numpy(), atol=1e-5)


def test_cells_holding_are_the_fewest_cells_with_that_share():
    rng = np.random.default_rng(0)
    import xarray as xr

    effect = rng.normal(size=(3, 1, 5, 7))
    effect[0, 0, 2, 3] = np.nan
    ds = xr.Dataset({"effect": (("pair", "site", "layer", "position"), effect)},
                    coords={"site": ["resid"], "token": (("pair", "position"), np.array([list("abcdefg")] * 3))})
    mean = np.nanmean(effect[:, 0], axis=0)
    cells = P.cells_holding(ds, share=0.5)
    held = sum(abs(c["effect"]) for c in cells)
    total = np.abs(mean).sum()
    assert held >= 0.5 * total and held - abs(cells[-1]["effect"]) < 0.5 * total
    assert [abs(c["effect"]) for c in cells] == sorted((abs(c["effect"]) for c in cells), reverse=True)
    for c in cells:
        assert c["effect"] == pytest.approx(mean[c["layer"], c["position"]]) and c["token"] == "abcdefg"[c["position"]]
