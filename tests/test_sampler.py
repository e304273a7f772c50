"""Invariants of every registered baseline's data usage, checked over many sampler draws."""

import numpy as np
import pytest
import torch

from ambient_bench.policy.baseline import make_baseline
from ambient_bench.policy.normalizer import Normalizer
from ambient_bench.policy.sampler import NoiseBandSampler
from ambient_bench.policy.schedule import NoiseSchedule
from ambient_bench.registry import BASELINES

N_DRAWS = 20000
SCHEDULE = NoiseSchedule(100)


def draw(datasets, name, params=None, n=N_DRAWS):
    baseline = make_baseline(name, params or {})
    norm = Normalizer.fit([d.obs for d in datasets.values()], [d.action for d in datasets.values()])
    sampler = NoiseBandSampler(datasets, baseline, SCHEDULE, 16, norm)
    batch = sampler.sample(n, torch.Generator().manual_seed(0))
    return batch, SCHEDULE.sigmas[batch.t], sampler


def test_clean_only_never_sees_corrupt(clean_corrupt):
    batch, _, _ = draw(clean_corrupt, "clean_only")
    assert not batch.is_corrupt.any()


def test_corrupt_only_never_sees_clean(clean_corrupt):
    batch, _, _ = draw(clean_corrupt, "corrupt_only")
    assert batch.is_corrupt.all()


@pytest.mark.parametrize("name", ["ambient", "ambient_loss", "ambient_exclusive"])
def test_ambient_never_shows_corrupt_at_or_below_sigma_min(clean_corrupt, name):
    batch, sigma, _ = draw(clean_corrupt, name, {"sigma_min": 0.3})
    c = batch.is_corrupt
    assert c.any() and (sigma[c] > 0.3).all()
    if name == "ambient_exclusive":
        assert (sigma[~c] <= 0.3).all() and (~c).any()
    else:  # clean data still covers every level, including the lowest
        assert sigma[~c].min() < 0.05


@pytest.mark.parametrize("name", ["locality", "locality_exclusive"])
def test_locality_never_shows_corrupt_above_sigma_max(clean_corrupt, name):
    batch, sigma, _ = draw(clean_corrupt, name, {"sigma_max": 0.2})
    c = batch.is_corrupt
    assert c.any() and (sigma[c] <= 0.2).all()
    if name == "locality_exclusive":
        assert (sigma[~c] > 0.2).all()


def test_ambient_locality_leaves_the_middle_band_clean(clean_corrupt):
    batch, sigma, _ = draw(clean_corrupt, "ambient_locality", {"sigma_min": 0.5, "sigma_max": 0.1})
    c = batch.is_corrupt
    assert ((sigma[c] > 0.5) | (sigma[c] <= 0.1)).all()
    assert (sigma[c] > 0.5).any() and (sigma[c] <= 0.1).any()


@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9])
def test_cotrain_clean_share_matches_alpha(clean_corrupt, alpha):
    batch, _, _ = draw(clean_corrupt, "cotrain", {"alpha": alpha})
    share = (~batch.is_corrupt).float().mean().item()
    assert abs(share - alpha) < 4 * np.sqrt(alpha * (1 - alpha) / N_DRAWS)


@pytest.mark.parametrize("name, params, both", [
    ("ambient", {"sigma_min": 0.3}, lambda sigma: sigma > 0.3),
    ("locality", {"sigma_max": 0.3}, lambda sigma: sigma <= 0.3),
    ("ambient_locality", {"sigma_min": 0.6, "sigma_max": 0.2}, lambda sigma: (sigma > 0.6) | (sigma <= 0.2)),
])
def test_reweighted_bands_draw_alpha_clean_where_both_sources_are_admissible(clean_corrupt, name, params, both):
    alpha = 0.25
    batch, sigma, _ = draw(clean_corrupt, name, {**params, "alpha": alpha})
    inside = both(sigma)
    share = (~batch.is_corrupt[inside]).float().mean().item()
    assert abs(share - alpha) < 4 * np.sqrt(alpha * (1 - alpha) / inside.sum().item())
    assert not batch.is_corrupt[~inside].any()  # outside the band the batch stays clean


def test_unset_alpha_pools_as_before(clean_corrupt):
    pooled, _, _ = draw(clean_corrupt, "ambient", {"sigma_min": 0.3})
    unset, _, _ = draw(clean_corrupt, "ambient", {"sigma_min": 0.3, "alpha": None})
    assert torch.equal(pooled.window, unset.window) and torch.equal(pooled.t, unset.t)
    weighted, _, _ = draw(clean_corrupt, "ambient", {"sigma_min": 0.3, "alpha": 0.9})
    assert (~weighted.is_corrupt).float().mean() > (~pooled.is_corrupt).float().mean() + 0.1


def test_cotrain_with_a_null_alpha_pools_like_every_level_ambient(clean_corrupt):
    """alpha: null is co-training without reweighting: the draws of a band open at every level, pooled."""
    pooled, _, _ = draw(clean_corrupt, "cotrain", {"alpha": None})
    every_level, _, _ = draw(clean_corrupt, "ambient", {"sigma_min": 0.0})
    assert torch.equal(pooled.window, every_level.window) and torch.equal(pooled.is_corrupt, every_level.is_corrupt)
    weighted, _, _ = draw(clean_corrupt, "cotrain", {"alpha": 0.9})
    assert not torch.equal(pooled.is_corrupt, weighted.is_corrupt)


def test_soft_ambient_at_zero_temperature_is_the_hard_band(clean_corrupt):
    hard = draw(clean_corrupt, "ambient", {"sigma_min": 0.3}, n=10)[2]
    soft = draw(clean_corrupt, "ambient_soft", {"sigma_min": 0.3, "temperature": 1e-6}, n=10)[2]
    warm = draw(clean_corrupt, "ambient_soft", {"sigma_min": 0.3, "temperature": 0.5}, n=10)[2]
    assert torch.allclose(hard.dataset_cdf, soft.dataset_cdf, atol=1e-9)
    assert not torch.allclose(hard.dataset_cdf, warm.dataset_cdf, atol=1e-3)


def test_soft_ambient_shows_corrupt_samples_in_proportion_to_their_weight(clean_corrupt):
    """Pooled: at each level the corrupt share is n_c w / (n_c w + n_clean), here near sigma_min (w = 1/2)."""
    batch, sigma, sampler = draw(clean_corrupt, "ambient_soft", {"sigma_min": 0.3, "temperature": 0.3}, n=60000)
    n_clean, n_corrupt = (sampler.window_dataset == 0).sum().item(), (sampler.window_dataset == 1).sum().item()
    near = (sigma > 0.3 * np.exp(-0.05)) & (sigma < 0.3 * np.exp(0.05))
    weight = 0.5 * (1 + np.tanh((np.log(sigma[near].numpy()) - np.log(0.3)) / 0.3 / 2))
    expected = float(np.mean(n_corrupt * weight / (n_corrupt * weight + n_clean)))
    share = batch.is_corrupt[near].float().mean().item()
    assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / near.sum().item())
    low = sigma < 0.3 * np.exp(-1.5)  # w < 0.01: corrupt samples almost never
    assert batch.is_corrupt[low].float().mean().item() < 0.02


def test_a_noise_weight_out_of_range_is_refused(clean_corrupt):
    baseline = make_baseline("ambient", {"sigma_min": 0.3})
    baseline.noise_weight = lambda source, sigmas: 2 * np.ones_like(sigmas)
    norm = Normalizer.fit([d.obs for d in clean_corrupt.values()], [d.action for d in clean_corrupt.values()])
    with pytest.raises(ValueError, match=r"noise_weight\('clean'\) must give one value in \[0, 1\]"):
        NoiseBandSampler(clean_corrupt, baseline, SCHEDULE, 16, norm)


def test_every_registered_baseline_draws_only_admissible_pairs(clean_corrupt):
    for name in BASELINES.names():
        if BASELINES.get(name).requires_annotation:
            continue
        batch, _, sampler = draw(clean_corrupt, name, n=4000)
        assert sampler.admissible(batch.window, batch.t).all(), name
        assert batch.action.shape == (4000, 16, 2) and batch.obs.shape == (4000, 4), name


def test_admissible_agrees_with_bands(clean_corrupt):
    _, _, sampler = draw(clean_corrupt, "ambient", {"sigma_min": 0.3}, n=10)
    w = torch.arange(len(sampler.window_start))
    for t in (0, 10, 50, 99):
        ok = sampler.admissible(w, torch.full_like(w, t))
        corrupt = sampler.window_corrupt
        assert ok[~corrupt].all()
        assert bool(ok[corrupt].all()) == bool(SCHEDULE.sigmas[t] > 0.3)


def test_per_sample_bands_with_few_admissible_samples(clean_corrupt):
    """Per-datapoint annotations: only a handful of corrupt windows are admissible at low t;
    the sampler must still draw them exactly (no rejection loop, no leakage)."""
    corrupt = clean_corrupt["corrupt"]
    sigma_min = np.full(len(corrupt.obs), 0.9)
    sigma_min[:5] = 0.0  # five windows usable everywhere
    from ambient_bench.data import write_annotation

    write_annotation(corrupt, "classifier_datapoint", {"sigma_min": sigma_min}, {"test": True})
    batch, sigma, sampler = draw(clean_corrupt, "ambient_classifier", {"granularity": "datapoint"})
    c = batch.is_corrupt
    low = c & (sigma <= 0.9)
    assert low.any()
    assert (batch.sigma_min[low] == 0.0).all()



def test_windows_are_slices_padded_with_the_last_action(clean_corrupt):
    batch, _, sampler = draw(clean_corrupt, "clean_only", n=500)
    for i in range(0, 500, 37):
        start = int(sampler.window_start[batch.window[i]])
        end = int(sampler.window_end[batch.window[i]])
        idx = np.minimum(np.arange(start, start + 16), end - 1)
        assert torch.equal(batch.action[i], sampler.action[idx])
        assert torch.equal(batch.obs[i], sampler.obs[start])


def test_episode_start_windows_begin_only_at_episode_starts(clean_corrupt):
    baseline = make_baseline("cotrain", {"alpha": 0.5})
    norm = Normalizer.fit([d.obs for d in clean_corrupt.values()], [d.action for d in clean_corrupt.values()])
    sampler = NoiseBandSampler(clean_corrupt, baseline, SCHEDULE, 16, norm, window_starts="episode_start")
    n_episodes = sum(len(d.episode_ends) for d in clean_corrupt.values())
    assert len(sampler.window_start) == n_episodes
    firsts = set(np.concatenate([[0], clean_corrupt["clean"].episode_ends[:-1]]).tolist())
    offset = len(clean_corrupt["clean"].obs)
    firsts |= set((offset + np.concatenate([[0], clean_corrupt["corrupt"].episode_ends[:-1]])).tolist())
    batch = sampler.sample(2000, torch.Generator().manual_seed(0))
    assert set(sampler.window_start[batch.window].tolist()) <= firsts
    assert batch.is_corrupt.any() and not batch.is_corrupt.all()
    with pytest.raises(ValueError, match="window_starts"):
        NoiseBandSampler(clean_corrupt, baseline, SCHEDULE, 16, norm, window_starts="middle")
