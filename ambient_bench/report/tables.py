"""The run's tables: summary.csv (one row per run and split), table.md, and merging with the
report already on disk (a run of a subset of the entries).

Every number comes from the evaluation files of the run; the table's configuration per
entry is the one selected on validation trials (``selected`` in summary.csv).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..config.sections import ConfigError, SuiteConfig
from ..config.typed import from_dict, to_dict
from ..jobs.plan import Plan, RunSpec
from ..registry import BASELINES

log = logging.getLogger(__name__)


ID_COLUMNS = ["suite", "preset", "baseline", "params", "seed", "split", "n_trials", "selected", "run"]
UNDEFINED = "–"  # how tables show a metric that is undefined (NaN), e.g. logic when nothing was placed


def summary_frame(plan: Plan, evals: dict[str, dict[RunSpec, dict[str, Any]]], chosen: dict[str, tuple]) -> pd.DataFrame:
    rows = []
    for split, results in evals.items():
        for run, result in results.items():
            rows.append({
                **result["aggregate"],
                "suite": plan.suite.name, "preset": plan.preset, "baseline": run.entry,
                "params": run.params_label, "seed": run.seed, "split": split,
                "n_trials": int(result["n_trials"]),
                "selected": chosen.get(run.entry) == run.params,
                "run": plan.run_dir(run).name,
            })
    return ordered(pd.DataFrame(rows))


def ordered(summary: pd.DataFrame) -> pd.DataFrame:
    """Stable columns (identity first, then metrics by name) and rows (entry, split, params, seed)."""
    metrics = sorted(c for c in summary.columns if c not in ID_COLUMNS)
    summary = summary[ID_COLUMNS + metrics]
    return summary.sort_values(["baseline", "split", "params", "seed"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Merging with the report already on disk (a run of a subset of the entries)
# --------------------------------------------------------------------------------------


@dataclass
class PreviousReport:
    summary: pd.DataFrame
    config: dict[str, Any]
    selection: dict[str, dict[str, Any]]  # entry -> selected params


def read_summary(path: Path) -> pd.DataFrame:
    """A summary.csv on disk; an unreadable or malformed one is a ConfigError naming the file."""
    try:
        summary = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise ConfigError(f"{path} cannot be read ({' '.join(str(err).split())})") from None
    missing = [c for c in ID_COLUMNS if c not in summary.columns]
    if missing:
        raise ConfigError(f"{path} is malformed: no column {', '.join(missing)}")
    return summary


def read_previous_report(root: Path) -> PreviousReport | None:
    """The report a previous run left in ``root``, or None; a damaged one is a ConfigError
    naming the file (checked before any work, so a run never ends on it)."""
    paths = [root / name for name in ("summary.csv", "config.json", "selection.json")]
    if not all(p.exists() for p in paths):  # none yet, or an older layout without selection.json
        return None
    remedy = f"; remove it to rebuild the report from this run: rm {' '.join(map(str, paths))}"
    try:
        summary = read_summary(paths[0])
    except ConfigError as err:
        raise ConfigError(f"{err}{remedy}") from None
    documents = []
    for path in paths[1:]:
        try:
            documents.append(json.loads(path.read_text()))
        except (OSError, ValueError) as err:
            raise ConfigError(f"{path} cannot be read ({' '.join(str(err).split())}){remedy}") from None
        if not isinstance(documents[-1], dict):
            raise ConfigError(f"{path} is malformed: expected a JSON object{remedy}")
    return PreviousReport(summary, *documents)


def with_entries_only(config: dict[str, Any], entries: set[str]) -> dict[str, Any]:
    """A report's config as merging compares it: all of it but the table's entries, of which
    only ``entries`` (a definition added or changed elsewhere is no difference)."""
    baselines = config.get("baselines", {})
    return {**config, "baselines": {k: baselines.get(k) for k in sorted(entries)}}


def as_json(suite: SuiteConfig) -> dict[str, Any]:
    """A suite config as its report's config.json holds it."""
    return json.loads(json.dumps(to_dict(suite), default=str))


def in_current_schema(config: dict[str, Any]) -> dict[str, Any]:
    """A report's config read through today's schema, so that an option added since, at the
    default that keeps the old behaviour, is not a difference; unreadable, it stays as written."""
    try:
        return as_json(from_dict(SuiteConfig, config))
    except (ConfigError, TypeError, ValueError):
        return config


def merge_previous(plan: Plan, summary: pd.DataFrame, selection: dict[str, dict[str, Any]]):
    """Keep the other entries' rows and selections from the report on disk, if it was made
    with the same config and the same definitions of those entries; otherwise replace it."""
    previous = read_previous_report(plan.root)
    if previous is None:
        return summary, selection
    kept_entries = set(previous.summary.baseline) - set(plan.entries)
    previous_config = with_entries_only(in_current_schema(previous.config), kept_entries)
    if previous_config != with_entries_only(as_json(plan.suite), kept_entries):
        log.warning("%s was made with another config; rewriting it with this run's entries only",
                    plan.root / "summary.csv")
        return summary, selection
    kept = previous.summary[~previous.summary.baseline.isin(plan.entries)]
    selection = {**{k: v for k, v in previous.selection.items() if k not in plan.entries}, **selection}
    return ordered(pd.concat([kept, summary], ignore_index=True)), selection


def mean_std(values: pd.Series, scale: float) -> str:
    v = values.dropna().to_numpy(dtype=float) * scale
    if len(v) == 0:
        return UNDEFINED
    return f"{v.mean():.1f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.1f}"


def report_entries(plan: Plan, summary: pd.DataFrame) -> list[str]:
    """Entries with rows, in the suite's order (then any others, e.g. plug-ins, by name)."""
    present = set(summary.baseline)
    return [e for e in plan.suite.baselines if e in present] + sorted(present - set(plan.suite.baselines))


def table_markdown(plan: Plan, summary: pd.DataFrame) -> str:
    suite = plan.suite
    metrics = suite.report.metrics
    percent = {m for m in metrics if m.endswith("rate") or m in ("logic", "motion", "success")}
    test = summary[(summary.split == "test") & summary.selected]
    header = ["baseline", "selected params", "seeds", "rollouts"] + [f"{m} (ours)" for m in metrics] + \
             [f"{m} (paper)" for m in metrics]
    lines = [
        f"# {suite.name} / {plan.preset}: test results of the configurations selected on validation",
        "",
        f"Selection rule: per baseline, the grid point with the highest mean `{suite.selection_metric}` on "
        f"{suite.eval.n_validation} validation trials over {suite.sweep_seeds} seed(s)"
        + (f", ties broken by the lower `{suite.tiebreak_metric}`" if suite.tiebreak_metric else "")
        + f"; then {suite.final_seeds} training seeds of it"
        + (" (or the entry's own `seeds`: the seeds column)" if any(
            suite.baselines[e].seeds for e in report_entries(plan, summary) if e in suite.baselines) else "")
        + f", each evaluated on {suite.eval.n_test} test trials "
        "(disjoint seeds). Values are mean ± std over training seeds; rates in %.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for entry in report_entries(plan, summary):
        rows = test[test.baseline == entry]
        if rows.empty:
            continue
        ours = [mean_std(rows[m], 100.0 if m in percent else 1.0) if m in rows else UNDEFINED for m in metrics]
        paper = suite.paper.get(entry, {})
        theirs = [_paper_value(paper.get(m), m in percent) for m in metrics]
        lines.append("| " + " | ".join([entry, rows.params.iloc[0], str(rows.seed.nunique()),
                                        str(int(rows.n_trials.sum()))] + ours + theirs) + " |")
    lines += breakdown_lines(plan, summary)
    lines += classifier_lines(plan, summary)
    if suite.paper_note:
        lines += ["", suite.paper_note]
    return "\n".join(lines) + "\n"


def breakdown_means(plan: Plan, summary: pd.DataFrame) -> pd.DataFrame:
    """Per selected entry (rows, in the suite's order), the mean over training seeds of each
    ``report.breakdown`` metric on test trials (columns); empty when the suite names none."""
    metrics = plan.suite.report.breakdown
    test = summary[(summary.split == "test") & summary.selected]
    if not metrics or not set(metrics) <= set(test.columns):
        return pd.DataFrame()
    return test.groupby("baseline")[metrics].mean().reindex(report_entries(plan, test))


def breakdown_label(metric: str, metrics: list[str]) -> str:
    """A breakdown metric's name without the prefix all of them share (``outcome_not_reached`` -> ``not_reached``)."""
    prefix = os.path.commonprefix(metrics) if len(metrics) > 1 else ""
    return metric[len(prefix[: prefix.rfind("_") + 1]):]


def breakdown_lines(plan: Plan, summary: pd.DataFrame) -> list[str]:
    means = breakdown_means(plan, summary)
    if means.empty:
        return []
    metrics = list(means.columns)
    header = ["baseline"] + [breakdown_label(m, metrics) for m in metrics]
    lines = ["", "## Outcome breakdown (test, selected configurations; % of all, mean over seeds)", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry, row in means.iterrows():
        lines.append("| " + " | ".join([entry] + [UNDEFINED if pd.isna(v) else f"{100 * v:.1f}" for v in row]) + " |")
    return lines


def classifier_lines(plan: Plan, summary: pd.DataFrame) -> list[str]:
    """The classifier's sigma_min beside the sigma_min that the ambient sweep selected."""
    reports = sorted(plan.annotate_dir.glob("classifier-*.json"))
    if not reports:
        return []
    lines = ["", "## sigma_min: classifier vs sweep", ""]
    for path in reports:
        info = json.loads(path.read_text())
        g = info["granularities"]
        lines.append(
            f"- classifier on `{path.stem.removeprefix('classifier-')}` (held-out accuracy "
            f"{info['accuracy']:.3f}): per dataset {g['dataset']['sigma_min_mean']:.3f}; per bucket mean "
            f"{g['bucket']['sigma_min_mean']:.3f}; per datapoint median {g['datapoint']['sigma_min_median']:.3f} "
            f"({g['datapoint']['n_never_crossed']} samples never crossed)"
            + ("; **not informative**: even at the lowest noise level it barely separates held-out chunks "
               f"(accuracy {info['accuracy_per_t'][0]:.3f}), so its sigma_min reflects what it memorised"
               if info.get("uninformative") else "")
        )
    baselines = [BASELINES.find(plan.baseline_name(e)) for e in plan.suite.baselines]
    swept = {b.replaces_sweep_of for b in baselines if b is not None}
    for entry in report_entries(plan, summary):
        if entry not in plan.suite.baselines or plan.baseline_name(entry) not in swept:
            continue
        picked = summary[(summary.baseline == entry) & summary.selected & (summary.split == "test")]
        if not picked.empty:
            lines.append(f"- `{entry}` sweep, selected on validation trials: {picked.params.iloc[0]}")
    return lines


def _paper_value(value: Any, percent: bool) -> str:
    if value is None:
        return UNDEFINED
    if isinstance(value, (int, float)):
        return f"{value * 100:.1f}" if percent and value <= 1.0 else f"{value}"
    return str(value)
