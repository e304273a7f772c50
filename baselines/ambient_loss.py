"""Ambient with the ambient loss (the paper's appendix variant).

Like ``ambient``, corrupt samples are used only at sigma_t > sigma_min, but they are
treated as if observed only at noise level sigma_min: x_min = sqrt(1-s^2) x0 + s e1
(s = sigma_min), x_t is noised further from x_min, and the regression target is built
from x_min and x_t alone (the paper, §2). Its minimiser is the clean-data denoiser
E[x0 | x_t] whenever q and p agree at sigma_min. Clean samples use the ordinary loss.
"""

from dataclasses import dataclass

import torch

from ambient_bench.policy.baseline import register_baseline
from ambient_bench.policy.schedule import NoiseSchedule

from .ambient import Ambient


def ambient_pair(
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    t: torch.Tensor,
    sigma_min: torch.Tensor,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, target) of the ambient loss for samples known only at ``sigma_min`` < sigma_t.

    a = sqrt((1 - st^2) / (1 - sm^2)), b^2 = (st^2 - sm^2) / (1 - sm^2), x_t = a x_min + b w;
    x0 target = [st^2 sqrt(1-sm^2) x_min - sm^2 sqrt(1-st^2) x_t] / (st^2 - sm^2), given to
    the network in the schedule's parameterisation (every target is linear in the x0 one).
    """
    shape = (-1,) + (1,) * (x0.dim() - 1)
    st = schedule.t_to_sigma(t).to(x0.dtype).view(shape)
    sm = sigma_min.to(x0.dtype).view(shape)
    e1 = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    w = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    x_min = torch.sqrt(1 - sm**2) * x0 + sm * e1
    a = torch.sqrt((1 - st**2) / (1 - sm**2))
    b = torch.sqrt((st**2 - sm**2) / (1 - sm**2))
    x_t = a * x_min + b * w
    x0_target = (st**2 * torch.sqrt(1 - sm**2) * x_min - sm**2 * torch.sqrt(1 - st**2) * x_t) / (st**2 - sm**2)
    x_t = x_t * schedule.vp_scales[t].to(x0.dtype).view(shape)  # the schedule's own state (1 for VP)
    return x_t, schedule.target_from_x0(x0_target, x_t, t)


@register_baseline("ambient_loss")
@dataclass
class AmbientLoss(Ambient):
    def training_pair(self, schedule, x0, t, sigma_min, is_corrupt, generator):
        x_t, target = super().training_pair(schedule, x0, t, sigma_min, is_corrupt, generator)
        if is_corrupt.any():
            idx = is_corrupt.nonzero(as_tuple=True)[0]
            x_t[idx], target[idx] = ambient_pair(schedule, x0[idx], t[idx], sigma_min[idx], generator)
        return x_t, target
