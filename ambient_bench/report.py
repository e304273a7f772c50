"""Tables and figures of a suite run: summary.csv, table.md, pareto.png, rollouts.png.

Every number comes from the evaluation files of the run; the table's configuration per
entry is the one selected on validation trials (``selected`` in summary.csv).
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import ConfigError, to_dict
from .data import atomic_write_bytes, atomic_write_json, dataset_sha256, load_dataset
from .plan import Plan, RunSpec, eval_path
from .provenance import provenance
from .registry import TASKS
from .seeds import split_seeds
from .spectrum import plot_spectrum as draw_spectrum

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


def without_entries(config: dict[str, Any], entries: list[str]) -> dict[str, Any]:
    return {**config, "baselines": {k: v for k, v in config.get("baselines", {}).items() if k not in entries}}


def merge_previous(plan: Plan, summary: pd.DataFrame, selection: dict[str, dict[str, Any]]):
    """Keep the other entries' rows and selections from the report on disk, if it was made
    with the same config (apart from the entries re-run now); otherwise replace it."""
    previous = read_previous_report(plan.root)
    if previous is None:
        return summary, selection
    current = json.loads(json.dumps(to_dict(plan.suite), default=str))
    if without_entries(previous.config, plan.entries) != without_entries(current, plan.entries):
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
        + f"; then {suite.final_seeds} training seeds of it, each evaluated on {suite.eval.n_test} test trials "
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
    lines += classifier_lines(plan, summary)
    if suite.paper_note:
        lines += ["", suite.paper_note]
    return "\n".join(lines) + "\n"


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
        )
    for entry in report_entries(plan, summary):
        if entry not in plan.suite.baselines or plan.baseline_name(entry) != "ambient":
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


def pareto_mask(x: np.ndarray, y: np.ndarray, x_lower_better: bool) -> np.ndarray:
    """Non-dominated points when y is maximised and x minimised (or maximised)."""
    xs = x if x_lower_better else -x
    keep = np.ones(len(x), dtype=bool)
    for i in range(len(x)):
        dominated = (xs <= xs[i]) & (y >= y[i]) & ((xs < xs[i]) | (y > y[i]))
        keep[i] = not dominated.any()
    return keep


def plot_pareto(plan: Plan, summary: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    cfg = plan.suite.report
    test = summary[summary.split == "test"]
    points = test.groupby(["baseline", "params"], as_index=False)[[cfg.pareto_x, cfg.pareto_y]].mean()
    points = points.dropna()
    fig, ax = plt.subplots(figsize=(7, 5))
    if points.empty:  # e.g. no successful rollout, so no acceleration to plot
        log.warning("no test point has both %s and %s; the Pareto plot says so", cfg.pareto_x, cfg.pareto_y)
        ax.text(0.5, 0.5, f"no configuration has both {cfg.pareto_x} and {cfg.pareto_y}\n"
                "(e.g. no successful rollout)", ha="center", va="center", transform=ax.transAxes)
        save_figure(fig, path)
        plt.close(fig)
        return
    sns.scatterplot(data=points, x=cfg.pareto_x, y=cfg.pareto_y, hue="baseline", style="baseline", s=70, ax=ax)
    for entry in cfg.pareto_sweeps:
        sweep = points[points.baseline == entry]
        if len(sweep) < 2:
            continue
        front = sweep[pareto_mask(sweep[cfg.pareto_x].to_numpy(), sweep[cfg.pareto_y].to_numpy(),
                                  cfg.pareto_x_better == "lower")].sort_values(cfg.pareto_x)
        ax.plot(front[cfg.pareto_x], front[cfg.pareto_y], "--", lw=1, label=f"{entry} front")
    all_front = pareto_mask(points[cfg.pareto_x].to_numpy(), points[cfg.pareto_y].to_numpy(),
                            cfg.pareto_x_better == "lower")
    ax.scatter(points[cfg.pareto_x][all_front], points[cfg.pareto_y][all_front], s=200, facecolors="none",
               edgecolors="k", label="non-dominated")
    for _, row in points.iterrows():
        if row.params != "-":  # every hyper-parameter, e.g. sigma_max=0.9,sigma_min=0.2
            ax.annotate(row.params, (row[cfg.pareto_x], row[cfg.pareto_y]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    better = "lower" if cfg.pareto_x_better == "lower" else "higher"
    ax.set_title(f"{plan.suite.name} / {plan.preset}: test mean per configuration ({better} {cfg.pareto_x} is better)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def save_figure(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    atomic_write_bytes(path, buf.getvalue())


def write_report(plan: Plan, validation, test, chosen) -> None:
    """Write the report of this run's entries merged with the other entries' rows on disk."""
    root = plan.root
    summary = summary_frame(plan, {"validation": validation, "test": test}, chosen)
    selection = {entry: dict(point) for entry, point in chosen.items()}
    summary, selection = merge_previous(plan, summary, selection)
    atomic_write_bytes(root / "summary.csv", summary.to_csv(index=False, na_rep="NaN").encode())
    atomic_write_bytes(root / "table.md", table_markdown(plan, summary).encode())
    plot_pareto(plan, summary, root / "pareto.png")
    plot_rollouts(plan, selection, root / "rollouts.png")
    datasets = load_suite_datasets(plan)
    plot_datasets(plan, datasets, root / "datasets.png")
    plot_spectrum(plan, datasets, selection, root / "spectrum.png")
    render_scene(plan, root / "scene.png")
    atomic_write_json(root / "selection.json", selection)
    atomic_write_json(root / "config.json", to_dict(plan.suite))
    datasets = {p.name: dataset_sha256(json.loads((p / "meta.json").read_text()))
                for p in sorted((root / "data").glob("*")) if (p / "meta.json").exists()}
    atomic_write_json(root / "provenance.json", provenance(datasets))
    log.info("report written to %s", root)


def render_scene(plan: Plan, path: Path) -> None:
    """A rendered frame of the first test episode, if the task can render (needs GL)."""
    task = TASKS.get(plan.suite.task)(**plan.suite.task_params)
    if hasattr(task, "render_scene"):
        task.render_scene(path, int(split_seeds("test", 1)[0]))


def load_suite_datasets(plan: Plan) -> dict[str, Any]:
    """The suite's datasets by name, loaded once for every figure that reads them."""
    return {name: load_dataset(plan.dataset_dir(plan.suite, name)) for name in plan.suite.datasets}


def plot_datasets(plan: Plan, datasets: dict[str, Any], path: Path) -> None:
    """A few demonstrations of each dataset, if the task draws them."""
    task_cls = TASKS.get(plan.suite.task)
    if hasattr(task_cls, "plot_datasets"):
        task_cls.plot_datasets(datasets, plan.suite.task_params, path)


def plot_spectrum(plan: Plan, datasets: dict[str, Any], selection: dict[str, dict[str, Any]],
                  path: Path) -> None:
    """The action-chunk spectrum of the suite's datasets with the noise floor of every swept
    sigma_min, the selected ones drawn bold (``spectrum.plot_spectrum``)."""
    sigmas = sorted({float(v) for entry in plan.suite.baselines.values()
                     for v in entry.grid.get("sigma_min", []) if float(v) < 1})
    selected = {float(params["sigma_min"]) for params in selection.values() if "sigma_min" in params}
    draw_spectrum(datasets, plan.suite.policy.horizon, sigmas, selected, plan.suite.name, path)


def plot_rollouts(plan: Plan, selection: dict[str, dict[str, Any]], path: Path) -> None:
    """Stored test rollouts of each selected policy (training seed 0), if the task draws them:
    read from the evaluation records, so the report never runs a policy."""
    task_cls = TASKS.get(plan.suite.task)
    if not hasattr(task_cls, "plot_rollouts"):
        return
    records = {entry: json.loads(eval_path(plan.run_dir(RunSpec(entry, tuple(sorted(params.items())), 0)), "test").read_text())["records"]
               for entry, params in selection.items()
               if entry in plan.suite.baselines}  # not a plug-in entry of an earlier run that this suite lacks
    task_cls.plot_rollouts(records, plan.suite.task_params, path)
