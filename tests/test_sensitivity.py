"""The denoiser-locality analysis: Jacobian norms of the clean estimate against the noisy input."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from ambient_bench.config.sections import PolicyConfig
from ambient_bench.policy.normalizer import Normalizer
from ambient_bench.policy.policy import DiffusionPolicy, checkpoint_header, save_checkpoint
from ambient_bench.report.sensitivity import dataset_windows, denoiser_sensitivity, main, sensitivity_reach

HORIZON = 16


class LocalNet(nn.Module):
    """An x0-predictor that sees only the neighbours j - 1 .. j + 1 of each action."""

    def __init__(self, action_dim: int):
        super().__init__()
        self.conv = nn.Conv1d(action_dim, action_dim, kernel_size=3, padding=1)

    def forward(self, x, t, cond):
        return self.conv(x.transpose(1, 2)).transpose(1, 2)


def tiny_policy(prediction: str = "sample") -> DiffusionPolicy:
    config = PolicyConfig(down_dims=[8, 16], step_embed_dim=8, horizon=HORIZON, prediction=prediction)
    normalizer = Normalizer(np.full(4, -1.0), np.ones(4), np.full(2, -1.0), np.ones(2))
    torch.manual_seed(0)
    return DiffusionPolicy(config, obs_dim=4, action_dim=2, normalizer=normalizer)


def test_a_network_that_ignores_distant_inputs_has_zero_sensitivity_there():
    policy = tiny_policy()
    policy.net = LocalNet(2)
    rng = np.random.default_rng(0)
    obs, chunks = rng.uniform(-1, 1, (8, 4)), rng.uniform(-1, 1, (8, HORIZON, 2))
    sensitivity = denoiser_sensitivity(policy, obs, chunks, [0.1, 0.9], index=8)
    assert sensitivity.shape == (2, HORIZON)
    near = np.zeros(HORIZON, dtype=bool)
    near[7:10] = True
    assert (sensitivity[:, ~near] == 0).all() and (sensitivity[:, near] > 0).all()


def test_an_epsilon_predictor_at_low_noise_is_nearly_the_identity():
    """x0_hat = (x_t - sigma eps_hat) / sqrt(abar): at small sigma the estimate at i is x_t at i."""
    policy = tiny_policy("epsilon")
    rng = np.random.default_rng(1)
    obs, chunks = rng.uniform(-1, 1, (4, 4)), rng.uniform(-1, 1, (4, HORIZON, 2))
    low = denoiser_sensitivity(policy, obs, chunks, [0.02], index=5)[0]
    assert low[5] == pytest.approx(np.sqrt(2), rel=0.05)  # the 2x2 identity's Frobenius norm
    assert np.delete(low, 5).max() < 0.1 * low[5]


def test_reach_is_the_weighted_mean_distance_from_the_index():
    only_index, uniform = np.zeros(9), np.ones(9)
    only_index[4] = 3.0
    neighbours = np.array([0, 0, 0, 1, 2, 1, 0, 0, 0], dtype=float)
    reach = sensitivity_reach(np.stack([only_index, neighbours, uniform]), index=4)
    assert reach == pytest.approx([0.0, 0.5, 20 / 9])


def test_windows_repeat_the_last_action_past_an_episode_end():
    action = np.arange(10, dtype=float)[:, None]
    obs, chunks = dataset_windows(action, action, np.array([0, 4]), np.array([4, 10]), horizon=8, n=50)
    assert chunks.shape == (50, 8, 1) and (obs[:, 0] == chunks[:, 0, 0]).all()
    ends = np.where(chunks[:, 0, 0] < 4, 3, 9)
    assert (chunks[:, :, 0] <= ends[:, None]).all() and (chunks[:, -1, 0] == ends).all()


def test_the_command_writes_the_figure_and_its_numbers(tmp_path, clean_corrupt, capsys, monkeypatch):
    import ambient_bench.jobs.provenance as provenance_module

    policy = tiny_policy()
    checkpoint = tmp_path / "run-a" / "checkpoint.pt"
    save_checkpoint(checkpoint, {**checkpoint_header(policy), "ema": policy.state_dict()})
    out = tmp_path / "sensitivity.png"
    figure_existed, real = [], provenance_module.provenance
    monkeypatch.setattr(provenance_module, "provenance", lambda *a: figure_existed.append(out.exists()) or real(*a))
    main([str(checkpoint), "--dataset", str(tmp_path / "clean"), "--sigmas", "0.1", "0.8", "--windows", "8",
          "--out", str(out)])
    numbers = json.loads(out.with_suffix(".json").read_text())
    curve = np.array(numbers["sensitivity"]["run-a"])
    assert out.stat().st_size > 0 and numbers["index"] == HORIZON // 2
    assert curve.shape == (2, HORIZON) and np.isfinite(curve).all() and (curve >= 0).all()
    assert numbers["reach"]["run-a"] == pytest.approx(sensitivity_reach(curve, HORIZON // 2).tolist())
    assert numbers["checkpoints"] == [str(checkpoint)]
    assert set(numbers["provenance"]["datasets_sha256"]) == {"clean"} and "git_sha" in numbers["provenance"]
    # taken before the figure is written, so a redraw in the repository records the tree it was drawn from
    assert figure_existed == [False]


@pytest.mark.parametrize("args, message", [
    (["--sigmas", "1.5"], "--sigmas must lie in (0, 1)"),
    (["--index", "16"], "--index 16 is outside the chunk"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, clean_corrupt, capsys, args, message):
    policy = tiny_policy()
    checkpoint = tmp_path / "checkpoint.pt"
    save_checkpoint(checkpoint, {**checkpoint_header(policy), "ema": policy.state_dict()})
    with pytest.raises(SystemExit) as exit_info:
        main([str(checkpoint), "--dataset", str(tmp_path / "clean"), "--out", str(tmp_path / "s.png"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and message in err[0]
    assert not (tmp_path / "s.png").exists()


def test_a_missing_checkpoint_or_dataset_is_refused(tmp_path, clean_corrupt, capsys):
    for argv in ([str(tmp_path / "none.pt"), "--dataset", str(tmp_path / "clean")],
                 [str(tmp_path / "none.pt"), "--dataset", str(tmp_path)]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv + ["--out", str(tmp_path / "s.png")])
        assert exit_info.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
