"""Power spectral density of action chunks: the talk's argument for why ambient works.

Smooth demonstrations concentrate their power at low frequencies (spectral decay); RRT
jitter adds high-frequency power. Gaussian noise of level sigma (variance-preserving,
x_sigma = sqrt(1 - sigma^2) x0 + sigma eps) has a flat spectrum, so it buries every
frequency whose signal power lies below its floor: above sigma_min, the frequencies where
clean and corrupt chunks differ are hidden, and corrupt data is safe to learn from.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def action_chunks(actions: Sequence[np.ndarray], horizon: int) -> np.ndarray:
    """Every window of ``horizon`` consecutive actions of each episode: (N, horizon, D)."""
    windows = [np.lib.stride_tricks.sliding_window_view(np.asarray(a, dtype=float), horizon, axis=0)
               for a in actions if len(a) >= horizon]
    return np.concatenate(windows).transpose(0, 2, 1)


def chunk_power_spectrum(chunks: np.ndarray, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in Hz, mean power per frequency) of (N, H, D) chunks.

    Each chunk and action dimension has its least-squares line removed (absolute
    positions are dominated by the chunk's mean and drift), then a Hann window; the
    power |rfft|^2 / H is averaged over chunks and dimensions. The zero frequency is dropped.
    """
    n, h, _ = chunks.shape
    t = np.arange(h) - (h - 1) / 2
    slope = (chunks * t[None, :, None]).sum(axis=1, keepdims=True) / (t**2).sum()
    detrended = chunks - chunks.mean(axis=1, keepdims=True) - slope * t[None, :, None]
    windowed = detrended * np.hanning(h)[None, :, None]
    power = (np.abs(np.fft.rfft(windowed, axis=1)) ** 2 / h).mean(axis=(0, 2))
    return np.fft.rfftfreq(h, dt_s)[1:], power[1:]


def high_frequency_share(chunks: np.ndarray, dt_s: float = 0.1) -> float:
    """Share of a chunk's (detrended) power in the upper half of the frequencies."""
    freqs, power = chunk_power_spectrum(chunks, dt_s)
    return float(power[freqs > freqs.max() / 2].sum() / power.sum())


def noise_floor(sigma: float, horizon: int) -> float:
    """Per-frequency power of the noise at level ``sigma`` relative to the signal's scale
    (x_sigma / sqrt(1 - sigma^2) = x0 + sigma / sqrt(1 - sigma^2) eps), after the same
    Hann window as ``chunk_power_spectrum``: white noise of that variance."""
    window_energy = float((np.hanning(horizon) ** 2).mean())
    return sigma**2 / (1 - sigma**2) * window_energy


def plot_spectrum(datasets: dict[str, Any], horizon: int, sigmas: Sequence[float], selected: set[float],
                  title: str, path: str | Path, max_chunks: int = 20000) -> Path:
    """Power spectral density of each dataset's action chunks in the policy's normalised
    units (min-max over all datasets to [-1, 1], as the normaliser does), with the noise
    floor of each ``sigmas`` (selected ones bold): below a floor, noise of that level hides
    the data. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .png import save_figure

    actions = {name: [ds.action[a:b] for a, b in zip(ds.episode_starts, ds.episode_ends)] for name, ds in datasets.items()}
    pooled = np.concatenate([np.concatenate(a) for a in actions.values()])
    lo, hi = pooled.min(axis=0), pooled.max(axis=0)
    scale = np.where(hi - lo > 1e-9, (hi - lo) / 2, 1.0)
    fig, ax = plt.subplots(figsize=(6, 4))
    rng = np.random.default_rng(0)
    for name, episodes in actions.items():
        chunks = action_chunks(episodes, horizon)
        chunks = chunks[rng.permutation(len(chunks))[:max_chunks]] / scale
        freqs, power = chunk_power_spectrum(chunks, dt_s=1.0)
        ax.semilogy(freqs, power, "o-", ms=3, label=f"{name} ({len(episodes)} episodes)")
    for sigma in sorted(sigmas):
        bold = sigma in selected
        ax.axhline(noise_floor(sigma, horizon), color="k", lw=1.4 if bold else 0.7, ls="-" if bold else ":",
                   label=f"noise floor, sigma_min = {sigma:g}" + (" (selected)" if bold else ""))
    ax.set_xlabel("frequency (cycles per action step)")
    ax.set_ylabel("power per frequency (normalised actions)")
    ax.set_title(f"{title}: action-chunk spectrum (horizon {horizon}); below a floor, noise hides the data", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m ambient_bench.spectrum DATASET_DIR ... --out spectrum.png``: the figure for any datasets."""
    from ..data import load_dataset

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("datasets", nargs="+", type=Path, help="dataset directories (meta.json + shards)")
    p.add_argument("--horizon", type=int, default=16, help="action-chunk length (default 16)")
    p.add_argument("--sigma-min", type=float, nargs="*", default=[], help="noise floors to draw")
    p.add_argument("--selected", type=float, nargs="*", default=[], help="floors to draw bold")
    p.add_argument("--title", default="datasets")
    p.add_argument("--out", type=Path, default=Path("spectrum.png"))
    args = p.parse_args(argv)
    for path in args.datasets:
        if not (path / "meta.json").is_file():
            p.exit(2, f"error: {path} is not a dataset directory (no meta.json)\n")
    loaded = [load_dataset(path) for path in args.datasets]
    datasets = {ds.meta.get("source", path.name): ds for ds, path in zip(loaded, args.datasets)}
    plot_spectrum(datasets, args.horizon, args.sigma_min, set(args.selected), args.title, args.out)
