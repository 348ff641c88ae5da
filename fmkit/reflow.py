"""Rectified flow's "reflow": re-pair noise with the samples a trained flow makes from it.

Independent pairs cross, so the learned field bends its paths. Solving the learned ODE from
noise gives pairs ``(x_0, x_1 = ODE(x_0))`` whose straight lines do not cross (the ODE's paths
never do), and a field trained on them (:func:`fmkit.train.train_on_pairs`) is straighter:
a few Euler steps, even one, then land close to the data.
"""

from __future__ import annotations

import torch

from . import data as fm_data
from .solvers import integrate


def reflow_pairs(
    model,
    n: int,
    *,
    base: str = "gaussian",
    n_steps: int = 32,
    method: str = "midpoint",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` noise points and where the trained flow carries them: ``(x_0, x_1)``, each ``(n, dim)``."""
    x_0 = fm_data.base_sampler(base, getattr(model, "dim", 2))(n, generator=generator)
    return x_0, integrate(model, x_0, n_steps=n_steps, method=method).x
