"""Where an SAE reads the model, and where its activations come from: streamed through a real nnsight trace of the
task's strings, or a precomputed buffer.

Sites follow :mod:`workbench.analyses.patching`: ``resid`` layer 0 is block 0's input (the embeddings) and layer l the
output of block l-1; ``mlp`` and ``attn`` layer l are block l's MLP output and attention output (the output
projection's output). Only real tokens (not padding) become activations, in the order of the task's samples
(string by string, position by position), so activation row i is sample i.

>>> import workbench as wb                                                                  # doctest: +SKIP
>>> from workbench.analyses.sae import get_task, collect
>>> acts = collect(wb.load_model("dyck-hierarchical"), get_task("dyck"), 1, "resid", 8, 0)  # doctest: +SKIP
>>> acts.shape[1]                                                                           # doctest: +SKIP
64
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from workbench.analyses.core import _no_cache
from workbench.analyses.sae.architectures import SAEError
from workbench.analyses.sae.tasks import Task
from workbench.backend.model import Batch, Model

SITES: tuple[str, ...] = ("resid", "mlp", "attn")


def check_site(model: Model, layer: int, site: str) -> tuple[int, str]:
    """``(layer, site)`` if the model has them, else a one-sentence :class:`SAEError` naming the valid range.

    >>> class M: n_layers = 2
    >>> check_site(M(), 2, "resid")
    (2, 'resid')
    """
    if site not in SITES:
        raise SAEError(f"site must be one of {list(SITES)}, got {site!r}.")
    top = model.n_layers if site == "resid" else model.n_layers - 1
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer <= top:
        raise SAEError(f"layer must be an int in 0..{top} for site {site!r} of a {model.n_layers}-block model "
                       f"(resid layer l = output of block l-1), got {layer!r}.")
    return int(layer), site


def site_module(model: Model, layer: int, site: str) -> tuple[Any, str]:
    """The envoy whose ``.output`` (or ``.input`` for resid layer 0) is the activation, and that attribute's name."""
    layer, site = check_site(model, layer, site)
    if site == "resid":
        return (model.blocks[0], "input") if layer == 0 else (model.blocks[layer - 1], "output")
    try:
        return (model.mlp_module(layer) if site == "mlp" else model.attn_out_module(layer)), "output"
    except AttributeError as e:
        raise SAEError(f"site {site!r} is not available on {model.name!r}: {e}") from None


def hook_name(layer: int, site: str) -> str:
    """SAELens-style hook name for ``cfg.json``'s metadata: ``blocks.{l}.hook_resid_pre`` etc.

    >>> hook_name(2, "resid"), hook_name(0, "mlp")
    ('blocks.1.hook_resid_post', 'blocks.0.hook_mlp_out')
    """
    if site == "resid":
        return "blocks.0.hook_resid_pre" if layer == 0 else f"blocks.{layer - 1}.hook_resid_post"
    return f"blocks.{layer}.hook_{site}_out"


def batch_of(ids: np.ndarray) -> Batch:
    """A :class:`Batch` of right-padded task ids (causal attention: real tokens never see the padding).

    >>> batch_of(np.array([[6, 2, 3, 7]])).inputs["input_ids"].shape
    torch.Size([1, 4])
    """
    ids_t = torch.as_tensor(np.asarray(ids), dtype=torch.long)
    lengths = [ids_t.shape[1]] * ids_t.shape[0]
    return Batch(inputs={"input_ids": ids_t, "attention_mask": torch.ones_like(ids_t)},
                 token_ids=[r.numpy() for r in ids_t], offsets=np.zeros(len(lengths), dtype=np.int64),
                 single=False, texts=[""] * len(lengths))


def real_mask(samples: dict[str, Any]) -> np.ndarray:
    """(string, position) bool: which cells of ``samples["ids"]`` are real tokens (the samples' rows, in order).

    >>> real_mask({"ids": np.zeros((2, 3)), "string": [0, 0, 1], "position": [0, 1, 0]}).astype(int).tolist()
    [[1, 1, 0], [1, 0, 0]]
    """
    ids = np.asarray(samples["ids"])
    mask = np.zeros(ids.shape, dtype=bool)
    mask[np.asarray(samples["string"]), np.asarray(samples["position"])] = True
    return mask


def trace_site(model: Model, ids: np.ndarray, layer: int, site: str,
               edit: Callable[[torch.Tensor], torch.Tensor] | None = None,
               logits: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One nnsight trace: the site's activation (string, position, d) and, with ``logits=True``, the final logits
    after ``edit`` (a function of the site's activation returning its replacement) was written back into the model.
    Without ``logits`` the trace stops after the site.

    >>> import workbench as wb
    >>> acts, logits = trace_site(wb.load_model("dyck2"), np.array([[6, 2, 3, 7]]), 2, "resid", logits=True)
    >>> tuple(acts.shape), tuple(logits.shape)
    ((1, 4, 64), (1, 4, 10))
    """
    mod, attr = site_module(model, layer, site)
    envoy = model.envoy
    batch = batch_of(ids)
    with torch.no_grad(), model.trace(batch, **_no_cache(model)) as tracer:
        x = mod.input if attr == "input" else mod.output
        x = x[0] if isinstance(x, tuple) else x
        acts = x.save()
        if edit is not None:
            new = edit(x)
            if attr == "input":
                mod.input = new
            else:
                mod.output = new
        if logits:
            out = envoy.output.logits.save()
        else:
            tracer.stop()
    return acts, (out if logits else None)


def collect(model: Model, task: Task, layer: int, site: str, n_strings: int, seed: int,
            batch_strings: int = 256) -> torch.Tensor:
    """Activations (sample, d) of every real token of ``task.samples(n_strings, seed)``, traced in batches.
    Use it to fill a precomputed buffer (:class:`ActivationBuffer`).

    >>> import workbench as wb
    >>> from workbench.analyses.sae.tasks import get_task
    >>> collect(wb.load_model("dyck2"), get_task("dyck2"), 1, "mlp", 3, seed=0).shape[1]
    64
    """
    check_site(model, layer, site)
    s = task.samples(int(n_strings), int(seed))
    return activations_of(model, s, layer, site, batch_strings)


def activations_of(model: Model, samples: dict[str, Any], layer: int, site: str,
                   batch_strings: int = 256) -> torch.Tensor:
    """Activations (sample, d) of the given samples, in their order (row i is sample i).

    >>> import workbench as wb
    >>> from workbench.zoo import dyck2
    >>> s = dyck2.samples(2, seed=0)
    >>> activations_of(wb.load_model("dyck2"), s, 2, "resid").shape[0] == len(s["string"])
    True
    """
    ids = np.asarray(samples["ids"])
    mask = real_mask(samples)
    out = []
    for i in range(0, ids.shape[0], batch_strings):
        acts, _ = trace_site(model, ids[i: i + batch_strings], layer, site)
        out.append(acts.detach().float()[torch.as_tensor(mask[i: i + batch_strings])])
    return torch.cat(out)


def stream(model: Model, task: Task, layer: int, site: str, tokens_per_batch: int, seed: int = 0,
           strings_per_trace: int = 64) -> Iterator[torch.Tensor]:
    """Endless (tokens_per_batch, d) batches of activations, streamed: fresh strings from the task generator are
    traced (a new seed each time), their real tokens shuffled into a small reservoir, and batches drawn from it.

    >>> import workbench as wb
    >>> from workbench.analyses.sae.tasks import get_task
    >>> next(stream(wb.load_model("dyck2"), get_task("dyck2"), 2, "resid", 100)).shape
    torch.Size([100, 64])
    """
    check_site(model, layer, site)
    rng = np.random.default_rng([int(seed), 2801])
    pool = torch.zeros(0)
    draw = 0
    while True:
        while pool.shape[0] < tokens_per_batch:
            s = task.samples(strings_per_trace, int(seed) * 1_000_003 + draw)
            draw += 1
            acts = activations_of(model, s, layer, site, strings_per_trace)
            pool = acts if pool.numel() == 0 else torch.cat([pool, acts])
            pool = pool[torch.as_tensor(rng.permutation(pool.shape[0]))]
        yield pool[:tokens_per_batch]
        pool = pool[tokens_per_batch:]


class ActivationBuffer:
    """A precomputed (sample, d) activation buffer; ``batches(size, seed)`` draws shuffled batches forever.

    >>> buf = ActivationBuffer(torch.randn(10, 4)); next(buf.batches(3, 0)).shape
    torch.Size([3, 4])
    """

    def __init__(self, acts: torch.Tensor) -> None:
        acts = torch.as_tensor(acts, dtype=torch.float32)
        if acts.ndim != 2 or acts.shape[0] < 1:
            raise SAEError(f"acts must be a (sample, d) array with at least one row, got shape {tuple(acts.shape)}.")
        if not torch.isfinite(acts).all():
            raise SAEError("acts holds NaN or infinite values; an activation buffer must be finite.")
        self.acts = acts

    @property
    def d(self) -> int:
        """The activation size."""
        return int(self.acts.shape[1])

    def batches(self, size: int, seed: int) -> Iterator[torch.Tensor]:
        """Endless batches of ``size`` rows, a fresh seeded permutation per pass (the whole buffer when smaller)."""
        g = torch.Generator().manual_seed(int(seed))
        n = self.acts.shape[0]
        while True:
            perm = torch.randperm(n, generator=g)
            for i in range(0, n - size + 1 if n >= size else 1, size):
                yield self.acts[perm[i: i + size]]

    def save(self, path: str) -> None:
        """Write the buffer as safetensors (``acts``)."""
        from safetensors.torch import save_file

        save_file({"acts": self.acts.contiguous()}, path)

    @classmethod
    def load(cls, path: str) -> "ActivationBuffer":
        """A buffer written by :meth:`save`.

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "acts.safetensors")
        >>> ActivationBuffer(torch.ones(3, 2)).save(path); ActivationBuffer.load(path).d
        2
        """
        from safetensors.torch import load_file

        return cls(load_file(path)["acts"])


__all__ = ["SITES", "check_site", "site_module", "hook_name", "trace_site", "collect", "activations_of", "stream",
           "ActivationBuffer", "real_mask", "batch_of"]
