"""Checkers for chapter 1, paths between noise and data."""

from __future__ import annotations

from typing import Callable

import torch

from .. import paths
from ._core import Result, Wrong, call, expect_close, inputs, matches, run_check


def check_interpolate(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x_0, x_1, t)`` must return ``(1 - t) x_0 + t x_1`` for ``t`` of shape ``(batch, 1)``."""

    def check():
        x_0, x_1, t = inputs()
        names = ("x_0", "x_1", "t")
        expect_close(call(fn, x_0, x_1, torch.zeros_like(t), names=names), x_0,
                     "At t = 0 the point must be the base sample x_0.")
        expect_close(call(fn, x_0, x_1, torch.ones_like(t), names=names), x_1,
                     "At t = 1 the point must be the data sample x_1.")
        expect_close(call(fn, x_0, x_1, t, names=names), paths.interpolate(x_0, x_1, t),
                     "The endpoints are right but the middle is not: each pair moves at constant speed, "
                     "so x_t = (1 - t) x_0 + t x_1 with t of shape (batch, 1) broadcasting over coordinates.")
        return "x_t starts at x_0, ends at x_1 and moves in a straight line in between."

    return run_check("interpolate", check, quiet)


def check_target_velocity(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x_0, x_1)`` must return ``x_1 - x_0``."""

    def check():
        x_0, x_1, _ = inputs(1)
        answer = call(fn, x_0, x_1, names=("x_0", "x_1"))
        if matches(answer, x_0 - x_1):
            raise Wrong("The sign is flipped: the path goes from x_0 (noise) to x_1 (data).")
        expect_close(answer, paths.target_velocity(x_0, x_1), "Differentiate x_t = (1 - t) x_0 + t x_1 with respect to t.")
        return "the velocity of every straight path is x_1 - x_0, the same at every t."

    return run_check("target_velocity", check, quiet)


CHECKS = {"interpolate": check_interpolate, "target_velocity": check_target_velocity}
