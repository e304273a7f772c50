"""Put a fresh run beside the committed reference: ``python -m ambient_bench.compare --suite maze``.

Reads ``<run>/<suite>/<preset>/summary.csv`` (default root ``runs/``) and the reference's
(default ``results/``), and prints, per entry and metric, the selected configuration's test
mean ± std over seeds on each side and their difference, headed by both sides' provenance
(git commit, dirty flag, date, machine), so a difference can be traced to code or hardware.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from ..config.sections import ConfigError
from ..config.suites import preset_names
from ..data import atomic_write_bytes
from ..report.tables import UNDEFINED, read_summary
from .run import EXIT_BAD_INPUT, OneLineParser


def side(root: Path, suite: str, preset: str, what: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The summary and provenance of one side; a missing or damaged one is a ConfigError."""
    directory = root / suite / preset
    path = directory / "summary.csv"
    if not path.exists():
        raise ConfigError(f"{what}: no summary at {path}; make it with: "
                          f"python -m ambient_bench.run --suite {suite} --preset {preset} --out {root}")
    summary = read_summary(path)
    try:
        provenance = json.loads((directory / "provenance.json").read_text())
    except (OSError, ValueError):
        provenance = {}
    return summary, provenance


def table_metrics(directory: Path) -> list[str]:
    """The metrics the reference's table shows (its config.json), else success_rate."""
    try:
        return list(json.loads((directory / "config.json").read_text())["report"]["metrics"])
    except (OSError, ValueError, KeyError, TypeError):
        return ["success_rate"]


def provenance_line(name: str, directory: Path, provenance: dict[str, Any]) -> str:
    sha = str(provenance.get("git_sha", "unknown"))[:10]
    dirty = " (uncommitted changes)" if provenance.get("git_dirty") else ""
    return (f"- {name}: `{directory}`, git {sha}{dirty}, created {provenance.get('created_utc', 'unknown')}, "
            f"{provenance.get('machine', 'machine unknown')}")


def selected_test(summary: pd.DataFrame, entry: str) -> pd.DataFrame:
    return summary[(summary.baseline == entry) & (summary.split == "test") & summary.selected.astype(bool)]


def cell(rows: pd.DataFrame, metric: str) -> tuple[str, float]:
    values = rows[metric].dropna().to_numpy(dtype=float) if metric in rows else []
    if len(values) == 0:
        return UNDEFINED, float("nan")
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.4g} ± {std:.2g} ({len(values)})", float(values.mean())


def comparison_markdown(suite: str, preset: str, run_root: Path, reference_root: Path, metrics: list[str]) -> str:
    if preset not in (presets := preset_names(suite)):
        raise ConfigError(f"unknown preset {preset!r} for suite {suite}; valid presets: {', '.join(presets)}")
    reference, reference_provenance = side(reference_root, suite, preset, "reference")
    fresh, fresh_provenance = side(run_root, suite, preset, "run")
    metrics = metrics or table_metrics(reference_root / suite / preset)
    for metric in metrics:
        if metric not in reference.columns or metric not in fresh.columns:
            raise ConfigError(f"--metrics: unknown metric {metric!r}; valid: "
                              f"{', '.join(sorted(set(reference.columns) & set(fresh.columns)))}")
    entries = list(dict.fromkeys(list(reference.baseline) + list(fresh.baseline)))
    lines = [
        f"# {suite} / {preset}: this run beside the committed reference",
        "",
        provenance_line("reference", reference_root / suite / preset, reference_provenance),
        provenance_line("this run", run_root / suite / preset, fresh_provenance),
        "",
        "Test trials of the configuration each side selected on validation; mean ± std (seeds).",
        "",
        "| baseline | metric | reference | this run | this run − reference | selected (reference / this run) |",
        "|---|---|---|---|---|---|",
    ]
    for entry in entries:
        ref_rows, new_rows = selected_test(reference, entry), selected_test(fresh, entry)
        params = " / ".join(rows.params.iloc[0] if len(rows) else UNDEFINED for rows in (ref_rows, new_rows))
        for metric in metrics:
            (ref_text, ref_mean), (new_text, new_mean) = cell(ref_rows, metric), cell(new_rows, metric)
            diff = new_mean - ref_mean
            diff_text = UNDEFINED if pd.isna(diff) else f"{diff:+.4g}"
            lines.append(f"| {entry} | {metric} | {ref_text} | {new_text} | {diff_text} | {params} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m ambient_bench.compare", description=__doc__.splitlines()[0])
    p.add_argument("--suite", required=True)
    p.add_argument("--preset", default="quick", help="the suite's preset (default: quick)")
    p.add_argument("--run", type=Path, default=Path("runs"), help="output root of the fresh run (default: runs/)")
    p.add_argument("--reference", type=Path, default=Path("results"),
                   help="root of the committed reference (default: results/)")
    p.add_argument("--metrics", help="comma-separated metrics (default: the reference table's)")
    p.add_argument("--out", type=Path, help="also write the table to this file")
    args = p.parse_args(argv)
    try:
        text = comparison_markdown(args.suite, args.preset, args.run, args.reference,
                                   args.metrics.split(",") if args.metrics else [])
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.out:
        atomic_write_bytes(args.out, text.encode())
    print(text, end="")
    return 0
