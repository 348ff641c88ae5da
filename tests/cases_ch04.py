"""Chapter 4's checkers: for each exercise name, fmkit's reference answer and plausible
wrong answers (at least two) that the checker must reject with a hint."""

import torch

import fmkit as fm
from fmkit import likelihood, solvers  # noqa: F401


def _ot_pair(x_0, x_1):
    return fm.ot_pairing(x_0, x_1, sub_batch=None)[0]


CASES = {
    "ot_pair": (
        _ot_pair,
        [lambda x_0, x_1: x_0,                                   # independent pairing
         lambda x_0, x_1: x_1,                                   # not the points of x_0
         lambda x_0, x_1: fm.ot_pairing(x_0, x_1, sub_batch=5)[0]]),  # optimal only within chunks,
}
