"""Sparse autoencoder architectures: ReLU with an L1 penalty, TopK, and BatchTopK, in plain torch.

Every SAE encodes ``f = act((x - b_dec) @ W_enc + b_enc)`` and decodes ``x_hat = f @ W_dec + b_dec`` (the layout and key
names of SAELens, so a saved SAE loads there unchanged). The architectures differ in ``act`` and so in what they assume
about how a model encodes concepts (Hindupur et al. 2025, "Projecting Assumptions"):

* ``relu_l1`` (SAELens ``standard``): ``relu``, sparsity bought by an L1 penalty (``sparsity`` = its coefficient); a
  latent's size carries the feature's strength, and shrinkage pulls small ones to zero;
* ``topk`` (Gao et al. 2024): keep the ``k`` largest pre-activations of each token (``sparsity`` = ``k``): every token
  uses exactly ``k`` latents, however simple or complex it is;
* ``batchtopk`` (Bussmann et al. 2024): keep the ``k * batch`` largest over the whole batch while training, so a
  token may use more or fewer latents than ``k``; at inference one learned threshold replaces the batch (saved as
  SAELens ``jumprelu`` with that threshold on every latent).

Training works on activations divided by one scale (the root mean squared norm of the first training batch), so one
L1 coefficient means the same on every model; :meth:`SparseAutoencoder.folded` moves the scale into the weights, so a
saved SAE takes raw activations.

>>> sae = SparseAutoencoder(4, 8, "topk", k=2, seed=0)
>>> f = sae.encode(torch.randn(3, 4)); tuple(f.shape), int((f > 0).sum(-1).max())
((3, 8), 2)
"""

from __future__ import annotations

import torch
from torch import nn

ARCHITECTURES: tuple[str, ...] = ("relu_l1", "topk", "batchtopk")
#: What ``sparsity`` means for each architecture.
SPARSITY_MEANING: dict[str, str] = {"relu_l1": "l1_coefficient", "topk": "k", "batchtopk": "k"}


class SAEError(ValueError):
    """Input an SAE cannot use; the message names the argument, what was expected and what came."""


def check_architecture(architecture: str) -> str:
    """``architecture`` if known, else a one-sentence :class:`SAEError`.

    >>> check_architecture("topk")
    'topk'
    """
    if architecture not in ARCHITECTURES:
        raise SAEError(f"architecture must be one of {list(ARCHITECTURES)}, got {architecture!r}.")
    return architecture


class SparseAutoencoder(nn.Module):
    """One SAE: ``W_enc`` (d_in, d_sae), ``b_enc`` (d_sae), ``W_dec`` (d_sae, d_in), ``b_dec`` (d_in) and, for
    ``batchtopk``, ``threshold`` (d_sae). ``k`` is the TopK/BatchTopK budget, ``l1`` the ReLU SAE's coefficient.

    >>> sae = SparseAutoencoder(4, 8, "relu_l1", l1=0.01, seed=0)
    >>> tuple(sae(torch.zeros(2, 4)).shape)
    (2, 4)
    """

    def __init__(self, d_in: int, d_sae: int, architecture: str, *, k: int = 0, l1: float = 0.0,
                 seed: int = 0) -> None:
        super().__init__()
        check_architecture(architecture)
        for name, v in (("d_in", d_in), ("d_sae", d_sae)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise SAEError(f"{name} must be a positive int, got {v!r}.")
        if architecture in ("topk", "batchtopk") and not (isinstance(k, int) and 1 <= k <= d_sae):
            raise SAEError(f"k must be an int in 1..d_sae={d_sae} for architecture {architecture!r}, got {k!r}.")
        if architecture == "relu_l1" and not l1 >= 0:
            raise SAEError(f"l1 must be >= 0 for architecture 'relu_l1', got {l1!r}.")
        self.d_in, self.d_sae, self.architecture, self.k, self.l1 = d_in, d_sae, architecture, int(k), float(l1)
        g = torch.Generator().manual_seed(int(seed))
        w = torch.randn(d_sae, d_in, generator=g)
        w = w / w.norm(dim=1, keepdim=True)
        self.W_dec = nn.Parameter(w.clone())
        self.W_enc = nn.Parameter(w.t().clone())
        self.b_enc = nn.Parameter(torch.zeros(d_sae))
        self.b_dec = nn.Parameter(torch.zeros(d_in))
        # BatchTopK's inference threshold (a running estimate while training); unused by the other two
        self.register_buffer("threshold", torch.zeros(d_sae))

    # ------------------------------------------------------------------------------------------------- forward
    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - b_dec) @ W_enc + b_enc``."""
        return (x - self.b_dec) @ self.W_enc + self.b_enc

    def encode(self, x: torch.Tensor, batch_topk: bool = False) -> torch.Tensor:
        """Latent activations (..., d_sae), all >= 0. ``batch_topk=True`` (training a BatchTopK SAE) keeps the
        ``k * n_tokens`` largest over the batch instead of thresholding."""
        pre = self.pre_activation(x)
        if self.architecture == "relu_l1":
            return torch.relu(pre)
        if self.architecture == "topk":
            vals, idx = torch.topk(pre, self.k, dim=-1)
            return torch.zeros_like(pre).scatter(-1, idx, torch.relu(vals))
        if batch_topk:
            flat = torch.relu(pre).reshape(-1)
            n = min(flat.numel(), self.k * max(1, flat.numel() // self.d_sae))
            vals, idx = torch.topk(flat, n)
            return torch.zeros_like(flat).scatter(0, idx, vals).reshape(pre.shape)
        return torch.relu(pre) * (pre > self.threshold)

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        """``f @ W_dec + b_dec``."""
        return f @ self.W_dec + self.b_dec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction of ``x``."""
        return self.decode(self.encode(x))

    # ------------------------------------------------------------------------------------------------ training
    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training loss on a (tokens, d_in) batch and its latents: squared error summed over dims, plus the L1
        penalty (weighted by decoder norms) for ``relu_l1``."""
        f = self.encode(x, batch_topk=self.architecture == "batchtopk")
        err = (self.decode(f) - x).pow(2).sum(-1).mean()
        if self.architecture == "relu_l1":
            err = err + self.l1 * (f * self.W_dec.norm(dim=1)).sum(-1).mean()
        return err, f

    @torch.no_grad()
    def update_threshold(self, f: torch.Tensor, rate: float = 0.01) -> None:
        """BatchTopK: move the inference threshold towards the smallest kept activation of this batch."""
        kept = f[f > 0]
        if kept.numel():
            t = kept.min()
            self.threshold.copy_(torch.where(self.threshold > 0, (1 - rate) * self.threshold + rate * t,
                                             t.expand_as(self.threshold)))

    @torch.no_grad()
    def normalise_decoder(self) -> None:
        """Unit-norm decoder rows (so the L1 penalty cannot shrink latents by growing the decoder)."""
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8))

    @torch.no_grad()
    def folded(self, scale: float) -> "SparseAutoencoder":
        """A copy that takes raw activations, for an SAE trained on activations divided by ``scale``: the same
        latents (and threshold) on ``x`` as this one on ``x / scale``, and ``scale`` times its reconstruction.

        >>> sae = SparseAutoencoder(4, 8, "relu_l1", seed=0); x = torch.randn(5, 4)
        >>> bool(torch.allclose(sae.folded(3.0)(3 * x), 3 * sae(x), atol=1e-5))
        True
        """
        out = SparseAutoencoder(self.d_in, self.d_sae, self.architecture, k=self.k or 0, l1=self.l1)
        out.W_enc.copy_(self.W_enc / scale)
        out.b_enc.copy_(self.b_enc)
        out.W_dec.copy_(self.W_dec * scale)
        out.b_dec.copy_(self.b_dec * scale)
        out.threshold.copy_(self.threshold)
        return out

    @property
    def decoder_directions(self) -> torch.Tensor:
        """Unit decoder rows (d_sae, d_in): each latent's direction in activation space."""
        return self.W_dec / self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12)


__all__ = ["ARCHITECTURES", "SPARSITY_MEANING", "SAEError", "SparseAutoencoder", "check_architecture"]
