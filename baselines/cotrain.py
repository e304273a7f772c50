"""Co-training: p_train = alpha * p_clean + (1 - alpha) * q_corrupt at every noise level.

alpha is the probability that a training sample is clean (the paper's "alpha on clean").
"""

from dataclasses import dataclass

from ambient_bench.config.sections import ConfigError
from ambient_bench.policy.baseline import Baseline, register_baseline


@register_baseline("cotrain")
@dataclass
class CoTrain(Baseline):
    alpha: float = 0.5

    def __post_init__(self):
        self.alpha = float(self.alpha)
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"alpha: {self.alpha} must be in [0, 1]")

    def dataset_weight(self, source):
        return self.alpha if source == "clean" else 1.0 - self.alpha
