"""The diffusion policy: network + noise schedule + normaliser, and checkpoint I/O."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config.sections import CHECKPOINT_LATER_OPTIONS, PolicyConfig, without_later_defaults
from ..config.typed import from_dict
from ..data import atomic_write_bytes
from .network import ConditionalUnet1D
from .normalizer import Normalizer
from .schedule import FlowSchedule, NoiseSchedule


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, truncated or from another format."""


class DiffusionPolicy(nn.Module):
    """Predicts a chunk of ``horizon`` actions conditioned on the current observation, by
    diffusion or, with ``policy.generative: flow``, by flow matching (the same network)."""

    def __init__(self, config: PolicyConfig, obs_dim: int, action_dim: int, normalizer: Normalizer):
        super().__init__()
        self.config = config
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.normalizer = normalizer
        self.schedule = (FlowSchedule(config.num_diffusion_steps) if config.generative == "flow" else
                         NoiseSchedule(config.num_diffusion_steps, prediction=config.prediction,
                                       sigma_data=config.sigma_data))
        self.net = ConditionalUnet1D(
            action_dim, obs_dim, config.down_dims, config.kernel_size, config.n_groups, config.step_embed_dim
        )

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        """The network's prediction, in float32 whatever ``config.precision``: with bf16 only the
        network runs under autocast, so the loss and the samplers' arithmetic stay fp32."""
        if self.config.precision == "fp32":
            return self.net(x_t, t, obs)
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            return self.net(x_t, t, obs).float()

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.no_grad()
    def predict_action(
        self, obs: np.ndarray, generator: torch.Generator, sampler: str = "ddim", inference_steps: int = 10
    ) -> np.ndarray:
        """(B, obs_dim) raw observations -> (B, horizon, action_dim) actions in env units.

        The sampler (its noise and updates) runs on the CPU, so a policy samples the same
        noise on every device; only the network's calls run on the policy's device.
        """
        device = self.device
        cond = torch.from_numpy(self.normalizer.normalize_obs(np.asarray(obs, dtype=np.float32))).to(device)
        chunk = self.schedule.sample(
            lambda x, t: self(x.to(device), t.to(device), cond).cpu(),
            (len(cond), self.config.horizon, self.action_dim),
            generator=generator,
            method=sampler,
            num_inference_steps=inference_steps,
            constraint=self.final_action_constraint(),
        )
        return self.normalizer.unnormalize_action(chunk.numpy())

    def final_action_constraint(self):
        """``policy.final_action: zero``: every clean estimate's last action is written as the
        normalised 0 (hard conditioning on the known end); None when it is free."""
        if self.config.final_action == "free":
            return None
        zero = torch.from_numpy(self.normalizer.normalize_action(np.zeros(self.action_dim, dtype=np.float32)))

        def pin(x0: torch.Tensor) -> torch.Tensor:
            x0 = x0.clone()
            x0[:, -1] = zero.to(x0.dtype)
            return x0

        return pin


class EMA:
    """Exponential moving average of weights, with the usual warm-up of the decay."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        for ema_p, p in zip(self.model.parameters(), model.parameters()):
            ema_p.lerp_(p.detach(), 1 - decay)
        for ema_b, b in zip(self.model.buffers(), model.buffers()):
            ema_b.copy_(b)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically save a training/eval checkpoint (a killed write leaves the old file)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise
    except Exception as err:  # torch raises several types for truncated zips
        raise CheckpointError(f"cannot read checkpoint {path} ({err}); it is truncated or corrupt") from err
    if not isinstance(state, dict) or "policy_config" not in state:
        raise CheckpointError(f"{path} is not an ambient_bench checkpoint")
    return state


def policy_from_checkpoint(state: dict[str, Any], weights: str = "ema") -> DiffusionPolicy:
    """Rebuild the policy of a checkpoint with its EMA (default) or raw weights."""
    policy = DiffusionPolicy(
        from_dict(PolicyConfig, state["policy_config"]),
        state["obs_dim"],
        state["action_dim"],
        Normalizer.from_state_dict(state["normalizer"]),
    )
    policy.load_state_dict(state[weights])
    return policy.eval()


def checkpoint_header(policy: DiffusionPolicy) -> dict[str, Any]:
    """What rebuilds the policy. Options added later are saved only away from their defaults
    (``CHECKPOINT_LATER_OPTIONS``), so a checkpoint has the bytes it had before them, and so do
    the evaluation keys made from them."""
    return {
        "policy_config": without_later_defaults(policy.config, CHECKPOINT_LATER_OPTIONS),
        "obs_dim": policy.obs_dim,
        "action_dim": policy.action_dim,
        "normalizer": policy.normalizer.state_dict(),
    }
