"""Variance-preserving DDPM noise schedule, the sigma <-> timestep map, and samplers.

Noising is x_t = sqrt(abar_t) * x0 + sigma_t * eps with sigma_t = sqrt(1 - abar_t), so
sigma lies in (0, 1) and every method's thresholds are given in sigma, not steps.

The network predicts one of four equivalent targets (``PREDICTIONS``): ``epsilon``, the
clean ``sample`` x0, ``v`` = sqrt(abar_t) eps - sigma_t x0 (Salimans & Ho), or ``edm``,
the residual F of EDM's preconditioning (Karras et al. 2022), x0 = c_skip x_t + c_out F,
with the data scale d = ``sigma_data`` and noise scale n_t = sigma_t / sqrt(abar_t):
c_skip = sqrt(abar_t) d^2 / (abar_t d^2 + sigma_t^2), c_out = sigma_t d / sqrt(abar_t d^2 + sigma_t^2)
(F's target then has unit variance when x0 has std d). They differ in how a network error
reaches x0: fully at every level for ``sample``, scaled by n_t for ``epsilon`` (large at
high noise), by sigma_t for ``v``, by c_out ~ min(n_t, d) for ``edm`` -- so ``v`` and ``edm``
act like x0-prediction at high noise and like epsilon-prediction at low noise, turning at
n_t = 1 for ``v`` (which is ``edm`` with d = 1, up to sign) and at n_t = d for ``edm``.

``FlowSchedule`` is conditional flow matching on the same footing: the linear (rectified)
path x_tau = (1 - tau) x0 + tau eps with the network predicting the velocity eps - x0, on a
grid uniform in flow time tau. Its state is a VP state scaled by tau / sigma (the same
noise-to-signal ratio tau / (1 - tau) = sigma / sqrt(1 - sigma^2)), so every step still has
a sigma, and bands, weights and thresholds in sigma apply unchanged (``flow_time`` and
``flow_sigma`` are the one map between them). DDIM on it is exactly the Euler sampler,
started from pure noise at tau = 1 (``FlowSchedule.ddim_timesteps``).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..config.sections import PREDICTIONS

# A denoiser maps (x_t, t) to the network's prediction (epsilon, x0 or v).
Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# A constraint maps each step's clean estimate x0 to the constrained one (e.g. known entries
# written in: hard conditioning / inpainting); the next x_t is built from it.
Constraint = Callable[[torch.Tensor], torch.Tensor]


def squaredcos_cap_v2_betas(num_steps: int, max_beta: float = 0.999) -> torch.Tensor:
    """Betas of the cosine schedule (Nichol & Dhariwal), as in diffusers' squaredcos_cap_v2."""

    def alpha_bar(u: float) -> float:
        return math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [
        min(1 - alpha_bar((i + 1) / num_steps) / alpha_bar(i / num_steps), max_beta)
        for i in range(num_steps)
    ]
    return torch.tensor(betas, dtype=torch.float64)


def flow_time(sigma: torch.Tensor) -> torch.Tensor:
    """The flow time tau whose linear-path state has the noise-to-signal ratio of VP level sigma."""
    return sigma / (sigma + torch.sqrt(1 - sigma**2))


def flow_sigma(tau: torch.Tensor) -> torch.Tensor:
    """The VP level sigma of flow time tau (the inverse of ``flow_time``)."""
    return tau / torch.sqrt(tau**2 + (1 - tau) ** 2)


class NoiseSchedule:
    """T-step VP schedule. Tensors are float64 for exact closed forms; cast on use.

    ``signal`` and ``noise`` are the coefficients of x0 and eps in a step's state (here
    sqrt(abar_t) and sigma_t); the DDIM update and the posterior mean are written in them, so a
    schedule whose state is a scaled VP state (``FlowSchedule``) reuses both samplers."""

    def __init__(self, num_steps: int = 100, prediction: str = "epsilon", clip_sample: bool = True,
                 sigma_data: float = 0.5):
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
        self.num_steps = num_steps
        self.prediction = prediction
        self.sigma_data = sigma_data
        self.clip_sample = clip_sample
        self.betas = squaredcos_cap_v2_betas(num_steps)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.sigmas = torch.sqrt(1.0 - self.alphas_cumprod)
        self.signal, self.noise = self.alphas_cumprod.sqrt(), self.sigmas

    # --- sigma <-> t -------------------------------------------------------------
    def t_to_sigma(self, t: torch.Tensor | int) -> torch.Tensor:
        return self.sigmas[torch.as_tensor(t, dtype=torch.long)]

    def sigma_to_t(self, sigma: float) -> int:
        """The grid step whose sigma is closest to ``sigma``."""
        return int(torch.argmin(torch.abs(self.sigmas - float(sigma))))

    def first_t_above(self, sigma: torch.Tensor) -> torch.Tensor:
        """Smallest t with sigma_t > sigma (num_steps if none): the band start of 'sigma > s'."""
        return torch.searchsorted(self.sigmas, torch.as_tensor(sigma, dtype=torch.float64), right=True)

    def last_t_at_or_below(self, sigma: torch.Tensor) -> torch.Tensor:
        """Largest t with sigma_t <= sigma (-1 if none): the band end of 'sigma <= s'."""
        return self.first_t_above(sigma) - 1

    # --- forward process ----------------------------------------------------------
    def _coef(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        out = values.to(like.device)[t].to(like.dtype)
        return out.view(-1, *([1] * (like.dim() - 1)))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self._coef(self.signal, t, x0) * x0 + self._coef(self.noise, t, x0) * noise

    def edm_coefficients(self, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """EDM's (c_skip, c_out) at step ``t`` for ``sigma_data`` (see the module docstring)."""
        a = self._coef(self.alphas_cumprod.sqrt(), t, like)
        s = self._coef(self.sigmas, t, like)
        d = self.sigma_data
        scale_sq = a * a * d * d + s * s
        return a * d * d / scale_sq, s * d / scale_sq.sqrt()

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The regression target of the ordinary denoising loss for x_t = add_noise(x0, noise, t)."""
        if self.prediction == "edm":
            c_skip, c_out = self.edm_coefficients(t, x0)
            return (x0 - c_skip * self.add_noise(x0, noise, t)) / c_out
        if self.prediction != "v":
            return noise if self.prediction == "epsilon" else x0
        return self._coef(self.alphas_cumprod.sqrt(), t, x0) * noise - self._coef(self.sigmas, t, x0) * x0

    def target_from_x0(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The target that an estimate ``x0`` of the clean sample implies for ``x_t`` at step
        ``t``, in this schedule's parameterisation (every target is linear in it)."""
        noise = (x_t - self._coef(self.signal, t, x_t) * x0) / self._coef(self.noise, t, x_t)
        return self.target(x0, noise, t)

    def x0_error_scale(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """How far an output error of 1 moves the implied x0 at step ``t``: 1 for ``sample``,
        sigma_t / sqrt(abar_t) for ``epsilon``, sigma_t for ``v``, c_out for ``edm`` (shaped
        to broadcast on ``like``)."""
        if self.prediction == "edm":
            return self.edm_coefficients(t, like)[1]
        s = self._coef(self.sigmas, t, like)
        if self.prediction == "sample":
            return torch.ones_like(s)
        return s / self._coef(self.alphas_cumprod.sqrt(), t, like) if self.prediction == "epsilon" else s

    def predict_x0(self, model_out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
                   clip: bool | None = None) -> torch.Tensor:
        """The clean estimate a network output implies, clipped to [-1, 1] when ``clip`` (default:
        the schedule's ``clip_sample``, as the samplers use it)."""
        if self.prediction == "sample":
            x0 = model_out
        elif self.prediction == "edm":
            c_skip, c_out = self.edm_coefficients(t, x_t)
            x0 = c_skip * x_t + c_out * model_out
        else:
            a = self._coef(self.alphas_cumprod.sqrt(), t, x_t)
            s = self._coef(self.sigmas, t, x_t)
            x0 = (x_t - s * model_out) / a if self.prediction == "epsilon" else a * x_t - s * model_out
        return self._clip(x0, clip)

    def _clip(self, x0: torch.Tensor, clip: bool | None) -> torch.Tensor:
        return x0.clamp(-1.0, 1.0) if (self.clip_sample if clip is None else clip) else x0

    def posterior_variance(self) -> torch.Tensor:
        """beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) * beta_t, with abar_{-1} = 1."""
        abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        return (1 - abar_prev) / (1 - self.alphas_cumprod) * self.betas

    # --- reverse process ------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        denoiser: Denoiser,
        shape: tuple[int, ...],
        generator: torch.Generator | None = None,
        method: str = "ddim",
        num_inference_steps: int | None = None,
        device: torch.device | str = "cpu",
        constraint: Constraint | None = None,
    ) -> torch.Tensor:
        """Draw samples with DDPM (all T steps, stochastic) or DDIM (eta = 0, strided).

        ``constraint`` is applied to every step's clean estimate before the update; both
        samplers' last step returns that estimate, so the sample satisfies it exactly.
        """
        steps = self.sampling_steps(method, num_inference_steps)
        x = torch.randn(shape, generator=generator, device=device)
        constraint = constraint or (lambda x0: x0)
        if method == "ddpm":
            return self._sample_ddpm(denoiser, x, steps, generator, constraint)
        return self._sample_ddim(denoiser, x, steps, constraint)

    def sampling_steps(self, method: str = "ddim", num_inference_steps: int | None = None) -> list[int]:
        """The steps at which ``sample`` calls the network, first to last: every step for DDPM,
        ``ddim_timesteps`` for DDIM (an evaluation's key records them)."""
        if method == "ddpm":
            return list(range(self.num_steps - 1, -1, -1))
        if method == "ddim":
            return self.ddim_timesteps(num_inference_steps or self.num_steps)
        raise ValueError(f"sampler must be 'ddpm' or 'ddim', got {method!r}")

    @property
    def vp_scales(self) -> torch.Tensor:
        """Each step's state over the VP state of the same x0 and eps: noise / sigma (1 for VP)."""
        return self.noise / self.sigmas

    def _sample_ddpm(self, denoiser: Denoiser, x: torch.Tensor, steps: list[int], generator,
                     constraint: Constraint) -> torch.Tensor:
        """Ancestral sampling with the VP posterior, taken on the VP state (x / ``vp_scales``)."""
        abar = self.alphas_cumprod
        var = self.posterior_variance()
        scales = self.vp_scales.tolist()
        for t in steps:
            tt = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
            x0 = constraint(self.predict_x0(denoiser(x, tt), x, tt))
            abar_prev = abar[t - 1] if t > 0 else torch.tensor(1.0, dtype=torch.float64)
            c0 = (abar_prev.sqrt() * self.betas[t] / (1 - abar[t])).item()
            ct = (self.alphas[t].sqrt() * (1 - abar_prev) / (1 - abar[t])).item()
            x = c0 * x0 + ct * (x / scales[t])
            if t > 0:
                noise = torch.randn(x.shape, generator=generator, device=x.device)
                x = (x + var[t].sqrt().item() * noise) * scales[t - 1]
        return x

    def ddim_timesteps(self, num_inference_steps: int) -> list[int]:
        """Evenly strided steps from T-1 down to 0 (diffusers' 'leading' spacing, the
        authors' DDIM): with 8 of 100 steps the first is t = 84, where sigma is 0.97."""
        self._check_inference_steps(num_inference_steps)
        ratio = self.num_steps // num_inference_steps
        return [i * ratio for i in range(num_inference_steps)][::-1]

    def _check_inference_steps(self, num_inference_steps: int) -> None:
        if not 1 <= num_inference_steps <= self.num_steps:
            raise ValueError(f"num_inference_steps must be in [1, {self.num_steps}]")

    def ddim_step(self, model_out: torch.Tensor, x_t: torch.Tensor, t: int, t_prev: int,
                  constraint: Constraint = lambda x0: x0) -> torch.Tensor:
        """Deterministic DDIM update x_t -> x_{t_prev} (t_prev = -1 means the clean sample)."""
        tt = torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device)
        x0 = constraint(self.predict_x0(model_out, x_t, tt))
        eps = (x_t - self.signal[t].item() * x0) / self.noise[t].item()
        if t_prev < 0:
            return x0
        return self.signal[t_prev].item() * x0 + self.noise[t_prev].item() * eps

    def _sample_ddim(self, denoiser: Denoiser, x: torch.Tensor, steps: list[int],
                     constraint: Constraint) -> torch.Tensor:
        for i, t in enumerate(steps):
            t_prev = steps[i + 1] if i + 1 < len(steps) else -1
            tt = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
            x = self.ddim_step(denoiser(x, tt), x, t, t_prev, constraint)
        return x


class FlowSchedule(NoiseSchedule):
    """Conditional flow matching with the linear path (see the module docstring): step t is flow
    time tau_t = (t + 1) / T, so t = T - 1 is pure noise (tau = 1) and training draws tau
    uniformly on the grid; the network predicts the velocity eps - x0 (``prediction`` is
    ``velocity``). DDIM is the Euler sampler; DDPM takes the VP posterior on the VP state."""

    def __init__(self, num_steps: int = 100, clip_sample: bool = True):
        super().__init__(num_steps, clip_sample=clip_sample)
        self.prediction = "velocity"
        self.taus = torch.arange(1, num_steps + 1, dtype=torch.float64) / num_steps
        self.sigmas = flow_sigma(self.taus)
        self.alphas_cumprod = 1.0 - self.sigmas**2
        abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        self.alphas = self.alphas_cumprod / abar_prev
        self.betas = 1.0 - self.alphas
        self.signal, self.noise = 1.0 - self.taus, self.taus

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return noise - x0

    def ddim_timesteps(self, num_inference_steps: int) -> list[int]:
        """Euler from pure noise: the first step at tau = 1 (t = T - 1), then steps as even in tau
        as the grid allows, the last at tau = 1 / n or just below it (diffusers' 'trailing' spacing).
        The draw x ~ N(0, I) is the state at tau = 1 only; the leading spacing would take it for
        the state at tau = 0.85 (8 of 100 steps), which holds 15 % signal and 0.85 noise, so
        every plan would start from a state with too much noise."""
        self._check_inference_steps(num_inference_steps)
        return [round(self.num_steps * (1 - k / num_inference_steps)) - 1 for k in range(num_inference_steps)]

    def x0_error_scale(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return self._coef(self.taus, t, like)

    def predict_x0(self, model_out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
                   clip: bool | None = None) -> torch.Tensor:
        return self._clip(x_t - self._coef(self.taus, t, x_t) * model_out, clip)
