"""Choosing sigma_min with a noise-conditioned classifier (PAPER.md section 2).

A small network c(x_sigma, sigma) -> P(clean) learns to tell noised clean action chunks from
noised corrupt ones at every level of the schedule. Noise contracts distributions, so
at high sigma it can no longer separate them (P(clean) -> 0.5 on corrupt data): from
there on corrupt data is safe. The paper's rule is

    sigma_min = inf{sigma : E_q[c(x_sigma, sigma)] > 0.5 - tau},   tau = 0.05,

applied to the corrupt set's mean curve (per dataset), to each corrupt sample's own
curve (per datapoint), or to groups of samples (per bucket). Everything here works on
tensors of normalised action chunks; wiring into the dataset format is done elsewhere.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .diffusion import NoiseSchedule

log = logging.getLogger(__name__)

# Where one sigma_min holds: the whole corrupt dataset, a bucket of samples, each datapoint.
GRANULARITIES = ("dataset", "bucket", "datapoint")


def annotation_name(granularity: str) -> str:
    """The dataset annotation that stores sigma_min at one granularity."""
    return f"classifier_{granularity}"


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


def _first_admissible_step(curves: np.ndarray, threshold: float) -> np.ndarray:
    """Per row of (n, T): the smallest t* with curve[t] > threshold for every t >= t*
    (T when even the last step is at or below the threshold)."""
    below = curves <= threshold
    T = curves.shape[-1]
    last_below = T - 1 - np.argmax(below[..., ::-1], axis=-1)  # index of the last step at/below
    return np.where(below.any(axis=-1), last_below + 1, 0)


def _sigma_min_from_step(t_star: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """sigma just below the first admissible step (the sampler uses sigma > sigma_min);
    0 when every step is admissible; the largest sigma when none is."""
    padded = np.concatenate([[0.0], sigmas])  # padded[t*] = sigmas[t* - 1], padded[0] = 0
    return padded[np.minimum(t_star, len(sigmas))]


def choose_sigma_min(curve, sigmas, tau: float = 0.05) -> tuple[float, bool]:
    """sigma_min from a corrupt mean P(clean) curve over the grid (both (T,), sigmas increasing).

    Let t* be the smallest step from which the curve stays above 0.5 - tau at every
    larger sigma (the paper's inf{sigma : E_q[c] > 0.5 - tau}, read as "stays above" so a
    spurious dip at high sigma does not win and a spurious bump at low sigma does not
    either). The training sampler admits corrupt data at sigma > sigma_min strictly, so
    the value returned is the grid sigma just BELOW t*: sigmas[t* - 1], and 0.0 when t* = 0
    (corrupt data admissible everywhere); step t* is then the first admissible one.
    If the curve never gets above the threshold, even at the top of the grid, returns
    (sigmas[-1], False): no grid step admits corrupt data; the caller should warn.
    """
    curve = np.asarray(curve, dtype=np.float64)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    t_star = _first_admissible_step(curve[None], 0.5 - tau)
    return float(_sigma_min_from_step(t_star, sigmas)[0]), bool(t_star[0] < len(sigmas))


def moving_average(curves: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along the last axis, edges padded with the end values."""
    if window <= 1:
        return curves
    left, right = (window - 1) // 2, window // 2
    padded = np.pad(curves, [(0, 0)] * (curves.ndim - 1) + [(left, right)], mode="edge")
    cumsum = np.cumsum(np.pad(padded, [(0, 0)] * (curves.ndim - 1) + [(1, 0)]), axis=-1)
    return (cumsum[..., window:] - cumsum[..., :-window]) / window


def annotate_sigma_min(
    curves,
    sigmas,
    tau: float = 0.05,
    granularity: str = "dataset",
    n_buckets: int = 8,
    smoothing: int = 7,
) -> tuple[np.ndarray, dict]:
    """sigma_min for each of M corrupt samples from their P(clean) curves (M, T).

    dataset:   the mean curve over all samples -> one sigma_min for all.
    datapoint: each sample's curve, smoothed along sigma (moving average of ``smoothing``
               steps) -> its own sigma_min.
    bucket:    samples sorted by their per-datapoint t* (ties by mean P(clean)) and cut
               into ``n_buckets`` equal groups; each group's mean curve -> its sigma_min.
    Returns (sigma_min (M,), info) with the threshold, the number of samples whose curve
    never crossed it (they get the largest sigma, i.e. are never used), and per-bucket values.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    curves = np.asarray(curves, dtype=np.float64)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    threshold = 0.5 - tau
    M = len(curves)
    info: dict = {"granularity": granularity, "threshold": threshold, "tau": tau}
    if granularity == "dataset":
        t_star = np.full(M, _first_admissible_step(curves.mean(axis=0)[None], threshold)[0])
    else:
        t_star = _first_admissible_step(moving_average(curves, smoothing), threshold)
        if granularity == "bucket":
            order = np.lexsort((curves.mean(axis=1), t_star))
            groups = np.array_split(order, min(n_buckets, M))
            bucket_t = _first_admissible_step(np.stack([curves[g].mean(axis=0) for g in groups]), threshold)
            for g, t in zip(groups, bucket_t):
                t_star[g] = t
            info["bucket_sizes"] = [len(g) for g in groups]
            info["bucket_sigma_min"] = _sigma_min_from_step(bucket_t, sigmas).tolist()
    sigma_min = _sigma_min_from_step(t_star, sigmas)
    n_never = int((t_star >= len(sigmas)).sum())
    info.update(
        n_never_crossed=n_never,
        sigma_min_mean=float(sigma_min.mean()) if M else float("nan"),
        sigma_min_median=float(np.median(sigma_min)) if M else float("nan"),
    )
    if n_never:
        log.warning(
            "%d of %d corrupt samples never reach mean P(clean) > %.2f (granularity %s): they get the "
            "largest sigma_min %.3f and are never used. If the curves hover near the threshold at high "
            "sigma, raise n_noise_draws or smoothing", n_never, M, threshold, granularity, sigmas[-1],
        )
    return sigma_min, info


# --------------------------------------------------------------------------------------
# Figure
# --------------------------------------------------------------------------------------


def plot_p_clean(
    curves_clean,
    curves_corrupt,
    sigmas,
    sigma_min: float,
    per_sample_sigma_min=None,
    path: str | Path = "p_clean.png",
    tau: float = 0.05,
) -> Path:
    """Mean P(clean) vs sigma for clean and corrupt data (10-90 % band across corrupt samples
    when per-sample curves are given), the threshold 0.5 - tau and the chosen sigma_min;
    with per-sample sigma_min, a second panel holds their histogram."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    sigmas = np.asarray(sigmas, dtype=np.float64)
    clean = np.asarray(curves_clean, dtype=np.float64)
    corrupt = np.asarray(curves_corrupt, dtype=np.float64)
    n_panels = 1 if per_sample_sigma_min is None else 2
    fig = Figure(figsize=(5.5 * n_panels, 4))
    axes = fig.subplots(1, n_panels, squeeze=False)
    ax = axes[0, 0]
    ax.plot(sigmas, clean.mean(axis=0) if clean.ndim == 2 else clean, label="clean", color="tab:blue")
    ax.plot(sigmas, corrupt.mean(axis=0) if corrupt.ndim == 2 else corrupt, label="corrupt", color="tab:red")
    if corrupt.ndim == 2 and len(corrupt) > 1:
        lo, hi = np.quantile(corrupt, [0.1, 0.9], axis=0)
        ax.fill_between(sigmas, lo, hi, color="tab:red", alpha=0.2, label="corrupt 10-90 %")
    ax.axhline(0.5 - tau, color="gray", ls="--", lw=1, label=f"0.5 - tau = {0.5 - tau:.2f}")
    # sigma_min = 0 cannot sit on a log axis: mark it at the bottom of the grid.
    ax.axvline(max(sigma_min, sigmas[0]), color="black", ls=":", label=f"sigma_min = {sigma_min:.3f}")
    ax.set(xscale="log", xlabel="sigma", ylabel="P(clean)", ylim=(0, 1), title="classifier P(clean) vs sigma")
    ax.legend(fontsize=8)
    if per_sample_sigma_min is not None:
        ax = axes[0, 1]
        ax.hist(np.asarray(per_sample_sigma_min), bins=np.linspace(0, 1, 41), color="tab:red", alpha=0.8)
        ax.set(xlabel="sigma_min", ylabel="corrupt samples", title="per-sample sigma_min")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
