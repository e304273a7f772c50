"""How local the denoiser is: the talk's evidence for locality.

For a trained policy, the sensitivity of its clean estimate at one action index i to the
noisy input at every index j, ``mean_n ||d x0_hat[n, i] / d x_sigma[n, j]||_F``, at several
noise levels. At low noise the optimal denoiser of smooth chunks looks only at nearby
actions, so demos whose motions are right but whose task logic is wrong can still teach
it: that is why corrupt data is safe at or below sigma_max. At high noise the estimate
draws on the whole chunk.

``python -m ambient_bench.sensitivity CHECKPOINT ... --dataset DATASET_DIR --out sensitivity.png``
draws it for trained policies (each run's ``checkpoint.pt``) on windows of a dataset, and
writes beside it the curves and each one's reach: the mean distance it looks, in action steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..policy.policy import DiffusionPolicy

DEFAULT_SIGMAS = (0.05, 0.2, 0.5, 0.9)


def dataset_windows(obs: np.ndarray, action: np.ndarray, episode_starts: np.ndarray, episode_ends: np.ndarray,
                    horizon: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(observations, action chunks) of ``n`` windows drawn at random steps of the episodes;
    a window running past its episode repeats the last action, as the training sampler does."""
    rng = np.random.default_rng(seed)
    lengths = episode_ends - episode_starts
    episodes = rng.integers(0, len(lengths), n)
    starts = episode_starts[episodes] + (rng.random(n) * lengths[episodes]).astype(int)
    idx = np.minimum(starts[:, None] + np.arange(horizon)[None], episode_ends[episodes, None] - 1)
    return obs[starts], action[idx]


def denoiser_sensitivity(policy: DiffusionPolicy, obs: np.ndarray, chunks: np.ndarray, sigmas: Sequence[float],
                         index: int, seed: int = 0) -> np.ndarray:
    """(len(sigmas), horizon): the mean Frobenius norm over windows of the Jacobian of the clean
    estimate at action ``index`` with respect to the noisy chunk at each index, in the policy's
    normalised units. ``chunks`` are noised at the step whose sigma is nearest each level;
    the estimate is unclipped, so saturation does not hide a dependence. Windows are
    independent in the network (group norm, no batch statistics), so one backward pass per
    action dimension gives every window's Jacobian row."""
    schedule = policy.schedule
    device = policy.device
    cond = torch.from_numpy(policy.normalizer.normalize_obs(np.asarray(obs, dtype=np.float32))).to(device)
    x0 = torch.from_numpy(policy.normalizer.normalize_action(np.asarray(chunks, dtype=np.float32))).to(device)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for sigma in sigmas:
        t = torch.full((len(x0),), schedule.sigma_to_t(float(sigma)), dtype=torch.long, device=device)
        noise = torch.randn(x0.shape, generator=generator).to(device)
        x_t = schedule.add_noise(x0, noise, t).detach().requires_grad_(True)
        estimate = schedule.predict_x0(policy(x_t, t, cond), x_t, t, clip=False)[:, index]  # (N, A)
        jacobian = torch.stack([torch.autograd.grad(estimate[:, a].sum(), x_t, retain_graph=True)[0]
                                for a in range(estimate.shape[1])], dim=1)  # (N, A_out, H, A_in)
        rows.append(jacobian.pow(2).sum(dim=(1, 3)).sqrt().mean(0).cpu().numpy())
    return np.stack(rows)


def sensitivity_reach(sensitivity: np.ndarray, index: int) -> np.ndarray:
    """Per noise level, the sensitivity-weighted mean distance ``sum_j s_j |j - index| / sum_j s_j``
    in action steps: one number for how far the denoiser looks (0 when it sees only ``index``)."""
    distance = np.abs(np.arange(sensitivity.shape[-1]) - index)
    return (sensitivity * distance).sum(-1) / np.maximum(sensitivity.sum(-1), 1e-12)


def plot_sensitivity(curves: dict[str, np.ndarray], sigmas: Sequence[float], index: int, title: str,
                     path: str | Path) -> Path:
    """One panel per policy: sensitivity against the input index for each noise level, each
    curve scaled to its maximum so that its width, not its height, reads, and labelled with its
    reach (``sensitivity_reach``). Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .png import save_figure

    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.4), squeeze=False, sharey=True)
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(sigmas)))
    for ax, (name, matrix) in zip(axes[0], curves.items()):
        for sigma, row, reach, colour in zip(sigmas, matrix, sensitivity_reach(matrix, index), colours):
            ax.plot(np.arange(len(row)), row / max(row.max(), 1e-12), "o-", ms=2.5, color=colour,
                    label=f"sigma {sigma:g}: reach {reach:.1f}")
        ax.legend(fontsize=7)
        ax.axvline(index, color="k", lw=0.6, ls=":")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("noisy input index j")
    axes[0][0].set_ylabel(f"||d x0_hat[{index}] / d x_sigma[j]|| (scaled to max)")
    fig.suptitle(f"{title}: how far the denoiser looks at each noise level", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m ambient_bench.sensitivity CHECKPOINT ... --dataset DATASET_DIR --out sensitivity.png``:
    the locality figure (and its numbers as JSON beside it) for trained policies."""
    from ..data import atomic_write_json, load_dataset
    from ..jobs.provenance import provenance
    from ..policy.policy import CheckpointError, load_checkpoint, policy_from_checkpoint

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("checkpoints", nargs="+", type=Path, help="checkpoint.pt files of finished runs")
    p.add_argument("--dataset", type=Path, required=True, help="dataset directory whose windows are noised")
    p.add_argument("--sigmas", type=float, nargs="+", default=list(DEFAULT_SIGMAS), help="noise levels in (0, 1)")
    p.add_argument("--index", type=int, help="the output action index (default: the chunk's middle)")
    p.add_argument("--windows", type=int, default=64, help="dataset windows averaged over (default 64)")
    p.add_argument("--title", default="denoiser locality")
    p.add_argument("--out", type=Path, default=Path("sensitivity.png"))
    args = p.parse_args(argv)
    if not (args.dataset / "meta.json").is_file():
        p.exit(2, f"error: {args.dataset} is not a dataset directory (no meta.json)\n")
    if not all(0 < s < 1 for s in args.sigmas) or args.windows < 1:
        p.exit(2, "error: --sigmas must lie in (0, 1) and --windows be >= 1\n")
    policies = {}
    for path in args.checkpoints:
        try:
            policies[path.parent.name or str(path)] = policy_from_checkpoint(load_checkpoint(path))
        except (OSError, CheckpointError) as err:
            p.exit(2, f"error: {path}: {err}\n")
    horizons = {policy.config.horizon for policy in policies.values()}
    index = args.index if args.index is not None else min(horizons) // 2
    if not 0 <= index < min(horizons):
        p.exit(2, f"error: --index {index} is outside the chunk (horizon {min(horizons)})\n")
    ds = load_dataset(args.dataset)
    curves = {}
    for name, policy in policies.items():
        if ds.obs.shape[1] != policy.obs_dim or ds.action.shape[1] != policy.action_dim:
            p.exit(2, f"error: {args.dataset} has obs/action dims {ds.obs.shape[1]}/{ds.action.shape[1]}, "
                      f"{name} was trained on {policy.obs_dim}/{policy.action_dim}\n")
        obs, chunks = dataset_windows(ds.obs, ds.action, ds.episode_starts, ds.episode_ends, policy.config.horizon,
                                      args.windows)
        curves[name] = denoiser_sensitivity(policy, obs, chunks, args.sigmas, index)
    # before any file is written (see provenance)
    recorded = provenance({args.dataset.name: ds.sha256})
    plot_sensitivity(curves, args.sigmas, index, args.title, args.out)
    atomic_write_json(args.out.with_suffix(".json"), {"sigmas": args.sigmas, "index": index, "windows": args.windows,
                                                      "dataset": str(args.dataset),
                                                      "checkpoints": [str(path) for path in args.checkpoints],
                                                      "provenance": recorded,
                                                      "sensitivity": {k: v.tolist() for k, v in curves.items()},
                                                      "reach": {k: sensitivity_reach(v, index).tolist()
                                                                for k, v in curves.items()}})
