"""Distances between point clouds, for judging samples against data.

* ``wasserstein2``: the exact optimal-transport distance (POT's network simplex).
* ``energy_distance``: a kernel-free two-sample distance built from mean pairwise distances.
* ``mmd``: an unbiased estimate of the *squared* maximum mean discrepancy (MMD²) with a
  Gaussian (RBF) kernel; being unbiased, it can come out slightly negative.
* ``null_band``: what a metric reads between two fresh draws of the *true* distribution at
  a given sample size. A model whose score falls inside this band cannot be told apart from
  the data by that metric at that size; it is not a bound on how good a model can be.
* ``feature_mmd``: a KID-style score for images: MMD² on the features a classifier
  extracts, between generated and held-out real images, beside its null band.
* ``straightness``: how far a solve's paths are from straight lines.
* ``score_solve``, ``reach``, ``spread``: the numbers the explorers show (MMD² and
  straightness of a solve; how often and how tightly class samples land on their mode), as
  plain functions that chapters and benchmarks call too.

Every function takes tensors on any device (or arrays) and computes on the CPU in float64.

>>> a = torch.zeros(4, 2)
>>> round(wasserstein2(a, a + torch.tensor([3.0, 4.0])), 6)
5.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import _validate as check

Metric = Callable[[torch.Tensor, torch.Tensor], float]

# Pairwise sums are taken in blocks of about this many pairs (32 MB of float64), so memory
# stays flat; clouds of up to about 2000 points are scored in one block.
_BLOCK_PAIRS = 2**22
# Past this many pairs a score takes minutes; a random subset scores as well.
MAX_PAIRS = 20_000**2
# The exact W2 solve needs the full cost matrix and grows faster than n^2.
MAX_W2_PAIRS = 5_000**2


def _as_cloud(x: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    """A cloud ``(n, dim)`` with ``n >= 2``, brought to the CPU in float64."""
    x = check.floating(x, name).detach()
    if x.device.type != "cpu":
        x = x.cpu()
    return check.points(x.double(), name, min_rows=2, fix="a diverged sampler makes these")


def _pair(a, b, what: str, limit: int = MAX_PAIRS) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _as_cloud(a, "a"), _as_cloud(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same dimension; got {a.shape[1]} and {b.shape[1]}")
    if len(a) * len(b) > limit:
        side = int(limit**0.5)
        raise ValueError(
            f"{what} on {len(a):,} and {len(b):,} points compares {len(a) * len(b):.1e} pairs, which would take "
            f"minutes; score a random subset of at most {side:,} points per cloud, e.g. "
            f"a[torch.randperm(len(a))[:{side}]]"
        )
    return a, b


def _pairwise_sum(
    x: torch.Tensor, y: torch.Tensor, f: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """``sum_ij f(|x_i - y_j|)`` in blocks of rows: memory stays flat for large clouds."""
    rows = max(1, _BLOCK_PAIRS // len(y))
    return sum(f(torch.cdist(x[i : i + rows], y)).sum() for i in range(0, len(x), rows))


def wasserstein2(a: torch.Tensor, b: torch.Tensor) -> float:
    """Exact 2-Wasserstein distance between two uniformly weighted clouds."""
    import ot

    a, b = _pair(a, b, "wasserstein2", MAX_W2_PAIRS)
    cost = ot.dist(a.numpy(), b.numpy())  # squared Euclidean, (n_a, n_b)
    w_a, w_b = np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b))
    return float(np.sqrt(max(ot.emd2(w_a, w_b, cost, numItermax=1_000_000), 0.0)))


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` over the empirical clouds (zero iff equal)."""
    a, b = _pair(a, b, "energy_distance")

    def mean_distance(x, y):
        return _pairwise_sum(x, y, lambda d: d) / (len(x) * len(y))

    return float(2 * mean_distance(a, b) - mean_distance(a, a) - mean_distance(b, b))


def mmd(a: torch.Tensor, b: torch.Tensor, *, bandwidth: float = 0.5) -> float:
    """Unbiased squared MMD (MMD²) with kernel ``exp(-|x - y|^2 / (2 bandwidth^2))``.

    Unbiased means the within-cloud averages skip each point's pairing with itself, so the
    estimate can dip slightly below zero when the two clouds come from one distribution.
    """
    a, b = _pair(a, b, "mmd")
    bandwidth = check.positive(bandwidth, "bandwidth", fix="0.5 suits the course's 2-D data")

    def kernel_sum(x, y):
        return _pairwise_sum(x, y, lambda d: torch.exp(-(d**2) / (2 * bandwidth**2)))

    def within(x):
        n = len(x)
        return (kernel_sum(x, x) - n) / (n * (n - 1))  # drop the diagonal of ones

    return float(within(a) + within(b) - 2 * kernel_sum(a, b) / (len(a) * len(b)))


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

    def covers(self, score: float) -> bool:
        """True when ``score`` is no worse than nine in ten pairs of true draws: the metric
        cannot tell those samples from the data at this sample size."""
        return check.real(score, "score") <= self.p90

    def __repr__(self) -> str:
        return f"NullBand({len(self.values)} pairs: p10 {self.p10:.3g}, median {self.median:.3g}, p90 {self.p90:.3g})"


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
    check.function(sampler, "sampler", "fm.data.ring_of_gaussians")
    check.function(metric, "metric", "fm.metrics.mmd")
    n, n_repeats = check.count(n, "n", minimum=2), check.count(n_repeats, "n_repeats")
    generator = check.generator(generator)
    values = [
        metric(sampler(n, generator=generator), sampler(n, generator=generator))
        for _ in range(n_repeats)
    ]
    return NullBand(np.asarray(values))


# The earlier names, kept so that existing notebooks and scripts still run.
noise_floor = null_band
NoiseFloor = NullBand


@dataclass(frozen=True)
class FeatureScore:
    """:func:`feature_mmd`'s answer: the median of ``scores`` (generated against real, one
    per repeat) and, beside it, ``band`` (real against real, the same sizes and repeats)."""

    score: float
    scores: np.ndarray
    band: NullBand
    bandwidth: float
    n: int

    @property
    def covered(self) -> bool:
        """True when the score is inside the null band: indistinguishable at this size."""
        return self.band.covers(self.score)

    def __repr__(self) -> str:
        return (
            f"FeatureScore(MMD² {self.score:.4g} at n = {self.n}; null band p10 "
            f"{self.band.p10:.3g} to p90 {self.band.p90:.3g}; bandwidth {self.bandwidth:.3g})"
        )


def _features(features: Callable, x, name: str) -> torch.Tensor:
    """``features(x)`` as a float64 CPU cloud, computed without gradients."""
    with torch.no_grad():
        out = features(check.floating(x, name))
    out = check.floating(out, f"features({name})").detach()
    if out.ndim != 2 or len(out) != len(x):
        raise ValueError(
            f"features must map {len(x)} images to {len(x)} feature rows, (n, k); "
            f"got shape {tuple(out.shape)}"
        )
    return _as_cloud(out, f"features({name})")


def feature_mmd(
    samples: torch.Tensor,
    real: torch.Tensor,
    features: Callable[[torch.Tensor], torch.Tensor],
    *,
    n: int | None = None,
    n_repeats: int = 20,
    bandwidth: float | None = None,
    generator: torch.Generator | None = None,
) -> FeatureScore:
    """A KID-style distance for images: :func:`mmd` on ``features(x)`` instead of pixels.

    ``features`` maps images ``(batch, dim)`` to feature vectors ``(batch, k)``, typically
    the penultimate layer of a classifier trained on real images (as KID uses Inception's),
    where distances follow what makes an image one digit rather than another, not pixel
    noise. KID itself uses a cubic polynomial kernel; this uses :func:`mmd`'s Gaussian
    kernel, whose width defaults to the median distance between two real images' features
    (the median heuristic), fixed by ``real`` so that every model is scored with one kernel.

    ``real`` are held-out real images, never trained on. Each of ``n_repeats`` repeats splits
    them at random into two disjoint halves A and B of ``n`` rows (default: half of them)
    and scores ``n`` random rows of ``samples`` against B, and A against B: the second is
    the null band, what two real draws of that size read. (Two draws *with* replacement
    from one finite set would share images, which pulls the null towards negative values;
    disjoint halves do not.) The score is the median over repeats. A score inside the band
    means the features cannot tell the samples from real images at this ``n``.
    """
    check.function(features, "features", "judge.features, a classifier's penultimate layer")
    n_repeats = check.count(n_repeats, "n_repeats")
    generator = check.generator(generator)
    fs, fr = _features(features, samples, "samples"), _features(features, real, "real")
    limit = min(len(fs), len(fr) // 2)
    n = limit if n is None else check.count(n, "n", minimum=2)
    if n > limit or n < 2:
        raise ValueError(
            f"n = {n} needs {n} samples and two disjoint halves of {n} real images; with "
            f"{len(fs)} samples and {len(fr)} real images, n can be 2 to {limit}"
        )
    if bandwidth is None:
        bandwidth = float(torch.pdist(fr).median())
    bandwidth = check.positive(bandwidth, "bandwidth", fix="or None for the median distance")
    # The splits first, so that one generator seed gives every model the same splits and band.
    orders = [torch.randperm(len(fr), generator=generator) for _ in range(n_repeats)]
    scores, nulls = [], []
    for order in orders:
        half_a, half_b = fr[order[:n]], fr[order[n : 2 * n]]
        drawn = fs[torch.randperm(len(fs), generator=generator)[:n]]
        scores.append(mmd(drawn, half_b, bandwidth=bandwidth))
        nulls.append(mmd(half_a, half_b, bandwidth=bandwidth))
    scores = np.asarray(scores)
    return FeatureScore(float(np.median(scores)), scores, NullBand(np.asarray(nulls)), bandwidth, n)


def straightness(trajectory: torch.Tensor) -> float:
    """How far paths are from straight lines, 0 for perfectly straight ones.

    For a trajectory ``(steps + 1, n, dim)`` on an even time grid over [0, 1] (or a
    :class:`fmkit.solvers.Solution` solved with ``return_trajectory=True``), compares each
    step's velocity with the path's overall displacement ``x_1 - x_0``: the mean of
    ``integral_0^1 |dx/dt - (x_1 - x_0)|^2 dt`` divided by the mean ``|x_1 - x_0|^2``. A
    flow whose paths are straight, constant-speed lines can be solved exactly by one Euler step.
    """
    traj = check.trajectory(trajectory)
    traj = (traj.cpu() if traj.device.type != "cpu" else traj).double()  # (steps + 1, n, dim)
    check.finite(traj, "trajectory", "a diverged solve makes these")
    n_steps = len(traj) - 1
    step_velocity = (traj[1:] - traj[:-1]) * n_steps  # (steps, n, dim)
    displacement = traj[-1] - traj[0]  # (n, dim)
    deviation = ((step_velocity - displacement) ** 2).sum(-1).mean(0)  # time average, (n,)
    travelled = (displacement**2).sum(-1).mean()
    if travelled == 0:
        raise ValueError(
            "the paths end where they start, so straightness (deviation over distance) is undefined"
        )
    return float(deviation.mean() / travelled)


# --------------------------------------------------------------------------- what the explorers show


@dataclass(frozen=True)
class SolveScore:
    """How a solve did: its end points' MMD² to fresh data, its paths' straightness (when
    the trajectory was kept) and the velocity evaluations it cost."""

    mmd2: float
    straightness: float | None
    nfe: int


def score_solve(solution: Any, reference: torch.Tensor, *, bandwidth: float = 0.5) -> SolveScore:
    """Score a :class:`fmkit.solvers.Solution` against ``reference`` data: the numbers the
    sampling and coupling explorers show, for chapters and benchmarks to reuse."""
    if not all(hasattr(solution, name) for name in ("x", "trajectory", "nfe")):
        raise TypeError(
            f"solution must be what fm.integrate returns, got {type(solution).__name__}"
        )
    bend = straightness(solution) if solution.trajectory is not None else None
    return SolveScore(mmd(solution.x, reference, bandwidth=bandwidth), bend, int(solution.nfe))


def reach(samples: torch.Tensor, means: torch.Tensor, label: int) -> float:
    """The share of ``samples`` ``(n, dim)`` whose nearest mean ``(k, dim)`` is ``means[label]``:
    how often a conditional sampler lands on the class it was asked for."""
    x, m = _as_cloud(samples, "samples"), check.points(means, "means").detach().cpu().double()
    label = int(check.class_labels(label, "label", n_classes=len(m), allow_none=False))
    if m.shape[1] != x.shape[1]:
        raise ValueError(
            f"samples and means must have the same dimension; got {x.shape[1]} and {m.shape[1]}"
        )
    return float((torch.cdist(x, m).argmin(1) == label).double().mean())


def spread(samples: torch.Tensor, centre: torch.Tensor) -> float:
    """The median distance of ``samples`` ``(n, dim)`` to ``centre`` ``(dim,)``: how tight a
    class's samples are (the ring's own blobs give :attr:`fmkit.data.RingSpec.median_distance`)."""
    x = _as_cloud(samples, "samples")
    c = check.floating(centre, "centre").detach().cpu().double().reshape(-1)
    if c.shape != (x.shape[1],):
        raise ValueError(
            f"centre must be one point of dimension {x.shape[1]}; got shape {tuple(c.shape)}"
        )
    return float((x - c).norm(dim=1).median())
