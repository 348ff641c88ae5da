"""Rectified flow's "reflow": re-pair noise with the samples a trained flow makes from it.

Independent pairs cross, so the learned field bends its paths. Solving the learned ODE from
noise gives pairs ``(x_0, x_1 = ODE(x_0))``. The ODE's own paths never cross, but the
straight chords between their end points still can, only much less than independent pairs
do; a field trained on these chords (:func:`fmkit.train.train_on_pairs`) is straighter, so
a few Euler steps, even one, land close to the data. Because some chords still cross, reflow
can be repeated to straighten further.
"""

from __future__ import annotations

import torch

from . import _validate as check
from . import data as fm_data
from .solvers import METHODS, integrate
from .utils import Velocity


def reflow_pairs(
    model: Velocity,
    n: int,
    *,
    base: str | fm_data.Sampler = "gaussian",
    n_steps: int = 32,
    method: str = "midpoint",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` noise points and where the trained flow carries them: ``(x_0, x_1)``, each
    ``(n, dim)`` in the model's dimension, on its device."""
    n = check.count(n, "n")
    check.network_memory(model, n, f"making {n:,} pairs")
    method = check.choice(method, "solver method", METHODS)
    n_steps = check.steps(n_steps)
    device, dtype = check.placement(model) or (None, None)
    draw = fm_data.base_sampler(base, check.sampling_dim(model), device=device, dtype=dtype)
    x_0 = draw(n, generator=check.generator(generator))  # (n, dim)
    return x_0, integrate(model, x_0, n_steps=n_steps, method=method).x
