"""The noise-dependent data sampler: the one place where methods differ.

Per batch element it draws a diffusion step t, then a training window admissible at t
under the baseline's bands, choosing the dataset by the baseline's weights among those
with admissible samples (or pooled: uniform over admissible samples), each dataset's mass
at t scaled by the baseline's noise weight of its source there. Everything is
vectorised: windows are grouped by (dataset, band start, band end) once, and a batch is
a few searchsorted/gather calls -- no per-item Python loop and no rejection sampling, so
per-datapoint annotations cost the same as per-dataset ones.

A window starting at step k of an episode is (obs[k], action[k : k + horizon]), the
actions padded past the episode's end with its last action. Windows start at every step
(``window_starts="every_step"``, receding-horizon policies) or only at each episode's
first step (``"episode_start"``: a policy that predicts a whole plan open-loop from the
start, where a window from mid-plan would teach it plans that begin elsewhere).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from ..config.sections import WINDOW_STARTS
from ..data import Dataset
from .baseline import Baseline
from .normalizer import Normalizer
from .schedule import NoiseSchedule

log = logging.getLogger(__name__)


@dataclass
class Batch:
    obs: torch.Tensor  # (B, obs_dim), normalised
    action: torch.Tensor  # (B, horizon, act_dim), normalised
    t: torch.Tensor  # (B,) diffusion steps
    sigma_min: torch.Tensor  # (B,) the sample's sigma_min (for the ambient loss)
    is_corrupt: torch.Tensor  # (B,) bool
    dataset: torch.Tensor  # (B,) index into the sampler's dataset list
    window: torch.Tensor  # (B,) window ids (for invariant checks)


class NoiseBandSampler:
    def __init__(
        self,
        datasets: dict[str, Dataset],
        baseline: Baseline,
        schedule: NoiseSchedule,
        horizon: int,
        normalizer: Normalizer,
        window_starts: str = "every_step",
    ):
        if window_starts not in WINDOW_STARTS:
            raise ValueError(f"window_starts={window_starts!r}; valid: {', '.join(WINDOW_STARTS)}")
        self.schedule = schedule
        self.horizon = horizon
        T = schedule.num_steps
        obs, act, ends, starts, ds_id, s_min, s_max, corrupt = [], [], [], [], [], [], [], []
        weights, noise_weights, offset, self.names = [], [], 0, []
        for name, ds in datasets.items():
            source = str(ds.episode_source[0])
            band = baseline.band(source, ds)
            if band is None:
                continue
            n = len(ds.obs)
            rows = np.arange(n) if window_starts == "every_step" else ds.episode_starts
            obs.append(ds.obs)
            act.append(ds.action)
            ends.append(np.repeat(ds.episode_ends, np.diff(np.concatenate([[0], ds.episode_ends])))[rows] + offset)
            starts.append(rows + offset)
            ds_id.append(np.full(len(rows), len(self.names)))
            s_min.append(np.broadcast_to(np.asarray(band.sigma_min, dtype=np.float64), (n,))[rows])
            s_max.append(np.broadcast_to(np.asarray(band.sigma_max, dtype=np.float64), (n,))[rows])
            corrupt.append(np.full(len(rows), source == "corrupt"))
            weights.append(baseline.dataset_weight(source))
            noise_weights.append(_noise_weight(baseline, source, schedule))
            self.names.append(name)
            offset += n
        if not self.names:
            raise ValueError(f"baseline {baseline.name!r} uses none of the datasets {list(datasets)}")
        # The dataset lives once in memory, normalised once.
        self.obs = torch.from_numpy(normalizer.normalize_obs(np.concatenate(obs)))
        self.action = torch.from_numpy(normalizer.normalize_action(np.concatenate(act)))
        self.window_end = torch.from_numpy(np.concatenate(ends))
        self.window_start = torch.from_numpy(np.concatenate(starts))
        self.window_dataset = torch.from_numpy(np.concatenate(ds_id))
        self.window_sigma_min = torch.from_numpy(np.concatenate(s_min).copy())
        self.window_corrupt = torch.from_numpy(np.concatenate(corrupt))

        # Band in step indices: admissible at t iff t >= first_t or t <= last_t.
        first_t = schedule.first_t_above(torch.from_numpy(np.concatenate(s_min).copy()))
        last_t = schedule.last_t_at_or_below(torch.from_numpy(np.concatenate(s_max).copy()))
        key = (self.window_dataset * (T + 2) + first_t) * (T + 2) + (last_t + 1)
        group_key, group_of_window, counts = torch.unique(key, return_inverse=True, return_counts=True)
        self.window_order = torch.argsort(group_of_window, stable=True)
        self.group_offset = torch.cumsum(counts, 0) - counts
        self.group_count = counts
        g_last = group_key % (T + 2) - 1
        g_first = (group_key // (T + 2)) % (T + 2)
        g_dataset = group_key // ((T + 2) * (T + 2))
        steps = torch.arange(T)[:, None]
        admissible = (steps >= g_first[None]) | (steps <= g_last[None])  # (T, G)
        n_datasets = len(self.names)
        # counts per (t, dataset, group): zero outside the dataset
        per_group = (admissible * counts[None]).double()  # (T, G)
        in_dataset = g_dataset[None, :] == torch.arange(n_datasets)[:, None]  # (D, G)
        per_dg = per_group[:, None, :] * in_dataset[None].double()  # (T, D, G)
        n_admissible = per_dg.sum(-1)  # (T, D)
        noise_weight = torch.stack(noise_weights, dim=1)  # (T, D)
        if all(w is None for w in weights):
            dataset_p = n_admissible * noise_weight
        elif any(w is None for w in weights):
            raise ValueError(f"baseline {baseline.name!r} weights some datasets but not others")
        else:
            dataset_p = torch.tensor(weights, dtype=torch.float64)[None] * (n_admissible > 0) * noise_weight
        self.usable_t = torch.nonzero(dataset_p.sum(1) > 0).flatten()
        if len(self.usable_t) == 0:
            raise ValueError(f"baseline {baseline.name!r} admits no sample at any noise level")
        if len(self.usable_t) < T:
            log.warning("%s: no admissible sample at %d of %d noise levels; t is drawn from the rest",
                        baseline.name, T - len(self.usable_t), T)
        self.dataset_cdf = _cdf(dataset_p)  # (T, D)
        self.group_cdf = _cdf(per_dg)  # (T, D, G)
        self.group_first_t, self.group_last_t = g_first, g_last
        self.group_dataset = g_dataset
        self.offsets = torch.arange(horizon)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        u = torch.rand(batch_size, 4, generator=generator, dtype=torch.float64)
        t = self.usable_t[(u[:, 0] * len(self.usable_t)).long().clamp_max(len(self.usable_t) - 1)]
        d = _search(self.dataset_cdf[t], u[:, 1])
        g = _search(self.group_cdf[t, d], u[:, 2])
        within = (u[:, 3] * self.group_count[g]).long().clamp_max(self.group_count[g] - 1)
        w = self.window_order[self.group_offset[g] + within]
        return self.gather(w, t)

    def gather(self, windows: torch.Tensor, t: torch.Tensor) -> Batch:
        start = self.window_start[windows]
        idx = torch.minimum(start[:, None] + self.offsets[None], self.window_end[windows, None] - 1)
        return Batch(
            obs=self.obs[start],
            action=self.action[idx],
            t=t,
            sigma_min=self.window_sigma_min[windows],
            is_corrupt=self.window_corrupt[windows],
            dataset=self.window_dataset[windows],
            window=windows,
        )

    def admissible(self, windows: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Whether each (window, t) pair is inside the window's band (for invariant tests)."""
        order_pos = torch.empty_like(self.window_order)
        order_pos[self.window_order] = torch.arange(len(self.window_order))
        g = torch.searchsorted(self.group_offset, order_pos[windows], right=True) - 1
        return (t >= self.group_first_t[g]) | (t <= self.group_last_t[g])


def _noise_weight(baseline: Baseline, source: str, schedule: NoiseSchedule) -> torch.Tensor:
    """The baseline's noise weight of ``source`` on the schedule's grid, (T,) float64, checked."""
    sigmas = schedule.sigmas.double().numpy()
    weight = baseline.noise_weight(source, sigmas)
    if weight is None:
        return torch.ones(len(sigmas), dtype=torch.float64)
    weight = np.asarray(weight, dtype=np.float64)
    if weight.shape != sigmas.shape or not np.all((weight >= 0) & (weight <= 1)):
        raise ValueError(f"baseline {baseline.name!r}: noise_weight({source!r}) must give one value in [0, 1] "
                         f"per noise level ({len(sigmas)}), got shape {weight.shape}")
    return torch.from_numpy(weight)


def _cdf(p: torch.Tensor) -> torch.Tensor:
    """Normalised cumulative sums along the last axis (rows of zeros stay zero)."""
    c = torch.cumsum(p, -1)
    total = c[..., -1:].clamp_min(1e-300)
    return c / total


def _search(cdf_rows: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF draw per row: the first index whose cumulative mass exceeds u."""
    idx = torch.searchsorted(cdf_rows.contiguous(), u[:, None].contiguous(), right=True).squeeze(1)
    return idx.clamp_max(cdf_rows.shape[-1] - 1)
