"""Annotating a corrupt dataset with the classifier's sigma_min.

``annotate_pair`` trains the classifier on the action chunks of a clean and a corrupt
dataset, as the policy sees them, and writes sigma_min at every granularity as annotations
of the corrupt one (``classifier_<granularity>``), with the classifier's config and
held-out accuracy as provenance; training then reads them like any other sigma_min.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config.typed import to_dict
from ..data import Dataset, write_annotation
from ..policy.normalizer import Normalizer
from ..policy.schedule import NoiseSchedule
from .model import ClassifierConfig
from .sigma_min import GRANULARITIES, annotate_sigma_min, is_uninformative, plot_p_clean
from .training import intra_op_threads, p_clean_curves, train_classifier

log = logging.getLogger(__name__)


def annotation_name(granularity: str) -> str:
    """The dataset annotation that stores sigma_min at one granularity."""
    return f"classifier_{granularity}"


def chunk_windows(ds: Dataset, horizon: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Window starts (every ``stride`` steps of each episode) and their action chunks
    (H steps, padded past the episode's end with its last action), as the policy sees them."""
    starts, ends = [], []
    for s, e in zip(ds.episode_starts, ds.episode_ends):
        k = np.arange(s, e, stride)
        starts.append(k)
        ends.append(np.full(len(k), e))
    start, end = np.concatenate(starts), np.concatenate(ends)
    idx = np.minimum(start[:, None] + np.arange(horizon)[None], end[:, None] - 1)
    return start, ds.action[idx]


def centred(chunks: np.ndarray) -> np.ndarray:
    """Each chunk (n, H, A) minus its own mean action: its shape in time, not its place."""
    return chunks - chunks.mean(axis=1, keepdims=True)


def detrended(chunks: np.ndarray) -> np.ndarray:
    """Each chunk (n, H, A) minus its least-squares straight line in time, per action
    dimension: neither its place nor its mean velocity, only how it bends and jitters."""
    t = np.arange(chunks.shape[1], dtype=np.float64)
    basis = np.stack([np.ones_like(t), t - t.mean()], axis=1)  # (H, 2)
    coef, *_ = np.linalg.lstsq(basis, chunks.transpose(1, 0, 2).reshape(len(t), -1), rcond=None)
    line = (basis @ coef).reshape(len(t), len(chunks), -1).transpose(1, 0, 2)
    return (chunks - line).astype(chunks.dtype)


# ClassifierConfig.features -> what the classifier sees of a normalised chunk (n, H, A).
CHUNK_FEATURES = {"absolute": lambda chunks: chunks, "centred": centred, "detrended": detrended}


def annotate_pair(clean: Dataset, corrupt: Dataset, horizon: int, num_steps: int, config: ClassifierConfig,
                  figure_dir: Path, key: str) -> dict[str, Any]:
    """Train the classifier and write all three granularities onto ``corrupt``."""
    normalizer = Normalizer.fit([clean.obs, corrupt.obs], [clean.action, corrupt.action])
    stride = horizon  # non-overlapping windows: every step belongs to exactly one datapoint
    clean_start, clean_chunks = chunk_windows(clean, horizon, stride)
    corrupt_start, corrupt_chunks = chunk_windows(corrupt, horizon, stride)
    view = CHUNK_FEATURES[config.features]  # its name is checked with the run's config (pipeline.checks)
    to_tensor = lambda a: torch.from_numpy(view(normalizer.normalize_action(a)))  # noqa: E731
    schedule = NoiseSchedule(num_steps)
    model, report = train_classifier(
        to_tensor(clean_chunks), to_tensor(corrupt_chunks), schedule, config,
        clean_groups=clean.step_episode[clean_start], corrupt_groups=corrupt.step_episode[corrupt_start],
    )
    with intra_op_threads(config.num_threads):
        curves_corrupt = p_clean_curves(model, to_tensor(corrupt_chunks), schedule, config.n_noise_draws).numpy()
        curves_clean = p_clean_curves(model, to_tensor(clean_chunks), schedule, config.n_noise_draws).numpy()
    sigmas = schedule.sigmas.numpy()
    # Each step takes the value of the latest computed window at or before it.
    window_of_step = np.searchsorted(corrupt_start, np.arange(len(corrupt.obs)), side="right") - 1
    summary = {"config_hash": key, "accuracy": report.get("accuracy"),
               "accuracy_per_t": report.get("accuracy_per_t"), "granularities": {}}
    per_window = {}
    for granularity in GRANULARITIES:
        sigma_min, info = annotate_sigma_min(curves_corrupt, sigmas, config.tau, granularity,
                                             config.n_buckets, config.smoothing)
        per_window[granularity] = sigma_min
        write_annotation(corrupt, annotation_name(granularity), {"sigma_min": sigma_min[window_of_step]},
                         {"classifier": to_dict(config), "config_hash": key, "info": info,
                          "accuracy": report.get("accuracy"), "window_stride": stride})
        summary["granularities"][granularity] = info
    dataset_sigma_min = float(per_window["dataset"][0])
    held_out = report.get("accuracy_per_t")
    summary["uninformative"] = is_uninformative(held_out, dataset_sigma_min, sigmas)
    if summary["uninformative"]:
        in_sample = 0.5 * ((curves_clean[:, 0] > 0.5).mean() + (curves_corrupt[:, 0] < 0.5).mean())
        log.warning("the sigma_min classifier for %s barely separates held-out chunks even at sigma %.3f (balanced "
                    "accuracy %.3f; %.3f on all %d + %d chunks, mostly its training ones): its sigma_min %.3f reflects "
                    "what it memorised, not where noise hides the corruption; give it more clean data or other "
                    "classifier.features, or select sigma_min by the sweep", corrupt.path.name, sigmas[0],
                    held_out[0], in_sample, len(clean_chunks), len(corrupt_chunks), dataset_sigma_min)
    plot_p_clean(curves_clean, curves_corrupt, sigmas, dataset_sigma_min,
                 per_sample_sigma_min=per_window["datapoint"], path=figure_dir / f"p_clean-{corrupt.path.name}.png",
                 tau=config.tau)
    log.info("classifier sigma_min for %s: per dataset %.3f, per datapoint median %.3f",
             corrupt.path.name, dataset_sigma_min, np.median(per_window["datapoint"]))
    return summary


def is_annotated(ds: Dataset, key: str) -> bool:
    records = [ds.path / "annotations" / f"{annotation_name(g)}.json" for g in GRANULARITIES]
    return all(name in ds.annotations for name in map(annotation_name, GRANULARITIES)) and all(
        key in r.read_text() for r in records)
