"""The suite config's typed sections (strict dataclasses with range checks) and ``ConfigError``.

Strict means an unknown or misspelled key, a value of the wrong type, or a value out of
range is a ``ConfigError`` that names the full key, e.g. ``train.lr``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A configuration problem; the message names the offending key."""


# Where training windows may start: every step (receding horizon) or episode starts (whole plans).
WINDOW_STARTS = ("every_step", "episode_start")
# What the network predicts (see policy.schedule): the noise, the clean sample x0, v, or
# EDM's preconditioned residual (x0-like above sigma_data, epsilon-like below).
PREDICTIONS = ("epsilon", "sample", "v", "edm")
# The chunk's last action: predicted freely, or held at 0 (raw units) in every denoising step's
# clean estimate, for actions that are deviations from a path whose end is known (the arm).
FINAL_ACTIONS = ("free", "zero")
# The network's arithmetic: float32, or bfloat16 autocast around its calls (policy.DiffusionPolicy).
PRECISIONS = ("fp32", "bf16")
# The generative model: VP diffusion, or conditional flow matching on the linear path
# (policy.schedule.FlowSchedule: the network predicts the velocity; ``prediction`` is not used).
GENERATIVES = ("diffusion", "flow")

# Policy options added after runs were cached, with the defaults that leave those runs' keys
# unchanged; checkpoints omit CHECKPOINT_LATER_OPTIONS at their defaults too (saved whole before them).
LATER_POLICY_OPTIONS = {"window_starts": "every_step", "loss_weight_cap": 0.0, "sigma_data": 0.5,
                        "final_action": "free", "precision": "fp32", "generative": "diffusion"}
CHECKPOINT_LATER_OPTIONS = ("final_action", "precision", "generative")


def without_later_defaults(policy: "PolicyConfig", options) -> dict[str, Any]:
    """The policy config as a dict without those of ``options`` (names in LATER_POLICY_OPTIONS)
    that are at their default: what keys and checkpoints record, so older ones stay valid."""
    config = dataclasses.asdict(policy)
    for option in options:
        if config[option] == LATER_POLICY_OPTIONS[option]:
            del config[option]
    return config


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------


@dataclass
class DatasetSpec:
    """One dataset of a suite: which generator, how many episodes, and its source label."""

    generator: str
    source: str  # "clean" or "corrupt"
    n_episodes: int
    params: dict[str, Any] = field(default_factory=dict)
    shard_size: int = 50

    def validate(self, key: str) -> None:
        _check(self.source in ("clean", "corrupt"), f"{key}.source", "must be 'clean' or 'corrupt'")
        _check(self.n_episodes >= 1, f"{key}.n_episodes", "must be >= 1")
        _check(self.shard_size >= 1, f"{key}.shard_size", "must be >= 1")


@dataclass
class PolicyConfig:
    """The diffusion policy: ConditionalUnet1D sizes, chunking and the noise schedule."""

    down_dims: list[int] = field(default_factory=lambda: [64, 128, 256])
    kernel_size: int = 3
    n_groups: int = 8
    step_embed_dim: int = 64
    horizon: int = 16  # predicted actions per chunk
    n_action_steps: int = 8  # executed before replanning
    num_diffusion_steps: int = 100
    prediction: str = "epsilon"  # or "sample" (x0-prediction), "v" or "edm" (see policy.schedule)
    # prediction=edm only: the noise scale (sigma / sqrt(abar)) where it turns from x0-like to
    # epsilon-like; 1 makes it v-prediction (up to sign).
    sigma_data: float = 0.5
    window_starts: str = "every_step"  # or "episode_start": train only on windows that start an episode
    # > 0 caps the weight that the loss gives a noise level's error in x0 (policy.trainer.loss_weights);
    # 0 keeps the prediction's own loss. With v-prediction, 1 is x0-prediction's loss.
    loss_weight_cap: float = 0.0
    final_action: str = "free"  # or "zero" (FINAL_ACTIONS)
    # bf16: the network's calls in training and sampling run under bfloat16 autocast (faster on
    # CPUs with AVX-512 bf16 and on GPUs); the loss, optimiser, EMA, noise schedule and samplers stay fp32.
    precision: str = "fp32"
    generative: str = "diffusion"  # or "flow" (GENERATIVES): flow matching, the velocity predicted

    def validate(self, key: str) -> None:
        _check(len(self.down_dims) >= 1 and all(d > 0 for d in self.down_dims), f"{key}.down_dims", "must be positive")
        _check(all(d % self.n_groups == 0 for d in self.down_dims), f"{key}.down_dims",
               f"every entry must be divisible by n_groups={self.n_groups}")
        _check(self.kernel_size % 2 == 1, f"{key}.kernel_size", "must be odd")
        factor = 2 ** (len(self.down_dims) - 1)
        _check(self.horizon >= factor and self.horizon % factor == 0, f"{key}.horizon",
               f"must be a positive multiple of {factor} (2**(len(down_dims)-1)) for the U-Net")
        _check(1 <= self.n_action_steps <= self.horizon, f"{key}.n_action_steps", "must be in [1, horizon]")
        _check(self.num_diffusion_steps >= 2, f"{key}.num_diffusion_steps", "must be >= 2")
        _check(self.prediction in PREDICTIONS, f"{key}.prediction", f"must be one of {', '.join(PREDICTIONS)}")
        _check(self.window_starts in WINDOW_STARTS, f"{key}.window_starts", f"must be one of {', '.join(WINDOW_STARTS)}")
        _check(self.loss_weight_cap >= 0, f"{key}.loss_weight_cap", "must be >= 0 (0: no cap)")
        _check(self.sigma_data > 0, f"{key}.sigma_data", "must be > 0")
        _check(self.final_action in FINAL_ACTIONS, f"{key}.final_action", f"must be one of {', '.join(FINAL_ACTIONS)}")
        _check(self.precision in PRECISIONS, f"{key}.precision",
               f"{self.precision!r} is not one of {', '.join(PRECISIONS)}")
        _check(self.generative in GENERATIVES, f"{key}.generative",
               f"{self.generative!r} is not one of {', '.join(GENERATIVES)}")


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 1e-6
    warmup_steps: int = 100
    ema_decay: float = 0.999
    grad_clip: float = 0.0  # 0 disables clipping
    log_every: int = 50
    checkpoint_every: int = 500

    def validate(self, key: str) -> None:
        for name in ("steps", "batch_size", "log_every", "checkpoint_every"):
            _check(getattr(self, name) >= 1, f"{key}.{name}", "must be >= 1")
        _check(self.lr > 0, f"{key}.lr", "must be > 0")
        _check(self.warmup_steps >= 0, f"{key}.warmup_steps", "must be >= 0")
        _check(0.0 <= self.ema_decay < 1.0, f"{key}.ema_decay", "must be in [0, 1)")
        _check(self.grad_clip >= 0, f"{key}.grad_clip", "must be >= 0")


@dataclass
class EvalConfig:
    n_test: int = 1000
    n_validation: int = 200
    sampler: str = "ddim"  # or "ddpm"
    inference_steps: int = 10  # DDIM steps (DDPM always uses all)
    batch_size: int = 1000  # episodes stepped together

    def validate(self, key: str) -> None:
        _check(self.n_test >= 1, f"{key}.n_test", f"{self.n_test} must be >= 1")
        _check(self.n_validation >= 1, f"{key}.n_validation", f"{self.n_validation} must be >= 1")
        _check(self.sampler in ("ddim", "ddpm"), f"{key}.sampler", "must be 'ddim' or 'ddpm'")
        _check(self.inference_steps >= 1, f"{key}.inference_steps", "must be >= 1")
        _check(self.batch_size >= 1, f"{key}.batch_size", "must be >= 1")


@dataclass
class BaselineSpec:
    """An entry of a suite's table: a registered baseline (default: the entry's name),
    fixed parameters, a grid to sweep, suite overrides (e.g. task conditioning) and, with
    ``finetune_steps`` > 0, a second phase: the baseline's run continued on clean data only
    for that many steps (the talk's finetuning), at ``finetune_lr`` (default: the suite's lr).
    The grid may sweep ``finetune_steps`` and ``finetune_lr`` too (a point's value wins), so
    that validation selects them; 0 steps is the baseline alone. ``seeds``: training seeds of
    the selected point (default: the suite's ``final_seeds``), so that a row a conclusion rests
    on can have more seeds than its neighbours; it is not part of any run's key."""

    baseline: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    suite_overrides: dict[str, Any] = field(default_factory=dict)
    finetune_steps: int = 0
    finetune_lr: float | None = None
    seeds: int | None = None


@dataclass
class ReportConfig:
    """What the table shows, which two metrics span the Pareto plot, and the outcome breakdown."""

    metrics: list[str] = field(default_factory=lambda: ["success_rate"])
    pareto_x: str = "success_rate"
    pareto_x_better: str = "higher"  # or "lower"
    pareto_y: str = "success_rate"
    pareto_sweeps: list[str] = field(default_factory=list)  # entries whose sweep is drawn as a front
    # metrics that split the trials (or blocks) into outcomes, shares summing to 1: drawn as
    # stacked bars (breakdown.png) and tabled under the main table, for the selected configurations
    breakdown: list[str] = field(default_factory=list)


@dataclass
class ResourcesConfig:
    """What each job asks a cluster scheduler for (the Ray executor): CPUs and GPUs per
    datagen shard, training run and evaluation. Not part of any cache key."""

    datagen_cpus: float = 1.0
    train_cpus: float = 1.0
    train_gpus: float = 0.0
    eval_cpus: float = 1.0
    eval_gpus: float = 0.0

    def validate(self, key: str) -> None:
        for name in ("datagen_cpus", "train_cpus", "eval_cpus"):
            _check(getattr(self, name) > 0, f"{key}.{name}", "must be > 0")
        for name in ("train_gpus", "eval_gpus"):
            _check(getattr(self, name) >= 0, f"{key}.{name}", "must be >= 0")


@dataclass
class SuiteConfig:
    name: str
    task: str
    task_params: dict[str, Any] = field(default_factory=dict)
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    baselines: dict[str, BaselineSpec] = field(default_factory=dict)
    sweep_seeds: int = 1  # training seeds per grid point (validation split)
    final_seeds: int = 3  # training seeds of each selected configuration (test split)
    selection_metric: str = "success_rate"  # higher is better, on validation trials
    tiebreak_metric: str = ""  # lower is better, e.g. accel_sq_mean
    report: ReportConfig = field(default_factory=ReportConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    classifier: dict[str, Any] = field(default_factory=dict)  # ClassifierConfig fields
    paper: dict[str, dict[str, Any]] = field(default_factory=dict)  # entry -> the paper's numbers
    paper_note: str = ""

    def validate(self, key: str = "") -> None:
        _check(bool(self.datasets), "datasets", "a suite needs at least one dataset")
        for name, spec in self.datasets.items():
            spec.validate(f"datasets.{name}")
        self.policy.validate("policy")
        self.train.validate("train")
        self.eval.validate("eval")
        self.resources.validate("resources")
        _check(self.sweep_seeds >= 1, "sweep_seeds", "must be >= 1")
        _check(self.final_seeds >= 1, "final_seeds", "must be >= 1")
        _check(self.report.pareto_x_better in ("higher", "lower"), "report.pareto_x_better",
               "must be 'higher' or 'lower'")
        for name, entry in self.baselines.items():
            _check(entry.finetune_steps >= 0, f"baselines.{name}.finetune_steps", "must be >= 0")
            _check(entry.finetune_lr is None or entry.finetune_lr > 0, f"baselines.{name}.finetune_lr", "must be > 0")
            _check(entry.seeds is None or entry.seeds >= 1, f"baselines.{name}.seeds",
                   f"{entry.seeds} must be >= 1 (or null: final_seeds)")
            for param, values in entry.grid.items():
                _check(isinstance(values, list) and len(values) >= 1, f"baselines.{name}.grid.{param}",
                       "must be a non-empty list")
            for steps in entry.grid.get("finetune_steps", []):
                _check(isinstance(steps, int) and steps >= 0, f"baselines.{name}.grid.finetune_steps",
                       f"{steps!r} must be an integer >= 0")
            for lr in entry.grid.get("finetune_lr", []):
                _check(lr is None or (isinstance(lr, (int, float)) and lr > 0), f"baselines.{name}.grid.finetune_lr",
                       f"{lr!r} must be > 0 (or null: the suite's lr)")


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


# --------------------------------------------------------------------------------------
# Strict construction from plain dicts
# --------------------------------------------------------------------------------------
