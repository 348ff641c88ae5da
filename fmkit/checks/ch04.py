"""Checkers for chapter 4, straighter paths."""

from __future__ import annotations

from typing import Callable

import torch

from .. import paths
from ._core import Result, Wrong, as_answer, call, inputs, run_check


def check_ot_pair(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x_0, x_1)`` must return ``x_0`` reordered so row i is x_1[i]'s optimal partner."""

    def check():
        x_0, x_1, _ = inputs(5, n=40)
        answer = as_answer(call(fn, x_0, x_1, names=("x_0", "x_1")))
        if answer.shape != x_0.shape:
            raise Wrong(f"return x_0 reordered, shape {tuple(x_0.shape)}; got {tuple(answer.shape)}.")
        if not answer.is_floating_point():
            raise Wrong("your result holds integers: return the reordered points x_0[perm], not the indices perm.")
        same_points = torch.equal(answer[answer[:, 0].argsort()], x_0[x_0[:, 0].argsort()])
        if not same_points:
            raise Wrong("The result must contain exactly the points of x_0, only in a new order.")
        best = ((paths.ot_pairing(x_0, x_1, sub_batch=None)[0] - x_1) ** 2).sum()
        cost = ((answer - x_1) ** 2).sum()
        if cost > best + 1e-4:
            raise Wrong(f"A valid pairing, but not the cheapest: total squared distance {cost:.2f} vs {best:.2f}. "
                        "Use squared distances between x_1 (rows) and x_0 (columns) and an assignment solver.")
        return "the total squared distance is as small as it can be."

    return run_check("OT pairing", check, quiet)


CHECKS = {"ot_pair": check_ot_pair}
