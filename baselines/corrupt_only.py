"""Corrupt only: train on the out-of-distribution data alone (its defects included)."""

from dataclasses import dataclass

from ambient_bench.policy.baseline import EVERY_LEVEL, Baseline, register_baseline


@register_baseline("corrupt_only")
@dataclass
class CorruptOnly(Baseline):
    def band(self, source, dataset):
        return EVERY_LEVEL if source == "corrupt" else None
