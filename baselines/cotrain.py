"""Co-training: p_train = alpha * p_clean + (1 - alpha) * q_corrupt at every noise level.

alpha is the probability that a training sample is clean (the paper's "alpha on clean");
``alpha: null`` pools the two datasets' samples, which is co-training without reweighting.
"""

from dataclasses import dataclass

from ambient_bench.policy.baseline import Baseline, check_alpha, clean_share_weight, register_baseline


@register_baseline("cotrain")
@dataclass
class CoTrain(Baseline):
    alpha: float | None = 0.5

    def __post_init__(self):
        self.alpha = check_alpha(self.alpha)

    def dataset_weight(self, source):
        return clean_share_weight(self.alpha, source)
