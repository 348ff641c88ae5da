"""Checkers for chapter 2, learning the velocity field."""

from __future__ import annotations

from typing import Callable

from .. import paths, train
from ._core import Result, Wrong, as_answer, call, expect_close, inputs, matches, run_check, toy_field


def check_loss(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(model, x_0, x_1, t)`` must return the flow-matching loss as a scalar tensor: the
    squared error averaged over the batch and the coordinates (the course's convention); the
    sum over coordinates averaged over the batch is accepted, with a note."""

    def check():
        x_0, x_1, t = inputs(2)
        answer = as_answer(call(fn, toy_field, x_0, x_1, t, names=("model", "x_0", "x_1", "t")), "a 0-d tensor")
        if answer.ndim != 0:
            raise Wrong(f"the loss must be one number (a 0-d tensor); got shape {tuple(answer.shape)}. Take the mean.")
        squared = (toy_field(paths.interpolate(x_0, x_1, t), t) - (x_1 - x_0)) ** 2  # (batch, dim)
        if matches(answer, squared.sum()):
            raise Wrong("That is the sum of squared errors over the whole batch; average it over the batch.")
        if matches(answer, squared.sum(1).mean()):
            return ("the loss regresses v(x_t, t) onto x_1 - x_0. You summed over coordinates and averaged over "
                    "the batch, which is the formula's ||.||^2 convention; the course (and fm.flow_matching_loss) "
                    "also averages over the coordinates, which divides by the dimension.")
        expect_close(answer, train.flow_matching_loss(toy_field, x_0, x_1, t),
                     "Evaluate the model at x_t = (1 - t) x_0 + t x_1 and time t, and compare with x_1 - x_0.")
        return "the loss regresses v(x_t, t) onto x_1 - x_0."

    return run_check("flow-matching loss", check, quiet)


CHECKS = {"loss": check_loss}
