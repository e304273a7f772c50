"""The one training loop for every method: the baseline only shapes the data sampler
(and, optionally, the regression pair).

Writes into ``run_dir``: ``train_log.jsonl`` (one JSON object per logged step),
``train_state.pt`` (resume point: weights, EMA, optimiser, RNG, step; refreshed every
``checkpoint_every`` steps) and, when finished, ``checkpoint.pt`` (the EMA weights, which evaluation
uses, with the normaliser and config). A killed run resumes from the last state.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..config.sections import PolicyConfig, TrainConfig
from ..config.typed import to_dict
from ..data import Dataset, atomic_write_bytes
from .baseline import Baseline
from .normalizer import Normalizer
from .policy import (EMA, CheckpointError, DiffusionPolicy, checkpoint_header, load_checkpoint, policy_from_checkpoint,
                     save_checkpoint)
from .sampler import Batch, NoiseBandSampler
from .schedule import NoiseSchedule

log = logging.getLogger(__name__)


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up to 1, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def build_policy(datasets: dict[str, Dataset], baseline: Baseline, config: PolicyConfig) -> DiffusionPolicy:
    """A fresh policy whose normaliser is fitted on the union of the datasets the baseline uses."""
    used = [ds for ds in datasets.values() if baseline.band(str(ds.episode_source[0]), ds) is not None]
    normalizer = Normalizer.fit([d.obs for d in used], [d.action for d in used])
    first = used[0]
    return DiffusionPolicy(config, first.obs.shape[1], first.action.shape[1], normalizer)


def loss_weights(schedule: NoiseSchedule, t: torch.Tensor, cap: float, like: torch.Tensor) -> torch.Tensor:
    """Per-sample factors on the prediction's squared error that cap each noise level's weight
    in x0 at ``cap``.

    An output error e moves x0 by scale_t * e (``x0_error_scale``), so the prediction's own
    loss weights x0's squared error at step t by 1 / scale_t^2: 1 for x0-prediction,
    1 + SNR_t for v, SNR_t for epsilon. Capping that at ``cap`` multiplies the squared error
    by min(1, cap * scale_t^2): for epsilon this is Min-SNR-gamma weighting (Hang et al. 2023);
    for v it keeps x0-prediction's weights at high noise and lifts low noise levels up to
    ``cap``, while v's outputs still move x0 by only sigma_t there.
    """
    return (cap * schedule.x0_error_scale(t, like) ** 2).clamp(max=1.0)


def training_loss(policy: DiffusionPolicy, baseline: Baseline, batch: Batch, generator: torch.Generator) -> torch.Tensor:
    """The denoising loss of one batch: the baseline picks the regression pair (x_t, target),
    and ``policy.loss_weight_cap`` > 0 reweights noise levels (``loss_weights``).

    Batches and noise are drawn on the CPU (one random stream whatever the device); only
    the network's inputs and target move to the policy's device.
    """
    x_t, target = baseline.training_pair(policy.schedule, batch.action, batch.t, batch.sigma_min, batch.is_corrupt,
                                         generator)
    device = policy.device
    output, target = policy(x_t.to(device), batch.t.to(device), batch.obs.to(device)), target.to(device)
    if policy.config.loss_weight_cap > 0:
        root = loss_weights(policy.schedule, batch.t, policy.config.loss_weight_cap, target).sqrt()
        output, target = output * root, target * root
    return torch.nn.functional.mse_loss(output, target)


def train_step(policy: DiffusionPolicy, baseline: Baseline, sampler: NoiseBandSampler, optimizer: torch.optim.Optimizer,
               batch_size: int, generator: torch.Generator, grad_clip: float = 0.0) -> torch.Tensor:
    """One optimiser step on a fresh batch (gradients clipped to ``grad_clip`` when > 0); returns the loss."""
    loss = training_loss(policy, baseline, sampler.sample(batch_size, generator), generator)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(policy.net.parameters(), grad_clip)
    optimizer.step()
    return loss


def train(
    run_dir: Path,
    datasets: dict[str, Dataset],
    baseline: Baseline,
    policy_config: PolicyConfig,
    train_config: TrainConfig,
    seed: int,
    extra_state: dict[str, Any] | None = None,
    progress: bool = True,
    device: str = "cpu",
    init_checkpoint: Path | None = None,
) -> Path:
    """Train (or resume) one policy on ``device``; returns the path of its final checkpoint
    (saved with CPU tensors, so it loads anywhere). With ``init_checkpoint`` the policy starts
    from that checkpoint's EMA weights and normaliser (finetuning) instead of fresh ones."""
    run_dir = Path(run_dir)
    final = run_dir / "checkpoint.pt"
    state_path = run_dir / "train_state.pt"
    log_path = run_dir / "train_log.jsonl"
    cfg = train_config
    run_dir.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(seed)
    if init_checkpoint is None:
        policy = build_policy(datasets, baseline, policy_config).to(device)
    else:
        start = load_checkpoint(init_checkpoint)
        policy = policy_from_checkpoint(start).to(device)
        extra_state = {**(extra_state or {}), "finetuned_from": {"step": start["step"], **start["baseline"]}}
    sampler = NoiseBandSampler(datasets, baseline, policy.schedule, policy_config.horizon, policy.normalizer,
                               policy_config.window_starts)
    optimizer = torch.optim.AdamW(policy.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema = EMA(policy.net, cfg.ema_decay)
    generator = torch.Generator().manual_seed(seed)
    step = 0

    if state_path.exists():
        try:
            state = load_checkpoint(state_path)
            policy.net.load_state_dict(state["net"])
            ema.model.load_state_dict(state["ema_net"])
            optimizer.load_state_dict(state["optimizer"])
            generator.set_state(state["generator"])
            step = state["step"]
            log.info("resuming %s from step %d", run_dir, step)
        except (CheckpointError, KeyError, RuntimeError) as err:
            log.warning("ignoring unreadable resume state %s (%s); training from scratch", state_path, err)
    _truncate_log(log_path, step)

    policy.train()
    bar = tqdm(total=cfg.steps, initial=step, desc=f"train {baseline.name}", disable=not progress, leave=False)
    window_loss, window_start = 0.0, time.perf_counter()
    while step < cfg.steps:
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * lr_factor(step, cfg.warmup_steps, cfg.steps)
        loss = train_step(policy, baseline, sampler, optimizer, cfg.batch_size, generator, cfg.grad_clip)
        ema.update(policy.net, step)
        step += 1
        window_loss += loss.item()
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.steps:
            n = (step - 1) % cfg.log_every + 1
            elapsed = time.perf_counter() - window_start
            record = {"step": step, "loss": window_loss / n, "lr": optimizer.param_groups[0]["lr"],
                      "steps_per_s": n / max(elapsed, 1e-9)}
            with open(log_path, "a") as fh:
                fh.write(json.dumps(record) + "\n")
            bar.set_postfix(loss=f"{record['loss']:.4f}")
            window_loss, window_start = 0.0, time.perf_counter()
        if step % cfg.checkpoint_every == 0 and step < cfg.steps:
            save_checkpoint(state_path, {
                **checkpoint_header(policy), "net": policy.net.state_dict(), "ema_net": ema.model.state_dict(),
                "optimizer": optimizer.state_dict(), "generator": generator.get_state(), "step": step,
            })
    bar.close()

    policy.net.load_state_dict(ema.model.state_dict())
    save_checkpoint(final, {
        **checkpoint_header(policy),
        "ema": {name: tensor.cpu() for name, tensor in policy.state_dict().items()},
        "step": step,
        "train_config": to_dict(cfg),
        "baseline": {"name": baseline.name, "params": baseline.params()},
        "seed": seed,
        **(extra_state or {}),
    })
    state_path.unlink(missing_ok=True)
    return final


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines past the resume step (and a torn last line), atomically."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("step", 0) <= step:
            kept.append(line)
    atomic_write_bytes(path, ("\n".join(kept) + "\n" if kept else "").encode())


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
