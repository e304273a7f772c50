"""Ambient + locality: corrupt samples at high noise (sigma > sigma_min) and at low noise
(sigma <= sigma_max), but not in between where both their defects and logic would show.
``alpha`` reweights as in ``ambient``: unset is pooled."""

from dataclasses import dataclass

from ambient_bench.policy.baseline import (EVERY_LEVEL, Band, Baseline, check_alpha, check_sigma, clean_share_weight,
                                           register_baseline)


@register_baseline("ambient_locality")
@dataclass
class AmbientLocality(Baseline):
    sigma_min: float = 0.46
    sigma_max: float = 0.074
    alpha: float | None = None

    def __post_init__(self):
        self.sigma_min, self.sigma_max = float(self.sigma_min), float(self.sigma_max)
        check_sigma(self.sigma_min, "sigma_min", upper_open=True)
        check_sigma(self.sigma_max, "sigma_max")
        self.alpha = check_alpha(self.alpha)

    def band(self, source, dataset):
        return EVERY_LEVEL if source == "clean" else Band(self.sigma_min, self.sigma_max)

    def dataset_weight(self, source):
        return clean_share_weight(self.alpha, source)
