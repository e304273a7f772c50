"""The paper's rule for sigma_min, read off the classifier's P(clean) curves.

Noise contracts distributions, so at high sigma the classifier can no longer separate
clean from corrupt chunks (P(clean) -> 0.5 on corrupt data): from there on corrupt data
is safe. The rule is

    sigma_min = inf{sigma : E_q[c(x_sigma, sigma)] > 0.5 - tau},   tau = 0.05,

applied to the corrupt set's mean curve (per dataset), to each corrupt sample's own
curve (per datapoint), or to groups of samples (per bucket).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


# Where one sigma_min holds: the whole corrupt dataset, a bucket of samples, each datapoint.
GRANULARITIES = ("dataset", "bucket", "datapoint")


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


# Held-out balanced accuracy at the lowest noise level below which the classifier is taken to
# separate no unseen clean and corrupt chunks at all (chance is 0.5).
MIN_SEPARATING_ACCURACY = 0.6


def is_uninformative(held_out_accuracy_per_t, sigma_min: float, sigmas) -> bool:
    """Whether a sigma_min above the grid's bottom comes from a classifier that barely separates
    unseen chunks even at the lowest noise level. Such a classifier tells apart at most the
    chunks it trained on (e.g. it memorised a small clean set and calls every chunk it has not
    seen corrupt, at every noise level): the sigma_min read off its curves then measures that
    bias, not where noise hides the corruption (the arm quick preset: 60 clean plans, held-out
    accuracy 0.53 at sigma 0.025, sigma_min 0.947; tests: clean and corrupt chunks from one
    distribution give the same)."""
    if not held_out_accuracy_per_t:
        return False
    return held_out_accuracy_per_t[0] < MIN_SEPARATING_ACCURACY and sigma_min > float(sigmas[0])


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
