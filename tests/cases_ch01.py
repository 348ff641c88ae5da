"""Chapter 1's checkers: for each exercise name, fmkit's reference answer and plausible
wrong answers (at least two) that the checker must reject with a hint."""

import torch

import fmkit as fm
from fmkit import likelihood, solvers  # noqa: F401


CASES = {
    "interpolate": (
        fm.interpolate,
        [lambda x_0, x_1, t: t * x_0 + (1 - t) * x_1,            # roles swapped
         lambda x_0, x_1, t: x_0 + t * x_1,                      # missing 1 - t
         lambda x_0, x_1, t: (1 - t.flatten()) * x_0.T + (t.flatten() * x_1.T)]),   # t not broadcast (transposed),
    "target_velocity": (
        fm.target_velocity,
        [lambda x_0, x_1: x_0 - x_1,                             # sign flip
         lambda x_0, x_1: x_1]),                                 # forgot x_0,
}
