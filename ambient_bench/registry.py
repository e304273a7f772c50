"""Name -> object registries for baselines, data generators, evaluation tasks, suite figures and
suite benchmarks.

Suites and baselines register themselves on import; external packages add
baselines through the ``ambient_bench.baselines`` entry-point group.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Callable, Generic, TypeVar

T = TypeVar("T")

# Modules whose import registers the built-in suites, generators and baselines.
BUILTIN_MODULES = (
    "ambient_bench.baselines",
    "ambient_bench.envs",
    "ambient_bench.datagen",
)


class UnknownNameError(KeyError):
    """A name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        load_builtins()
        if name not in self._items:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}"
            )
        return self._items[name]

    def find(self, name: str) -> T | None:
        """The object registered as ``name``, or None (for optional entries)."""
        load_builtins()
        return self._items.get(name)

    def names(self) -> list[str]:
        load_builtins()
        return sorted(self._items)


_loaded = False


def load_builtins() -> None:
    """Import built-in modules and external entry points once, so registries are full."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    for registry in (BASELINES, GENERATORS, TASKS, SUITE_BENCHES):
        if registry.entry_point_group:
            for ep in entry_points(group=registry.entry_point_group):
                ep.load()


BASELINES: Registry = Registry("baseline", "ambient_bench.baselines")
GENERATORS: Registry = Registry("generator")
TASKS: Registry = Registry("task")
# Task name -> its ``task.SuiteFigures`` subclass (optional: a suite without one gets no suite figures).
FIGURES: Registry = Registry("suite figures")
# Suite speed figures for ``python -m ambient_bench.bench``: name -> fn(quick) -> {"<suite>.<figure>": value}.
SUITE_BENCHES: Registry = Registry("suite bench")
