"""Suite files (YAML) with their presets and ``--set a.b=c`` overrides -> a validated ``SuiteConfig``.
"""

from __future__ import annotations

import copy
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .sections import ConfigError, SuiteConfig
from .typed import from_dict

PRESETS = ("smoke", "quick", "paper")


def suite_dir() -> Path:
    return Path(str(resources.files("ambient_bench") / "suites"))


def suite_names() -> list[str]:
    return sorted(p.stem for p in suite_dir().glob("*.yaml"))


def deep_merge(base: dict, update: dict) -> dict:
    """``update`` merged into a copy of ``base``, as a JSON Merge Patch (RFC 7396): mappings
    merge key by key, a null removes the key (so a preset can leave out a baseline), and any
    other value replaces it."""
    out = copy.deepcopy(base)
    for k, v in update.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            out[k] = deep_merge(out[k] if isinstance(out.get(k), dict) else {}, v)
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


def read_suite_file(name_or_path: str) -> tuple[dict, dict]:
    """A suite file's keys and its presets (name -> mapping), apart; a bad file is a ConfigError."""
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
    return raw, presets


def preset_names(name_or_path: str) -> list[str]:
    """The presets a suite defines, in file order (``smoke``, ``quick``, ``paper`` and its own)."""
    return list(read_suite_file(name_or_path)[1])


def load_suite(name_or_path: str, preset: str = "smoke", overrides: list[str] | None = None) -> SuiteConfig:
    """Read a suite file, apply a preset and ``--set`` overrides, and validate strictly."""
    raw, presets = read_suite_file(name_or_path)
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r} for suite {raw.get('name')}; valid presets: {', '.join(presets)}")
    data = deep_merge(raw, presets[preset] or {})
    data = apply_overrides(data, overrides or [])
    suite = from_dict(SuiteConfig, data)
    suite.validate()
    return suite
