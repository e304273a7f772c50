"""Data in and out: ``python -m ambient_bench.datasets export`` writes zarr ReplayBuffers and
Minari datasets of the maze smoke data, and the ``external`` generator reads them (and
``.npz`` files) back as sources, bit for bit; every bad external source is one line, exit
code 2, nothing written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

from ambient_bench.cli import datasets as datasets_cli
from ambient_bench.cli.run import main as run_main
from ambient_bench.config.sections import PolicyConfig
from ambient_bench.config.suites import load_suite
from ambient_bench.data import load_dataset
from ambient_bench.jobs.plan import Plan
from ambient_bench.policy.baseline import make_baseline
from ambient_bench.policy.sampler import NoiseBandSampler
from ambient_bench.policy.trainer import build_policy

zarr = pytest.importorskip("zarr")
minari = pytest.importorskip("minari")

SMOKE = ["--suite", "maze", "--preset", "smoke", "--workers", "1"]
MAZE_OBS_DIM, MAZE_ACTION_DIM = 10, 2


def run_cli(main, argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def external(name: str, fmt: str, path: Path, n_episodes: int | None = None, **params) -> list[str]:
    """--set overrides that make dataset ``name`` an external source."""
    settings = {"format": fmt, "path": str(path), **params}
    overrides = [f"datasets.{name}.generator=external", f"datasets.{name}.params={json.dumps(settings)}"]
    return overrides + ([f"datasets.{name}.n_episodes={n_episodes}"] if n_episodes else [])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The maze smoke datasets (generated through the run's datagen stage) exported in both formats."""
    root = tmp_path_factory.mktemp("interop")
    for fmt in ("zarr", "minari"):
        argv = ["export", *SMOKE, "--format", fmt, "--out", str(root / fmt), "--runs", str(root / "runs")]
        assert datasets_cli.main(argv) == 0
    originals = {p.name.split("-")[0]: load_dataset(p) for p in sorted((root / "runs/maze/smoke/data").iterdir())}
    return root, originals


def import_as_sources(root: Path, fmt: str, originals) -> dict:
    """The exports brought back as the suite's clean and corrupt sources by a datagen stage."""
    paths = {"zarr": {n: root / "zarr/maze" / f"{n}.zarr" for n in originals},
             "minari": {n: root / "minari/ambient_bench/maze" / f"{n}-v0" for n in originals}}[fmt]
    overrides = [o for n, ds in originals.items() for o in external(n, fmt, paths[n], ds.n_episodes)]
    out = root / f"imported-{fmt}"
    assert run_main([*SMOKE, "--no-progress", "--stage", "datagen", "--out", str(out),
                     *sum((["--set", o] for o in overrides), [])]) == 0
    return {p.name.split("-")[0]: load_dataset(p) for p in sorted((out / "maze/smoke/data").iterdir())}


def training_batches(datasets: dict, n_batches: int = 3) -> list:
    baseline = make_baseline("cotrain", {"alpha": 0.3})
    config = PolicyConfig(down_dims=[16, 32], step_embed_dim=16)
    policy = build_policy(datasets, baseline, config)
    sampler = NoiseBandSampler(datasets, baseline, policy.schedule, config.horizon, policy.normalizer)
    generator = torch.Generator().manual_seed(0)
    return [sampler.sample(64, generator) for _ in range(n_batches)]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["zarr", "minari"])
def test_export_then_import_round_trips_bit_for_bit(exported, fmt):
    root, originals = exported
    imported = import_as_sources(root, fmt, originals)
    assert set(imported) == {"clean", "corrupt"}
    for name, ds in originals.items():
        assert imported[name].path.name != ds.path.name  # its own key: the file's checksum, not the generator's
        for array in ("obs", "action", "episode_ends", "episode_seed", "episode_source"):
            np.testing.assert_array_equal(getattr(imported[name], array), getattr(ds, array))
    for ours, theirs in zip(training_batches(originals), training_batches(imported)):
        for field in ("obs", "action", "t", "is_corrupt"):
            assert torch.equal(getattr(ours, field), getattr(theirs, field))


@pytest.mark.slow
def test_zarr_export_reads_back_as_a_replay_buffer(exported):
    """Read the way diffusion_policy's ReplayBuffer.copy_from_path does: data/* and meta/* to numpy."""
    root, originals = exported
    for name, ds in originals.items():
        group = zarr.open(str(root / "zarr/maze" / f"{name}.zarr"), "r")
        assert group.store is not None and isinstance(group, zarr.hierarchy.Group)
        meta = {key: value[:] for key, value in group["meta"].items()}
        data = {key: group["data"][key][:] for key in group["data"].keys()}
        assert sorted(data) == ["action", "obs"] and meta["episode_ends"].dtype == np.int64
        assert all(len(values) == meta["episode_ends"][-1] for values in data.values())
        np.testing.assert_array_equal(data["obs"], ds.obs)
        np.testing.assert_array_equal(data["action"], ds.action)
        np.testing.assert_array_equal(meta["episode_ends"], ds.episode_ends)
        np.testing.assert_array_equal(meta["episode_seed"], ds.episode_seed)
        recorded = group.attrs["ambient_bench"]
        assert recorded["key"] == ds.path.name and recorded["source"] == name and recorded["sha256"] == ds.sha256
        assert recorded["generator"] == {"clean": "maze_gcs", "corrupt": "maze_rrt"}[name]
        assert recorded["seeds"]["split"] == f"datagen_{name}"


@pytest.mark.slow
def test_minari_export_loads_and_recovers_the_environment(exported, monkeypatch):
    root, originals = exported
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root / "minari"))
    assert set(minari.list_local_datasets()) == {"ambient_bench/maze/clean-v0", "ambient_bench/maze/corrupt-v0"}
    for name, ds in originals.items():
        dataset = minari.load_dataset(f"ambient_bench/maze/{name}-v0")
        assert dataset.total_episodes == ds.n_episodes and dataset.total_steps == len(ds.obs)
        assert dataset.storage.metadata["ambient_bench"]["key"] == ds.path.name
        for eval_env in (False, True):
            env = dataset.recover_environment(eval_env=eval_env)
            assert env.spec.id == "ambient_bench/Maze2D-v0" and env.spec.kwargs["layout"] == "boxes_fixed_start"
        episode = next(dataset.iterate_episodes([0]))
        assert len(episode.observations) == len(episode.actions) + 1
        # The recovered env, reset with the episode's seed and stepped with its actions, replays it.
        obs, _ = env.reset(seed=int(ds.episode_seed[0]))
        np.testing.assert_array_equal(obs, episode.observations[0])
        for k, action in enumerate(episode.actions[:5]):
            obs, *_ = env.step(action)
            np.testing.assert_allclose(obs, episode.observations[k + 1], atol=1e-6)


@pytest.mark.slow
def test_an_export_of_other_data_is_not_overwritten(exported, capsys):
    root, _ = exported
    argv = ["export", *SMOKE, "--format", "zarr", "--out", str(root / "zarr"), "--runs", str(root / "runs"),
            "--set", "datasets.corrupt.n_episodes=29"]
    assert datasets_cli.main(argv) == 2
    line, = capsys.readouterr().err.strip().splitlines()
    assert "corrupt.zarr exists and was not exported from dataset corrupt-" in line
    assert not list((root / "runs/maze/smoke/data").glob("*.tmp"))


def test_datasets_of_an_entrys_own_suite_variant_are_exported_under_their_key(tmp_path):
    from ambient_bench.pipeline.runner import Runner

    runner = Runner(load_suite("binsort", "smoke"), "smoke", tmp_path / "runs")
    targets = datasets_cli.export_targets(runner, "minari", tmp_path / "out")
    conditioned = {d.name for d, t in targets.items() if t.suite.task_params["task_conditioning"]}
    assert len(targets) == 4 and len(conditioned) == 2  # the task-conditioned entries' own datasets
    assert {t.name for t in targets.values()} == {"clean", "corrupt"} | conditioned
    assert {t.path.relative_to(tmp_path / "out").parts[:2] for t in targets.values()} == {("ambient_bench", "binsort")}
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt,module", [("zarr", "zarr"), ("minari", "minari")])
def test_a_format_without_its_extra_says_how_to_install_it(fmt, module, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    argv = ["export", *SMOKE, "--format", fmt, "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")]
    assert datasets_cli.main(argv) == 2
    line, = capsys.readouterr().err.strip().splitlines()
    assert f"pip install -e \".[{fmt}]\")" in line and line.startswith(f"error: format {fmt} needs {module}")
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


# ------------------------------------------------------------------------------ import


def write_npz(path: Path, lengths=(5, 7), obs_dim=MAZE_OBS_DIM, action_dim=MAZE_ACTION_DIM, **replace) -> Path:
    rng = np.random.default_rng(0)
    arrays = {"obs": rng.normal(size=(sum(lengths), obs_dim)).astype(np.float32),
              "action": rng.normal(size=(sum(lengths), action_dim)).astype(np.float32),
              "episode_ends": np.cumsum(lengths)}
    arrays.update(replace)
    np.savez(path, **arrays)
    return path


def nan_obs() -> np.ndarray:
    obs = np.zeros((12, MAZE_OBS_DIM), np.float32)
    obs[6, 3] = np.nan
    return obs


BAD_SOURCES = [
    # (how the file is made, extra params, text the one line must contain)
    ("wrong obs dim", lambda p: write_npz(p, obs_dim=8), {},
     "datasets.corrupt.params: the episodes have obs dim 8 and action dim 2; task maze needs 10 and 2"),
    ("NaN", lambda p: write_npz(p, obs=nan_obs()), {}, "episode 1 has NaN or inf in obs"),
    ("inf action", lambda p: write_npz(p, action=np.full((12, 2), np.inf, np.float32)), {},
     "episode 0 has NaN or inf in action"),
    ("empty episode", lambda p: write_npz(p, episode_ends=np.array([5, 5, 12])), {}, "episode 1 is empty"),
    ("ends beyond the arrays", lambda p: write_npz(p, episode_ends=np.array([5, 20])), {},
     "12 observations and 12 actions, but the episodes end at step 20"),
    ("missing key", lambda p: write_npz(p), {"obs_key": "state"}, "has no state; its keys there: action, episode_ends, obs"),
    ("unreadable file", lambda p: p.write_bytes(b"not a zip file") and p, {}, "cannot read"),
    ("missing file", lambda p: p.with_name("nowhere.npz"), {}, "nowhere.npz' does not exist"),
    ("unknown format", lambda p: write_npz(p), {"format": "hdf5"}, "format 'hdf5' is not one of zarr, minari, npz"),
    ("bad slice", lambda p: write_npz(p), {"obs_slice": [0]}, "obs_slice=[0] must be [start, stop]"),
    ("bad transform", lambda p: write_npz(p), {"transform": "numpy.nowhere"}, "transform='numpy.nowhere' cannot be imported"),
    ("too few episodes", lambda p: write_npz(p), {"n_episodes": 3}, "datasets.corrupt.n_episodes: 3, but the source holds 2"),
]


@pytest.mark.parametrize("make,params,message", [b[1:] for b in BAD_SOURCES], ids=[b[0] for b in BAD_SOURCES])
def test_a_bad_external_source_is_one_line_exit_2_and_writes_nothing(make, params, message, tmp_path, capsys):
    path = make(tmp_path / "episodes.npz")
    params = dict(params)
    n_episodes = params.pop("n_episodes", 2)
    fmt = params.pop("format", "npz")
    out = tmp_path / "out"
    code = run_cli(run_main, [*SMOKE, "--no-progress", "--stage", "datagen", "--out", str(out),
                              *sum((["--set", o] for o in external("corrupt", fmt, path, n_episodes, **params)), [])])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["zarr", "minari"])
def test_an_unreadable_zarr_or_minari_source_is_one_line(fmt, tmp_path, capsys):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("not a dataset")
    code = run_cli(run_main, [*SMOKE, "--no-progress", "--stage", "datagen", "--out", str(tmp_path / "out"),
                              *sum((["--set", o] for o in external("corrupt", fmt, tmp_path / "junk", 2)), [])])
    line, = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and f"cannot read {tmp_path / 'junk'} as {fmt}" in line
    assert not (tmp_path / "out").exists()


def test_a_zarr_source_without_the_obs_key_names_the_keys_it_has(tmp_path, capsys):
    root = zarr.open_group(str(tmp_path / "buffer.zarr"), mode="w")
    root.create_group("data").array("state", np.zeros((4, MAZE_OBS_DIM), np.float32))
    root["data"].array("action", np.zeros((4, 2), np.float32))
    root.create_group("meta").array("episode_ends", np.array([4]))
    code = run_cli(run_main, [*SMOKE, "--no-progress", "--stage", "datagen", "--out", str(tmp_path / "out"),
                              *sum((["--set", o] for o in external("corrupt", "zarr", tmp_path / "buffer.zarr", 1)), [])])
    line, = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "has no data/obs; its keys there: action, state" in line
    assert not (tmp_path / "out").exists()


def swap_and_scale(obs: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A transform for the test below, imported by its dotted path."""
    return obs, 2 * action[:, ::-1]


def test_slices_and_a_transform_map_the_episodes_to_the_task(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    path = write_npz(tmp_path / "wide.npz", obs_dim=13, action_dim=3)
    params = {"format": "npz", "path": str(path), "obs_slice": [1, 11], "action_slice": [0, 2],
              "transform": "test_interop.swap_and_scale"}
    suite = load_suite("maze", "smoke", ["datasets.corrupt.generator=external",
                                         f"datasets.corrupt.params={json.dumps(params)}", "datasets.corrupt.n_episodes=2"])
    from ambient_bench.registry import GENERATORS

    out = GENERATORS.get("external")([1_000_000_001, 1_000_000_000], **params)
    raw = np.load(path)
    assert [ep.seed for ep in out.episodes] == [1_000_000_001, 1_000_000_000]
    np.testing.assert_array_equal(out.episodes[1].obs, raw["obs"][:5, 1:11])
    np.testing.assert_array_equal(out.episodes[0].action, 2 * raw["action"][5:, 1::-1])
    # The dataset's key is the file's checksum: same bytes elsewhere -> same key part; new bytes -> new key.
    plan = Plan(suite, "smoke", tmp_path / "runs")
    before = plan.dataset_dir(suite, "corrupt")
    write_npz(path, obs_dim=13, action_dim=3, obs=np.ones((12, 13), np.float32))
    assert plan.dataset_dir(suite, "corrupt") != before
    assert plan.dataset_dir(suite, "clean") == Plan(load_suite("maze", "smoke"), "smoke", tmp_path / "runs").dataset_dir(
        load_suite("maze", "smoke"), "clean")


def test_gymnasium_spec_of_each_task_names_its_env():
    from ambient_bench.interop import gymnasium_spec

    assert gymnasium_spec("maze", {"layout": "boxes", "max_steps": 9}).id == "ambient_bench/Maze2D-v0"
    spec = gymnasium_spec("binsort", {"n_blocks": 2, "rule": "red_left", "task_conditioning": False})
    assert spec.id == "ambient_bench/BinSort-v0" and spec.kwargs["n_blocks"] == 2
    assert isinstance(gymnasium.make(spec).observation_space, gymnasium.spaces.Box)


def test_the_arm_exports_to_minari_with_the_bounds_of_one_step(tmp_path, monkeypatch):
    """The arm's env takes a whole plan, (64, 7) deviations, in one step; its episodes store one
    waypoint's deviation per step. Each step keeps the env's bounds: the observation's joint
    limits, and the action's bound on every row of a plan (not an unbounded box)."""
    from ambient_bench.data import Dataset
    from ambient_bench.envs import arm
    from ambient_bench.interop import gymnasium_spec, write_minari

    q0, q1 = np.zeros(7), np.full(7, 0.5)
    bends = [arm.straight_line(q0, q1) + np.sin(np.linspace(0, np.pi, 65))[:, None] * h for h in (0.1, -0.2)]
    episodes = [arm.episode_from_plan(plan, q1, seed) for seed, plan in enumerate(bends)]
    ds = Dataset(tmp_path, {}, np.concatenate([e.obs for e in episodes]), np.concatenate([e.action for e in episodes]),
                 np.array([64, 128]), np.array([0, 1]), np.array(["clean", "clean"]))
    metadata = {"generator": "test", "suite": "arm", "preset": "smoke", "name": "clean", "source": "clean"}
    write_minari(ds, tmp_path / "minari", "ambient_bench/arm/clean-v0", gymnasium_spec("arm", {}), metadata)

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    dataset = minari.load_dataset("ambient_bench/arm/clean-v0")
    env = gymnasium.make("ambient_bench/Arm7-v0")
    span = (arm.Q_UPPER - arm.Q_LOWER).astype(np.float32)
    assert dataset.spec.observation_space == env.observation_space
    assert dataset.spec.action_space == gymnasium.spaces.Box(-span, span, dtype=np.float32)
    for episode, stored in zip(episodes, dataset.iterate_episodes()):
        np.testing.assert_array_equal(stored.actions, episode.action)
        assert all(dataset.spec.action_space.contains(a) for a in stored.actions)


@pytest.mark.slow
def test_the_prm_example_script_writes_a_minari_source_the_maze_accepts(tmp_path):
    """results/maze/external/prm_minari.py at smoke size: a dataset built outside the benchmark."""
    import importlib.util

    from ambient_bench.pipeline.checks import validate_run
    from ambient_bench.registry import GENERATORS
    from ambient_bench.seeds import split_seeds

    script = Path(__file__).resolve().parent.parent / "results/maze/external/prm_minari.py"
    spec = importlib.util.spec_from_file_location("prm_minari", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(3, tmp_path, "boxes_fixed_start", time_per_query_s=0.05)
    path = tmp_path / "ambient_bench/maze/prm-v0"
    overrides = external("corrupt", "minari", path, 3)
    suite = load_suite("maze", "smoke", overrides)
    validate_run(Plan(suite, "smoke", tmp_path / "runs"))  # dims, counts, finite values: as the run checks them
    out = GENERATORS.get("external")(split_seeds("datagen_corrupt", 3).tolist(), format="minari", path=str(path))
    assert len(out.episodes) == 3 and all(ep.obs.shape[1] == MAZE_OBS_DIM for ep in out.episodes)
    goal = out.episodes[0].obs[0, -2:]
    assert np.linalg.norm(out.episodes[0].action[-1] - goal) <= 0.1  # it ends at its goal
