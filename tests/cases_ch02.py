"""Chapter 2's checkers: for each exercise name, fmkit's reference answer and plausible
wrong answers (at least two) that the checker must reject with a hint."""

import torch

import fmkit as fm
from fmkit import likelihood, solvers  # noqa: F401


CASES = {
    "loss": (
        fm.flow_matching_loss,
        [lambda m, x_0, x_1, t: ((m(fm.interpolate(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum(),   # sum, not mean
         lambda m, x_0, x_1, t: ((m(x_0 + t * x_1, t) - (x_1 - x_0)) ** 2).mean(),              # missing 1 - t
         lambda m, x_0, x_1, t: ((m(fm.interpolate(x_0, x_1, t), t) - (x_0 - x_1)) ** 2).mean()]),  # sign flip,
}
