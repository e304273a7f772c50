"""Ambient: corrupt samples only where noise hides their defects, sigma > sigma_min.

Clean samples are used at every noise level. At high noise p_sigma ~ q_sigma, so the
corrupt data teaches coarse, task-level structure without its high-frequency defects.
Unset ``alpha`` pools the admissible samples; a set one makes alpha the clean share of a
batch wherever both sources are admissible (the talk's reweighting ablation).
"""

from dataclasses import dataclass

from ambient_bench.policy.baseline import (EVERY_LEVEL, Band, Baseline, check_alpha, check_sigma, clean_share_weight,
                                           register_baseline)


@register_baseline("ambient")
@dataclass
class Ambient(Baseline):
    sigma_min: float = 0.074
    alpha: float | None = None

    def __post_init__(self):
        self.sigma_min = float(self.sigma_min)
        check_sigma(self.sigma_min, "sigma_min", upper_open=True)
        self.alpha = check_alpha(self.alpha)

    def band(self, source, dataset):
        return EVERY_LEVEL if source == "clean" else Band(sigma_min=self.sigma_min, sigma_max=0.0)

    def dataset_weight(self, source):
        return clean_share_weight(self.alpha, source)
