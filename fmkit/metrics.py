"""Distances between point clouds, for judging samples against data.

* ``wasserstein2``: the exact optimal-transport distance (POT's network simplex).
* ``energy_distance``: a kernel-free two-sample distance built from mean pairwise distances.
* ``mmd``: an unbiased estimate of the *squared* maximum mean discrepancy (MMD²) with a
  Gaussian (RBF) kernel; being unbiased, it can come out slightly negative.
* ``null_band``: what a metric reads between two fresh draws of the *true* distribution at
  a given sample size. A model whose score falls inside this band cannot be told apart from
  the data by that metric at that size; it is not a bound on how good a model can be.

>>> a = torch.zeros(4, 2)
>>> round(wasserstein2(a, a + torch.tensor([3.0, 4.0])), 6)
5.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def _as_cloud(x: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    x = torch.as_tensor(x).detach().cpu().double()
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} must be a point cloud of shape (n, dim) with n >= 2; got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values; a diverged sampler makes these")
    return x


def _pair(a, b) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _as_cloud(a, "a"), _as_cloud(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same dimension; got {a.shape[1]} and {b.shape[1]}")
    return a, b


def wasserstein2(a: torch.Tensor, b: torch.Tensor) -> float:
    """Exact 2-Wasserstein distance between two uniformly weighted clouds."""
    import ot

    a, b = _pair(a, b)
    cost = ot.dist(a.numpy(), b.numpy())  # squared Euclidean, (n_a, n_b)
    w_a, w_b = np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b))
    return float(np.sqrt(max(ot.emd2(w_a, w_b, cost, numItermax=1_000_000), 0.0)))


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` over the empirical clouds (zero iff equal)."""
    a, b = _pair(a, b)
    cross = torch.cdist(a, b).mean()
    return float(2 * cross - torch.cdist(a, a).mean() - torch.cdist(b, b).mean())


def mmd(a: torch.Tensor, b: torch.Tensor, *, bandwidth: float = 0.5) -> float:
    """Unbiased squared MMD with kernel ``exp(-|x - y|^2 / (2 bandwidth^2))``.

    Unbiased means the within-cloud averages skip each point's pairing with itself, so the
    estimate can dip slightly below zero when the two clouds come from one distribution.
    """
    a, b = _pair(a, b)

    def kernel(x, y):
        return torch.exp(-torch.cdist(x, y) ** 2 / (2 * bandwidth**2))

    def within(x):
        n = len(x)
        return (kernel(x, x).sum() - n) / (n * (n - 1))  # drop the diagonal of ones

    return float(within(a) + within(b) - 2 * kernel(a, b).mean())


@dataclass
class NullBand:
    """A metric's values between pairs of independent true draws (its null distribution)."""

    values: np.ndarray

    @property
    def median(self) -> float:
        return float(np.median(self.values))

    @property
    def p10(self) -> float:
        return float(np.percentile(self.values, 10))

    @property
    def p90(self) -> float:
        return float(np.percentile(self.values, 90))


def null_band(
    sampler: Callable[..., torch.Tensor],
    metric: Metric,
    n: int,
    *,
    n_repeats: int = 10,
    generator: torch.Generator | None = None,
) -> NullBand:
    """Score ``n_repeats`` pairs of independent ``n``-point draws of ``sampler`` against each
    other: the spread a metric shows when nothing is wrong. A model scoring inside it is
    indistinguishable from the data by this metric at this sample size."""
    values = [
        metric(sampler(n, generator=generator), sampler(n, generator=generator))
        for _ in range(n_repeats)
    ]
    return NullBand(np.asarray(values))


# The earlier names, kept so that existing notebooks and scripts still run.
noise_floor = null_band
NoiseFloor = NullBand


def straightness(trajectory: torch.Tensor) -> float:
    """How far paths are from straight lines, 0 for perfectly straight ones.

    For a trajectory ``(steps + 1, n, dim)`` on an even time grid over [0, 1], compares each
    step's velocity with the path's overall displacement ``x_1 - x_0``: the mean of
    ``integral_0^1 |dx/dt - (x_1 - x_0)|^2 dt`` divided by the mean ``|x_1 - x_0|^2``. A
    flow whose paths are straight, constant-speed lines can be solved exactly by one Euler step.
    """
    traj = torch.as_tensor(trajectory).detach().double()
    if traj.ndim != 3 or len(traj) < 2:
        raise ValueError(f"trajectory must have shape (steps + 1, n, dim) with steps >= 1; got {tuple(traj.shape)}")
    n_steps = len(traj) - 1
    step_velocity = (traj[1:] - traj[:-1]) * n_steps  # (steps, n, dim)
    displacement = traj[-1] - traj[0]  # (n, dim)
    deviation = ((step_velocity - displacement) ** 2).sum(-1).mean(0)  # time average, (n,)
    return float(deviation.mean() / (displacement**2).sum(-1).mean())
