"""Chapter 7's checkers: for each exercise name, fmkit's reference answer and plausible
wrong answers (at least two) that the checker must reject with a hint."""

import torch

import fmkit as fm
from fmkit import likelihood, solvers  # noqa: F401


CASES = {
    "nearest_distance": (
        lambda x, train: torch.cdist(x, train).min(1).values,
        [lambda x, train: (torch.cdist(x, train) ** 2).min(1).values,   # squared
         lambda x, train: torch.cdist(x, train).mean(1)]),              # mean, not nearest,
}
