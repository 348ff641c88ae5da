"""Checkers for chapter 9, past two dimensions: judging samples in 64 dimensions, a PCA
encoder (the linear compressor of the latent flows), likelihoods of quantized pixels, and the
capstone's evaluation of a flow."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from .. import data, exact, latent, likelihood, metrics, solvers
from ._core import Result, Wrong, call, check_value, expect_close, matches, run_check

# ------------------------------------------------------------------ the memorisation ratio


def memorisation_ratio_reference(x: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """``d_1 / d_2`` for each row of ``x``: its distance to the nearest row of ``train`` over its
    distance to the second-nearest one, ``(batch,)``."""
    distances = torch.cdist(
        x, train, compute_mode="donot_use_mm_for_euclid_dist"
    )  # exact zeros for copies
    d = distances.sort(dim=1).values  # (batch, n), nearest first
    return d[:, 0] / d[:, 1]


def _ratio_inputs(seed: int, n: int, m: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g), 1.5 * torch.randn(m, dim, generator=g)


def check_memorisation_ratio(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x, train)`` must return, for each row of ``x``, the distance to its nearest row of
    ``train`` divided by the distance to its second-nearest row: ``(batch,)``, 0 for an exact
    copy of a training row."""

    def check():
        x, train = _ratio_inputs(7, n=12, m=40, dim=6)
        answer = call(fn, x, train, names=("x", "train"))
        distances = torch.cdist(x, train)
        d = distances.sort(dim=1).values  # (n, m), nearest first
        farthest = distances.sort(dim=1, descending=True).values
        expected = d[:, 0] / d[:, 1]
        if matches(answer, expected**2):
            raise Wrong(
                "Those are ratios of squared distances: take the Euclidean distances themselves "
                "(torch.cdist gives them), not their squares."
            )
        if matches(answer, d[:, 1] / d[:, 0]):
            raise Wrong(
                "Your ratio is upside down: nearest over second-nearest, d_1 / d_2, so that a copy "
                "scores 0 and a sample with no special neighbour scores close to 1."
            )
        if matches(answer, d[:, 1] / d[:, 2]):
            raise Wrong(
                "You skipped the nearest training row, as if it were the sample itself. The samples are "
                "not part of the training set: use the nearest and the second-nearest rows."
            )
        if matches(answer, d[:, 0] / distances.mean(1)):
            raise Wrong(
                "Divide by the distance to the *second-nearest* training row, not by the mean distance."
            )
        if matches(answer, farthest[:, 1] / farthest[:, 0]) or matches(
            answer, farthest[:, 0] / farthest[:, 1]
        ):
            raise Wrong(
                "Those are the two *farthest* training rows: torch.topk picks the largest values unless "
                "you pass largest=False (or sort in ascending order)."
            )
        expect_close(
            answer,
            expected,
            "For each row of x: sort its distances to the training rows, then divide "
            "the smallest by the second smallest.",
            atol=1e-5,
        )

        # a sample that is an exact copy of a training image scores 0 (up to cdist's rounding)
        copies = torch.cat([train[[3, 17]], x[:3]])
        answer = call(fn, copies, train, names=("x", "train"))
        expect_close(
            answer,
            memorisation_ratio_reference(copies, train),
            "A sample equal to a training row has d_1 = 0, so its ratio must be 0: do not drop "
            "zero distances.",
            atol=2e-3,
        )
        return (
            "d_1 / d_2 per sample: near 0 flags a copy, near 1 a sample with no special neighbour."
        )

    return run_check("memorisation ratio", check, quiet)


# ------------------------------------------------------------------------- the PCA encoder


def pca_inputs(seed: int = 3, n: int = 10, dim: int = 12, k: int = 4):
    """``x (n, dim)``, ``mean (dim,)``, orthonormal ``components (k, dim)`` and ``scale (k,)``."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, k, generator=g))  # (dim, k), orthonormal columns
    mean = torch.randn(dim, generator=g)
    scale = 0.5 + 1.5 * torch.rand(k, generator=g)
    x = mean + 2 * torch.randn(n, dim, generator=g)
    return x, mean, q.T.contiguous(), scale


def pca_encode_reference(x, mean, components, scale):
    """Standardised PCA codes, as :meth:`fmkit.latent.PCACodes.encode` computes them for the
    chapter's latent flow: centre, project on each component, divide by its scale: (batch, k)."""
    return latent.PCACodes(mean, components, scale, explained=float("nan")).encode(x)


def check_pca_encode(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x, mean, components, scale)`` must return the standardised codes
    ``((x - mean) @ components.T) / scale``, ``(batch, k)``."""

    def check():
        x, mean, components, scale = pca_inputs()
        answer = call(fn, x, mean, components, scale, names=("x", "mean", "components", "scale"))
        projected = (x - mean) @ components.T  # (n, k)
        if matches(answer, x @ components.T / scale, atol=1e-4):
            raise Wrong(
                "Centre first: PCA's components describe x - mean, so subtract the mean before you "
                "project (without it every code is off by the projection of the mean)."
            )
        if matches(answer, projected, atol=1e-4):
            raise Wrong(
                "Those are the raw PCA coordinates: divide each by its scale (pca.scale in the "
                "chapter), so that each has spread 1, the scale of the flow's Gaussian base."
            )
        if matches(answer, projected * scale, atol=1e-4):
            raise Wrong(
                "Divide by the scale, do not multiply: the flow was trained on codes with "
                "spread 1, the raw coordinates divided by their spread."
            )
        if matches(answer, mean + projected @ components, atol=1e-4):
            raise Wrong(
                "That is the reconstruction in pixel space (encode, then decode). Return the k "
                "standardised codes, one column per component."
            )
        expect_close(
            answer,
            pca_encode_reference(x, mean, components, scale),
            "Subtract the mean, multiply by the transposed components (one column per component), "
            "then divide column j by scale[j].",
            atol=1e-4,
        )
        return (
            "centred, projected and standardised: the codes the latent flow was trained on. The decoder "
            "undoes it on the slice PCA keeps: x = mean + (z * scale) @ components."
        )

    return run_check("PCA encoder", check, quiet)


# ------------------------------------------------- a likelihood bound for quantized pixels

HELD_OUT_LOG_DENSITY = 60.0  # nats per image: the exercise's stated value


def _bits_per_pixel(log_density: float, dim: int, bin_width: float) -> float:
    """The dequantization bound on the negative log-likelihood of discrete images, in bits per
    pixel: ``-(E log p(x + u) + D log bin_width) / (D log 2)``."""
    return -(log_density + dim * math.log(bin_width)) / (dim * math.log(2))


def digits_grid() -> tuple[int, float]:
    """The number of pixels of a digit and the spacing of its grey levels, read from the data."""
    images = data.digits()
    levels = torch.unique(images)
    return images.shape[1], float((levels[1:] - levels[:-1]).min())


def check_bits_per_pixel(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn()`` returns the bits-per-pixel bound of Exercise 3 (a flow trained on dequantized
    digits whose held-out average log-density is 60 nats per image)."""
    dim, delta = digits_grid()
    levels = round(2 / delta) + 1
    log_p = HELD_OUT_LOG_DENSITY
    expected = _bits_per_pixel(log_p, dim, delta)
    return check_value(
        "bits per pixel",
        fn,
        expected,
        hint=f"log P(x) >= D log(Delta) + E log p(x + u), with D = {dim} pixels and Delta the spacing of the grey "
        "levels in the [-1, 1] units the model saw. Negate, then divide by D log 2.",
        mistakes=(
            (
                _bits_per_pixel(log_p, dim, 2 / levels),
                f"{levels} levels on [-1, 1] leave {levels - 1} gaps, not {levels}: the bin width is 2/{levels - 1}.",
            ),
            (
                _bits_per_pixel(log_p, dim, 1.0),
                "A negative NLL is impossible for discrete images (P(x) <= 1). You left out D log(Delta), the "
                "log-volume of one bin (or took Delta = 1, the spacing before the pixels were scaled to [-1, 1]).",
            ),
            (
                _bits_per_pixel(log_p, dim, delta / 2),
                f"That bin width is 1/{levels - 1}, the spacing on [0, 1]. The model saw pixels on [-1, 1], where "
                f"the {levels} levels are 2/{levels - 1} apart.",
            ),
            (
                -expected,
                "The sign: report the negative log-likelihood, which a better model makes smaller.",
            ),
            (
                expected * math.log(2),
                "That is nats per pixel: divide by log 2 to get bits.",
            ),
            (expected * dim, "That is bits per image: divide by the number of pixels D."),
            (
                expected * dim * math.log(2),
                "That is nats per image: divide by D log 2 for bits per pixel.",
            ),
        ),
        success=f"{expected:.3f} bits per pixel, against log2({levels}) = {math.log2(levels):.3f} for a model that "
        "knew nothing.",
    )


# ------------------------------------------------------------- the capstone's evaluation

KEYS = ("mmd2", "null_band", "straightness", "nll")


def _ring_sampler(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    return data.sample("ring", n, generator=generator)


def evaluate_flow_reference(
    velocity, sample_target, held_out, *, n=1000, n_steps=16, generator=None
) -> dict:
    """The capstone's report on a trained flow: MMD² of ``n`` samples against fresh target
    samples, the null band at that size, the straightness of the sampling trajectories and the
    mean negative log-likelihood of ``held_out`` in nats."""
    noise = data.sample("gaussian", n, generator=generator, dim=held_out.shape[1])
    solution = solvers.integrate(
        velocity, noise, n_steps=n_steps, method="midpoint", return_trajectory=True
    )
    band = metrics.null_band(sample_target, metrics.mmd, n, generator=generator)
    return {
        "mmd2": metrics.mmd(solution.x, sample_target(n, generator=generator)),
        "null_band": (band.p10, band.p90),
        "straightness": metrics.straightness(solution.trajectory),
        "nll": -likelihood.log_likelihood(velocity, held_out).mean().item(),
    }


def _number(value, what: str) -> float:
    """``value`` as a float, or :class:`Wrong` saying that ``what`` should be one finite number."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, (np.ndarray, np.generic)) and value.size == 1:
        value = value.item()
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise Wrong(f"{what} should be one number (a float); got {type(value).__name__}.")
    if not math.isfinite(value):
        raise Wrong(f"{what} is {value}: a finite number was expected.")
    return float(value)


def check_evaluate_flow(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, sample_target, held_out, n=..., n_steps=..., generator=...)`` must return a
    dict with ``"mmd2"``, ``"null_band"`` (p10, p90), ``"straightness"`` and ``"nll"`` (nats).

    The checker hands it the *exact* field of the ring, whose answers are known: samples as good
    as the data (MMD² inside the null band), the exact straightness of independent pairs, and a
    held-out NLL equal to the true distribution's."""

    def check():
        g = torch.Generator().manual_seed(11)
        held_out = _ring_sampler(400, generator=g)
        n, n_steps = 600, 12
        report = call(
            fn,
            exact.ring_field(),
            _ring_sampler,
            held_out,
            n=n,
            n_steps=n_steps,
            generator=g,
            names=("velocity", "sample_target", "held_out"),
            time_limit=120.0,
        )
        if not isinstance(report, dict):
            raise Wrong(
                f"return a dict with the keys {', '.join(KEYS)}; got {type(report).__name__}."
            )
        missing = [key for key in KEYS if key not in report]
        if missing:
            raise Wrong(
                f"your report lacks the key(s) {', '.join(missing)}; it needs all of {', '.join(KEYS)}."
            )

        # held-out NLL: the exact flow's density is the ring's, known in closed form
        nll = _number(report["nll"], 'report["nll"]')
        truth = float(-exact.ring_log_prob()(held_out).mean())
        for value, why in (
            (
                -truth,
                "That is the log-likelihood: the NLL is its negative, -log_likelihood(...).mean().",
            ),
            (
                truth / math.log(2),
                "That is bits: report the NLL in nats (natural logarithms), as log_likelihood gives it.",
            ),
            (
                truth * len(held_out),
                "That is the sum over the held-out points: report the mean per point.",
            ),
            (
                truth / 2,
                "That is per coordinate: report the NLL per point (a 2-D density), not per dimension.",
            ),
        ):
            if math.isclose(nll, value, rel_tol=0.03, abs_tol=0.03):
                raise Wrong(why)
        if abs(nll - truth) > 0.05:
            raise Wrong(
                f"For this held-out set the exact flow's NLL is {truth:.3f} nats; yours is {nll:.3f}. Use "
                "-fm.log_likelihood(velocity, held_out).mean() on the held-out points, with enough steps "
                "(the default 32 RK4 steps)."
            )

        # MMD² against fresh target samples: a perfect flow scores like the data itself
        if isinstance(report["mmd2"], float) and math.isnan(report["mmd2"]):
            raise Wrong(
                'report["mmd2"] is NaN: did you take the square root of an MMD² estimate that came out '
                "negative? Report fm.metrics.mmd as it is: MMD², which can dip slightly below zero."
            )
        mmd2 = _number(report["mmd2"], 'report["mmd2"]')
        if 0.01 < mmd2 < 0.08:
            raise Wrong(
                f"MMD² of a perfect flow is of order 0.001, yours is {mmd2:.4f}: did you take a square root? "
                "fm.metrics.mmd already returns the squared discrepancy; report it as it is."
            )
        if abs(mmd2) > 0.01:
            raise Wrong(
                f"MMD² of a perfect flow should be of order 0.001, yours is {mmd2:.4f}. Compare the *end* "
                "points of the trajectories (solution.x, not the base noise) with fresh target samples."
            )

        # the null band: two numbers, low then high, at the score's sample size
        band = report["null_band"]
        if isinstance(band, metrics.NullBand):
            raise Wrong(
                "report the band as two numbers, (band.p10, band.p90), not the NullBand object."
            )
        if not isinstance(band, (tuple, list)) or len(band) != 2:
            raise Wrong(
                'report["null_band"] should be a pair (p10, p90) of the metric between two true draws.'
            )
        low, high = (_number(b, 'each end of report["null_band"]') for b in band)
        if not low < high:
            raise Wrong(
                f"the band ({low:.5f}, {high:.5f}) should run from its 10th percentile up to its 90th."
            )
        reference = metrics.null_band(
            _ring_sampler, metrics.mmd, n, n_repeats=30, generator=torch.Generator().manual_seed(5)
        )
        width = reference.p90 - reference.p10
        if high - low > 4 * width:
            raise Wrong(
                f"your band is {(high - low) / width:.0f} times wider than the null band of n = {n} points: "
                "compute it at the same sample size n as the score it is compared with."
            )
        if abs(low) > 0.01 or abs(high) > 0.01:
            raise Wrong(
                f"the null band ({low:.4f}, {high:.4f}) is far from zero: score two independent draws of "
                "sample_target against each other, fm.metrics.null_band(sample_target, fm.metrics.mmd, n)."
            )

        # straightness of the sampling trajectories
        straightness = _number(report["straightness"], 'report["straightness"]')
        noise = data.sample("gaussian", 4000, generator=torch.Generator().manual_seed(6))
        path = solvers.integrate(
            exact.ring_field(), noise, n_steps=n_steps, method="midpoint", return_trajectory=True
        )
        expected = metrics.straightness(path.trajectory)
        if straightness < 0.05 * expected:
            raise Wrong(
                "Straightness 0 means you measured a trajectory of one step (or only its two end points), "
                "which is straight by construction. Pass every state: integrate(..., "
                "return_trajectory=True).trajectory."
            )
        if abs(straightness - expected) > 0.15 * expected:
            euler = solvers.integrate(
                exact.ring_field(), noise, n_steps=n_steps, method="euler", return_trajectory=True
            )
            if abs(straightness - metrics.straightness(euler.trajectory)) < 0.05 * expected:
                raise Wrong(
                    f"That is the straightness of Euler trajectories: with {n_steps} steps Euler's own error bends "
                    "them further. Sample with the midpoint method (method='midpoint'), as the exercise asks."
                )
            raise Wrong(
                f"The exact ring flow's straightness with {n_steps} midpoint steps is about {expected:.2f}; yours is "
                f"{straightness:.2f}. Measure fm.metrics.straightness on the whole trajectory (steps + 1, n, dim) "
                f"of the flow's own samples, with the n_steps you were given."
            )
        return "MMD² with its null band, straightness and held-out NLL, right for a flow whose answers are known."

    return run_check("evaluate a flow", check, quiet)


CHECKS = {
    "memorisation_ratio": check_memorisation_ratio,
    "pca_encode": check_pca_encode,
    "bits_per_pixel": check_bits_per_pixel,
    "evaluate_flow": check_evaluate_flow,
}
