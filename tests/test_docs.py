"""Every command in the README and docs/ (the lines of their fenced shell blocks) is run in
smoke form: here (the cheap ones, in a temp directory), by CI (``.ci/run``), or by the test
that ``LONG`` names for a command that takes hours or a cluster. Every ``ambient_bench``
command is also parsed by its own command line and, for runs, its whole config validated,
so a flag or key that the code no longer has fails here. The docs' Python examples run."""

from __future__ import annotations

import ast
import re
import shlex
import sys
from pathlib import Path

import pytest

from ambient_bench.cli import compare as compare_cli
from ambient_bench.cli import datasets as datasets_cli
from ambient_bench.cli import run as run_cli
from ambient_bench.config.suites import load_suite
from ambient_bench.jobs.plan import Plan
from ambient_bench.pipeline.checks import validate_run
from ambient_bench.registry import BASELINES

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^\s*```(\w*)\s*$")
SHELL_LANGUAGES = ("", "bash", "sh", "console")
PROGRAMS = ("python", "python3", "pip", "ray")

# Run by .ci/run: the command -> the text .ci/run runs it as.
CI = {
    "python3 -m venv .venv && . .venv/bin/activate": 'python3 -m venv "$venv"',
    'pip install torch==2.13.0 -e ".[dev,ray]"': 'pip install torch==2.13.0 -e ".[dev,ray]"',
    "python -m pytest -q": "python -m pytest -q",
}
MAZE_SMOKE = "test_runner.py::test_smoke_run_writes_every_output"  # every stage of the maze at smoke
BINSORT_SMOKE = "test_runner.py::test_binsort_smoke_through_the_same_runner"
RAY_CLUSTER = "test_ray.py::test_cli_joins_a_running_cluster_by_address"  # a local Ray instance stands in
GPU_CHECK = "python -m ambient_bench.bench --areas gpu --device cuda --json gpu.json"
# Commands of hours or of a cluster -> the test that runs the same command in smoke form.
LONG = {
    "python -m ambient_bench.run --suite maze": MAZE_SMOKE,
    "python -m ambient_bench.run --suite maze --preset smoke": MAZE_SMOKE,
    "python -m ambient_bench.run --suite maze --stage annotate": MAZE_SMOKE,
    "python -m ambient_bench.run --suite maze --set train.steps=500 --set eval.n_test=200": MAZE_SMOKE,
    "python -m ambient_bench.run --suite maze --out results": MAZE_SMOKE,
    "python -m ambient_bench.run --suite binsort --seeds 3": BINSORT_SMOKE,
    "python -m ambient_bench.run --suite binsort --preset quick": BINSORT_SMOKE,
    "python -m ambient_bench.run --suite binsort --preset quick --baselines clean_only,locality": BINSORT_SMOKE,
    'python -m ambient_bench.run --suite maze --baselines clean_only,middle_band --set '
    '"baselines.middle_band.grid.sigma_min=[0.1, 0.2, 0.462]"':
        "test_package.py::test_entry_point_baseline_runs_by_name_with_its_grid_from_the_command_line",
    "python -m ambient_bench.run --suite maze --executor ray --workers 2":
        "test_ray.py::test_maze_smoke_on_ray_matches_pool_and_reruns_without_work",
    "python -m ambient_bench.run --suite maze --executor ray --ray-address auto": RAY_CLUSTER,
    "python -m ambient_bench.run --suite maze --executor ray --ray-address auto --out /shared/runs": RAY_CLUSTER,
    "python -m ambient_bench.run --suite maze --preset paper --executor ray --ray-address auto --out /shared/runs "
    "--threads 8": RAY_CLUSTER,
    GPU_CHECK: "test_bench.py::test_the_gpu_checks_dry_run_on_the_cpu_writes_every_figure",  # needs a GPU
    "python results/maze/external/prm_minari.py --episodes 5000 --out exports":
        "test_interop.py::test_the_prm_example_script_writes_a_minari_source_the_maze_accepts",
    "python -m ambient_bench.run --suite maze --set datasets.corrupt.generator=external --set "
    "'datasets.corrupt.params={format: minari, path: exports/ambient_bench/maze/prm-v0}' --baselines "
    "corrupt_only,cotrain,ambient --seeds 1 --out results/maze/external":
        "test_docs.py::test_cheap_doc_commands_run_in_smoke_form",  # IMPORT below: the same at smoke
    "python -m ambient_bench.run --suite maze --preset smoke --baselines ambient,ambient_ft,cotrain_ft --set "
    '"baselines.ambient_ft={baseline: ambient, grid: {sigma_min: [0.074, 0.2]}, finetune_steps: 5}" --set '
    '"baselines.cotrain_ft={baseline: cotrain, grid: {alpha: [0.1]}, finetune_steps: 5}"':
        "test_finetune.py::test_the_pretraining_trains_once_for_every_run_that_needs_it_and_the_clean_phase_starts_"
        "from_it",
    "python -m ambient_bench.run --suite maze --preset smoke --baselines ambient_sel --set "
    '"baselines.ambient_sel={baseline: ambient, grid: {sigma_min: [0.2], finetune_steps: [0, 6]}}"':
        "test_finetune.py::test_validation_chooses_among_finetune_steps_and_the_zero_point_trains_no_second_time",
    "ray start --head --port=6379 --num-cpus=32": RAY_CLUSTER,
    "ray start --address=HEAD_IP:6379 --num-cpus=32 --num-gpus=8": RAY_CLUSTER,
}
# Run by test_cheap_doc_commands_run_in_smoke_form below (with --workers 1 / fewer repeats).
EXPORT_ZARR = "python -m ambient_bench.datasets export --suite maze --preset smoke --format zarr --out exports"
EXPORT_MINARI = "python -m ambient_bench.datasets export --suite maze --preset smoke --format minari --out exports"
IMPORT = ("python -m ambient_bench.run --suite maze --preset smoke --set datasets.corrupt.generator=external --set "
          "'datasets.corrupt.params={format: minari, path: exports/ambient_bench/maze/corrupt-v0}'")
LIST = "python -m ambient_bench.run --list"
BENCH = "python -m ambient_bench.bench --json bench.json"
COMPARE = ("python -m ambient_bench.compare --suite binsort --preset quick",
           "python -m ambient_bench.compare --suite binsort --run runs --reference results --metrics success_rate "
           "--out cmp.md")
RUN_HERE = (EXPORT_ZARR, EXPORT_MINARI, IMPORT, LIST, BENCH, *COMPARE)


def fenced_blocks(path: Path) -> list[tuple[str, list[str]]]:
    """(language, lines) of every fenced block."""
    blocks, language, lines = [], None, []
    for line in path.read_text().splitlines():
        match = FENCE.match(line)
        if match and language is None:
            language, lines = match.group(1), []
        elif match:
            blocks.append((language, lines))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def doc_commands() -> dict[str, Path]:
    """Command -> the first doc it is in: lines of shell blocks that start with a program,
    continuation lines joined, trailing comments removed."""
    found: dict[str, Path] = {}
    for path in DOCS:
        for language, lines in fenced_blocks(path):
            if language not in SHELL_LANGUAGES:
                continue
            text = "\n".join(lines).replace("\\\n", " ")
            for line in text.splitlines():
                command = " ".join(re.split(r"\s+#\s", line.strip())[0].split())
                if command.split(" ")[0] in PROGRAMS:
                    found.setdefault(command, path)
    return found


def python_examples() -> list[str]:
    return [("\n".join(lines)) for path in DOCS for language, lines in fenced_blocks(path) if language == "python"]


def test_the_extractor_reads_continuations_and_comments(tmp_path, monkeypatch):
    doc = tmp_path / "x.md"
    doc.write_text("```bash\npython -m a \\\n    --b c   # note\nls\n```\n```\ntree/  python is not first\n"
                   "python3 -m x\n```\n```yaml\npython: no\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "DOCS", [doc])
    assert list(doc_commands()) == ["python -m a --b c", "python3 -m x"]


def test_every_doc_command_is_run_in_smoke_form():
    commands = doc_commands()
    assert len(commands) >= 20  # the docs were read
    unaccounted = sorted(c for c in commands if c not in CI and c not in LONG and c not in RUN_HERE)
    assert not unaccounted, f"run these in a test, or list them in LONG with the test of their smoke form: {unaccounted}"
    stale = sorted(c for c in (*CI, *LONG, *RUN_HERE) if c not in commands)
    assert not stale, f"no longer in the docs: {stale}"
    ci = (ROOT / ".ci" / "run").read_text()
    assert all(text in ci for text in CI.values())
    for node in set(LONG.values()):
        file, _, name = node.partition("::")
        tree = ast.parse((ROOT / "tests" / file).read_text())
        assert name in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}, node


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = [line.lstrip("#").strip() for line in path.read_text().splitlines() if re.match(r"#+ ", line)]
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_relative_links_and_their_anchors_resolve():
    links = 0
    for path in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            assert linked.exists(), f"{path.name}: {target}"
            assert not anchor or anchor in anchors(linked), f"{path.name}: {target}"
            links += 1
    assert links >= 20


@pytest.fixture
def middle_band():
    """The README's baseline example, executed: it registers ``middle_band`` (removed afterwards)."""
    readme_examples = [e for e in python_examples() if "register_baseline(\"middle_band\")" in e]
    assert readme_examples
    exec(compile(readme_examples[0], "README.md", "exec"), {})
    assert "middle_band" in BASELINES.names()
    yield
    BASELINES._items.pop("middle_band")


AMBIENT_COMMANDS = sorted(c for c in doc_commands()
                          if c.startswith("python -m ambient_bench.") and c not in (BENCH, GPU_CHECK, *COMPARE))


@pytest.mark.parametrize("command", AMBIENT_COMMANDS)
def test_ambient_bench_commands_parse_and_their_config_validates(command, middle_band, tmp_path):
    argv = shlex.split(command)[3:]
    module = shlex.split(command)[2].rpartition(".")[2]
    if module == "datasets":
        args = datasets_cli.parser().parse_args(argv)
        overrides = args.overrides
    else:
        args = run_cli.parser().parse_args(argv)
        if args.list:
            return
        overrides = run_cli.config_overrides(args)
    if "exports/" in command:  # its file is an export, made by the smoke test below
        return
    suite = load_suite(args.suite, args.preset, overrides)
    entries = args.baselines.split(",") if getattr(args, "baselines", None) else None
    validate_run(Plan(suite, args.preset, tmp_path, entries))


def test_the_compare_commands_run_on_the_reference_as_the_run(tmp_path, monkeypatch, capsys):
    """The committed binsort reference stands in for a fresh run: no differences."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").symlink_to(ROOT / "results")
    (tmp_path / "runs" / "binsort").mkdir(parents=True)
    (tmp_path / "runs" / "binsort" / "quick").symlink_to(ROOT / "results" / "binsort" / "quick")
    for command in COMPARE:
        assert compare_cli.main(shlex.split(command)[3:]) == 0
    assert "locality" in capsys.readouterr().out and "success_rate" in (tmp_path / "cmp.md").read_text()


@pytest.mark.slow
def test_cheap_doc_commands_run_in_smoke_form(tmp_path, monkeypatch, capsys):
    from ambient_bench.cli import bench as bench_cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "elsewhere"))  # restored after the example sets it
    assert run_cli.main(shlex.split(LIST)[3:]) == 0
    assert "baselines:" in capsys.readouterr().out
    for export in (EXPORT_ZARR, EXPORT_MINARI):
        assert datasets_cli.main([*shlex.split(export)[3:], "--workers", "1"]) == 0
    assert (tmp_path / "exports/maze/corrupt.zarr/.zattrs").exists()
    assert run_cli.main([*shlex.split(IMPORT)[3:], "--workers", "1", "--no-progress", "--stage", "datagen"]) == 0
    imported = [p for p in (tmp_path / "runs/maze/smoke/data").iterdir() if "external" in (p / "meta.json").read_text()]
    assert len(imported) == 1 and imported[0].name.startswith("corrupt-")
    minari_example, = [e for e in python_examples() if "minari.load_dataset" in e]
    namespace: dict = {}
    exec(compile(minari_example, "docs/extending.md", "exec"), namespace)
    assert namespace["env"].spec.id == "ambient_bench/Maze2D-v0"
    assert bench_cli.main([*shlex.split(BENCH)[3:], "--areas", "train", "--repeats", "1"]) == 0
    assert "train.steps_per_s" in (tmp_path / "bench.json").read_text()


ABLATION_SCRIPTS = sorted((ROOT / "results").glob("*/ablations/rebuild.sh"))


def rebuild_command(script: Path, out: Path) -> str:
    """The script's run command with its defaults filled in: OUT and every measured entry."""
    text = script.read_text().replace("\\\n", " ")
    entries = re.search(r"^entries=\$\{2:-([^}]*)\}$", text, re.M).group(1)
    command = next(line for line in text.splitlines() if line.startswith("python -m ambient_bench.run"))
    return command.replace('"$out"', str(out)).replace('"$entries"', entries).replace('"${@:3}"', "")


@pytest.mark.parametrize("script", ABLATION_SCRIPTS, ids=lambda p: p.parent.parent.name)
def test_the_ablation_scripts_parse_validate_and_are_documented_with_their_own_folder(script, tmp_path):
    """Every entry the script defines validates; its README's commands write to the script's
    folder or one below it (`--out results` would overwrite the suite's main report)."""
    args = run_cli.parser().parse_args(shlex.split(rebuild_command(script, tmp_path))[3:])
    suite = load_suite(args.suite, args.preset, run_cli.config_overrides(args))
    defined = [o.partition("=")[0].removeprefix("baselines.") for o in args.overrides if o.startswith("baselines.")]
    validate_run(Plan(suite, args.preset, tmp_path, list(dict.fromkeys(args.baselines.split(",") + defined))))
    folder = script.parent.relative_to(ROOT).as_posix()
    documented = re.findall(r"rebuild\.sh (\S+)", (script.parent / "README.md").read_text())
    assert folder in documented and all(f"{out}/".startswith(f"{folder}/") for out in documented), documented
