"""Package-level contracts: lazy gymnasium ids, plug-in baselines through entry points, quiet logs."""

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

PLUGIN = textwrap.dedent('''
    from dataclasses import dataclass

    from ambient_bench.policy.baseline import EVERY_LEVEL, Band, Baseline, check_sigma, register_baseline


    @register_baseline("middle_band")
    @dataclass
    class MiddleBand(Baseline):
        """Corrupt samples only where sigma > sigma_min; 20 % of each batch clean."""

        sigma_min: float = 0.2

        def __post_init__(self):
            check_sigma(self.sigma_min, "sigma_min", upper_open=True)

        def band(self, source, dataset):
            return EVERY_LEVEL if source == "clean" else Band(sigma_min=self.sigma_min, sigma_max=0.0)

        def dataset_weight(self, source):
            return 0.2 if source == "clean" else 0.8
''')


def test_import_registers_gymnasium_ids_without_heavy_imports():
    code = textwrap.dedent('''
        import sys
        import ambient_bench
        heavy = [m for m in ("torch", "pydrake", "mujoco", "ompl", "ambient_bench.envs") if m in sys.modules]
        assert not heavy, heavy
        import gymnasium
        env = gymnasium.make("ambient_bench/Maze2D-v0")
        obs, _ = env.reset(seed=0)
        assert obs.shape == env.observation_space.shape
        assert "ambient_bench/BinSort-v0" in gymnasium.registry
    ''')
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.slow
def test_entry_point_baseline_runs_by_name_with_its_grid_from_the_command_line(tmp_path):
    """A package that only declares an `ambient_bench.baselines` entry point: run with
    --baselines NAME and --set baselines.NAME.grid...; no suite YAML copied. Drake's INFO
    lines stay out of the output."""
    site = tmp_path / "site"
    (site / "middle_band_plugin").mkdir(parents=True)
    (site / "middle_band_plugin" / "__init__.py").write_text(PLUGIN)
    dist = site / "middle_band_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: middle-band-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[ambient_bench.baselines]\nmiddle_band = middle_band_plugin\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "ambient_bench.run", "--suite", "maze", "--preset", "smoke", "--workers", "1",
         "--no-progress", "--out", str(tmp_path / "out"), "--baselines", "middle_band",
         "--set", "baselines.middle_band.grid.sigma_min=[0.2, 0.462]"],
        env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "drake" not in proc.stderr and "Clarabel" not in proc.stderr
    summary = pd.read_csv(tmp_path / "out" / "maze" / "smoke" / "summary.csv")
    assert set(summary.baseline) == {"middle_band"}
    assert set(summary.params) == {"sigma_min=0.2", "sigma_min=0.462"}
    assert summary[summary.split == "test"].selected.any()
