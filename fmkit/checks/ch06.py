"""Checkers for chapter 6, Gaussian paths, scores and stochastic sampling."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import paths
from ._core import (
    Result,
    Wrong,
    call,
    check_value,
    expect_close,
    inputs,
    matches,
    run_check,
    toy_field,
)

# Interior times (the conversions clamp near 0 and 1) and every schedule.
_TIMES = (0.3, 0.7)


def _score_inputs(seed: int):
    x, u, t = inputs(seed, n=12)
    return u, x, 0.15 + 0.7 * t  # velocity values, points, times (12, 1) inside (0.15, 0.85)


def _linear_score(u, x, t):
    """The straight line's identity used for every schedule: score = (t u - x) / (1 - t)."""
    t = paths.as_time(t, x)
    return (t * u - x) / (1 - t)


def check_score_from_velocity(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity_value, x, t, schedule)`` must return the score ``grad log p_t(x)`` that
    the velocity implies along the named schedule's path, ``(batch, dim)``."""

    def check():
        for seed, schedule in enumerate(paths.SCHEDULES):
            u, x, t = _score_inputs(seed)
            for when in (t, 0.5):
                answer = call(
                    fn, u, x, when, schedule, names=("velocity_value", "x", "t", "schedule")
                )
                expected = paths.score_from_velocity(u, x, when, schedule)
                eps = paths.epsilon_from_velocity(u, x, when, schedule)
                sigma = paths.get_schedule(schedule).sigma(paths.as_time(when, x))
                if matches(answer, -expected):
                    raise Wrong(
                        "the sign is flipped: the score points towards more probable points, "
                        "score = -eps / sigma_t, so it is (alpha u - alpha' x) / (...), not (alpha' x - alpha u) / (...)."
                    )
                if matches(answer, -eps):
                    raise Wrong(
                        "that is -eps, the noise with its sign flipped: the score is -eps / sigma_t, "
                        "so divide by sigma_t once more."
                    )
                if matches(answer, -eps * sigma):
                    raise Wrong(
                        "you multiplied by sigma_t where the score divides by it: score = -eps / sigma_t."
                    )
                if schedule != "linear" and matches(answer, _linear_score(u, x, when)):
                    raise Wrong(
                        f"that is the straight line's identity (t u - x) / (1 - t), but the schedule is "
                        f"{schedule!r}: use its alpha_t, sigma_t and their derivatives (fm.paths.get_schedule)."
                    )
                expect_close(
                    answer,
                    expected,
                    "score = (alpha_t u - alpha'_t x) / (sigma_t (alpha'_t sigma_t - alpha_t sigma'_t)); "
                    f"check the derivatives of the {schedule!r} schedule.",
                    atol=1e-4,
                    rtol=1e-4,
                )
        return "the score from the velocity, for every schedule, agrees with fmkit."

    return run_check("score_from_velocity", check, quiet)


def em_step_reference(velocity, x, t, dt, noise, kick, schedule="linear"):
    """One Euler-Maruyama step of ``dx = [u + (g^2/2) score] dt + g dW``, ``g = noise sigma_t``."""
    u = velocity(x, t)
    g = noise * paths.get_schedule(schedule).sigma(paths.as_time(t, x))  # (batch, 1)
    score = paths.score_from_velocity(u, x, t, schedule)
    return x + (u + 0.5 * g**2 * score) * dt + g * math.sqrt(dt) * kick


def check_euler_maruyama_step(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x, t, dt, noise, kick, schedule)`` must take one Euler-Maruyama step of
    the marginal-preserving SDE with ``g_t = noise * sigma_t`` and the standard normal
    ``kick`` given, returning ``x`` after the step."""

    def check():
        x, kick, _ = inputs(5, n=10)
        for schedule, t, dt, noise in (
            ("linear", 0.3, 0.05, 1.0),
            ("cosine", 0.6, 0.02, 0.5),
            ("vp", 0.4, 0.1, 2.0),
        ):
            answer = call(
                fn,
                toy_field,
                x,
                t,
                dt,
                noise,
                kick,
                schedule,
                names=("velocity", "x", "t", "dt", "noise", "kick", "schedule"),
            )
            expected = em_step_reference(toy_field, x, t, dt, noise, kick, schedule)
            u = toy_field(x, t)
            g = noise * paths.get_schedule(schedule).sigma(paths.as_time(t, x))
            score = paths.score_from_velocity(u, x, t, schedule)
            if matches(answer, x + (u + 0.5 * g**2 * score) * dt + g * dt * kick):
                raise Wrong(
                    "the noise is scaled by dt; Brownian increments grow like sqrt(dt): g * sqrt(dt) * kick."
                )
            if matches(answer, x + u * dt + g * math.sqrt(dt) * kick):
                raise Wrong(
                    "noise without the matching drift: add (g_t^2 / 2) * score to the velocity, "
                    "or the noise spreads the samples and the marginals are lost."
                )
            if matches(answer, x + (u + g**2 * score) * dt + g * math.sqrt(dt) * kick):
                raise Wrong("the drift correction is (g_t^2 / 2) * score, half of what you added.")
            if matches(answer, x + (u - 0.5 * g**2 * score) * dt + g * math.sqrt(dt) * kick):
                raise Wrong(
                    "the correction's sign is flipped: + (g_t^2 / 2) * score pulls the points towards "
                    "likely regions, which is what undoes the spread of the noise."
                )
            if matches(answer, x + u * dt):
                raise Wrong(
                    "that is an Euler ODE step: the noise level was not used. Add the score drift and g * sqrt(dt) * kick."
                )
            expect_close(
                answer,
                expected,
                "x + (u + (g^2 / 2) * score) * dt + g * sqrt(dt) * kick, with g = noise * sigma_t.",
            )
        return "one Euler-Maruyama step, every schedule and noise level."

    return run_check("euler_maruyama_step", check, quiet)


def cosine_score_value() -> float:
    """The score's first coordinate at x = (1, 0), t = 1/2, u = (2, 0) on the cosine path."""
    u, x = (
        torch.tensor([[2.0, 0.0]], dtype=torch.float64),
        torch.tensor([[1.0, 0.0]], dtype=torch.float64),
    )
    return float(paths.score_from_velocity(u, x, 0.5, "cosine")[0, 0])


def check_cosine_score(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn()`` returns the score's first coordinate worked out by hand (it is 4 / pi - 1)."""
    expected = cosine_score_value()
    half = math.sqrt(0.5)
    return check_value(
        "cosine_score",
        fn,
        expected,
        hint="at t = 1/2, alpha = sigma = 1/sqrt(2), alpha' = pi/2 / sqrt(2), sigma' = -pi/2 / sqrt(2); "
        "put them into score = (alpha u - alpha' x) / (sigma (alpha' sigma - alpha sigma')).",
        mistakes=(
            (-expected, "the sign is flipped: the numerator is alpha u - alpha' x."),
            (
                expected * half,
                "the factor sigma_t in the denominator is missing (that gives -eps, not the score).",
            ),
            (
                0.0,
                "that is the straight line's answer ((t u - x) / (1 - t) = 0 here); the path is the cosine one.",
            ),
            (expected / half, "sigma_t appears once in the denominator, not squared."),
        ),
        success="4 / pi - 1, about 0.273.",
        quiet=quiet,
    )


CHECKS = {
    "score_from_velocity": check_score_from_velocity,
    "euler_maruyama_step": check_euler_maruyama_step,
    "cosine_score": check_cosine_score,
}
