"""Per-sample losses of a causal LM as a function of one flat parameter vector, and their derivatives along
directions: forward-mode projections, per-sample gradients, Hessian-vector products and curvatures.

The numerical core of POLCA (Kangaslahti, Rosenfeld & Saphra, "Hidden Breakthroughs in Language Model Training",
arXiv 2506.15872): a sample is one target token, its loss the next-token cross-entropy at one position. For a set of
unit directions ``B`` (rows) the quantity POLCA needs at every checkpoint is ``D[b, x] = <b, grad l(x; theta)>``
for every sample ``x``. Three ways to get it, with the same numbers:

* :func:`project_jvp` (forward mode, the default): one ``torch.func.jvp`` of the per-sample loss vector along ``b``
  gives ``D[b, :]`` for all samples at once; directions are batched with ``vmap`` and sequences are chunked.
* :func:`project_vmap`: per-sample gradients with ``vmap(jacrev)`` (an ``(n, P)`` matrix, chunked), then ``G @ B.T``.
* :func:`project_loop`: a plain autograd loop, one backward per sample (the reference, for tests and benchmarks).

Forward mode costs about one forward pass per direction; per-sample gradients cost about one backward pass per
sample whatever the number of directions. ``method="auto"`` in :func:`project` picks forward mode for up to
:data:`AUTO_JVP_MAX_DIRECTIONS` directions (the crossover measured by ``benchmarks/polca.py``) and per-sample
gradients above.

>>> import torch, transformers as T
>>> m = T.GPT2LMHeadModel(T.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=7, n_positions=6))
>>> toks = tokenize_ids([[1, 2, 3, 4]], [[1, 2]])
>>> fm = FlatModel(m)
>>> project(fm, fm.flat(), toks, torch.eye(fm.n_params)[:3]).shape
torch.Size([3, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jacrev, jvp, vmap

#: ``method="auto"`` uses forward mode up to this many directions, per-sample gradients above (see the benchmark).
AUTO_JVP_MAX_DIRECTIONS: int = 16
#: the most bytes of per-sample gradients :func:`project_vmap` holds at once (a chunk is cut to fit; one sequence's
#: gradients always go, however large). Without it a 9.5M-parameter model's 64-sequence chunk asks for ~10 GB.
VMAP_MAX_BYTES: int = 1 << 30


@dataclass
class Tokens:
    """Token ids of sequences and the samples in them, sorted by sequence.

    ``input_ids``/``attention_mask``: ``(n_seq, length)``, right-padded. Sample ``i`` is the next-token loss at
    position ``pos[i]`` of sequence ``seq[i]``, whose target is ``target[i]`` (the token at ``pos[i] + 1``).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    seq: torch.Tensor
    pos: torch.Tensor
    target: torch.Tensor

    def __post_init__(self) -> None:
        self.unpadded = bool(self.attention_mask.all())  # no padding: the mask need not be passed

    @property
    def n_samples(self) -> int:
        return int(self.seq.numel())

    @property
    def n_seq(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def most_per_seq(self) -> int:
        """The most samples any one sequence holds (at least 1): the width of a padded per-sequence layout."""
        return max(1, int(torch.bincount(self.seq).max())) if self.n_samples else 1

    def chunks(self, seq_chunk: int) -> list[tuple[slice, slice]]:
        """(sequence slice, sample slice) pairs of at most ``seq_chunk`` sequences each."""
        seq = self.seq.numpy()
        out = []
        for s0 in range(0, self.n_seq, seq_chunk):
            s1 = min(self.n_seq, s0 + seq_chunk)
            a, b = np.searchsorted(seq, [s0, s1])
            out.append((slice(s0, s1), slice(int(a), int(b))))
        return out


def tokenize_ids(ids: Sequence[Sequence[int]], positions: Sequence[Sequence[int]], pad_id: int = 0) -> Tokens:
    """:class:`Tokens` from token-id lists and, per sequence, the positions whose next-token loss counts.

    >>> t = tokenize_ids([[5, 6, 7], [5, 6]], [[0, 1], [0]])
    >>> t.target.tolist(), t.n_samples
    ([6, 7, 6], 3)
    """
    if len(ids) != len(positions):
        raise ValueError(f"positions must give one list per sequence: {len(ids)} sequences, {len(positions)} lists.")
    width = max((len(r) for r in ids), default=0)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    seq, pos, tgt = [], [], []
    for i, (row, ps) in enumerate(zip(ids, positions)):
        input_ids[i, : len(row)] = torch.as_tensor(list(row), dtype=torch.long)
        mask[i, : len(row)] = 1
        if len(ps) == 0:
            raise ValueError(f"sample {i} has no target position; give at least one position whose next-token loss "
                             "counts.")
        for p in ps:
            if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not 0 <= int(p) < len(row) - 1:
                raise ValueError(f"sample {i} has target position {p!r}, outside 0..{len(row) - 2} (a position p counts "
                                 f"the loss of predicting token p + 1 of its {len(row)} tokens).")
            seq.append(i)
            pos.append(int(p))
            tgt.append(int(row[int(p) + 1]))
    return Tokens(input_ids, mask, torch.as_tensor(seq, dtype=torch.long), torch.as_tensor(pos, dtype=torch.long),
                  torch.as_tensor(tgt, dtype=torch.long))


class FlatModel:
    """A causal LM seen as a function of one flat parameter vector (every trainable parameter, in
    ``named_parameters`` order; tied weights once).

    >>> import transformers as T
    >>> fm = FlatModel(T.GPT2LMHeadModel(T.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=7, n_positions=6)))
    >>> fm.flat().shape == (fm.n_params,)
    True
    """

    def __init__(self, model: nn.Module, dtype: torch.dtype | None = None) -> None:
        if dtype is not None:
            model = model.to(dtype)
        self.model = model.eval()
        _eager_attention(model)
        named = [(n, p) for n, p in model.named_parameters()]
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.n_params = int(sum(self.sizes))
        self.dtype = named[0][1].dtype

    def flat(self) -> torch.Tensor:
        """The current parameters as one detached vector."""
        return torch.cat([p.detach().reshape(-1) for p in self.model.parameters()])

    def flat_of(self, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """A state dict's parameters as one vector in this model's order (shapes are checked)."""
        out = []
        for n, shape in zip(self.names, self.shapes):
            if n not in state:
                raise ValueError(f"checkpoint lacks parameter {n!r} of shape {shape}.")
            if tuple(state[n].shape) != shape:
                raise ValueError(f"checkpoint has parameter {n!r} of shape {tuple(state[n].shape)}, expected {shape}.")
            out.append(state[n].detach().reshape(-1).to(self.dtype))
        return torch.cat(out)

    def params(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of ``flat`` as the model's named parameters."""
        return {n: t.view(s) for n, t, s in zip(self.names, torch.split(flat, self.sizes), self.shapes)}

    def logits(self, flat: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        # the mask is always passed: without it transformers inspects the ids for padding (data-dependent control
        # flow, which vmap and tracing refuse)
        kwargs = {"input_ids": ids, "attention_mask": torch.ones_like(ids) if mask is None else mask}
        return functional_call(self.model, self.params(flat), args=(), kwargs=kwargs).logits

    def losses(self, flat: torch.Tensor, toks: Tokens, seqs: slice, samples: slice) -> torch.Tensor:
        """Per-sample losses of the samples in ``samples`` (all lying in the sequences ``seqs``)."""
        logits = self.logits(flat, toks.input_ids[seqs], None if toks.unpadded else toks.attention_mask[seqs])
        rows = toks.seq[samples] - seqs.start
        picked = logits[rows, toks.pos[samples]]
        return nn.functional.cross_entropy(picked, toks.target[samples], reduction="none")


def _eager_attention(model: nn.Module) -> None:
    """Forward-mode AD and vmap need the plain ("eager") attention: fused SDPA kernels have no forward derivative."""
    setter = getattr(model, "set_attn_implementation", None)
    if callable(setter):
        try:
            setter("eager")
            return
        except (ValueError, TypeError, AttributeError):
            pass
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "_attn_implementation"):
        config._attn_implementation = "eager"


def _as_directions(fm: FlatModel, vectors: torch.Tensor | np.ndarray) -> torch.Tensor:
    v = torch.as_tensor(np.asarray(vectors) if not torch.is_tensor(vectors) else vectors)
    if v.ndim == 1:
        v = v[None]
    if v.ndim != 2 or v.shape[1] != fm.n_params:
        raise ValueError(f"vectors must have shape (k, {fm.n_params}) (one direction per row over every parameter), "
                         f"got {tuple(v.shape)}.")
    return v.to(fm.dtype)


@torch.no_grad()
def sample_losses(fm: FlatModel, theta: torch.Tensor, toks: Tokens, seq_chunk: int = 256) -> torch.Tensor:
    """Per-sample losses ``(n_samples,)`` at ``theta``.

    >>> import transformers as T
    >>> fm = FlatModel(T.GPT2LMHeadModel(T.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=7, n_positions=6)))
    >>> sample_losses(fm, fm.flat(), tokenize_ids([[1, 2, 3]], [[0, 1]])).shape
    torch.Size([2])
    """
    return torch.cat([fm.losses(theta, toks, s, x) for s, x in toks.chunks(seq_chunk)])


def _chunk_jvp(fm: FlatModel, theta: torch.Tensor, block: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor | None,
               rows: torch.Tensor, pos: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Losses and their directional derivatives along every row of ``block`` for one chunk of sequences."""
    def f(flat: torch.Tensor) -> torch.Tensor:
        logits = fm.logits(flat, ids, mask)
        return nn.functional.cross_entropy(logits[rows, pos], target, reduction="none")

    return vmap(lambda t: jvp(f, (theta,), (t,)), out_dims=(None, 0))(block)


def project_jvp(fm: FlatModel, theta: torch.Tensor, toks: Tokens, vectors: torch.Tensor | np.ndarray,
                seq_chunk: int = 64, dir_chunk: int = 8, with_losses: bool = False, compile: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``D[b, x] = <b, grad l(x; theta)>`` for every row ``b`` of ``vectors`` and every sample, by forward mode:
    ``torch.func.jvp`` of the per-sample loss vector along ``b`` (``vmap`` over ``dir_chunk`` directions at a time,
    ``seq_chunk`` sequences at a time). Returns ``(k, n_samples)`` (and the losses with ``with_losses``).

    ``compile=True`` runs each chunk through ``torch.compile`` (chunks padded to one shape, so it compiles once per
    model and chunk shape): about 3x faster on CPU once compiled, after a one-time compilation of minutes, so it
    pays off over many checkpoints (see ``benchmarks/polca.py``).

    >>> import torch, transformers as T
    >>> fm = FlatModel(T.GPT2LMHeadModel(T.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=7, n_positions=6)))
    >>> project_jvp(fm, fm.flat(), tokenize_ids([[1, 2, 3]], [[0, 1]]), torch.eye(fm.n_params)[:2]).shape
    torch.Size([2, 2])
    """
    v = _as_directions(fm, vectors)
    theta = theta.detach().to(fm.dtype)
    out = torch.empty((v.shape[0], toks.n_samples), dtype=fm.dtype)
    losses = torch.empty(toks.n_samples, dtype=fm.dtype)
    step = _compiled_chunk(fm) if compile else _chunk_jvp
    width = toks.most_per_seq * seq_chunk  # samples per padded chunk
    for seqs, samples in toks.chunks(seq_chunk):
        ids = toks.input_ids[seqs]
        mask = None if toks.unpadded else toks.attention_mask[seqs]
        rows, pos, tgt = toks.seq[samples] - seqs.start, toks.pos[samples], toks.target[samples]
        n_s, n_x = ids.shape[0], rows.numel()
        if compile:  # one shape for every chunk: pad sequences, samples and directions by repeating the first
            ids = torch.cat([ids, ids[:1].expand(seq_chunk - n_s, -1)])
            mask = None if mask is None else torch.cat([mask, mask[:1].expand(seq_chunk - n_s, -1)])
            rows, pos, tgt = (torch.cat([a, a[:1].expand(width - n_x)]) for a in (rows, pos, tgt))
        for d0 in range(0, v.shape[0], dir_chunk):
            block = v[d0: d0 + dir_chunk]
            n_d = block.shape[0]
            if compile and n_d < dir_chunk:
                block = torch.cat([block, torch.zeros((dir_chunk - n_d, v.shape[1]), dtype=v.dtype)])
            primal, tangents = step(fm, theta, block, ids, mask, rows, pos, tgt)
            out[d0: d0 + n_d, samples] = tangents[:n_d, :n_x].detach()
            losses[samples] = primal[:n_x].detach()
    return (out, losses) if with_losses else out


def _compiled_chunk(fm: FlatModel):
    fn = getattr(fm, "_compiled_jvp", None)
    if fn is None:
        fn = torch.compile(_chunk_jvp, dynamic=False)
        fm._compiled_jvp = fn
    return fn


def per_sample_grads(fm: FlatModel, theta: torch.Tensor, toks: Tokens, seqs: slice, samples: slice) -> torch.Tensor:
    """Per-sample gradients ``(n, P)`` of the samples in one chunk, by ``vmap(jacrev)`` over sequences (each
    sequence's target positions padded to the longest; padding rows are dropped)."""
    theta = theta.detach().to(fm.dtype)
    seq = toks.seq[samples] - seqs.start
    counts = torch.bincount(seq, minlength=seqs.stop - seqs.start)
    m = int(counts.max())
    n_seq = seqs.stop - seqs.start
    pos = torch.zeros((n_seq, m), dtype=torch.long)
    tgt = torch.zeros((n_seq, m), dtype=torch.long)
    slot = torch.zeros(seq.numel(), dtype=torch.long)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(seq.numel()) - starts[seq]
    pos[seq, slot] = toks.pos[samples]
    tgt[seq, slot] = toks.target[samples]
    ids, mask = toks.input_ids[seqs], toks.attention_mask[seqs]

    def one(flat: torch.Tensor, ids_row: torch.Tensor, mask_row: torch.Tensor, pos_row: torch.Tensor,
            tgt_row: torch.Tensor) -> torch.Tensor:
        # the mask is always passed: without it transformers inspects the ids (data-dependent, which vmap refuses)
        kwargs = {"input_ids": ids_row[None], "attention_mask": mask_row[None]}
        logits = functional_call(fm.model, fm.params(flat), args=(), kwargs=kwargs).logits[0]
        return nn.functional.cross_entropy(logits[pos_row], tgt_row, reduction="none")

    jac = vmap(jacrev(one), in_dims=(None, 0, 0, 0, 0))(theta, ids, mask, pos, tgt)  # (n_seq, m, P)
    return jac[seq, slot].detach()


def vmap_chunk(fm: FlatModel, toks: Tokens, seq_chunk: int, max_bytes: int | None = None) -> int:
    """Sequences per :func:`project_vmap` chunk: ``seq_chunk``, cut so that the chunk's per-sample gradients
    (sequences x most targets in one sequence x parameters) stay within ``max_bytes`` (:data:`VMAP_MAX_BYTES`), and
    never below 1.

    >>> import transformers as T
    >>> fm = FlatModel(T.GPT2LMHeadModel(T.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=7, n_positions=6)))
    >>> toks = tokenize_ids([[1, 2, 3]] * 8, [[0, 1]] * 8)
    >>> vmap_chunk(fm, toks, 64), vmap_chunk(fm, toks, 64, max_bytes=2 * fm.n_params * 4 * 3)
    (64, 3)
    """
    budget = VMAP_MAX_BYTES if max_bytes is None else int(max_bytes)
    per_target = fm.n_params * fm.dtype.itemsize
    return max(1, min(int(seq_chunk), budget // (toks.most_per_seq * per_target)))


def project_vmap(fm: FlatModel, theta: torch.Tensor, toks: Tokens, vectors: torch.Tensor | np.ndarray,
                 seq_chunk: int = 64, max_bytes: int | None = None) -> torch.Tensor:
    """The same ``(k, n_samples)`` as :func:`project_jvp`, from per-sample gradients (``vmap(jacrev)``, at most
    ``seq_chunk`` sequences' gradients, and at most ``max_bytes`` of them (:func:`vmap_chunk`), in memory at a time)
    projected on the directions.

    >>> import torch, transformers as T
    >>> fm = FlatModel(T.GPT2LMHeadModel(T.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=7, n_positions=6)))
    >>> project_vmap(fm, fm.flat(), tokenize_ids([[1, 2, 3]], [[0, 1]]), torch.eye(fm.n_params)[:2]).shape
    torch.Size([2, 2])
    """
    v = _as_directions(fm, vectors)
    out = torch.empty((v.shape[0], toks.n_samples), dtype=fm.dtype)
    for seqs, samples in toks.chunks(vmap_chunk(fm, toks, seq_chunk, max_bytes)):
        g = per_sample_grads(fm, theta, toks, seqs, samples)
        out[:, samples] = v @ g.T
    return out


def project_loop(fm: FlatModel, theta: torch.Tensor, toks: Tokens, vectors: torch.Tensor | np.ndarray
                 ) -> torch.Tensor:
    """The reference: a plain autograd loop, one forward per sequence and one backward per sample, each gradient
    projected on the directions. Slow; for tests and the benchmark.

    >>> import torch, transformers as T
    >>> fm = FlatModel(T.GPT2LMHeadModel(T.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=7, n_positions=6)))
    >>> project_loop(fm, fm.flat(), tokenize_ids([[1, 2, 3]], [[0, 1]]), torch.eye(fm.n_params)[:2]).shape
    torch.Size([2, 2])
    """
    v = _as_directions(fm, vectors)
    leaf = theta.detach().to(fm.dtype).clone().requires_grad_(True)
    out = torch.empty((v.shape[0], toks.n_samples), dtype=fm.dtype)
    for seqs, samples in toks.chunks(1):
        losses = fm.losses(leaf, toks, seqs, samples)
        for j in range(losses.numel()):
            (g,) = torch.autograd.grad(losses[j], leaf, retain_graph=j < losses.numel() - 1)
            out[:, samples.start + j] = v @ g
    return out


def project(fm: FlatModel, theta: torch.Tensor, toks: Tokens, vectors: torch.Tensor | np.ndarray,
            method: str = "auto", seq_chunk: int = 64, compile: bool = False) -> torch.Tensor:
    """``<b, grad l(x; theta)>`` for every direction and sample by ``method``: ``"jvp"`` (forward mode), ``"vmap"``
    (per-sample gradients), ``"loop"`` (reference) or ``"auto"`` (forward mode up to
    :data:`AUTO_JVP_MAX_DIRECTIONS` directions, per-sample gradients above). ``compile=True`` runs forward mode
    through ``torch.compile`` (see :func:`project_jvp`): worth it when one model is projected at many checkpoints.

    >>> import torch, transformers as T
    >>> fm = FlatModel(T.GPT2LMHeadModel(T.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=7, n_positions=6)))
    >>> project(fm, fm.flat(), tokenize_ids([[1, 2, 3]], [[1]]), torch.eye(fm.n_params)[:4]).shape
    torch.Size([4, 1])
    """
    v = _as_directions(fm, vectors)
    if method == "auto":
        method = "jvp" if v.shape[0] <= AUTO_JVP_MAX_DIRECTIONS else "vmap"
    if method == "jvp":
        return project_jvp(fm, theta, toks, v, seq_chunk=seq_chunk, compile=compile)
    if method == "vmap":
        return project_vmap(fm, theta, toks, v, seq_chunk=seq_chunk)
    if method == "loop":
        return project_loop(fm, theta, toks, v)
    raise ValueError(f"method must be 'auto', 'jvp', 'vmap' or 'loop', got {method!r}.")


def hvp(fm: FlatModel, theta: torch.Tensor, toks: Tokens, vectors: torch.Tensor | np.ndarray,
        seq_chunk: int = 256) -> torch.Tensor:
    """Hessian-vector products ``H v`` of the MEAN loss over ``toks``' samples, by forward-over-reverse
    (``jvp`` of ``grad``), one row per vector; the Hessian is never formed.

    >>> import torch, transformers as T
    >>> fm = FlatModel(T.GPT2LMHeadModel(T.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=7, n_positions=6)))
    >>> hvp(fm, fm.flat(), tokenize_ids([[1, 2, 3]], [[0, 1]]), torch.eye(fm.n_params)[:1]).shape[0]
    1
    """
    v = _as_directions(fm, vectors)
    theta = theta.detach().to(fm.dtype)
    out = torch.zeros_like(v)
    n = toks.n_samples
    for seqs, samples in toks.chunks(seq_chunk):
        def total(flat: torch.Tensor, seqs: slice = seqs, samples: slice = samples) -> torch.Tensor:
            return fm.losses(flat, toks, seqs, samples).sum() / n

        g = torch.func.grad(total)
        for i in range(v.shape[0]):
            out[i] += jvp(g, (theta,), (v[i],))[1].detach()
    return out


def curvature(fm: FlatModel, theta: torch.Tensor, toks: Tokens, vectors: torch.Tensor | np.ndarray,
              seq_chunk: int = 256, dir_chunk: int = 8) -> torch.Tensor:
    """``lambda(b) = b^T H b`` of the mean loss over ``toks``' samples for every row ``b``: ``b . (H b)`` with the
    Hessian-vector product by forward-over-reverse mode (``jvp`` of ``grad``, ``vmap`` over ``dir_chunk``
    directions). Forward-over-forward (a ``jvp`` of a ``jvp``) would be cheaper, but PyTorch's nested forward mode
    through ``layer_norm`` gives wrong second derivatives (torch 2.13; finite differences agree with
    forward-over-reverse), so every transformer block would be off.

    >>> import torch, transformers as T
    >>> fm = FlatModel(T.GPT2LMHeadModel(T.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=7, n_positions=6)))
    >>> curvature(fm, fm.flat(), tokenize_ids([[1, 2, 3]], [[0, 1]]), torch.eye(fm.n_params)[:3]).shape
    torch.Size([3])
    """
    v = _as_directions(fm, vectors)
    theta = theta.detach().to(fm.dtype)
    out = torch.zeros(v.shape[0], dtype=fm.dtype)
    n = toks.n_samples
    for seqs, samples in toks.chunks(seq_chunk):
        def total(flat: torch.Tensor, seqs: slice = seqs, samples: slice = samples) -> torch.Tensor:
            return fm.losses(flat, toks, seqs, samples).sum() / n

        g = torch.func.grad(total)

        def quad(t: torch.Tensor) -> torch.Tensor:
            return (jvp(g, (theta,), (t,))[1] * t).sum()

        for d0 in range(0, v.shape[0], dir_chunk):
            out[d0: d0 + dir_chunk] += vmap(quad)(v[d0: d0 + dir_chunk]).detach()
    return out


__all__ = ["Tokens", "tokenize_ids", "FlatModel", "sample_losses", "project", "project_jvp", "project_vmap",
           "project_loop", "per_sample_grads", "vmap_chunk", "hvp", "curvature", "AUTO_JVP_MAX_DIRECTIONS",
           "VMAP_MAX_BYTES"]
