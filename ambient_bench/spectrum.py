"""Power spectral density of action chunks: the talk's argument for why ambient works.

Smooth demonstrations concentrate their power at low frequencies (spectral decay); RRT
jitter adds high-frequency power. Gaussian noise of level sigma (variance-preserving,
x_sigma = sqrt(1 - sigma^2) x0 + sigma eps) has a flat spectrum, so it buries every
frequency whose signal power lies below its floor: above sigma_min, the frequencies where
clean and corrupt chunks differ are hidden, and corrupt data is safe to learn from.
"""

from __future__ import annotations

from typing import Sequence

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
