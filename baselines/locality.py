"""Locality: corrupt samples only at low noise, sigma <= sigma_max.

At low noise the optimal denoiser is local, so demos whose motions are right but whose
task logic is wrong still teach good motions without teaching their logic.
``alpha`` reweights as in ``ambient``: unset is pooled.
"""

from dataclasses import dataclass

from ambient_bench.policy.baseline import (EVERY_LEVEL, Band, Baseline, check_alpha, check_sigma, clean_share_weight,
                                           register_baseline)


@register_baseline("locality")
@dataclass
class Locality(Baseline):
    sigma_max: float = 0.46
    alpha: float | None = None

    def __post_init__(self):
        self.sigma_max = float(self.sigma_max)
        check_sigma(self.sigma_max, "sigma_max")
        self.alpha = check_alpha(self.alpha)

    def band(self, source, dataset):
        return EVERY_LEVEL if source == "clean" else Band(sigma_min=1.0, sigma_max=self.sigma_max)

    def dataset_weight(self, source):
        return clean_share_weight(self.alpha, source)
