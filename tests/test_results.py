"""The committed reports under results/ hold what their runs measured, and nothing else.

A report is copied by hand from a run's output folder; these checks catch a copy taken
while a run was still training (a stray run folder) or a table edited after the fact."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ambient_bench.registry import TASKS, load_builtins

ROOT = Path(__file__).resolve().parent.parent
REPORTS = sorted(p.parent for p in (ROOT / "results").rglob("summary.csv") if (p.parent / "runs").is_dir())


def report_id(path: Path) -> str:
    return str(path.relative_to(ROOT / "results"))


def pretraining(run_dir: Path) -> str | None:
    """The run folder a finetuning run started from (its config names the checkpoint)."""
    finetune = json.loads((run_dir / "config.json").read_text()).get("finetune")
    return Path(finetune["from"]).parent.name if finetune else None


def test_there_are_reports_to_check():
    assert {"maze/quick", "binsort/quick", "arm/quick"} <= {report_id(p) for p in REPORTS}


@pytest.mark.parametrize("report", REPORTS, ids=report_id)
def test_every_run_folder_is_a_row_or_the_pretraining_of_one(report):
    rows = set(pd.read_csv(report / "summary.csv").run)
    folders = {p.name for p in (report / "runs").iterdir()}
    assert rows <= folders, f"rows without a run folder: {sorted(rows - folders)}"
    pretrainings = {pretraining(report / "runs" / r) for r in rows} - {None}
    assert folders <= rows | pretrainings, f"run folders no row uses: {sorted(folders - rows - pretrainings)}"


@pytest.mark.parametrize("report", REPORTS, ids=report_id)
def test_every_row_is_its_evaluations_aggregate_of_its_records(report):
    load_builtins()
    config = json.loads((report / "config.json").read_text())
    task = TASKS.get(config["task"])(**config["task_params"])
    checked = 0
    for row in pd.read_csv(report / "summary.csv").to_dict("records"):
        path = report / "runs" / row["run"] / f"eval-{row['split']}.json"
        if not path.exists():  # a report may keep the run's config and log but not its records
            continue
        evaluation = json.loads(path.read_text())
        assert len(evaluation["records"]) == evaluation["n_trials"] == row["n_trials"]
        aggregate = task.aggregate(evaluation["records"])
        for metric, value in evaluation["aggregate"].items():  # an older report lacks metrics added since
            assert np.isclose(aggregate[metric], value, rtol=1e-9, equal_nan=True), (path, metric)
            assert np.isclose(row[metric], value, rtol=1e-9, equal_nan=True), (row["run"], row["split"], metric)
        checked += 1
    assert checked > 0
