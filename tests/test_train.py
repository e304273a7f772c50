"""The one trainer: it learns, it is deterministic, and a killed run resumes exactly."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import smooth_episodes, write_dataset

from ambient_bench.config.sections import PolicyConfig, TrainConfig
from ambient_bench.policy.baseline import make_baseline
from ambient_bench.policy.policy import checkpoint_header, load_checkpoint, policy_from_checkpoint
from ambient_bench.policy.sampler import Batch, NoiseBandSampler
from ambient_bench.policy.trainer import build_policy, read_log, train, training_loss

SMALL = PolicyConfig(down_dims=[32, 64], horizon=8, n_action_steps=4, step_embed_dim=32)


def test_policy_overfits_a_tiny_dataset(tmp_path):
    ds = {"clean": write_dataset(tmp_path / "d", smooth_episodes(1, seed=5, length=8), "clean")}
    cfg = TrainConfig(steps=500, batch_size=32, lr=3e-3, warmup_steps=20, log_every=50, ema_decay=0.9)
    ckpt = train(tmp_path / "run", ds, make_baseline("clean_only", {}), SMALL, cfg, seed=0, progress=False)
    losses = [r["loss"] for r in read_log(tmp_path / "run" / "train_log.jsonl")]
    assert losses[-1] < losses[0] / 5
    policy = policy_from_checkpoint(load_checkpoint(ckpt))
    d = ds["clean"]
    obs = np.repeat(d.obs[:1], 32, axis=0)  # the first state of episode 0
    chunks = policy.predict_action(obs, torch.Generator().manual_seed(0), "ddim", 10)
    expected = d.action[:8]
    err = np.abs(chunks - expected[None]).max(axis=(1, 2))
    span = (d.action.max(0) - d.action.min(0)).max()
    assert np.median(err) < 0.1 * span


def run_losses(tmp_path, name, cfg, baseline="ambient", params=None):
    ds = {
        "clean": write_dataset(tmp_path / "c", smooth_episodes(4, seed=1), "clean"),
        "corrupt": write_dataset(tmp_path / "x", smooth_episodes(8, seed=2, jitter=0.05), "corrupt"),
    }
    train(tmp_path / name, ds, make_baseline(baseline, params or {"sigma_min": 0.2}), SMALL, cfg, seed=7,
          progress=False)
    return [r["loss"] for r in read_log(tmp_path / name / "train_log.jsonl")]


def test_same_seed_same_loss_curve(tmp_path):
    cfg = TrainConfig(steps=30, batch_size=32, log_every=5)
    a = run_losses(tmp_path / "a", "run", cfg)
    b = run_losses(tmp_path / "b", "run", cfg)
    assert a == b and len(a) == 6


def test_killed_run_resumes_to_the_same_result(tmp_path, monkeypatch):
    cfg = TrainConfig(steps=30, batch_size=32, log_every=5, checkpoint_every=10)
    full = run_losses(tmp_path / "full", "run", cfg)

    import ambient_bench.policy.trainer as train_mod

    calls = {"n": 0}
    real_update = train_mod.EMA.update

    def dying_update(self, model, step):
        calls["n"] += 1
        if calls["n"] == 23:  # killed after the step-20 resume point was written
            raise KeyboardInterrupt
        real_update(self, model, step)

    monkeypatch.setattr(train_mod.EMA, "update", dying_update)
    with pytest.raises(KeyboardInterrupt):
        run_losses(tmp_path / "killed", "run", cfg)
    monkeypatch.setattr(train_mod.EMA, "update", real_update)
    assert (tmp_path / "killed" / "run" / "train_state.pt").exists()
    resumed = run_losses(tmp_path / "killed", "run", cfg)
    assert resumed == full  # bit for bit: the resume point holds every state the steps read
    weights = [load_checkpoint(tmp_path / name / "run" / "checkpoint.pt")["ema"] for name in ("full", "killed")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    steps = [json.loads(line)["step"] for line in (tmp_path / "killed" / "run" / "train_log.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20, 25, 30]


@pytest.mark.parametrize("prediction,cap", [("v", 1.0), ("v", 25.0), ("epsilon", 5.0), ("sample", 1.0), ("edm", 1.0),
                                            ("edm", 0.0)])
def test_capped_loss_weights_each_noise_level_in_x0_by_min_of_its_own_weight_and_the_cap(tmp_path, prediction, cap):
    """The prediction's own loss weights x0's squared error at step t by 1 + SNR_t (v), SNR_t
    (epsilon), 1 (x0) or 1 / c_out_t^2 (edm: EDM's lambda); with loss_weight_cap > 0 the weight is
    min(that, cap). So v with cap 1 is x0-prediction's loss and epsilon with cap 5 is Min-SNR-5."""
    ds = {"clean": write_dataset(tmp_path / "c", smooth_episodes(2, seed=1), "clean")}
    baseline = make_baseline("clean_only", {})
    config = PolicyConfig(**{**SMALL.__dict__, "prediction": prediction, "loss_weight_cap": cap})
    torch.manual_seed(0)
    policy = build_policy(ds, baseline, config)
    schedule = policy.schedule
    schedule.clip_sample = False
    g = torch.Generator().manual_seed(3)
    n = 64
    action = torch.rand(n, config.horizon, 2, generator=g) * 2 - 1
    t = torch.cat([torch.tensor([0, 99]), torch.randint(0, 100, (n - 2,), generator=g)])
    batch = Batch(obs=torch.randn(n, policy.obs_dim, generator=g), action=action, t=t, sigma_min=torch.zeros(n),
                  is_corrupt=torch.zeros(n, dtype=torch.bool), dataset=torch.zeros(n, dtype=torch.long),
                  window=torch.arange(n))
    with torch.no_grad():
        loss = training_loss(policy, baseline, batch, torch.Generator().manual_seed(4))
        noise = torch.randn(action.shape, generator=torch.Generator().manual_seed(4))
        x_t = schedule.add_noise(action, noise, t)
        x0_error_sq = (schedule.predict_x0(policy(x_t, t, batch.obs), x_t, t) - action).square().mean(dim=(1, 2))
    snr = (schedule.alphas_cumprod[t] / schedule.sigmas[t] ** 2).float()
    c_out = schedule.edm_coefficients(t, torch.zeros(n))[1].float()
    own = {"v": 1 + snr, "epsilon": snr, "sample": torch.ones(n), "edm": 1 / c_out**2}[prediction]
    weight = torch.minimum(own, torch.tensor(cap)) if cap > 0 else own
    expected = (weight * x0_error_sq).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)


def fp32_and_bf16_policies(tmp_path):
    """The same initial weights, once per precision, and a fixed batch of their data."""
    ds = {"clean": write_dataset(tmp_path / "c", smooth_episodes(4, seed=1), "clean")}
    baseline = make_baseline("clean_only", {})
    policies = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        policies[precision] = build_policy(ds, baseline, dataclasses.replace(SMALL, precision=precision))
    sampler = NoiseBandSampler(ds, baseline, policies["fp32"].schedule, SMALL.horizon, policies["fp32"].normalizer)
    return ds, baseline, policies, sampler.sample(64, torch.Generator().manual_seed(1))


def test_a_bf16_step_runs_on_cpu_with_fp32_loss_and_optimiser_close_to_fp32(tmp_path):
    """bf16 autocasts only the network: its loss on a fixed batch is within 1 % of fp32's (measured:
    at most 0.11 % over 5 initialisations), and the loss, gradients and AdamW state stay float32."""
    _, baseline, policies, batch = fp32_and_bf16_policies(tmp_path)
    losses = {p: training_loss(policy, baseline, batch, torch.Generator().manual_seed(2)) for p, policy in policies.items()}
    assert losses["bf16"].item() == pytest.approx(losses["fp32"].item(), rel=1e-2)
    assert losses["bf16"].item() != losses["fp32"].item()  # autocast really ran
    bf16 = policies["bf16"]
    optimizer = torch.optim.AdamW(bf16.net.parameters(), lr=1e-3)
    losses["bf16"].backward()
    optimizer.step()
    assert losses["bf16"].dtype == torch.float32
    assert all(p.dtype == p.grad.dtype == torch.float32 for p in bf16.net.parameters())
    assert all(v.dtype == torch.float32 for state in optimizer.state.values() for v in state.values() if v.dim())


def test_bf16_sampling_returns_fp32_actions_close_to_fp32s(tmp_path):
    ds, _, policies, _ = fp32_and_bf16_policies(tmp_path)
    obs = ds["clean"].obs[:16]
    chunks = {p: policy.predict_action(obs, torch.Generator().manual_seed(0), "ddim", 10) for p, policy in policies.items()}
    assert chunks["bf16"].dtype == np.float32
    assert 0 < np.abs(chunks["bf16"] - chunks["fp32"]).max() < 0.1  # measured 0.03 (actions span about 2)


def test_an_fp32_checkpoint_is_saved_as_before_the_option_and_a_bf16_one_keeps_its_precision(tmp_path):
    """Evaluations are keyed by a checkpoint's bytes: fp32 policies save the config they saved
    before ``precision`` existed (so those keys hold), bf16 policies save it and sample in bf16."""
    _, _, policies, _ = fp32_and_bf16_policies(tmp_path)
    assert "precision" not in checkpoint_header(policies["fp32"])["policy_config"]
    for precision, policy in policies.items():
        state = {**checkpoint_header(policy), "ema": policy.state_dict()}
        assert policy_from_checkpoint(state).config.precision == precision
