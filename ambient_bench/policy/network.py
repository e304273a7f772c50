"""ConditionalUnet1D: the temporal U-Net of Diffusion Policy (Chi et al., 2023).

A 1-D convolutional U-Net over the action chunk (channels = action dims, length =
horizon); every residual block is FiLM-conditioned on [diffusion-step embedding,
observation]. The horizon must be divisible by 2 ** (len(down_dims) - 1).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalEmbedding(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / (half - 1))
        angles = t.float()[:, None] * freqs[None]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class ConvBlock(nn.Sequential):
    """Conv1d -> GroupNorm -> Mish."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, n_groups: int):
        super().__init__(
            nn.Conv1d(c_in, c_out, kernel_size, padding=kernel_size // 2),
            nn.GroupNorm(n_groups, c_out),
            nn.Mish(),
        )


class FiLMResidualBlock(nn.Module):
    """Two conv blocks; the conditioning scales and shifts the features in between."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, kernel_size: int, n_groups: int):
        super().__init__()
        self.block1 = ConvBlock(c_in, c_out, kernel_size, n_groups)
        self.block2 = ConvBlock(c_out, c_out, kernel_size, n_groups)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * c_out))
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        h = self.block1(x) * scale + shift
        return self.block2(h) + self.skip(x)


class ConditionalUnet1D(nn.Module):
    def __init__(
        self,
        action_dim: int,
        cond_dim: int,
        down_dims: list[int],
        kernel_size: int = 3,
        n_groups: int = 8,
        step_embed_dim: int = 64,
    ):
        super().__init__()
        self.step_encoder = nn.Sequential(
            SinusoidalEmbedding(step_embed_dim),
            nn.Linear(step_embed_dim, 4 * step_embed_dim),
            nn.Mish(),
            nn.Linear(4 * step_embed_dim, step_embed_dim),
        )
        film_dim = step_embed_dim + cond_dim

        def block(c_in: int, c_out: int) -> FiLMResidualBlock:
            return FiLMResidualBlock(c_in, c_out, film_dim, kernel_size, n_groups)

        dims = [action_dim, *down_dims]
        pairs = list(zip(dims[:-1], dims[1:]))
        self.down = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(pairs):
            last = i == len(pairs) - 1
            resample = nn.Identity() if last else nn.Conv1d(c_out, c_out, 3, stride=2, padding=1)
            self.down.append(nn.ModuleList([block(c_in, c_out), block(c_out, c_out), resample]))
        self.mid = nn.ModuleList([block(down_dims[-1], down_dims[-1]), block(down_dims[-1], down_dims[-1])])
        self.up = nn.ModuleList()
        # Each up level undoes one downsampling; as in Diffusion Policy, the skip of the
        # finest level is not concatenated back.
        for c_in, c_out in reversed(pairs[1:]):
            upsample = nn.ConvTranspose1d(c_in, c_in, 4, stride=2, padding=1)
            self.up.append(nn.ModuleList([block(2 * c_out, c_in), block(c_in, c_in), upsample]))
        self.head = nn.Sequential(
            ConvBlock(down_dims[0], down_dims[0], kernel_size, n_groups),
            nn.Conv1d(down_dims[0], action_dim, 1),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x: (B, horizon, action_dim) noisy chunk; t: (B,) steps; cond: (B, cond_dim)."""
        film = torch.cat([self.step_encoder(t), cond], dim=-1)
        h = x.transpose(1, 2)
        skips = []
        for res1, res2, downsample in self.down:
            h = res2(res1(h, film), film)
            skips.append(h)
            h = downsample(h)
        for res in self.mid:
            h = res(h, film)
        for res1, res2, upsample in self.up:
            h = torch.cat([h, skips.pop()], dim=1)
            h = upsample(res2(res1(h, film), film))
        return self.head(h).transpose(1, 2)
