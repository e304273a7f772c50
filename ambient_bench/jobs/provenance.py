"""Where a result came from: code version, packages, machine, and the data it used."""

from __future__ import annotations

import functools
import hashlib
import inspect
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from ..data import package_versions

REPO_ROOT = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, Any]:
    """Commit and dirty flag of the checkout the code runs from ('unknown' outside git), read
    once per process: a long run reports the code it loaded, even if the checkout moves on."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()

    try:
        return {"git_sha": git("rev-parse", "HEAD"), "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"git_sha": "unknown", "git_dirty": None}


SUITE_PACKAGES = ("ambient_bench.envs", "ambient_bench.datagen")


@functools.lru_cache(maxsize=None)
def suite_code_version(module_name: str) -> str:
    """Digest of the source of a suite module (e.g. a generator's) and of the other suite
    modules (envs, datagen) it imports from: data made by changed suite code gets a new key,
    while edits to the core (training, reports) leave datasets alone."""
    module = sys.modules[module_name]
    names = {module_name}
    for value in vars(module).values():
        name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
        if isinstance(name, str) and name.startswith(SUITE_PACKAGES):
            names.update(suite_modules(name))
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode() + b"\0" + module_path(name).read_bytes())
    return digest.hexdigest()[:16]


def suite_modules(name: str) -> list[str]:
    """A module of a suite package (e.g. ``ambient_bench.envs.maze.geometry``) stands for every
    module of that package, since names imported from one (constants too) may come from any;
    a top-level suite module stands for itself."""
    package = name if hasattr(sys.modules[name], "__path__") else name.rpartition(".")[0]
    if package in SUITE_PACKAGES:
        return [name]
    directory = Path(sys.modules[package].__file__).parent
    return [f"{package}.{p.stem}" if p.stem != "__init__" else package for p in sorted(directory.glob("*.py"))]


def module_path(name: str) -> Path:
    module = sys.modules.get(name)
    if module is not None:
        return Path(module.__file__)
    package, _, stem = name.rpartition(".")
    return Path(sys.modules[package].__file__).parent / f"{stem}.py"


def cpu_fields() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo ("model name", "cpu family", ...); empty without it."""
    try:
        first = Path("/proc/cpuinfo").read_text().split("\n\n", 1)[0]
    except OSError:
        return {}
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in first.splitlines())}


def machine() -> str:
    """The CPU (model, family/model numbers, and the SIMD level torch's kernels dispatch to), torch's
    thread count and the GPU. A rerun can be expected to match to the last digit only where all of these
    match: kernels of different SIMD levels may sum floats in different orders."""
    fields = cpu_fields()
    cpu = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        cpu += f" (family {fields['cpu family']} model {fields['model']})"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {torch.backends.cpu.get_cpu_capability()} kernels, {torch.get_num_threads()} torch threads, {gpu}"


def provenance(dataset_sha256: dict[str, str] | None = None) -> dict[str, Any]:
    """Where a result came from. Take it before writing the result: a file written into the repository
    first would mark the tree dirty."""
    return {
        **git_state(),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "package_versions": package_versions(),
        "python": platform.python_version(),
        "machine": machine(),
        "datasets_sha256": dataset_sha256 or {},
    }
