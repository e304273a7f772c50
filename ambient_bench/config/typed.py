"""Dicts <-> typed dataclasses, call parameters checked against a signature, and the stable
config hash that keys every cached output.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import types
import typing
from typing import Any

from .sections import ConfigError


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
