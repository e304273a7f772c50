"""ambient_bench: a benchmark for learning robot policies from clean + out-of-distribution data."""

__version__ = "0.1.0"
