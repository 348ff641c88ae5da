"""Checkers for chapter 7, past two dimensions."""

from __future__ import annotations

from typing import Callable

import torch

from ._core import Result, Wrong, call, expect_close, inputs, matches, run_check


def check_nearest_distance(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x, train)`` must return each row's Euclidean distance to its nearest training row."""

    def check():
        x, train_set, _ = inputs(8, n=30, dim=64)
        expected = torch.cdist(x, train_set).min(1).values
        answer = call(fn, x, train_set, names=("x", "train"))
        if matches(answer, expected**2, atol=1e-3):
            raise Wrong("Those are squared distances; take the square root.")
        expect_close(answer, expected, "For each row of x: the smallest Euclidean distance to any row of train.", atol=1e-4)
        return "one distance per sample, to its nearest training image."

    return run_check("nearest training distance", check, quiet)


CHECKS = {"nearest_distance": check_nearest_distance}
