"""Config strictness: every bad value is an error that names its key."""

import pytest

from ambient_bench.config.sections import ConfigError
from ambient_bench.config.suites import load_suite
from ambient_bench.policy.baseline import make_baseline


@pytest.mark.parametrize("override,key", [
    ("train.stepz=5", "train.stepz"),
    ("polcy.horizon=16", "polcy"),
    ("train.lr=fast", "train.lr"),
    ("train.steps=1.5", "train.steps"),
    ("policy.horizon=7", "policy.horizon"),  # the smoke U-Net halves it once
    ("policy.n_action_steps=0", "policy.n_action_steps"),
    ("eval.sampler=euler", "eval.sampler"),
    ("datasets.clean.source=dirty", "datasets.clean.source"),
    ("train.ema_decay=1.0", "train.ema_decay"),
    ("policy.window_starts=middle", "policy.window_starts"),
    ("policy.loss_weight_cap=-1", "policy.loss_weight_cap"),
    ("policy.sigma_data=0", "policy.sigma_data"),
])
def test_bad_overrides_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_suite("maze", "smoke", [override])


@pytest.mark.parametrize("name,params,key", [
    ("ambient", {"sigma_min": 1.0}, "sigma_min"),
    ("ambient", {"sigma_min": -0.1}, "sigma_min"),
    ("locality", {"sigma_max": 1.5}, "sigma_max"),
    ("cotrain", {"alpha": 1.2}, "alpha"),
    ("ambient", {"alpha": -0.1}, "alpha"),
    ("locality", {"alpha": "half"}, "alpha"),
    ("ambient_soft", {"temperature": 0}, "temperature"),
    ("ambient_soft", {"sigma_min": 0}, "sigma_min"),
    ("ambient", {"sigma_mni": 0.1}, "sigma_mni"),
    ("ambient_classifier", {"granularity": "episode"}, "granularity"),
])
def test_bad_baseline_params_name_the_key(name, params, key):
    with pytest.raises(ConfigError, match=rf"baselines\.{name}\.{key}"):
        make_baseline(name, params)


def test_bad_grid_value_is_caught_when_the_run_is_planned(tmp_path):
    from ambient_bench.pipeline.runner import Runner

    suite = load_suite("maze", "smoke", ["baselines.ambient.grid.sigma_min=[0.1, 1.0]"])
    with pytest.raises(ConfigError, match=r"baselines\.ambient\.sigma_min"):
        Runner(suite, "smoke", tmp_path)


def test_unknown_suite_and_preset_list_the_valid_names():
    with pytest.raises(ConfigError, match="valid suites: .*maze"):
        load_suite("mase", "smoke")
    with pytest.raises(ConfigError, match="valid presets: smoke, quick, paper"):
        load_suite("maze", "huge")


def test_overrides_parse_yaml_values():
    suite = load_suite("maze", "smoke", ["train.lr=0.001", "policy.down_dims=[8, 16]", "eval.sampler=ddpm"])
    assert suite.train.lr == 0.001 and suite.policy.down_dims == [8, 16] and suite.eval.sampler == "ddpm"


def test_exponent_floats_without_a_dot_are_numbers():
    """YAML 1.1 would read 1e-3 as a string and the strict check would reject a valid lr."""
    suite = load_suite("maze", "smoke", ["train.lr=1e-3", "train.weight_decay=2E-6"])
    assert suite.train.lr == 0.001 and suite.train.weight_decay == 2e-6


def test_presets_merge_as_json_merge_patch():
    """A null removes a key (a preset leaves out a baseline); mappings merge; values replace."""
    from ambient_bench.config.suites import deep_merge

    base = {"baselines": {"clean_only": {}, "locality": {"grid": {"sigma_max": [0.2]}}}, "steps": 5}
    update = {"baselines": {"clean_only": None, "locality": {"grid": {"sigma_max": [0.462]}}},
              "steps": 15, "new": {"a": None, "b": 1}}
    assert deep_merge(base, update) == {"baselines": {"locality": {"grid": {"sigma_max": [0.462]}}},
                                        "steps": 15, "new": {"b": 1}}
    assert base["baselines"]["clean_only"] == {}  # the base is not changed


def test_binsort_quick_runs_the_rows_its_targets_name():
    quick, paper = load_suite("binsort", "quick"), load_suite("binsort", "paper")
    assert list(quick.baselines) == ["clean_only", "corrupt_only", "cotrain", "locality"]
    assert "locality_task_conditioned" in paper.baselines
