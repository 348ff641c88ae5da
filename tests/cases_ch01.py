"""Chapter 1's checkers: for each exercise name, fmkit's reference answer and plausible
wrong answers (at least two) that the checker must reject with a hint."""

import math

import torch

import fmkit as fm
from fmkit.checks import ch01


def _as_column(t, x):
    """t as a (batch, 1) tensor, whatever form it came in."""
    t = torch.as_tensor(t, dtype=x.dtype)
    return t.expand(len(x), 1) if t.ndim == 0 else t.reshape(-1, 1)


# -- Exercise 1: the interpolant for every form of t
def interpolate_naive(x_0, x_1, t):  # right for a float or (batch, 1), wrong for (batch,)
    return (1 - t) * x_0 + t * x_1


def interpolate_tensor_only(x_0, x_1, t):  # t.reshape fails on a float
    t = t.reshape(-1, 1)
    return (1 - t) * x_0 + t * x_1


# -- Exercise 2: the cosine path's velocity
def cosine_velocity(x_0, x_1, t):
    t = torch.as_tensor(t, dtype=x_0.dtype)
    return math.pi / 2 * (torch.cos(math.pi * t / 2) * x_1 - torch.sin(math.pi * t / 2) * x_0)


def cosine_velocity_no_chain_rule(x_0, x_1, t):
    t = torch.as_tensor(t, dtype=x_0.dtype)
    return torch.cos(math.pi * t / 2) * x_1 - torch.sin(math.pi * t / 2) * x_0


# -- Exercise 3: the exact field of N(mean, diag(std^2))
def gaussian_field(x, t, mean, std):
    var = (1 - t) ** 2 + t**2 * std**2
    return mean + (t * std**2 - (1 - t)) / var * (x - t * mean)


def gaussian_field_forgot_t(x, t, mean, std):  # regresses on x - mean
    var = (1 - t) ** 2 + t**2 * std**2
    return mean + (t * std**2 - (1 - t)) / var * (x - mean)


def gaussian_field_unsquared(x, t, mean, std):  # variance (1 - t) + t std^2
    return mean + (t * std**2 - (1 - t)) / ((1 - t) + t * std**2) * (x - t * mean)


def gaussian_field_one_std(x, t, mean, std):  # one std for every coordinate
    std = float(torch.as_tensor(std).mean())
    return gaussian_field(x, t, mean, std)


# -- Exercise 4: the memorising field of a finite data set
def memorising_field(x, t, data):
    t = _as_column(t, x)
    diff = x[:, None, :] - t[:, :, None] * data  # (batch, n, dim)
    weights = torch.softmax(-(diff**2).sum(-1) / (2 * (1 - t) ** 2), dim=1)
    return (weights @ data - x) / (1 - t)


def memorising_uniform(x, t, data):  # weights 1/n
    t = _as_column(t, x)
    return (data.mean(0) - x) / (1 - t)


def memorising_no_division(x, t, data):  # forgot / (1 - t)
    t = _as_column(t, x)
    diff = x[:, None, :] - t[:, :, None] * data
    weights = torch.softmax(-(diff**2).sum(-1) / (2 * (1 - t) ** 2), dim=1)
    return weights @ data - x


def memorising_no_t(x, t, data):  # |x - y_i| instead of |x - t y_i|
    t = _as_column(t, x)
    diff = x[:, None, :] - data
    weights = torch.softmax(-(diff**2).sum(-1) / (2 * (1 - t) ** 2), dim=1)
    return (weights @ data - x) / (1 - t)


def memorising_unsquared(x, t, data):  # variance 1 - t
    t = _as_column(t, x)
    diff = x[:, None, :] - t[:, :, None] * data
    weights = torch.softmax(-(diff**2).sum(-1) / (2 * (1 - t)), dim=1)
    return (weights @ data - x) / (1 - t)


def memorising_naive_exp(x, t, data):  # exp without log-sum-exp
    t = _as_column(t, x)
    diff = x[:, None, :] - t[:, :, None] * data
    e = torch.exp(-(diff**2).sum(-1) / (2 * (1 - t) ** 2))
    return (e / e.sum(1, keepdim=True) @ data - x) / (1 - t)


CASES = {
    "interpolate": (
        fm.interpolate,
        [
            lambda x_0, x_1, t: t * x_0 + (1 - t) * x_1,  # roles swapped
            lambda x_0, x_1, t: x_0 + t * x_1,  # missing 1 - t
            lambda x_0, x_1, t: (
                (1 - t.flatten()) * x_0.T + (t.flatten() * x_1.T)
            ),  # t not broadcast (transposed)
            interpolate_naive,  # (batch,) t broadcast over coordinates
            interpolate_tensor_only,
        ],
    ),  # a float t crashes
    "target_velocity": (
        fm.target_velocity,
        [
            lambda x_0, x_1: x_0 - x_1,  # sign flip
            lambda x_0, x_1: x_1,
        ],
    ),  # forgot x_0
    "cosine_velocity": (
        cosine_velocity,
        [
            lambda x_0, x_1, t: x_1 - x_0,  # the straight path's velocity
            cosine_velocity_no_chain_rule,  # no pi / 2
            lambda x_0, x_1, t: -cosine_velocity(x_0, x_1, t),  # sign flip
            ch01.cosine_path,
        ],
    ),  # the position, not the velocity
    "gaussian_field": (
        gaussian_field,
        [
            lambda x, t, mean, std: mean - x,  # the t = 0 field at every t
            gaussian_field_forgot_t,
            gaussian_field_unsquared,
            lambda x, t, mean, std: 2 * mean - gaussian_field(x, t, mean, std),  # gain sign flipped
            gaussian_field_one_std,
        ],
    ),
    "memorising_field": (
        memorising_field,
        [
            memorising_uniform,
            memorising_no_division,
            memorising_no_t,
            memorising_unsquared,
            lambda x, t, data: -memorising_field(x, t, data),  # sign flip
            memorising_naive_exp,
        ],
    ),
    "field_at_start": (
        lambda: (-1.0, -2.0),
        [
            lambda: (1.0, 2.0),  # sign
            lambda: (0.0, 0.0),  # "the velocities cancel"
            lambda: torch.tensor([1.1213, 0.1213]),
        ],
    ),  # towards the nearest blob
    "field_at_end": (
        lambda: torch.tensor([3.0, 0.0]),
        [
            lambda: (0.0, 0.0),  # "the flow stops at the data"
            lambda: (-3.0, 0.0),
        ],
    ),  # the t = 0 formula
}
