"""Clean only ("filtering"): train on the in-distribution demonstrations alone."""

from dataclasses import dataclass

from ambient_bench.policy.baseline import EVERY_LEVEL, Baseline, register_baseline


@register_baseline("clean_only")
@dataclass
class CleanOnly(Baseline):
    def band(self, source, dataset):
        return EVERY_LEVEL if source == "clean" else None
