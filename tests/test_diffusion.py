"""The noise schedule, samplers and the ambient loss against their closed forms."""

import math

import pytest
import torch

from ambient_bench.baselines.ambient_loss import ambient_pair
from ambient_bench.policy.schedule import PREDICTIONS, NoiseSchedule


def test_cosine_schedule_matches_closed_form():
    s = NoiseSchedule(100)
    f = lambda u: math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 3, 29, 50, 98):
        assert s.alphas_cumprod[t].item() == pytest.approx(f((t + 1) / 100) / f(0), rel=1e-9)
    # the paper's grid: sigma_0 = 0.025, sigma_3 = 0.074, sigma_29 = 0.46
    assert s.sigmas[0].item() == pytest.approx(0.025, abs=5e-4)
    assert s.sigmas[3].item() == pytest.approx(0.074, abs=5e-4)
    assert s.sigmas[29].item() == pytest.approx(0.46, abs=3e-3)
    assert torch.all(s.sigmas[1:] > s.sigmas[:-1])


def test_sigma_t_helpers_are_consistent():
    s = NoiseSchedule(100)
    for t in (0, 17, 99):
        assert s.sigma_to_t(s.sigmas[t].item()) == t
        assert s.first_t_above(s.sigmas[t]).item() == t + 1  # strictly above
        assert s.last_t_at_or_below(s.sigmas[t]).item() == t
    assert s.first_t_above(torch.tensor(0.0)).item() == 0
    assert s.last_t_at_or_below(torch.tensor(0.0)).item() == -1


def test_posterior_variance_closed_form():
    s = NoiseSchedule(100)
    var = s.posterior_variance()
    t = 40
    expected = (1 - s.alphas_cumprod[t - 1]) / (1 - s.alphas_cumprod[t]) * s.betas[t]
    assert var[t].item() == pytest.approx(expected.item(), rel=1e-12)
    assert var[0].item() == 0.0


def test_ddim_step_closed_form():
    s = NoiseSchedule(100, clip_sample=False)
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(5, 4, 2, generator=g), torch.randn(5, 4, 2, generator=g)
    t, t_prev = 60, 50
    x_t = s.add_noise(x0, eps, torch.full((5,), t))
    out = s.ddim_step(eps, x_t, t, t_prev)  # an exact epsilon prediction
    a_prev = s.alphas_cumprod[t_prev].item()
    assert torch.allclose(out, math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps, atol=1e-5)


MU, STD = 0.3, 0.2


def gaussian_eps(s):
    """The exact epsilon-denoiser of N(MU, STD^2) data: E[eps | x_t]."""

    def eps_of(x, t):
        a = s.alphas_cumprod[t].sqrt().to(x.dtype).view(-1, 1, 1)
        sig = s.sigmas[t].to(x.dtype).view(-1, 1, 1)
        return sig * (x - a * MU) / (a**2 * STD**2 + sig**2)

    return eps_of


def test_ddim_with_exact_gaussian_denoiser_samples_the_gaussian():
    s = NoiseSchedule(100, clip_sample=False)
    x = s.sample(gaussian_eps(s), (20000, 1, 1), torch.Generator().manual_seed(0), method="ddim",
                 num_inference_steps=100)
    assert x.mean().item() == pytest.approx(MU, abs=0.01)
    assert x.std().item() == pytest.approx(STD, abs=0.01)


@pytest.mark.parametrize("method", ["ddim", "ddpm"])
def test_a_constraint_holds_in_every_steps_clean_estimate_and_exactly_in_the_sample(method):
    s = NoiseSchedule(20, prediction="sample")
    pinned, estimates = 0.3, []

    def pin_last(x0):
        x0 = x0.clone()
        x0[:, -1] = pinned
        estimates.append(x0)
        return x0

    x = s.sample(lambda x, t: torch.zeros_like(x) + 0.7, (4, 8, 2), torch.Generator().manual_seed(0), method=method,
                 num_inference_steps=5, constraint=pin_last)
    assert len(estimates) == (5 if method == "ddim" else 20)
    assert all((e[:, -1] == pinned).all() for e in estimates)
    assert (x[:, -1] == pinned).all()
    assert torch.allclose(x[:, :-1], torch.full_like(x[:, :-1], 0.7))


def test_ddpm_with_exact_gaussian_denoiser_has_the_gaussian_mean():
    # (its spread is slightly below STD: the beta-tilde reverse variance ignores Var[x0 | x_t])
    s = NoiseSchedule(100, clip_sample=False)
    x = s.sample(gaussian_eps(s), (20000, 1, 1), torch.Generator().manual_seed(0), method="ddpm")
    assert x.mean().item() == pytest.approx(MU, abs=0.01)


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_every_parameterisation_inverts_to_the_clean_sample(prediction):
    """A perfect prediction of the target gives back x0 exactly, and the target implied by
    x0 and x_t alone (the ambient loss's route) is the ordinary one."""
    s = NoiseSchedule(100, prediction=prediction, clip_sample=False)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(64, 16, 2, generator=g, dtype=torch.float64) * 2 - 1
    noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    t = torch.cat([torch.tensor([0, 99]), torch.randint(0, 100, (62,), generator=g)])  # both ends too
    x_t = s.add_noise(x0, noise, t)
    target = s.target(x0, noise, t)
    assert torch.allclose(s.predict_x0(target, x_t, t), x0, atol=1e-9)
    assert torch.allclose(s.target_from_x0(x0, x_t, t), target, atol=1e-8)
    # v is x0-like at high noise and epsilon-like at low noise: an error e in the output
    # moves x0 by sigma_t * e.
    if prediction == "v":
        moved = s.predict_x0(target + 1.0, x_t, t) - x0
        assert torch.allclose(moved, -s.sigmas[t].view(-1, 1, 1).expand_as(moved), atol=1e-9)


def test_edm_turns_from_x0_like_to_epsilon_like_at_sigma_data_and_is_v_at_one():
    """EDM's output error reaches x0 scaled by about min(n_t, sigma_data), n_t = sigma_t /
    sqrt(abar_t); its target has unit variance on data of std sigma_data; with sigma_data = 1
    it is v-prediction with the sign flipped."""
    t = torch.arange(100)
    base = NoiseSchedule(100)
    noise_scale = (base.sigmas / base.alphas_cumprod.sqrt()).view(-1, 1, 1)
    like = torch.zeros(100, 1, 1, dtype=torch.float64)
    for d in (0.05, 0.1, 0.5):
        edm = NoiseSchedule(100, prediction="edm", clip_sample=False, sigma_data=d)
        scale = edm.x0_error_scale(t, like)
        # c_out = n d / sqrt(n^2 + d^2) lies between min(n, d) / sqrt(2) and min(n, d)
        bound = torch.minimum(noise_scale, torch.tensor(d, dtype=torch.float64))
        assert torch.all(scale <= bound + 1e-12) and torch.all(scale >= bound / math.sqrt(2) - 1e-12)
        g = torch.Generator().manual_seed(1)
        x0 = d * torch.randn(20000, 1, 1, generator=g, dtype=torch.float64)
        noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
        for step in (0, 10, 50, 99):
            target = edm.target(x0, noise, torch.full((len(x0),), step))
            assert target.std().item() == pytest.approx(1.0, abs=0.02)
    g = torch.Generator().manual_seed(2)
    x0 = torch.rand(32, 16, 2, generator=g, dtype=torch.float64) * 2 - 1
    noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    t = torch.randint(0, 100, (32,), generator=g)
    v = NoiseSchedule(100, prediction="v").target(x0, noise, t)
    edm_at_one = NoiseSchedule(100, prediction="edm", sigma_data=1.0).target(x0, noise, t)
    assert torch.allclose(edm_at_one, -v, atol=1e-9)


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_ambient_loss_targets_are_unbiased(prediction):
    """On Gaussian data, regressing the ambient target on x_t recovers E[x0|x_t] (or E[eps|x_t])."""
    mu, std, n = 0.5, 0.3, 400_000
    s = NoiseSchedule(100, prediction=prediction)
    g = torch.Generator().manual_seed(0)
    x0 = (mu + std * torch.randn(n, 1, generator=g, dtype=torch.float64))
    t = torch.full((n,), 40)
    sigma_min = torch.full((n,), 0.2, dtype=torch.float64)
    x_t, target = ambient_pair(s, x0, t, sigma_min, g)
    x_t, target = x_t.flatten(), target.flatten()
    slope = torch.cov(torch.stack([x_t, target]))[0, 1] / x_t.var()
    intercept = target.mean() - slope * x_t.mean()
    a, sig = math.sqrt(1 - s.sigmas[40].item() ** 2), s.sigmas[40].item()
    gain = a * std**2 / (a**2 * std**2 + sig**2)  # E[x0|x_t] = mu + gain (x_t - a mu)
    x0_slope, x0_intercept = gain, mu - gain * a * mu
    c_skip, c_out = (c.item() for c in s.edm_coefficients(torch.tensor([40]), torch.zeros(1)))
    eps_slope, eps_intercept = (1 - a * gain) / sig, -a * x0_intercept / sig  # E[eps|x_t] = (x_t - a E[x0|x_t]) / sigma
    true_slope, true_intercept = {
        "sample": (x0_slope, x0_intercept),
        "epsilon": (eps_slope, eps_intercept),
        "v": (a * eps_slope - sig * x0_slope, a * eps_intercept - sig * x0_intercept),  # v = a eps - sigma x0
        # F = (x0 - c_skip x_t) / c_out
        "edm": ((x0_slope - c_skip) / c_out, x0_intercept / c_out),
    }[prediction]
    assert slope.item() == pytest.approx(true_slope, abs=0.02 * max(1, abs(true_slope)))
    assert intercept.item() == pytest.approx(true_intercept, abs=0.02 * max(1, abs(true_intercept)))


def test_ambient_pair_reduces_to_ordinary_loss_at_sigma_min_zero():
    s = NoiseSchedule(100)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    x0 = torch.randn(64, 8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    t = torch.full((64,), 30)
    x_t, target = ambient_pair(s, x0, t, torch.zeros(64, dtype=torch.float64), g1)
    # with sigma_min = 0, x_min = x0 and the target is exactly the noise that made x_t
    eps = (x_t - s.alphas_cumprod[30].sqrt() * x0) / s.sigmas[30]
    assert torch.allclose(target, eps, atol=1e-9)
    del g2
