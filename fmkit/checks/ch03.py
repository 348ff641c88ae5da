"""Checkers for chapter 3, sampling by solving the ODE."""

from __future__ import annotations

from typing import Callable

from .. import solvers
from ._core import Result, Wrong, call, expect_close, inputs, matches, run_check, toy_field


def check_euler_sample(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x_0, n_steps)`` must return the end point of ``n_steps`` Euler steps
    from ``t = 0`` to ``t = 1``."""

    def check():
        x_0, _, _ = inputs(3)
        for n_steps in (1, 4, 10):
            answer = call(fn, toy_field, x_0, n_steps, names=("velocity", "x_0", "n_steps"))
            expected = solvers.integrate(toy_field, x_0, n_steps=n_steps, method="euler").x
            shifted = solvers.integrate(lambda x, t: toy_field(x, t + 1.0 / n_steps), x_0, n_steps=n_steps, method="euler").x
            if matches(answer, shifted):
                raise Wrong("Off by one in the time grid: step i starts at t = i / n_steps, not (i + 1) / n_steps.")
            expect_close(answer, expected, f"With n_steps = {n_steps}: take dt = 1 / n_steps and x <- x + dt * v(x, t).")
        return "your sampler takes the right steps at the right times."

    return run_check("Euler sampler", check, quiet)


def check_midpoint_step(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x, t, dt)`` must return one midpoint step (``t`` a float)."""

    def check():
        x, _, _ = inputs(4)
        answer = call(fn, toy_field, x, 0.3, 0.2, names=("velocity", "x", "t", "dt"))
        if matches(answer, solvers.euler_step(toy_field, x, 0.3, 0.2), atol=1e-6):
            raise Wrong("That is an Euler step: evaluate the velocity again half a step ahead and use that one.")
        expect_close(answer, solvers.midpoint_step(toy_field, x, 0.3, 0.2),
                     "Half step: x_half = x + dt/2 * v(x, t); full step with the slope at (x_half, t + dt/2).")
        return "two evaluations per step, second-order accurate."

    return run_check("midpoint step", check, quiet)


CHECKS = {"euler_sample": check_euler_sample, "midpoint_step": check_midpoint_step}
