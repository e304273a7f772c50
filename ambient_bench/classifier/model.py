"""The noise-conditioned classifier c(x_sigma, sigma) -> P(clean) and its config.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config.sections import _check


@dataclass
class ClassifierConfig:
    """Network size, training, and annotation knobs. The defaults (~38k parameters, 1500
    steps of 256 chunks) train in about 30 s on one CPU thread, plus ~15 s for the
    held-out report (500 samples per class x 100 steps x 4 draws)."""

    hidden_channels: int = 32
    n_blocks: int = 3
    kernel_size: int = 5
    noise_embed_dim: int = 32
    steps: int = 1500
    batch_size: int = 256  # half clean, half corrupt
    lr: float = 1e-3
    weight_decay: float = 1e-4
    held_out_fraction: float = 0.2  # per class
    max_held_out_eval: int = 500  # held-out samples per class scored for the report
    seed: int = 0
    # The net is tiny: one intra-op thread is nearly as fast as two on an idle 2-core machine,
    # and 2 threads on a busy one ran 10-40x slower (measured). 0 keeps torch's setting.
    num_threads: int = 1
    n_noise_draws: int = 4  # noise draws per (sample, step) when computing curves
    tau: float = 0.05
    smoothing: int = 7  # moving-average window (grid steps) along sigma for per-datapoint curves
    n_buckets: int = 8
    # What the classifier sees of a chunk. "absolute": the actions as the policy sees them.
    # "centred": each chunk minus its mean action, so where in the world a chunk lies cannot
    # tell the datasets apart, only how it moves (maze: clean plans from random starts vs
    # corrupt plans from a fixed start differ mostly in place; results/maze/STUDY.md).
    # "detrended": each chunk minus its straight line in time, so neither place nor mean
    # velocity, only bends and jitter (arm: the one view that separates trajopt from RRT
    # plans; results/arm/study/classifier_features.txt).
    features: str = "absolute"

    def validate(self, key: str) -> None:
        """Ranges, as every suite section checks its own (the feature names: ``pipeline.checks``)."""
        for name in ("hidden_channels", "n_blocks", "noise_embed_dim", "steps", "max_held_out_eval", "n_noise_draws",
                     "smoothing", "n_buckets"):
            _check(getattr(self, name) >= 1, f"{key}.{name}", f"{getattr(self, name)} must be >= 1")
        _check(self.kernel_size >= 1 and self.kernel_size % 2 == 1, f"{key}.kernel_size",
               f"{self.kernel_size} must be odd and >= 1")
        _check(self.batch_size >= 2, f"{key}.batch_size", f"{self.batch_size} must be >= 2 (half clean, half corrupt)")
        _check(self.lr > 0, f"{key}.lr", f"{self.lr} must be > 0")
        _check(self.weight_decay >= 0, f"{key}.weight_decay", f"{self.weight_decay} must be >= 0")
        _check(0 <= self.held_out_fraction < 1, f"{key}.held_out_fraction", f"{self.held_out_fraction} must be in [0, 1)")
        _check(self.seed >= 0, f"{key}.seed", f"{self.seed} must be >= 0")
        _check(self.num_threads >= 0, f"{key}.num_threads", f"{self.num_threads} must be >= 0 (0: torch's setting)")
        _check(0 <= self.tau < 0.5, f"{key}.tau", f"{self.tau} must be in [0, 0.5) (the threshold is 0.5 - tau)")


class FiLMConvBlock(nn.Module):
    """Conv -> Mish -> FiLM -> Conv -> Mish, plus a skip. No normalisation layer: GroupNorm
    would divide out each chunk's feature energy, which is exactly what tells jitter apart
    from the noise level's own energy."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, kernel_size: int):
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, kernel_size, padding=kernel_size // 2)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel_size, padding=kernel_size // 2)
        self.film = nn.Linear(cond_dim, 2 * c_out)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.act = nn.Mish()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        h = self.act(self.conv1(x)) * (1 + scale) + shift
        return self.act(self.conv2(h)) + self.skip(x)


class NoiseClassifier(nn.Module):
    """1-D temporal conv net over a noisy action chunk, FiLM-conditioned on log sigma.

    Output: one logit, the log-odds that the chunk came from the clean data. Features are
    mean- and max-pooled over time, so the net can measure energy (e.g. high-frequency
    jitter) anywhere in the chunk and compare it with what the noise level explains.
    """

    def __init__(
        self,
        action_dim: int,
        hidden_channels: int = 32,
        n_blocks: int = 3,
        kernel_size: int = 5,
        noise_embed_dim: int = 32,
    ):
        super().__init__()
        # log sigma varies smoothly where the classifier's job changes; raw step indices
        # through a transformer-style embedding made training stall.
        self.noise_encoder = nn.Sequential(
            nn.Linear(1, 2 * noise_embed_dim),
            nn.Mish(),
            nn.Linear(2 * noise_embed_dim, noise_embed_dim),
        )
        channels = [action_dim] + [hidden_channels] * n_blocks
        self.blocks = nn.ModuleList(
            FiLMConvBlock(c_in, c_out, noise_embed_dim, kernel_size)
            for c_in, c_out in zip(channels[:-1], channels[1:])
        )
        self.head = nn.Sequential(
            nn.Linear(2 * hidden_channels + noise_embed_dim, hidden_channels),
            nn.Mish(),
            nn.Linear(hidden_channels, 1),
        )

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """x: (B, horizon, action_dim) noisy chunks; sigma: (B,) noise levels -> (B,) logits of 'clean'."""
        film = self.noise_encoder(torch.log(sigma.float()).unsqueeze(-1))
        h = x.transpose(1, 2)
        for block in self.blocks:
            h = block(h, film)
        pooled = torch.cat([h.mean(dim=-1), h.amax(dim=-1), film], dim=-1)
        return self.head(pooled).squeeze(-1)


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------
