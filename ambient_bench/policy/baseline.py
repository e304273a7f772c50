"""What a baseline is: a data-usage rule for the one trainer.

A baseline answers three questions:
  (a) which datasets, with what mixture weight          -> ``dataset_weight``
  (b) at which noise levels each sample is admissible   -> ``band``, and, softly,
      with what weight at each noise level               -> ``noise_weight``
  (c) what the network regresses on (optional)          -> ``training_pair``
Everything else (network, schedule, optimiser, evaluation) is shared.

Bands are given in sigma: a sample with band (sigma_min, sigma_max) may be used at noise
level sigma when ``sigma > sigma_min`` or ``sigma <= sigma_max``. So (0, 0) is every
level, (1, 0) none, (s, 0) ambient's high-noise band and (1, s) locality's low band.
A noise weight w(sigma) in [0, 1] scales a source's sampling mass at each level inside its
band; a band is the case w in {0, 1}.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Union

import numpy as np
import torch

from ..config.sections import ConfigError
from ..config.typed import coerce_value
from ..data import Dataset
from ..registry import BASELINES
from .schedule import NoiseSchedule

Sigma = Union[float, np.ndarray]  # one value for the dataset, or one per step


@dataclass(frozen=True)
class Band:
    sigma_min: Sigma = 0.0
    sigma_max: Sigma = 0.0


EVERY_LEVEL = Band(0.0, 0.0)


def check_sigma(value: float, name: str, upper_open: bool = False) -> None:
    """Thresholds live in [0, 1]; sigma_min = 1 would never admit anything, so it is rejected."""
    if not 0.0 <= value <= 1.0 or (upper_open and value >= 1.0):
        raise ConfigError(f"{name}: {value} must be in [0, {'1)' if upper_open else '1]'}")


def check_alpha(alpha: float | None) -> float | None:
    """alpha, the probability that a training sample is clean, lives in [0, 1]; None is pooled."""
    if alpha is None:
        return None
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha: {alpha} must be in [0, 1]")
    return alpha


def clean_share_weight(alpha: float | None, source: str) -> float | None:
    """A source's mixture weight for a clean share alpha: alpha for clean, 1 - alpha for corrupt
    (None when pooled). At a noise level where only one source is admissible it takes the
    whole batch, so under a band alpha is the clean share where both are admissible."""
    if alpha is None:
        return None
    return alpha if source == "clean" else 1.0 - alpha


class Baseline:
    """Base class: clean and corrupt data at every noise level, pooled (plain co-training
    without re-weighting). Subclasses are dataclasses whose fields are the sweepable
    hyper-parameters, validated in ``__post_init__``."""

    name: ClassVar[str] = ""
    # Which annotation (written by the `annotate` stage) a baseline needs, if any.
    requires_annotation: ClassVar[str | None] = None
    # The baseline whose swept hyper-parameter this one chooses instead (the report sets the two side by side).
    replaces_sweep_of: ClassVar[str | None] = None

    def band(self, source: str, dataset: Dataset) -> Band | None:
        """Noise band where ``dataset``'s samples are admissible; None leaves it out."""
        return EVERY_LEVEL

    def dataset_weight(self, source: str) -> float | None:
        """Mixture weight of a dataset; None for all means pooled (uniform over samples)."""
        return None

    def noise_weight(self, source: str, sigmas: np.ndarray) -> np.ndarray | None:
        """Weight in [0, 1] of ``source``'s samples at each noise level ``sigmas`` (the schedule's
        grid), multiplying its sampling mass there; None is 1 everywhere (bands only)."""
        return None

    def training_pair(
        self,
        schedule: NoiseSchedule,
        x0: torch.Tensor,
        t: torch.Tensor,
        sigma_min: torch.Tensor,
        is_corrupt: torch.Tensor,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_t, regression target) for the denoising loss; the ordinary one by default."""
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
        return schedule.add_noise(x0, noise, t), schedule.target(x0, noise, t)

    def params(self) -> dict[str, Any]:
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}


def register_baseline(name: str):
    """Class decorator: register a baseline under ``name`` (also usable by external packages)."""

    def decorator(cls: type[Baseline]) -> type[Baseline]:
        cls.name = name
        return BASELINES.register(name)(cls)

    return decorator


def make_baseline(name: str, params: dict[str, Any], key: str | None = None) -> Baseline:
    """Instantiate a registered baseline; bad parameters name ``baselines.<name>.<param>``."""
    cls = BASELINES.get(name)
    key = key or f"baselines.{name}"
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    unknown = sorted(set(params) - fields)
    if unknown:
        raise ConfigError(f"unknown key {key}.{unknown[0]}; {name} takes: {', '.join(sorted(fields)) or 'nothing'}")
    hints = typing.get_type_hints(cls)
    for name, value in params.items():
        try:
            params = {**params, name: coerce_value(hints[name], value, f"{key}.{name}")}
        except TypeError:  # a field type that configs cannot express; the class checks it
            pass
    try:
        return cls(**params)
    except ConfigError as err:
        raise ConfigError(f"{key}.{err}") from None
    except TypeError as err:
        raise ConfigError(f"{key}: {err}") from None
