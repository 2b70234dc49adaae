"""capture()'s gathering step: per-layer tensors become one realigned array with one copy, and the trace asks the
model for no key/value cache. Checked against a plain per-text placement written here and a forward hook."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tiny_models import tiny_model
from workbench import capture, load_model
from workbench.analyses.core import _stack_aligned
from workbench.backend.model import Batch


def _batch(lengths: list[int], width: int, left: bool) -> Batch:
    offsets = np.array([width - n if left else 0 for n in lengths])
    ids = [np.arange(n) for n in lengths]
    return Batch(inputs={"input_ids": torch.zeros((len(lengths), width), dtype=torch.long)}, token_ids=ids,
                 offsets=offsets, single=False, texts=["x"] * len(lengths))


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_stack_aligned_equals_plain_placement(left, dtype):
    lengths, width, n_layers = [5, 2, 7, 7], 7, 3
    batch = _batch(lengths, width, left)
    g = torch.Generator().manual_seed(0)
    attn = [torch.rand((4, 2, width, width), generator=g).to(dtype) for _ in range(n_layers)]
    resid = [torch.randn((4, width, 6), generator=g).to(dtype) for _ in range(n_layers + 1)]
    got_a = _stack_aligned(attn, batch, axes=[3, 4])
    got_r = _stack_aligned(resid, batch, axes=[2])
    assert got_a.dtype == got_r.dtype == np.float32
    assert got_a.shape == (4, n_layers, 2, width, width) and got_r.shape == (4, n_layers + 1, width, 6)
    for i, (n, off) in enumerate(zip(lengths, batch.offsets)):
        want_a = np.full((n_layers, 2, width, width), np.nan, np.float32)
        want_r = np.full((n_layers + 1, width, 6), np.nan, np.float32)
        for layer in range(n_layers):
            want_a[layer, :, :n, :n] = attn[layer][i, :, off:off + n, off:off + n].float().numpy()
        for layer in range(n_layers + 1):
            want_r[layer, :n] = resid[layer][i, off:off + n].float().numpy()
        np.testing.assert_array_equal(got_a[i], want_a)
        np.testing.assert_array_equal(got_r[i], want_r)


def test_capture_asks_for_no_kv_cache(tok):
    hf = tiny_model("gpt2")
    seen: list = []
    hf.register_forward_pre_hook(lambda _m, _a, kw: seen.append(kw.get("use_cache")), with_kwargs=True)
    capture(load_model(hf, tokenizer=tok), ["Hello", "Hi"])
    assert seen == [False]
