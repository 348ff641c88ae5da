"""Small conveniences for notebooks: one visible seed, and the device to use."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch, and return a fresh ``torch.Generator`` with that seed.

    fmkit itself never seeds anything; a notebook calls this once, in its setup cell, and
    passes the returned generator to every sampler it calls.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU (everything in the course fits a CPU)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
