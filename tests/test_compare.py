"""The compare command: a fresh run beside the committed reference, with its provenance."""

import json
import shutil
from pathlib import Path

import pandas as pd

from ambient_bench.cli.compare import main

REFERENCE = Path(__file__).resolve().parent.parent / "results"


def test_compare_shows_differences_and_the_references_provenance(tmp_path, capsys):
    run = tmp_path / "runs" / "binsort" / "quick"
    run.mkdir(parents=True)
    summary = pd.read_csv(REFERENCE / "binsort" / "quick" / "summary.csv")
    moved = (summary.baseline == "clean_only") & (summary.split == "test")
    summary.loc[moved, "success_rate"] += 0.25
    summary.to_csv(run / "summary.csv", index=False)
    (run / "provenance.json").write_text(json.dumps({"git_sha": "f" * 40, "git_dirty": True}))
    assert main(["--suite", "binsort", "--preset", "quick", "--run", str(tmp_path / "runs"),
                 "--reference", str(REFERENCE), "--metrics", "success_rate"]) == 0
    text = capsys.readouterr().out
    reference_sha = json.loads((REFERENCE / "binsort" / "quick" / "provenance.json").read_text())["git_sha"]
    assert f"git {reference_sha[:10]}" in text and "git ffffffffff (uncommitted changes)" in text
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if "| success_rate |" in line}
    assert rows["clean_only"].split(" | ")[4] == "+0.25"
    assert rows["locality"].split(" | ")[4] == "+0"


def test_compare_without_a_run_says_how_to_make_it(tmp_path, capsys):
    assert main(["--suite", "binsort", "--run", str(tmp_path), "--reference", str(REFERENCE)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "python -m ambient_bench.run --suite binsort --preset quick --out" in lines[0]


def test_compare_takes_a_suites_own_preset_and_refuses_an_unknown_one(tmp_path, capsys):
    assert main(["--suite", "arm", "--preset", "slot_pairs", "--run", str(tmp_path), "--reference", str(tmp_path)]) == 2
    assert "no summary at" in capsys.readouterr().err  # slot_pairs is the arm's: the preset passed
    assert main(["--suite", "maze", "--preset", "slot_pairs", "--run", str(tmp_path), "--reference", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["error: unknown preset 'slot_pairs' for suite maze; valid presets: smoke, quick, paper"]


def test_compare_names_a_malformed_summary(tmp_path, capsys):
    run = tmp_path / "binsort" / "quick"
    shutil.copytree(REFERENCE / "binsort" / "quick", run, ignore=shutil.ignore_patterns("runs", "annotate", "*.png"))
    (run / "summary.csv").write_text("suite,preset\nmaze,quick\n")
    assert main(["--suite", "binsort", "--run", str(tmp_path), "--reference", str(REFERENCE)]) == 2
    assert f"{run / 'summary.csv'} is malformed: no column baseline" in capsys.readouterr().err
