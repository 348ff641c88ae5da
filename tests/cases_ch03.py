"""Chapter 3's checkers: for each exercise name, fmkit's reference answer and plausible
wrong answers (at least two) that the checker must reject with a hint."""

import torch

import fmkit as fm
from fmkit import likelihood, solvers  # noqa: F401


def _euler_sample(velocity, x, n_steps, shift=0):
    dt = 1.0 / n_steps
    for i in range(n_steps):
        x = x + dt * velocity(x, torch.full((len(x), 1), (i + shift) * dt))
    return x


CASES = {
    "euler_sample": (
        _euler_sample,
        [lambda v, x, n: _euler_sample(v, x, n, shift=1),        # off by one in the time grid
         lambda v, x, n: x + v(x, torch.zeros(len(x), 1)),       # one step whatever n
         lambda v, x, n: _euler_sample(v, x, n) * 1.01]),
    "midpoint_step": (
        solvers.midpoint_step,
        [solvers.euler_step,                                     # no midpoint at all
         lambda v, x, t, dt: x + dt * v(x + 0.5 * dt * v(x, torch.full((len(x), 1), t)), torch.full((len(x), 1), t)),  # wrong time
         ]),
}
