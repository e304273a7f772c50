"""Ambient with sigma_min chosen by a noise-conditioned classifier (the paper, §2).

The ``annotate`` stage trains c(x_sigma, sigma) to tell clean from corrupt noisy action
chunks and stores, for the corrupt dataset, the smallest sigma from which it can no
longer tell them apart: one value per dataset, per bucket of samples, or per datapoint.
Training then reads that annotation like any other sigma_min.
"""

from dataclasses import dataclass
from typing import ClassVar

from ambient_bench.classifier.annotation import annotation_name
from ambient_bench.classifier.sigma_min import GRANULARITIES
from ambient_bench.config.sections import ConfigError
from ambient_bench.policy.baseline import EVERY_LEVEL, Band, Baseline, register_baseline


@register_baseline("ambient_classifier")
@dataclass
class AmbientClassifier(Baseline):
    granularity: str = "dataset"
    requires_annotation: ClassVar[str | None] = "classifier"
    replaces_sweep_of: ClassVar[str | None] = "ambient"

    def __post_init__(self):
        if self.granularity not in GRANULARITIES:
            raise ConfigError(f"granularity: {self.granularity!r} must be one of {', '.join(GRANULARITIES)}")

    def band(self, source, dataset):
        if source == "clean":
            return EVERY_LEVEL
        sigma_min = dataset.annotation(annotation_name(self.granularity), "sigma_min")
        if sigma_min is None:
            raise ValueError(
                f"{dataset.path} has no {annotation_name(self.granularity)} annotation; "
                "run the annotate stage first (python -m ambient_bench.run --stage annotate ...)"
            )
        return Band(sigma_min=sigma_min, sigma_max=0.0)
