"""Choosing sigma_min with the noise-conditioned classifier, on small synthetic action chunks.

Clean chunks are smooth (a few low-frequency sinusoids); corrupt chunks add high-frequency
jitter. Noise hides jitter of amplitude a once sigma is a few times a, so the chosen
sigma_min must grow with a, vanish when the sets are identical, and tell mixed samples apart.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from ambient_bench.classifier.annotation import CHUNK_FEATURES
from ambient_bench.classifier.model import ClassifierConfig
from ambient_bench.classifier.sigma_min import (annotate_sigma_min, choose_sigma_min, is_uninformative, moving_average,
                                                plot_p_clean)
from ambient_bench.classifier.training import p_clean_curves, train_classifier
from ambient_bench.policy.schedule import NoiseSchedule

HORIZON, ACTION_DIM, N = 16, 2, 256
SCHEDULE = NoiseSchedule(100)
SIGMAS = SCHEDULE.sigmas.numpy()
FAST = ClassifierConfig(hidden_channels=16, n_blocks=2, steps=500, batch_size=128, lr=3e-3, n_noise_draws=2)


def smooth_chunks(n: int, seed: int) -> torch.Tensor:
    """(n, H, A) sums of three low-frequency sinusoids plus an offset, scaled into [-0.8, 0.8]."""
    rng = np.random.default_rng(seed)
    s = np.linspace(0.0, 1.0, HORIZON)[None, :, None]
    x = rng.normal(size=(n, 1, ACTION_DIM))
    for k in (1, 2, 3):
        amp = rng.normal(size=(n, 1, ACTION_DIM)) / k
        phase = rng.uniform(0, 2 * np.pi, size=(n, 1, ACTION_DIM))
        x = x + amp * np.sin(0.5 * np.pi * k * s + phase)
    return torch.tensor(0.8 * x / np.abs(x).max(axis=(1, 2), keepdims=True), dtype=torch.float32)


def jitter(n: int, seed: int) -> torch.Tensor:
    """Unit-variance high-pass noise: scaled first differences of white noise."""
    w = np.random.default_rng(seed).normal(size=(n, HORIZON + 1, ACTION_DIM))
    return torch.tensor((w[:, 1:] - w[:, :-1]) / np.sqrt(2.0), dtype=torch.float32)


def classify(clean: torch.Tensor, corrupt: torch.Tensor):
    model, report = train_classifier(clean, corrupt, SCHEDULE, FAST)
    return p_clean_curves(model, corrupt, SCHEDULE, FAST.n_noise_draws).numpy(), report


@pytest.fixture(scope="module")
def clean() -> torch.Tensor:
    return smooth_chunks(N, seed=0)


@pytest.fixture(scope="module")
def by_amplitude(clean) -> dict[float, tuple[np.ndarray, dict]]:
    base = smooth_chunks(N, seed=1)
    return {a: classify(clean, base + a * jitter(N, seed=2)) for a in (0.05, 0.15, 0.5)}


# --- choose_sigma_min on hand-made curves ------------------------------------------------


def test_curve_crossing_gives_sigma_just_below_first_admissible_step():
    curve = np.where(np.arange(100) >= 30, 0.5, 0.1)
    assert choose_sigma_min(curve, SIGMAS) == (SIGMAS[29], True)
    # Every step above the threshold: corrupt data is admissible everywhere.
    assert choose_sigma_min(np.full(100, 0.6), SIGMAS) == (0.0, True)
    # Exactly at the threshold is not above it.
    assert choose_sigma_min(np.full(100, 0.45), SIGMAS, tau=0.05) == (SIGMAS[-1], False)


def test_curve_never_crossing_returns_largest_sigma_and_flag():
    curve = np.linspace(0.0, 0.4, 100)
    assert choose_sigma_min(curve, SIGMAS) == (SIGMAS[-1], False)
    # Above only below the top: the last step still fails, so nothing is admissible.
    curve = np.full(100, 0.5)
    curve[-1] = 0.3
    assert choose_sigma_min(curve, SIGMAS) == (SIGMAS[-1], False)


def test_dip_at_mid_sigma_moves_sigma_min_above_the_dip():
    curve = np.where(np.arange(100) >= 10, 0.5, 0.1)
    curve[40:45] = 0.3  # the curve crosses at t = 10 but falls back below
    sigma_min, crossed = choose_sigma_min(curve, SIGMAS, tau=0.05)
    assert crossed and sigma_min == SIGMAS[44]


def test_moving_average_keeps_shape_and_constants():
    curves = np.stack([np.full(100, 0.3), np.arange(100.0)])
    smoothed = moving_average(curves, 5)
    assert smoothed.shape == curves.shape
    np.testing.assert_allclose(smoothed[0], 0.3)
    np.testing.assert_allclose(smoothed[1, 2:-2], curves[1, 2:-2])  # linear stays linear inside


def test_annotate_granularities_on_hand_made_curves(caplog):
    steps = np.arange(100)
    crossings = np.array([0, 0, 20, 20, 60, 60, 100, 100])  # the last two never cross
    curves = np.where(steps[None] >= crossings[:, None], 0.6, 0.2)

    per_datapoint, info = annotate_sigma_min(curves, SIGMAS, granularity="datapoint", smoothing=1)
    expected = np.concatenate([[0.0], SIGMAS])[crossings]
    np.testing.assert_array_equal(per_datapoint, expected)
    assert info["n_never_crossed"] == 2

    per_dataset, info = annotate_sigma_min(curves, SIGMAS, granularity="dataset")
    np.testing.assert_array_equal(per_dataset, np.full(8, SIGMAS[59]))  # the mean is 0.5 from t = 60 on
    assert info["n_never_crossed"] == 0

    with caplog.at_level(logging.WARNING):
        per_bucket, info = annotate_sigma_min(curves, SIGMAS, granularity="bucket", n_buckets=4)
    np.testing.assert_array_equal(per_bucket, expected)  # sorted pairs share a crossing step
    assert info["bucket_sizes"] == [2, 2, 2, 2] and "never reach" in caplog.text

    with pytest.raises(ValueError, match="granularity"):
        annotate_sigma_min(curves, SIGMAS, granularity="episode")


# --- the trained classifier ------------------------------------------------------------------


def test_identical_sets_give_sigma_min_at_the_bottom(clean):
    curves, report = classify(clean, clean.clone())
    sigma_min, _ = annotate_sigma_min(curves, SIGMAS, granularity="dataset")
    assert sigma_min[0] == 0.0
    assert report["held_out_sigma_min"] == 0.0
    assert report["accuracy"] < 0.55  # nothing to separate
    assert not is_uninformative(report["accuracy_per_t"], sigma_min[0], SIGMAS)  # and sigma_min says so


def test_a_classifier_that_memorised_a_small_clean_set_is_flagged():
    """Clean and corrupt chunks from one distribution: nothing for noise to hide, yet a
    classifier that memorised 8 clean chunks calls unseen ones corrupt at every noise level,
    so its curve gives a high sigma_min (the arm quick preset's 0.947). Its held-out accuracy
    at the lowest noise level gives it away."""
    curves, report = classify(smooth_chunks(8, seed=10), smooth_chunks(N, seed=11))
    sigma_min, _ = choose_sigma_min(curves.mean(axis=0), SIGMAS)
    assert sigma_min > 0.5, sigma_min
    assert report["accuracy_per_t"][0] < 0.55
    assert is_uninformative(report["accuracy_per_t"], sigma_min, SIGMAS)


def test_sigma_min_grows_with_jitter_amplitude(by_amplitude):
    chosen = [choose_sigma_min(curves.mean(axis=0), SIGMAS)[0] for curves, _ in by_amplitude.values()]
    assert all(lo <= hi for lo, hi in zip(chosen, chosen[1:])), chosen
    assert chosen[-1] > chosen[0] + 0.3, chosen


def test_held_out_accuracy_falls_with_noise(by_amplitude):
    acc = np.array(by_amplitude[0.5][1]["accuracy_per_t"])
    assert acc.shape == (SCHEDULE.num_steps,)
    assert acc[:5].mean() > 0.95  # heavy jitter is obvious at low noise
    assert not is_uninformative(acc.tolist(), by_amplitude[0.5][1]["held_out_sigma_min"], SIGMAS)
    assert abs(acc[-20:].mean() - 0.5) < 0.05  # and invisible at the top


def test_per_datapoint_separates_a_mixed_corrupt_set(clean):
    half = N // 2
    corrupt = torch.cat([clean[:half], smooth_chunks(half, seed=3) + 0.5 * jitter(half, seed=4)])
    curves, _ = classify(clean, corrupt)
    sigma_min, info = annotate_sigma_min(curves, SIGMAS, granularity="datapoint")
    identical, jittered = np.median(sigma_min[:half]), np.median(sigma_min[half:])
    assert identical < 0.1 and jittered > identical + 0.3, (identical, jittered)
    per_bucket, info = annotate_sigma_min(curves, SIGMAS, granularity="bucket", n_buckets=2)
    assert per_bucket[:half].mean() < per_bucket[half:].mean() - 0.2, info


def test_centred_features_ignore_where_a_chunk_lies(clean):
    """The same kind of motion in another place: absolute chunks tell the sets apart even
    under heavy noise (a shift survives it), centred ones cannot tell them apart at all."""
    elsewhere = smooth_chunks(N, seed=6) + 0.5
    centred = [torch.from_numpy(CHUNK_FEATURES["centred"](x.numpy())) for x in (clean, elsewhere)]
    assert torch.allclose(centred[1].mean(dim=1), torch.zeros(N, ACTION_DIM), atol=1e-6)
    _, absolute_report = classify(clean, elsewhere)
    _, centred_report = classify(*centred)
    assert absolute_report["held_out_sigma_min"] > 0.3, absolute_report["held_out_sigma_min"]
    assert centred_report["held_out_sigma_min"] < 0.1, centred_report["held_out_sigma_min"]
    assert centred_report["accuracy"] < 0.55 < absolute_report["accuracy"]


def test_detrended_features_keep_only_how_a_chunk_bends(clean):
    """Adding any straight line in time (a place and a mean velocity) to a chunk leaves its
    detrended view unchanged, and a straight line alone detrends to zero."""
    detrended = CHUNK_FEATURES["detrended"]
    t = torch.arange(HORIZON, dtype=torch.float32)[None, :, None]
    line = (torch.randn(N, 1, ACTION_DIM, generator=torch.Generator().manual_seed(7)) * t / HORIZON + 0.3).numpy()
    assert np.abs(detrended(line)).max() < 1e-5
    np.testing.assert_allclose(detrended(clean.numpy() + line), detrended(clean.numpy()), atol=1e-5)
    assert detrended(clean.numpy()).dtype == np.float32
    assert np.abs(detrended(clean.numpy())).max() > 0.1  # the bends stay


TINY = ClassifierConfig(hidden_channels=8, n_blocks=1, steps=20, batch_size=32, n_noise_draws=1)


def test_training_is_deterministic_given_the_seed(clean):
    corrupt = clean + 0.3 * jitter(N, seed=5)
    threads = torch.get_num_threads()
    runs = [train_classifier(clean, corrupt, SCHEDULE, TINY) for _ in range(2)]
    for a, b in zip(runs[0][0].parameters(), runs[1][0].parameters()):
        assert torch.equal(a, b)
    assert runs[0][1]["accuracy_per_t"] == runs[1][1]["accuracy_per_t"]
    assert torch.get_num_threads() == threads  # the thread setting is restored


def test_held_out_split_keeps_groups_whole(clean):
    groups = np.arange(N) // 8  # e.g. 8 overlapping chunks per episode
    _, report = train_classifier(clean, clean, SCHEDULE, TINY, clean_groups=groups, corrupt_groups=groups)
    n_clean_held, n_corrupt_held = report["n_held_out"]
    assert n_clean_held % 8 == 0 and n_corrupt_held % 8 == 0
    assert n_clean_held >= TINY.held_out_fraction * N
    assert sum(report["n_train"]) + sum(report["n_held_out"]) == 2 * N


def test_plot_writes_a_png(tmp_path, by_amplitude):
    curves, report = by_amplitude[0.5]
    sigma_min, _ = annotate_sigma_min(curves, SIGMAS, granularity="datapoint")
    clean_curve = report["held_out_p_clean_of_clean"]
    median = float(np.median(sigma_min))
    path = plot_p_clean(clean_curve, curves, SIGMAS, median, sigma_min, tmp_path / "p.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
