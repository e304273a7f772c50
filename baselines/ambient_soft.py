"""Soft ambient: corrupt samples weighted by a smooth function of the noise level instead of
ambient's hard band edge at sigma_min (the talk's "soft weights" direction).

w(sigma) = logistic((ln sigma - ln sigma_min) / temperature) scales the corrupt source's
sampling mass at each level: 1/2 at sigma_min, near 1 well above it, near 0 well below.
As the temperature goes to 0 it becomes ambient's band (sigma > sigma_min); clean samples
are used at every level. ``alpha`` reweights as in ``ambient``: unset is pooled.
"""

from dataclasses import dataclass

import numpy as np

from ambient_bench.config.sections import ConfigError
from ambient_bench.policy.baseline import EVERY_LEVEL, register_baseline

from .ambient import Ambient


@register_baseline("ambient_soft")
@dataclass
class AmbientSoft(Ambient):
    temperature: float = 0.5  # in ln sigma: w rises from 0.27 to 0.73 over sigma_min * exp(-/+ temperature)

    def __post_init__(self):
        super().__post_init__()
        self.temperature = float(self.temperature)
        if self.sigma_min == 0.0:
            raise ConfigError("sigma_min: 0.0 must be in (0, 1) (a soft edge needs a level to sit at)")
        if not self.temperature > 0.0:
            raise ConfigError(f"temperature: {self.temperature} must be > 0 (the hard band is ambient)")

    def band(self, source, dataset):
        return EVERY_LEVEL  # the weight, not a band, keeps corrupt samples from low noise

    def noise_weight(self, source, sigmas):
        if source == "clean":
            return None
        z = (np.log(sigmas) - np.log(self.sigma_min)) / self.temperature
        return 0.5 * (1.0 + np.tanh(z / 2.0))  # the logistic, without overflow
