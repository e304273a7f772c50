"""Training the classifier on clean vs corrupt noised action chunks, and its P(clean) curves.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import asdict

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..policy.schedule import NoiseSchedule
from .model import ClassifierConfig, NoiseClassifier
from .sigma_min import choose_sigma_min

log = logging.getLogger(__name__)


@contextmanager
def intra_op_threads(n: int):
    """Run a block with ``n`` torch intra-op threads (0: unchanged), then restore the setting."""
    previous = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _split(
    n: int, fraction: float, rng: np.random.Generator, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) sample indices. With ``groups`` (e.g. episode ids) whole groups are
    held out, so overlapping chunks of one episode never sit on both sides."""
    if fraction <= 0.0 or n < 2:
        return np.arange(n), np.arange(0)
    group_of = np.arange(n) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    order = rng.permutation(group_of.max() + 1)
    sizes = np.bincount(group_of)[order]
    n_held_groups = int(np.searchsorted(np.cumsum(sizes), fraction * n)) + 1
    n_held_groups = min(n_held_groups, len(order) - 1)  # keep at least one group to train on
    held = np.isin(group_of, order[:n_held_groups])
    return np.flatnonzero(~held), np.flatnonzero(held)


def train_classifier(
    clean: torch.Tensor,
    corrupt: torch.Tensor,
    schedule: NoiseSchedule,
    config: ClassifierConfig | None = None,
    clean_groups: np.ndarray | None = None,
    corrupt_groups: np.ndarray | None = None,
) -> tuple[NoiseClassifier, dict]:
    """Train c(x_sigma, sigma) with BCE on balanced batches (half clean, half corrupt whatever
    N vs M), t ~ U{0..T-1} per element and fresh noise every step.

    clean: (N, H, A), corrupt: (M, H, A), normalised to [-1, 1]. ``*_groups`` (optional,
    one id per chunk, e.g. the episode) make the held-out split by group.
    Returns the model (eval mode) and a report: held-out accuracy per step t (balanced
    over the classes, each noisy draw scored at P = 0.5), overall accuracy, the held-out
    mean P(clean) curves of both classes and the per-dataset sigma_min they give, losses
    and timing. Deterministic given the seed (on CPU).
    """
    if clean.dim() != 3 or corrupt.shape[1:] != clean.shape[1:]:
        raise ValueError(
            "clean and corrupt must both be (n, horizon, action_dim), "
            f"got {tuple(clean.shape)} and {tuple(corrupt.shape)}"
        )
    config = config or ClassifierConfig()
    start_s = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    clean_train, clean_held = _split(len(clean), config.held_out_fraction, rng, clean_groups)
    corrupt_train, corrupt_held = _split(len(corrupt), config.held_out_fraction, rng, corrupt_groups)
    train_x = [clean[clean_train].float(), corrupt[corrupt_train].float()]
    log.info(
        "training the sigma_min classifier on %d clean / %d corrupt chunks (%d / %d held out), %d steps",
        len(clean_train), len(corrupt_train), len(clean_held), len(corrupt_held), config.steps,
    )

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = NoiseClassifier(
            clean.shape[-1], config.hidden_channels, config.n_blocks, config.kernel_size,
            config.noise_embed_dim,
        )
    with intra_op_threads(config.num_threads):
        running_loss = _fit(model, train_x, schedule, config)
        train_s = time.perf_counter() - start_s
        held_out = {}
        if len(clean_held) and len(corrupt_held):
            clean_eval = rng.permutation(clean_held)[: config.max_held_out_eval]
            corrupt_eval = rng.permutation(corrupt_held)[: config.max_held_out_eval]
            held_out = held_out_report(model, clean[clean_eval], corrupt[corrupt_eval], schedule, config)
    report = {
        "config": asdict(config),
        "n_params": sum(p.numel() for p in model.parameters()),
        "n_train": [len(clean_train), len(corrupt_train)],
        "n_held_out": [len(clean_held), len(corrupt_held)],
        "train_loss": running_loss,
        "train_s": train_s,
        "sigmas": schedule.sigmas.tolist(),
        **held_out,
    }
    if held_out:
        acc = held_out["accuracy_per_t"]
        log.info(
            "classifier: %d params, trained in %.1f s; held-out accuracy %.3f (t=0: %.3f, t=T/2: %.3f, "
            "t=T-1: %.3f); held-out per-dataset sigma_min %.3f",
            report["n_params"], train_s, held_out["accuracy"], acc[0], acc[len(acc) // 2], acc[-1],
            held_out["held_out_sigma_min"],
        )
    return model, report


def _fit(
    model: NoiseClassifier, train_x: list[torch.Tensor], schedule: NoiseSchedule, config: ClassifierConfig
) -> float:
    """The training loop; returns the final running BCE loss. train_x = [clean, corrupt]."""
    gen = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    lr_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.steps)
    half = config.batch_size // 2
    labels = torch.cat([torch.ones(half), torch.zeros(half)])
    bce = nn.BCEWithLogitsLoss()

    model.train()
    running_loss = None
    bar = tqdm(range(config.steps), desc="classifier", leave=False, disable=None)
    for step in bar:
        x0 = torch.cat([x[torch.randint(len(x), (half,), generator=gen)] for x in train_x])
        t = torch.randint(schedule.num_steps, (2 * half,), generator=gen)
        noise = torch.randn(x0.shape, generator=gen)
        loss = bce(model(schedule.add_noise(x0, noise, t), schedule.sigmas[t]), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        lr_schedule.step()
        running_loss = loss.item() if running_loss is None else 0.98 * running_loss + 0.02 * loss.item()
        if step % 100 == 0:
            bar.set_postfix(loss=f"{running_loss:.3f}")
    model.eval()
    return running_loss


def held_out_report(
    model: NoiseClassifier,
    clean: torch.Tensor,
    corrupt: torch.Tensor,
    schedule: NoiseSchedule,
    config: ClassifierConfig,
) -> dict:
    """Balanced accuracy per step, acc_t = (P[c > 0.5 | clean] + P[c < 0.5 | corrupt]) / 2,
    over samples and noise draws, the mean P(clean) curve of each class, and the
    per-dataset sigma_min of the held-out corrupt curve."""
    p_clean = _p_clean_draws(model, clean, schedule, config.n_noise_draws, seed=config.seed)
    p_corrupt = _p_clean_draws(model, corrupt, schedule, config.n_noise_draws, seed=config.seed)
    acc_t = 0.5 * ((p_clean > 0.5).double().mean(dim=(0, 2)) + (p_corrupt < 0.5).double().mean(dim=(0, 2)))
    corrupt_curve = p_corrupt.mean(dim=(0, 2))
    sigma_min, crossed = choose_sigma_min(corrupt_curve, schedule.sigmas, config.tau)
    return {
        "held_out_sigma_min": sigma_min,
        "held_out_crossed": crossed,
        "accuracy_per_t": acc_t.tolist(),
        "accuracy": acc_t.mean().item(),
        "held_out_p_clean_of_clean": p_clean.mean(dim=(0, 2)).tolist(),
        "held_out_p_clean_of_corrupt": corrupt_curve.tolist(),
    }


# --------------------------------------------------------------------------------------
# P(clean) curves
# --------------------------------------------------------------------------------------


@torch.no_grad()
def _p_clean_draws(
    model: NoiseClassifier,
    chunks: torch.Tensor,
    schedule: NoiseSchedule,
    n_draws: int,
    seed: int = 0,
    max_batch: int = 8192,
) -> torch.Tensor:
    """P(clean) per (sample, step, draw): (n, T, n_draws), with independent noise for every
    entry, so that smoothing a curve along sigma also averages over more noise draws.
    Deterministic given seed and max_batch."""
    model.eval()
    T = schedule.num_steps
    shape = chunks.shape[1:]
    gen = torch.Generator().manual_seed(seed)
    per_forward = max(1, max_batch // (T * n_draws))
    t = torch.arange(T).view(1, T, 1)
    out = []
    for chunk in torch.split(chunks.float(), per_forward):
        b = len(chunk)
        x0 = chunk[:, None, None].expand(b, T, n_draws, *shape).reshape(-1, *shape)
        t_flat = t.expand(b, T, n_draws).reshape(-1)
        x_t = schedule.add_noise(x0, torch.randn(x0.shape, generator=gen), t_flat)
        out.append(torch.sigmoid(model(x_t, schedule.sigmas[t_flat])).view(b, T, n_draws))
    return torch.cat(out) if out else torch.empty(0, T, n_draws)


def p_clean_curves(
    model: NoiseClassifier,
    chunks: torch.Tensor,
    schedule: NoiseSchedule,
    n_draws: int = 4,
    seed: int = 0,
    max_batch: int = 8192,
) -> torch.Tensor:
    """(n, T): P(clean) of each chunk at every grid step, averaged over ``n_draws`` noise draws.
    Cost: n * T * n_draws forward passes, ``max_batch`` chunks per pass (about 25k chunks/s
    per core for the default net; wrap in ``intra_op_threads`` on a busy machine)."""
    return _p_clean_draws(model, chunks, schedule, n_draws, seed, max_batch).mean(dim=-1)


# --------------------------------------------------------------------------------------
# Choosing sigma_min
# --------------------------------------------------------------------------------------
