"""Chapter 6's checkers: for each exercise name, fmkit's reference answer and plausible
wrong answers (at least two) that the checker must reject with a hint."""

import torch

import fmkit as fm
from fmkit import likelihood, solvers  # noqa: F401


CASES = {
    "guided_velocity": (
        fm.guided_velocity,
        [lambda m, c, w: (lambda x, t: m(x, t, label=c) + w * (m(x, t, label=-1) - m(x, t, label=c))),  # roles swapped
         lambda m, c, w: (lambda x, t: w * m(x, t, label=c)),                                             # no unconditional part
         lambda m, c, w: (lambda x, t: m(x, t, label=c))]),                                               # ignores the scale,
}
