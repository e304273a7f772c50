"""Flow matching (``policy.generative: flow``): the linear path, its velocity target, the
sigma <-> flow-time map, and its samplers on a distribution whose exact velocity is known."""

import numpy as np
import pytest
import torch

from ambient_bench.baselines.ambient_loss import ambient_pair
from ambient_bench.config.sections import LATER_POLICY_OPTIONS, PolicyConfig, without_later_defaults
from ambient_bench.policy.normalizer import Normalizer
from ambient_bench.policy.policy import DiffusionPolicy
from ambient_bench.policy.schedule import FlowSchedule, NoiseSchedule, flow_sigma, flow_time

FLOW = FlowSchedule(100, clip_sample=False)


def test_the_path_is_linear_and_the_target_is_the_velocity():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(64, 8, 2, generator=g, dtype=torch.float64)
    noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    t = torch.randint(0, 100, (64,), generator=g)
    tau = ((t + 1).double() / 100).view(-1, 1, 1)
    x_tau = FLOW.add_noise(x0, noise, t)
    assert torch.allclose(x_tau, (1 - tau) * x0 + tau * noise, atol=1e-12)
    velocity = FLOW.target(x0, noise, t)
    assert torch.allclose(velocity, noise - x0)  # sign: from data (tau = 0) towards noise (tau = 1)
    # the derivative of the path in tau, by a finite difference of the same (x0, noise)
    assert torch.allclose(((1 - (tau + 1e-6)) * x0 + (tau + 1e-6) * noise - x_tau) / 1e-6, velocity, atol=1e-5)
    assert torch.allclose(FLOW.predict_x0(velocity, x_tau, t), x0, atol=1e-12)
    assert torch.allclose(FLOW.target_from_x0(x0, x_tau, t), velocity, atol=1e-9)


def test_sigma_and_flow_time_map_both_ways_and_keep_the_noise_to_signal_ratio():
    sigma = torch.linspace(0.001, 0.999, 200, dtype=torch.float64)
    assert torch.allclose(flow_sigma(flow_time(sigma)), sigma, atol=1e-12)
    tau = flow_time(sigma)
    assert torch.allclose(tau / (1 - tau), sigma / torch.sqrt(1 - sigma**2), rtol=1e-10)
    assert torch.allclose(FLOW.taus, torch.arange(1, 101, dtype=torch.float64) / 100)
    assert torch.allclose(flow_time(FLOW.sigmas), FLOW.taus, atol=1e-12)
    assert FLOW.sigmas[-1].item() == 1.0 and FLOW.sigma_to_t(0.2) == int(torch.argmin((FLOW.sigmas - 0.2).abs()))
    # a state is the VP state of the same (x0, eps) scaled by tau / sigma
    x0, eps, t = torch.ones(1, 1, 1, dtype=torch.float64), torch.full((1, 1, 1), 0.5, dtype=torch.float64), 40
    sigma_t = FLOW.sigmas[t].item()
    vp_state = np.sqrt(1 - sigma_t**2) * 1.0 + sigma_t * 0.5
    assert FLOW.add_noise(x0, eps, torch.tensor([t])).item() == pytest.approx(FLOW.vp_scales[t].item() * vp_state)


def mixture_velocity(x: torch.Tensor, t: torch.Tensor, means, stds, weights) -> torch.Tensor:
    """The exact velocity E[eps - x0 | x_tau] of a 1-D Gaussian mixture on the linear path."""
    tau = FLOW.taus[t].view(-1, 1, 1)
    means, stds, weights = (torch.tensor(v, dtype=torch.float64) for v in (means, stds, weights))
    var = (1 - tau) ** 2 * stds**2 + tau**2  # per component, (B, 1, K) by broadcasting
    log_r = torch.log(weights) - 0.5 * torch.log(var) - 0.5 * (x - (1 - tau) * means) ** 2 / var
    r = torch.softmax(log_r, dim=-1)
    x0_given_k = means + (1 - tau) * stds**2 / var * (x - (1 - tau) * means)
    x0_hat = (r * x0_given_k).sum(-1, keepdim=True)
    return (x - x0_hat) / tau


@pytest.mark.parametrize("method, steps", [("ddim", 100), ("ddpm", None)])
def test_sampling_with_the_exact_velocity_recovers_a_gaussian_mixture(method, steps):
    means, stds, weights = [-0.6, 0.5], [0.1, 0.2], [0.3, 0.7]
    g = torch.Generator().manual_seed(0)
    x = FLOW.sample(lambda x_t, t: mixture_velocity(x_t.double(), t, means, stds, weights).float(),
                    (20000, 1, 1), generator=g, method=method, num_inference_steps=steps).flatten().double()
    mean = float(np.dot(weights, means))
    var = float(np.dot(weights, np.square(stds) + np.square(means))) - mean**2
    assert x.mean().item() == pytest.approx(mean, abs=0.02)
    assert x.var().item() == pytest.approx(var, rel=0.05)
    assert (x < 0).float().mean().item() == pytest.approx(0.3, abs=0.02)  # the modes' weights


def test_few_euler_steps_start_from_pure_noise_and_keep_the_modes_weights():
    """The draw x ~ N(0, I) is the state at tau = 1 only, so the first Euler step is there
    whatever the number of steps, and the steps are even in tau to the grid's 1 / T. Starting
    it at tau 0.91 instead (the leading spacing, 16 of 100 steps) put 32.3 % of the samples
    in the mode of weight 30 %. Diffusion keeps the authors' leading DDIM spacing."""
    for n in (1, 2, 7, 8, 16, 100):
        taus = FLOW.taus[FLOW.ddim_timesteps(n)].numpy()
        assert taus[0] == 1.0 and len(taus) == n
        assert np.allclose(-np.diff(np.append(taus, 0.0)), 1 / n, atol=1 / 100)
    means, stds, weights = [-0.6, 0.5], [0.1, 0.2], [0.3, 0.7]
    x = FLOW.sample(lambda x_t, t: mixture_velocity(x_t.double(), t, means, stds, weights).float(),
                    (20000, 1, 1), generator=torch.Generator().manual_seed(0), method="ddim",
                    num_inference_steps=16).flatten()
    assert (x < 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert NoiseSchedule(100).ddim_timesteps(8) == [84, 72, 60, 48, 36, 24, 12, 0]


def test_the_ambient_loss_under_flow_is_unbiased():
    """On Gaussian data, regressing the ambient target on x_tau recovers E[eps - x0 | x_tau]."""
    mu, std, n, t = 0.5, 0.3, 400_000, 40
    g = torch.Generator().manual_seed(0)
    x0 = mu + std * torch.randn(n, 1, generator=g, dtype=torch.float64)
    x_t, target = ambient_pair(FLOW, x0, torch.full((n,), t), torch.full((n,), 0.2, dtype=torch.float64), g)
    x_t, target = x_t.flatten(), target.flatten()
    slope = torch.cov(torch.stack([x_t, target]))[0, 1] / x_t.var()
    intercept = target.mean() - slope * x_t.mean()
    tau = FLOW.taus[t].item()
    gain = (1 - tau) * std**2 / ((1 - tau) ** 2 * std**2 + tau**2)  # E[x0|x] = mu + gain (x - (1 - tau) mu)
    x0_slope, x0_intercept = gain, mu - gain * (1 - tau) * mu
    # v = eps - x0 with eps = (x - (1 - tau) x0) / tau
    true_slope = (1 - (1 - tau) * x0_slope) / tau - x0_slope
    true_intercept = -(1 - tau) * x0_intercept / tau - x0_intercept
    assert slope.item() == pytest.approx(true_slope, abs=0.02 * max(1, abs(true_slope)))
    assert intercept.item() == pytest.approx(true_intercept, abs=0.02 * max(1, abs(true_intercept)))


def test_a_flow_policy_trains_and_samples_and_diffusion_keys_are_unchanged():
    config = PolicyConfig(down_dims=[8, 16], step_embed_dim=8, horizon=8, generative="flow")
    normalizer = Normalizer(np.full(3, -1.0), np.ones(3), np.full(2, -1.0), np.ones(2))
    policy = DiffusionPolicy(config, 3, 2, normalizer)
    assert isinstance(policy.schedule, FlowSchedule)
    out = policy.predict_action(np.zeros((4, 3)), torch.Generator().manual_seed(0), inference_steps=5)
    assert out.shape == (4, 8, 2) and np.isfinite(out).all()
    assert without_later_defaults(config, LATER_POLICY_OPTIONS)["generative"] == "flow"
    assert "generative" not in without_later_defaults(PolicyConfig(), LATER_POLICY_OPTIONS)
