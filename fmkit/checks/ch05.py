"""Checkers for chapter 5, likelihoods."""

from __future__ import annotations

from typing import Callable

from .. import likelihood
from ._core import Result, Wrong, as_answer, call, expect_close, inputs, matches, run_check, toy_field


def check_divergence(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x, t)`` must return the exact divergence per row, ``(batch,)``."""

    def check():
        x, _, t = inputs(6)
        expected = likelihood.divergence(toy_field, x, t)
        answer = as_answer(call(fn, toy_field, x, t, names=("velocity", "x", "t")))
        if matches(answer, expected.sum(), atol=1e-4):
            raise Wrong("That is the total over the batch; return one divergence per row, shape (batch,).")
        expect_close(answer, expected, "Sum the diagonal of the Jacobian: d v_1 / d x_1 + d v_2 / d x_2, for each row.", atol=1e-4)
        return "one divergence per point, exact."

    return run_check("divergence", check, quiet)


CHECKS = {"divergence": check_divergence}
