"""Small conveniences for notebooks: one visible seed, the device to use, and the one type
every velocity field shares."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch

# The one velocity signature of the course: ``velocity(x, t) -> v`` with ``x`` of shape
# ``(batch, dim)``, ``t`` a float or a ``(batch, 1)`` tensor, and ``v`` of ``x``'s shape.
# Networks, exact fields, guided fields and the toy fields of the exercises all have it.
Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch, and return a fresh ``torch.Generator`` with that seed.

    fmkit itself never seeds anything; a notebook calls this once, in its setup cell, and
    passes the returned generator to every sampler it calls.
    """
    from . import _validate as check

    seed = check.count(seed, "seed", minimum=0)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU (everything in the course fits a CPU)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
