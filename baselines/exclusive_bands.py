"""The two exclusive-band ablations of the paper (§2).

(a) ``ambient_exclusive``: corrupt only above sigma_min, clean only at or below it.
(b) ``locality_exclusive``: corrupt only at or below sigma_max, clean only above it.
They ask whether clean data is needed in the band the corrupt data covers.
"""

from dataclasses import dataclass

from ambient_bench.policy.baseline import Band, Baseline, check_sigma, register_baseline


@register_baseline("ambient_exclusive")
@dataclass
class AmbientExclusive(Baseline):
    sigma_min: float = 0.074

    def __post_init__(self):
        self.sigma_min = float(self.sigma_min)
        check_sigma(self.sigma_min, "sigma_min", upper_open=True)

    def band(self, source, dataset):
        if source == "clean":
            return Band(sigma_min=1.0, sigma_max=self.sigma_min)
        return Band(sigma_min=self.sigma_min, sigma_max=0.0)


@register_baseline("locality_exclusive")
@dataclass
class LocalityExclusive(Baseline):
    sigma_max: float = 0.46

    def __post_init__(self):
        self.sigma_max = float(self.sigma_max)
        check_sigma(self.sigma_max, "sigma_max")

    def band(self, source, dataset):
        if source == "clean":
            return Band(sigma_min=self.sigma_max, sigma_max=0.0)
        return Band(sigma_min=1.0, sigma_max=self.sigma_max)
