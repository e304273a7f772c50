"""Typed configuration: suite files (YAML) -> strict dataclasses, with ``--set a.b=c`` overrides.

Strict means an unknown or misspelled key, a value of the wrong type, or a value out of
range is a ``ConfigError`` that names the full key, e.g. ``train.lr``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import inspect
import json
import re
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .diffusion import PREDICTIONS


class ConfigError(ValueError):
    """A configuration problem; the message names the offending key."""


# Where training windows may start: every step (receding horizon) or episode starts (whole plans).
WINDOW_STARTS = ("every_step", "episode_start")

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
    prediction: str = "epsilon"  # or "sample" (x0-prediction) or "v" (see diffusion.PREDICTIONS)
    window_starts: str = "every_step"  # or "episode_start": train only on windows that start an episode

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
    fixed parameters, a grid to sweep, and suite overrides (e.g. task conditioning)."""

    baseline: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    suite_overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReportConfig:
    """What the table shows and which two metrics span the Pareto plot."""

    metrics: list[str] = field(default_factory=lambda: ["success_rate"])
    pareto_x: str = "success_rate"
    pareto_x_better: str = "higher"  # or "lower"
    pareto_y: str = "success_rate"
    pareto_sweeps: list[str] = field(default_factory=list)  # entries whose sweep is drawn as a front


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
            for param, values in entry.grid.items():
                _check(isinstance(values, list) and len(values) >= 1, f"baselines.{name}.grid.{param}",
                       "must be a non-empty list")


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


# --------------------------------------------------------------------------------------
# Strict construction from plain dicts
# --------------------------------------------------------------------------------------


def from_dict(cls: type, data: Any, key: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{key or '<root>'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{key}." if key else ""
        raise ConfigError(
            f"unknown key {where}{unknown[0]}; valid keys here: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = coerce_value(hints[name], value, f"{key}.{name}" if key else name)
    missing = [
        n for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"missing key {key + '.' if key else ''}{missing[0]}")
    return cls(**kwargs)


def coerce_value(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            try:
                return coerce_value(option, value, key)
            except ConfigError as err:
                errors.append(str(err))
            except TypeError:  # e.g. Path in `str | Path`: the other options decide
                continue
        raise ConfigError(errors[0])
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [coerce_value(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        _, item = typing.get_args(tp)
        return {k: coerce_value(item, v, f"{key}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise ConfigError(f"{key}: expected {tp.__name__}, got {value!r}")
        return value
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{key}: expected null, got {value!r}")
        return None
    raise TypeError(f"{key}: type {tp} cannot be checked from a config")


def check_call_params(fn: Any, params: dict[str, Any], key: str, n_supplied: int = 0) -> dict[str, Any]:
    """Keyword arguments for ``fn`` (a function or class) checked against its signature: unknown
    names, and values of the wrong type where the annotation says (``key.name`` in the error).
    ``n_supplied`` leading parameters are the caller's (e.g. a generator's seeds). Returns the
    values coerced (e.g. an int given for a float)."""
    signature = inspect.signature(fn)
    own = list(signature.parameters.items())[n_supplied:]
    if any(p.kind is p.VAR_KEYWORD for _, p in own):
        accepted = None  # forwards **params: the callee's own checks decide
    else:
        accepted = sorted(n for n, p in own if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
    for name in params:
        if accepted is not None and name not in accepted:
            raise ConfigError(f"unknown key {key}.{name}; valid keys here: {', '.join(accepted)}")
    hints = typing.get_type_hints(fn.__init__ if inspect.isclass(fn) else fn)
    out = {}
    for name, value in params.items():
        try:
            out[name] = coerce_value(hints[name], value, f"{key}.{name}") if name in hints else value
        except TypeError:
            out[name] = value
    return out


def to_dict(obj: Any) -> Any:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def config_hash(obj: Any) -> str:
    """Short stable hash of a JSON-able config: the cache key of a job's output."""
    text = json.dumps(to_dict(obj), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------
# Suite files, presets and overrides
# --------------------------------------------------------------------------------------

PRESETS = ("smoke", "quick", "paper")


def suite_dir() -> Path:
    return Path(str(resources.files("ambient_bench") / "suites"))


def suite_names() -> list[str]:
    return sorted(p.stem for p in suite_dir().glob("*.yaml"))


def deep_merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


class _YamlLoader(yaml.SafeLoader):
    """Safe YAML that also reads ``1e-3`` as a float (YAML 1.1 wants a dot: ``1.0e-3``)."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"), list("-+0123456789.")
)


def read_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 (a SafeLoader subclass)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b=c`` -> (['a', 'b'], c) with c parsed as YAML (numbers, lists, booleans)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"override {text!r} has an empty key part")
    try:
        return parts, read_yaml(raw)
    except yaml.YAMLError as err:
        raise ConfigError(f"override {text!r}: the value is not valid YAML ({_one_line(err)})") from err


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    out = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node = out
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = {} if p not in node else node[p]
                if not isinstance(node[p], dict):
                    raise ConfigError(f"override {text!r}: {p} is not a section")
            node = node[p]
        node[parts[-1]] = value
    return out


def load_suite(name_or_path: str, preset: str = "smoke", overrides: list[str] | None = None) -> SuiteConfig:
    """Read a suite file, apply a preset and ``--set`` overrides, and validate strictly."""
    path = Path(name_or_path)
    if not path.suffix:
        path = suite_dir() / f"{name_or_path}.yaml"
        if not path.exists():
            raise ConfigError(f"unknown suite {name_or_path!r}; valid suites: {', '.join(suite_names())}")
    elif not path.exists():
        raise ConfigError(f"suite file {path} does not exist")
    try:
        raw = read_yaml(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read suite file {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({_one_line(err)})") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a suite file must be a mapping of keys, got {type(raw).__name__}")
    presets = raw.pop("presets", {}) or {}
    if not isinstance(presets, dict) or not all(isinstance(p, dict) or p is None for p in presets.values()):
        raise ConfigError(f"{path}: presets must map each preset name to a mapping")
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r} for suite {raw.get('name')}; valid presets: {', '.join(presets)}")
    data = deep_merge(raw, presets[preset] or {})
    data = apply_overrides(data, overrides or [])
    suite = from_dict(SuiteConfig, data)
    suite.validate()
    return suite
