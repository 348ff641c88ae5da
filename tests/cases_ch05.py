"""Chapter 5's checkers: for each exercise name, fmkit's reference answer and plausible
wrong answers (at least two) that the checker must reject with a hint."""

import torch

import fmkit as fm
from fmkit import likelihood, solvers  # noqa: F401


def _divergence(velocity, x, t):
    return likelihood.divergence(velocity, x, t)


CASES = {
    "divergence": (
        _divergence,
        [lambda v, x, t: _divergence(v, x, t).sum(),             # summed over the batch
         lambda v, x, t: -_divergence(v, x, t),                  # sign flip
         lambda v, x, t: _divergence(v, x, t)[:, None]]),        # wrong shape,
}
