"""Checkers for chapter 2, learning the velocity field."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import torch

from .. import data, exact, paths, train
from ._core import (
    CheckerBug,
    Result,
    Wrong,
    as_answer,
    call,
    check_value,
    expect_close,
    inputs,
    matches,
    run_check,
    toy_field,
)

SUMMED_NOTE = (
    "You summed over the coordinates and averaged over the batch: the ||.||^2 of most papers. The course "
    "(and fm.flow_matching_loss) also averages over the coordinates, which divides that by the dimension d."
)


def check_loss(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(model, x_0, x_1, t)`` must return the flow-matching loss as a scalar tensor: the
    squared error averaged over the batch and the coordinates (the course's convention); the
    sum over coordinates averaged over the batch is accepted, with a note."""

    def check():
        x_0, x_1, t = inputs(2)
        answer = as_answer(
            call(fn, toy_field, x_0, x_1, t, names=("model", "x_0", "x_1", "t")), "a 0-d tensor"
        )
        if answer.ndim != 0:
            raise Wrong(
                f"the loss must be one number (a 0-d tensor); got shape {tuple(answer.shape)}. Take the mean."
            )
        squared = (toy_field(paths.interpolate(x_0, x_1, t), t) - (x_1 - x_0)) ** 2  # (batch, dim)
        if matches(answer, squared.sum()):
            raise Wrong(
                "That is the sum of squared errors over the whole batch; average it over the batch."
            )
        if matches(answer, squared.sum(1).mean()):
            return "the loss regresses v(x_t, t) onto x_1 - x_0. " + SUMMED_NOTE
        expect_close(
            answer,
            train.flow_matching_loss(toy_field, x_0, x_1, t),
            "Evaluate the model at x_t = (1 - t) x_0 + t x_1 and time t, and compare with x_1 - x_0.",
        )
        return "the loss regresses v(x_t, t) onto x_1 - x_0."

    return run_check("flow-matching loss", check, quiet)


# ------------------------------------------------------------------ the loss of an affine path


def cosine_path() -> tuple[Callable, Callable, Callable, Callable]:
    """``alpha, sigma, d_alpha, d_sigma`` of the path ``x_t = sin(pi t / 2) x_1 + cos(pi t / 2) x_0``:
    a schedule whose coefficients and derivatives all differ from the straight line's."""
    w = math.pi / 2
    return (
        lambda t: torch.sin(w * t),
        lambda t: torch.cos(w * t),
        lambda t: w * torch.cos(w * t),
        lambda t: -w * torch.sin(w * t),
    )


def straight_path() -> tuple[Callable, Callable, Callable, Callable]:
    """``alpha_t = t``, ``sigma_t = 1 - t`` and their derivatives: the course's path."""
    return (
        lambda t: t,
        lambda t: 1 - t,
        lambda t: torch.ones_like(t),
        lambda t: -torch.ones_like(t),
    )


def check_path_loss(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(model, x_0, x_1, t, alpha, sigma, d_alpha, d_sigma)`` must return the regression
    loss of the path ``x_t = alpha(t) x_1 + sigma(t) x_0`` onto its velocity
    ``d_alpha(t) x_1 + d_sigma(t) x_0``, averaged over the batch and the coordinates (the
    sum over coordinates is accepted, with a note)."""
    names = ("model", "x_0", "x_1", "t", "alpha", "sigma", "d_alpha", "d_sigma")

    def check():
        x_0, x_1, t = inputs(21)
        alpha, sigma, d_alpha, d_sigma = path = cosine_path()
        answer = as_answer(call(fn, toy_field, x_0, x_1, t, *path, names=names), "a 0-d tensor")
        if answer.ndim != 0:
            raise Wrong(
                f"the loss must be one number (a 0-d tensor); got shape {tuple(answer.shape)}. Take the mean."
            )

        def loss(point: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return ((toy_field(point, t) - target) ** 2).mean()

        x_t = alpha(t) * x_1 + sigma(t) * x_0  # (batch, dim)
        velocity = d_alpha(t) * x_1 + d_sigma(t) * x_0  # (batch, dim)
        squared = (toy_field(x_t, t) - velocity) ** 2
        straight_point = paths.interpolate(x_0, x_1, t)
        if matches(answer, squared.sum()):
            raise Wrong(
                "That is the sum of squared errors over the whole batch; average it over the batch."
            )
        if matches(answer, squared.sum(1).mean()):
            return "the model regresses onto the path's own velocity. " + SUMMED_NOTE
        if matches(answer, loss(straight_point, x_1 - x_0)):
            raise Wrong(
                "That is the straight path's loss, whatever the schedule: build x_t and its velocity "
                "from alpha, sigma, d_alpha and d_sigma."
            )
        if matches(answer, loss(x_t, x_1 - x_0)):
            raise Wrong(
                "The point is right but the target is the straight line's velocity x_1 - x_0. On this "
                "path dx_t/dt = d_alpha(t) x_1 + d_sigma(t) x_0."
            )
        if matches(answer, loss(straight_point, velocity)):
            raise Wrong(
                "The target is right but the model is evaluated on the straight line (1 - t) x_0 + t x_1; "
                "evaluate it at x_t = alpha(t) x_1 + sigma(t) x_0."
            )
        if matches(
            answer, loss(alpha(t) * x_0 + sigma(t) * x_1, d_alpha(t) * x_0 + d_sigma(t) * x_1)
        ):
            raise Wrong(
                "alpha and sigma are swapped: alpha(t) multiplies the data x_1 (it grows from 0 to 1), "
                "sigma(t) the noise x_0."
            )
        if matches(answer, loss(x_t, x_t)):
            raise Wrong(
                "The target is the point x_t itself. Regress onto its velocity, the time derivative: "
                "d_alpha(t) x_1 + d_sigma(t) x_0."
            )
        expect_close(
            answer,
            loss(x_t, velocity),
            "x_t = alpha(t) x_1 + sigma(t) x_0, target d_alpha(t) x_1 + d_sigma(t) x_0, then the mean "
            "squared error of model(x_t, t) against the target.",
        )
        answer = as_answer(
            call(fn, toy_field, x_0, x_1, t, *straight_path(), names=names), "a 0-d tensor"
        )
        expect_close(
            answer,
            train.flow_matching_loss(toy_field, x_0, x_1, t),
            "With alpha_t = t and sigma_t = 1 - t your loss should equal fm.flow_matching_loss.",
        )
        return "one loss for every affine path; alpha_t = t, sigma_t = 1 - t gives the course's."

    return run_check("loss of an affine path", check, quiet)


# ------------------------------------------------------------------ logit-normal training times

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def logit_normal_quantiles(mean: float, std: float) -> torch.Tensor:
    """The exact quantiles ``sigmoid(mean + std * Phi^-1(q))`` at :data:`QUANTILES`."""
    q = torch.tensor(QUANTILES, dtype=torch.float64)
    return torch.sigmoid(mean + std * torch.distributions.Normal(0.0, 1.0).icdf(q))


def check_logit_normal_times(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(n, mean, std, generator)`` must return ``(n, 1)`` training times ``sigmoid(z)``,
    ``z ~ N(mean, std^2)``, drawn with ``generator``. Judged by quantiles of 20,000 draws."""
    n, tol = 20_000, 0.02
    names = ("n", "mean", "std", "generator")

    def draw(mean: float, std: float, seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        answer = as_answer(call(fn, n, mean, std, generator, names=names))
        if answer.shape != (n, 1):
            raise Wrong(
                f"with n = {n} return shape ({n}, 1), one time per pair like fm.paths.sample_time; "
                f"got {tuple(answer.shape)}."
            )
        if not answer.is_floating_point():
            raise Wrong(f"your times are integers ({answer.dtype}); return floats in (0, 1).")
        if not torch.all(torch.isfinite(answer)):
            raise Wrong("your times contain NaN or infinity.")
        if answer.min() < 0 or answer.max() > 1:
            raise Wrong(
                f"some times fall outside [0, 1] (from {answer.min():.2f} to {answer.max():.2f}): "
                "the normal draw z must go through the sigmoid, t = 1 / (1 + exp(-z))."
            )
        return answer

    def quantiles(answer: torch.Tensor) -> torch.Tensor:
        return torch.quantile(
            answer.double().flatten(), torch.tensor(QUANTILES, dtype=torch.float64)
        )

    def near(a: torch.Tensor, b: torch.Tensor) -> bool:
        return bool((a - b).abs().max() < tol)

    def check():
        got = quantiles(draw(0.0, 1.0, 0))
        if near(got, torch.tensor(QUANTILES, dtype=torch.float64)):
            raise Wrong(
                "your times look uniform on [0, 1]. Draw z ~ N(mean, std^2) and return sigmoid(z)."
            )
        if near(got, logit_normal_quantiles(1.0, 0.0)):
            raise Wrong("mean and std are swapped: z = mean + std * N(0, 1).")
        if not near(got, logit_normal_quantiles(0.0, 1.0)):
            raise Wrong(
                f"with mean 0 and std 1 your quantiles at {QUANTILES} are "
                f"{[round(v, 3) for v in got.tolist()]}; a logit-normal gives "
                f"{[round(v, 3) for v in logit_normal_quantiles(0.0, 1.0).tolist()]}."
            )
        mean, std = 1.0, 0.5
        got = quantiles(draw(mean, std, 1))
        if near(got, logit_normal_quantiles(0.0, 1.0)):
            raise Wrong(
                "your times ignore `mean` and `std`: shift and scale the normal draw, z = mean + std * N(0, 1)."
            )
        if near(got, logit_normal_quantiles(mean, std**2)):
            raise Wrong(
                "your spread is std^2: `std` is a standard deviation, so z = mean + std * N(0, 1)."
            )
        if near(got, logit_normal_quantiles(std, mean)):
            raise Wrong("mean and std are swapped: z = mean + std * N(0, 1).")
        if not near(got, logit_normal_quantiles(mean, std)):
            raise Wrong(
                f"with mean {mean} and std {std} your quantiles are {[round(v, 3) for v in got.tolist()]}; "
                f"expected {[round(v, 3) for v in logit_normal_quantiles(mean, std).tolist()]}."
            )
        if not torch.equal(draw(mean, std, 2), draw(mean, std, 2)):
            raise Wrong(
                "two runs with identically seeded generators gave different times: draw with "
                "`generator=generator` (torch.randn(n, 1, generator=generator)) so a seeded run repeats."
            )
        return "logit-normal times, reproducible with a generator."

    return run_check("logit-normal times", check, quiet)


# ------------------------------------------------------------------ derive: the floor at t = 0


def _ring_spec() -> tuple[int, float, float]:
    """``n_modes, radius, std`` of the chapters' ring: the defaults of ``data.ring_of_gaussians``."""
    params = inspect.signature(data.ring_of_gaussians).parameters
    return params["n_modes"].default, params["radius"].default, params["std"].default


def ring_floor_at_zero() -> float:
    """The exact per-coordinate loss floor of the ring at ``t = 0``: ``E||x_1||^2 / d``.

    At ``t = 0`` the point is ``x_0`` itself and ``u(x, 0) = E[x_1] - x``, so the residual
    ``x_1 - x_0 - u(x_0, 0)`` is ``x_1 - E[x_1]`` and its mean square is x_1's variance."""
    n_modes, radius, std = _ring_spec()
    means = data.ring_means(n_modes, radius).double()  # (k, 2)
    dim = means.shape[1]
    centre = means.mean(0)
    return float(((means - centre) ** 2).sum(1).mean() / dim + std**2)


def _monte_carlo_floor_at_zero(n: int = 100_000, seed: int = 0) -> float:
    g = torch.Generator().manual_seed(seed)
    x_0, x_1 = data.sample("gaussian", n, generator=g), data.sample("ring", n, generator=g)
    return float(train.flow_matching_loss(exact.ring_field(), x_0, x_1, 0.0))


def check_loss_floor_t0(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn()`` must return the ring's loss floor at ``t = 0``, per coordinate (derived by hand)."""
    expected = ring_floor_at_zero()
    monte_carlo = _monte_carlo_floor_at_zero()
    if abs(monte_carlo - expected) > 0.03:  # the closed form and fmkit's exact field must agree
        raise CheckerBug(
            f"the ring's floor at t = 0 is {expected:.4f} in closed form but {monte_carlo:.4f} by "
            "Monte Carlo with fmkit.exact.ring_field; this is a bug in fmkit, please report it."
        )
    _, radius, std = _ring_spec()
    dim, base_var = 2, 1.0  # the plane; the standard Gaussian base has variance 1 per coordinate
    return check_value(
        "loss floor at t = 0",
        fn,
        expected,
        hint="At t = 0, x_t = x_0 and u(x, 0) = E[x_1] - x. Write the residual x_1 - x_0 - u(x_0, 0), then take "
        f"its mean square per coordinate (the blob centres sit at distance R = {radius:g}, each blob has "
        f"std {std:g}).",
        mistakes=(
            (
                expected + base_var,
                "you kept the noise's variance. At t = 0 the point x_t is x_0 itself, so the field "
                "cancels x_0 exactly: the residual is x_1 - E[x_1], not x_1 - x_0.",
            ),
            (
                dim * expected,
                "that is the sum over the two coordinates; the course averages over coordinates "
                "(divide by d = 2).",
            ),
            (
                dim * (expected + base_var),
                "that is E||x_1 - x_0||^2, summed over coordinates: the field cancels "
                "x_0 exactly at t = 0, and the course averages over the d = 2 coordinates.",
            ),
            (
                radius**2 / dim,
                "you left out the spread of each blob: E||x_1||^2 = R^2 + 2 std^2, not R^2.",
            ),
            (
                radius**2 / dim + std**2 / dim,
                "each coordinate of a blob has variance std^2, so the blobs add std^2 "
                "per coordinate (2 std^2 in all), not std^2 / 2.",
            ),
            (
                base_var,
                "that is the floor at t = 1, where x_1 is known and x_0 is not; at t = 0 it is the other way round.",
            ),
            (
                std**2,
                "that would be the floor if the field knew each point's blob; at t = 0 it knows nothing about x_1.",
            ),
            (
                0.0,
                "the field is exact, but the pairs passing through one point still head to different data points: "
                "their velocities scatter around u.",
            ),
        ),
        success="at t = 0 the field knows x_0 and nothing about x_1, so the floor is x_1's variance per coordinate.",
        quiet=quiet,
    )


CHECKS = {
    "loss": check_loss,
    "path_loss": check_path_loss,
    "logit_normal_times": check_logit_normal_times,
    "loss_floor_t0": check_loss_floor_t0,
}
