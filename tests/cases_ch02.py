"""Chapter 2's checkers: for each exercise name, a reference answer and plausible wrong
answers (at least two) that the checker must reject with a hint."""

import torch

import fmkit as fm
from fmkit import likelihood, solvers  # noqa: F401


def path_loss(model, x_0, x_1, t, alpha, sigma, d_alpha, d_sigma):
    x_t = alpha(t) * x_1 + sigma(t) * x_0
    return ((model(x_t, t) - (d_alpha(t) * x_1 + d_sigma(t) * x_0)) ** 2).mean()


def logit_normal_times(n, mean=0.0, std=1.0, generator=None):
    return torch.sigmoid(mean + std * torch.randn(n, 1, generator=generator))


CASES = {
    "loss": (
        fm.flow_matching_loss,
        [
            lambda m, x_0, x_1, t: (
                (m(fm.interpolate(x_0, x_1, t), t) - (x_1 - x_0)) ** 2
            ).sum(),  # sum, not mean
            lambda m, x_0, x_1, t: (
                (m(x_0 + t * x_1, t) - (x_1 - x_0)) ** 2
            ).mean(),  # missing 1 - t
            lambda m, x_0, x_1, t: ((m(fm.interpolate(x_0, x_1, t), t) - (x_0 - x_1)) ** 2).mean(),
        ],
    ),  # sign flip
    "path_loss": (
        path_loss,
        [
            lambda m, x_0, x_1, t, a, s, da, ds: (
                (m(a(t) * x_1 + s(t) * x_0, t) - (x_1 - x_0)) ** 2
            ).mean(),  # straight target
            lambda m, x_0, x_1, t, a, s, da, ds: path_loss(
                m, x_1, x_0, t, a, s, da, ds
            ),  # alpha, sigma swapped
            lambda m, x_0, x_1, t, a, s, da, ds: path_loss(
                m, x_0, x_1, t, a, s, a, s
            ),  # target = x_t
            lambda m, x_0, x_1, t, a, s, da, ds: fm.flow_matching_loss(
                m, x_0, x_1, t
            ),  # ignores the schedule
            lambda m, x_0, x_1, t, a, s, da, ds: (
                path_loss(m, x_0, x_1, t, a, s, da, ds) * len(x_0) * 2
            ),
        ],
    ),  # sum over everything
    "logit_normal_times": (
        logit_normal_times,
        [
            lambda n, mean=0.0, std=1.0, generator=None: torch.rand(
                n, 1, generator=generator
            ),  # uniform
            lambda n, mean=0.0, std=1.0, generator=None: (
                mean + std * torch.randn(n, 1, generator=generator)
            ),  # no sigmoid
            lambda n, mean=0.0, std=1.0, generator=None: logit_normal_times(
                n, generator=generator
            ),  # ignores mean, std
            lambda n, mean=0.0, std=1.0, generator=None: logit_normal_times(
                n, mean, std**2, generator
            ),  # std^2
            lambda n, mean=0.0, std=1.0, generator=None: logit_normal_times(
                n, mean, std, generator
            )[:, 0],  # shape (n,)
            lambda n, mean=0.0, std=1.0, generator=None: logit_normal_times(n, mean, std),
        ],
    ),  # no generator
    "loss_floor_t0": (
        lambda: 3.0**2 / 2 + 0.2**2,
        [
            lambda: 3.0**2 / 2 + 0.2**2 + 1.0,  # kept the noise's variance
            lambda: 3.0**2 + 2 * 0.2**2,  # summed over coordinates
            lambda: 3.0**2 / 2,  # forgot the blobs' spread
            lambda: 1.0,  # the floor at t = 1
            lambda: 2.75,
        ],
    ),  # the average over all t
}
