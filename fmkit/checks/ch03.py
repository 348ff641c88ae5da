"""Checkers for chapter 3, sampling by solving the ODE."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import data, exact, metrics, solvers
from ._core import (
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

# A non-uniform grid (steps shrinking towards t = 1) and the same grid run backwards: a sampler
# that assumes equal steps or a forward direction shows it.
_GRID = torch.tensor([0.0, 0.3, 0.55, 0.75, 0.9, 1.0])


def _euler_path(
    velocity: Callable,
    x: torch.Tensor,
    times: torch.Tensor,
    *,
    slope_at_end: bool = False,
    uniform: bool = False,
    absolute: bool = False,
) -> torch.Tensor:
    """The reference trajectory ``(len(times), batch, dim)``, or one of the plausible wrong ones."""
    states = [x]
    n_steps = len(times) - 1
    for k in range(n_steps):
        dt = float(times[k + 1] - times[k])
        if uniform:
            dt = float(times[-1] - times[0]) / n_steps
        if absolute:
            dt = abs(dt)
        t = float(times[k + 1] if slope_at_end else times[k])
        x = solvers.euler_step(velocity, x, t, dt)
        states.append(x)
    return torch.stack(states)


def check_euler_path(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x_0, times)`` must carry ``x_0`` along the 1-D tensor ``times`` (in
    either direction) with one Euler step per interval, and return the whole trajectory
    ``(len(times), batch, dim)``, starting with ``x_0``."""

    def check():
        x_0, _, _ = inputs(3)
        for times in (_GRID, _GRID.flip(0)):
            direction = "forwards" if times[-1] > times[0] else "backwards"
            answer = call(fn, toy_field, x_0, times.clone(), names=("velocity", "x_0", "times"))
            if (
                isinstance(answer, (list, tuple))
                and answer
                and all(isinstance(a, torch.Tensor) for a in answer)
            ):
                raise Wrong(
                    f"you returned a {type(answer).__name__} of {len(answer)} states; "
                    "stack them into one tensor with torch.stack(states)."
                )
            expected = _euler_path(toy_field, x_0, times)
            if matches(answer, expected[-1]):
                raise Wrong(
                    "That is only the end point: return the whole trajectory, every state from x_0 "
                    f"on, of shape {tuple(expected.shape)}."
                )
            if matches(answer, expected[1:]):
                raise Wrong(
                    "The trajectory must start with x_0 itself: len(times) states in all, the first "
                    "being the starting point."
                )
            if matches(answer, _euler_path(toy_field, x_0, times, uniform=True)):
                raise Wrong(
                    "Your steps are all the same size, but the grid is not even: step k has size "
                    "dt = times[k + 1] - times[k]."
                )
            if matches(answer, _euler_path(toy_field, x_0, times, slope_at_end=True)):
                raise Wrong(
                    "Each step must use the velocity at the *start* of its interval, v(x, times[k]), "
                    "not at its end."
                )
            if direction == "backwards" and matches(
                answer, _euler_path(toy_field, x_0, times, absolute=True)
            ):
                raise Wrong(
                    "On a decreasing grid the step dt = times[k + 1] - times[k] is negative: keep its "
                    "sign, so the state moves backwards in time."
                )
            expect_close(
                answer,
                expected,
                f"Running {direction}: state k+1 is x_k + dt * v(x_k, times[k]) with "
                "dt = times[k + 1] - times[k].",
            )
        return "one Euler step per interval of any grid, in either direction, every state kept."

    return run_check("Euler path", check, quiet)


def heun_reference(velocity: Callable, x: torch.Tensor, t: float, dt: float) -> torch.Tensor:
    """Heun's step: an Euler predictor, then the average of the slopes at both ends."""
    slope = velocity(x, t)
    predicted = x + dt * slope
    return x + 0.5 * dt * (slope + velocity(predicted, t + dt))


def check_heun_step(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x, t, dt)`` must return one step of Heun's method (``t`` a float)."""

    def check():
        x, _, _ = inputs(4)
        for t, dt in ((0.3, 0.2), (0.9, -0.25)):
            answer = call(fn, toy_field, x, t, dt, names=("velocity", "x", "t", "dt"))
            v = toy_field
            slope = v(x, t)
            predicted = x + dt * slope
            if matches(answer, solvers.euler_step(toy_field, x, t, dt)):
                raise Wrong(
                    "That is an Euler step: Heun also evaluates the velocity at the predicted end point "
                    "and averages the two slopes."
                )
            if matches(answer, solvers.midpoint_step(toy_field, x, t, dt)):
                raise Wrong(
                    "That is the midpoint method (second slope half a step ahead). Heun evaluates the "
                    "second slope at the end of the step, at (x + dt v(x, t), t + dt)."
                )
            if matches(answer, x + 0.5 * dt * (slope + v(predicted, t))):
                raise Wrong(
                    "The second slope belongs to the end of the step: evaluate it at time t + dt, not t."
                )
            if matches(answer, x + 0.5 * dt * (slope + v(x, t + dt))):
                raise Wrong(
                    "Evaluate the second slope at the *predicted* point x + dt v(x, t), not at x."
                )
            if matches(answer, x + dt * (slope + v(predicted, t + dt))):
                raise Wrong("Average the two slopes (a factor 1/2): x + dt/2 (v_start + v_end).")
            if matches(answer, predicted + 0.5 * dt * (slope + v(predicted, t + dt))):
                raise Wrong("The corrected step starts again from x, not from the predicted point.")
            expect_close(
                answer,
                heun_reference(toy_field, x, t, dt),
                f"With t = {t}, dt = {dt}: predict x~ = x + dt v(x, t), then return "
                "x + dt/2 (v(x, t) + v(x~, t + dt)).",
            )
        return "an Euler predictor, then the average of the slopes at both ends: second order, two evaluations."

    return run_check("Heun step", check, quiet)


def _clouds(
    seed: int = 5, n_a: int = 40, n_b: int = 30, dim: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two clouds of different sizes and clearly different distributions (float64)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n_a, dim, generator=g, dtype=torch.float64)
    b = 0.8 * torch.randn(n_b, dim, generator=g, dtype=torch.float64) + 0.7
    return a, b


def mmd2_variants(a: torch.Tensor, b: torch.Tensor, bandwidth: float) -> dict[str, torch.Tensor]:
    """The unbiased estimate and the estimates that plausible mistakes give, by name."""

    def gram(x, y, squared=True, two=True):
        d = torch.cdist(x, y)
        return torch.exp(-(d**2 if squared else d) / ((2 if two else 1) * bandwidth**2))

    def within(x, unbiased=True, **kw):
        k, n = gram(x, x, **kw), len(x)
        return (k.sum() - k.diagonal().sum()) / (n * (n - 1)) if unbiased else k.mean()

    def estimate(unbiased=True, cross=2.0, **kw):
        return (
            within(a, unbiased, **kw) + within(b, unbiased, **kw) - cross * gram(a, b, **kw).mean()
        )

    right = estimate()
    off_diagonal_over_n2 = (
        (gram(a, a).sum() - len(a)) / len(a) ** 2
        + (gram(b, b).sum() - len(b)) / len(b) ** 2
        - 2 * gram(a, b).mean()
    )
    return {
        "unbiased": right,
        "biased": estimate(unbiased=False),
        "cross once": estimate(cross=1.0),
        "square root": right.clamp(min=0).sqrt(),
        "distance not squared": estimate(squared=False),
        "no factor 2 in the kernel": estimate(two=False),
        "diagonal dropped, divided by n^2": off_diagonal_over_n2,
    }


_MMD_HINTS = {
    "biased": "That is the biased estimate: the within-cloud averages include each point paired with itself "
    "(k(x, x) = 1). Leave out the diagonal and divide by n (n - 1).",
    "cross once": "The cross term counts twice: MMD² = E k(x, x') + E k(y, y') - 2 E k(x, y).",
    "square root": "That is MMD, the square root. The exercise asks for MMD² (which may be slightly negative, "
    "so it has no real square root in general).",
    "distance not squared": "The Gaussian kernel uses the *squared* distance: exp(-|x - y|² / (2 h²)).",
    "no factor 2 in the kernel": "Mind the kernel's convention: the course's width h enters as exp(-|x - y|² / (2 h²)), "
    "with the factor 2; exp(-|x - y|² / h²) is a kernel of width h / √2.",
    "diagonal dropped, divided by n^2": "You left out the diagonal but still divided by n²: there are only "
    "n (n - 1) pairs of distinct points.",
}


def check_mmd2(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(a, b, bandwidth)`` must return the unbiased estimate of MMD² with the Gaussian
    kernel ``exp(-|x - y|^2 / (2 bandwidth^2))``, as ``fmkit.metrics.mmd`` computes it."""

    def check():
        for (a, b), bandwidth in ((_clouds(), 0.5), (_clouds(6, 25, 35), 1.0)):
            answer = as_answer(call(fn, a, b, bandwidth, names=("a", "b", "bandwidth")), "a number")
            if answer.numel() == 1:
                answer = answer.reshape(())
            variants = mmd2_variants(a, b, bandwidth)
            for name, hint in _MMD_HINTS.items():
                if matches(answer, variants[name], atol=1e-6):
                    raise Wrong(hint)
            expected = torch.tensor(metrics.mmd(a, b, bandwidth=bandwidth), dtype=torch.float64)
            expect_close(
                answer,
                expected,
                f"With bandwidth {bandwidth}: average k over distinct pairs within a, the same within b, "
                "minus twice the average over all pairs across.",
                atol=1e-6,
            )
        return "the unbiased MMD² estimate, as fm.metrics.mmd computes it."

    return run_check("unbiased MMD²", check, quiet)


# Exercise: where does the first of four Euler steps from this point end, under the ring's exact field?
FIRST_STEP_X0 = (0.5, -1.0)
FIRST_STEP_DT = 0.25


def first_step_mistakes() -> tuple[tuple[tuple[float, float], str], ...]:
    """Plausible wrong answers to the first-step exercise, each with what went wrong."""
    x, dt = torch.tensor(FIRST_STEP_X0, dtype=torch.float64), FIRST_STEP_DT
    means = data.ring_means().double()  # (8, 2): the blob centres
    nearest = means[(means - x).norm(dim=1).argmin()]
    as_pair = lambda v: tuple(float(c) for c in v)  # noqa: E731
    return (
        (
            as_pair(means.mean(0)),
            "That is where a *whole* step (dt = 1) would land: the data mean. Here dt = 1/4.",
        ),
        (
            as_pair(-dt * x),
            "That is the displacement dt * u(x_0, 0); the exercise asks where the point ends: add x_0.",
        ),
        (
            as_pair(x + dt * x),
            "The field at t = 0 points *inwards*: u(x, 0) = E[x_1] - x = -x, not +x.",
        ),
        (
            as_pair(x),
            "At t = 0 the field is not zero: it is E[x_1 - x_0 | x_0 = x] = E[x_1] - x, with x_0 "
            "fixed at x, not averaged over the base.",
        ),
        (
            as_pair(x + dt * (nearest - x)),
            "At t = 0, x_0 says nothing about which blob it is paired with, so the "
            "field points at the mean of all the data, not at the nearest blob.",
        ),
    )


def check_first_step(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn()`` must return where one Euler step of size 1/4 from ``x_0 = (0.5, -1)`` at
    ``t = 0`` lands under the ring's exact field."""
    x = torch.tensor([FIRST_STEP_X0])
    expected = (x + FIRST_STEP_DT * exact.ring_field()(x, 0.0))[0].double()
    return check_value(
        "first Euler step",
        fn,
        expected,
        hint="Use u(x, 0) = E[x_1] - x (the ring's mean is the origin), then x_0 + dt * u(x_0, 0) with dt = 1/4.",
        mistakes=first_step_mistakes(),
        success="u(x, 0) = -x, so the step shrinks x_0 by the factor 1 - dt = 3/4, straight towards the data mean.",
        quiet=quiet,
    )


CHECKS = {
    "euler_path": check_euler_path,
    "heun_step": check_heun_step,
    "mmd2": check_mmd2,
    "first_step": check_first_step,
}
