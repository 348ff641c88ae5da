"""Checkers for chapter 1, paths between noise and data.

Implement exercises: the interpolant for every form of ``t``, the velocity of the cosine
path, the exact field of a Gaussian target and the memorising field of a finite data set.
Derive exercises: the ring's exact field at ``t = 0`` and at ``t = 1``. Each expected answer
comes from fmkit (``paths``, ``exact``) or from autograd, never from a second copy of the
formula the student is asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import exact, paths
from ..data import ring_means
from ._core import (
    Result,
    Wrong,
    as_answer,
    call,
    check_value,
    expect_close,
    inputs,
    matches,
    run_check,
)

# ----------------------------------------------------------------------------- Exercise 1


def check_interpolate(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x_0, x_1, t)`` must return ``(1 - t) x_0 + t x_1`` for ``t`` a float, a
    ``(batch,)`` tensor or a ``(batch, 1)`` tensor."""

    def check():
        x_0, x_1, t = inputs()
        names = ("x_0", "x_1", "t")
        expect_close(
            call(fn, x_0, x_1, torch.zeros_like(t), names=names),
            x_0,
            "At t = 0 the point must be the base sample x_0.",
        )
        expect_close(
            call(fn, x_0, x_1, torch.ones_like(t), names=names),
            x_1,
            "At t = 1 the point must be the data sample x_1.",
        )
        expect_close(
            call(fn, x_0, x_1, t, names=names),
            paths.interpolate(x_0, x_1, t),
            "The endpoints are right but the middle is not: each pair moves at constant speed, "
            "so x_t = (1 - t) x_0 + t x_1 with t of shape (batch, 1) broadcasting over coordinates.",
        )
        try:
            answer = call(fn, x_0, x_1, 0.3, names=names)
        except Wrong as error:
            raise Wrong(
                f"{error} (t was the float 0.3.) A float t is one time for every pair: "
                "turn it into a tensor with torch.as_tensor(t) before reshaping it."
            ) from None
        expect_close(
            answer,
            paths.interpolate(x_0, x_1, 0.3),
            "Right for a (batch, 1) tensor but not for t = 0.3, a float: every pair is then at time 0.3.",
        )
        # (batch,) times: with as many pairs as coordinates a missing reshape gives no error, only wrong numbers.
        for a, b, s in [inputs(1, n=3, dim=3), inputs(2)]:
            s = s[:, 0]  # (batch,)
            try:
                answer = call(fn, a, b, s, names=names)
            except Wrong as error:
                raise Wrong(
                    f"{error} (t had shape {tuple(s.shape)}.) A (batch,) t holds one time per pair: "
                    "make it a column with t[:, None] so that it broadcasts over coordinates."
                ) from None
            if a.shape[0] == a.shape[1] and matches(
                answer, (1 - s) * a + s * b
            ):  # s along coordinates
                raise Wrong(
                    "With t of shape (batch,), `(1 - t) * x_0` multiplies coordinate j by t[j] instead of "
                    "row i by t[i]: make t a column with t[:, None] (or t.reshape(-1, 1))."
                )
            expect_close(
                answer,
                paths.interpolate(a, b, s),
                "Right for a (batch, 1) t but not for t of shape (batch,): make it a column first.",
            )
        return "x_t starts at x_0, ends at x_1 and moves in a straight line, whatever form t takes."

    return run_check("interpolate", check, quiet)


# ------------------------------------------------------- the straight path's velocity (kept)


def check_target_velocity(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x_0, x_1)`` must return ``x_1 - x_0``, the straight path's velocity."""

    def check():
        x_0, x_1, _ = inputs(1)
        answer = call(fn, x_0, x_1, names=("x_0", "x_1"))
        if matches(answer, x_0 - x_1):
            raise Wrong("The sign is flipped: the path goes from x_0 (noise) to x_1 (data).")
        expect_close(
            answer,
            paths.target_velocity(x_0, x_1),
            "Differentiate x_t = (1 - t) x_0 + t x_1 with respect to t.",
        )
        return "the velocity of every straight path is x_1 - x_0, the same at every t."

    return run_check("target_velocity", check, quiet)


# ----------------------------------------------------------------------------- Exercise 2


def cosine_path(x_0: torch.Tensor, x_1: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """The cosine path ``x_t = cos(pi t / 2) x_0 + sin(pi t / 2) x_1``: ``(batch, dim)``."""
    t = paths.as_time(t, x_0)
    return torch.cos(math.pi * t / 2) * x_0 + torch.sin(math.pi * t / 2) * x_1


def _time_derivative(x_0: torch.Tensor, x_1: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """d x_t / dt of :func:`cosine_path` by autograd: the oracle is the path itself."""
    with torch.enable_grad():
        t = paths.as_time(t, x_0).detach().clone().requires_grad_(True)  # (batch, 1)
        x_t = cosine_path(x_0.detach(), x_1.detach(), t)  # (batch, dim); row i depends on t[i] only
        columns = [
            torch.autograd.grad(x_t[:, j].sum(), t, retain_graph=True)[0]
            for j in range(x_t.shape[1])
        ]
    return torch.cat(columns, dim=1).detach()


def check_cosine_velocity(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x_0, x_1, t)`` must return the time derivative of the cosine path, for ``t`` a
    float or a ``(batch, 1)`` tensor."""

    def check():
        x_0, x_1, t = inputs(3)
        names = ("x_0", "x_1", "t")
        answer = call(fn, x_0, x_1, t, names=names)
        c, s = torch.cos(math.pi * t / 2), torch.sin(math.pi * t / 2)
        if matches(answer, x_1 - x_0):
            raise Wrong(
                "That is the straight path's velocity x_1 - x_0. Here the coefficients cos(pi t / 2) and "
                "sin(pi t / 2) change with t: differentiate each of them."
            )
        if matches(answer, c * x_1 - s * x_0):
            raise Wrong(
                "Almost: the chain rule brings out a factor pi / 2, since d/dt sin(pi t / 2) = "
                "(pi / 2) cos(pi t / 2)."
            )
        if matches(answer, math.pi / 2 * (s * x_0 - c * x_1)):
            raise Wrong(
                "The sign is flipped: d/dt cos = -sin and d/dt sin = +cos, so x_1's term is the positive one."
            )
        if matches(answer, cosine_path(x_0, x_1, t)):
            raise Wrong(
                "That is the point x_t itself; the exercise asks for its velocity d x_t / dt."
            )
        expect_close(
            answer,
            _time_derivative(x_0, x_1, t),
            "Differentiate x_t = cos(pi t / 2) x_0 + sin(pi t / 2) x_1 with respect to t, term by term.",
        )
        expect_close(
            call(fn, x_0, x_1, 0.5, names=names),
            _time_derivative(x_0, x_1, 0.5),
            "Right for a (batch, 1) t but not for the float t = 0.5: use torch.cos and torch.sin on "
            "torch.as_tensor(t), or math.cos and math.sin for a float.",
        )
        return "the cosine path's velocity is (pi / 2)(cos(pi t / 2) x_1 - sin(pi t / 2) x_0): it changes with t."

    return run_check("cosine_velocity", check, quiet)


# ----------------------------------------------------------------------------- Exercise 3


def gaussian_field_reference(
    x: torch.Tensor, t: float | torch.Tensor, mean: torch.Tensor, std: float | torch.Tensor
) -> torch.Tensor:
    """The exact field of the target ``N(mean, diag(std^2))`` from a standard Gaussian base.

    Coordinates are independent in the base, the target and the coupling, so each one is a
    one-dimensional problem: fmkit's one-blob mixture field, coordinate by coordinate.
    """
    dim = x.shape[1]
    stds = torch.as_tensor(std, dtype=x.dtype).expand(dim)
    columns = [
        exact.mixture_field(mean[j].reshape(1, 1), stds[j])(x[:, j : j + 1], t) for j in range(dim)
    ]
    return torch.cat(columns, dim=1)


def _gaussian_inputs(
    seed: int, n: int, dim: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = 2 * torch.randn(n, dim, generator=g)
    mean = 3 * torch.randn(dim, generator=g)
    t = torch.rand(n, 1, generator=g)
    return x, mean, t


def check_gaussian_field(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x, t, mean, std)`` must return the exact marginal field of ``N(mean, diag(std^2))``."""

    def check():
        names = ("x", "t", "mean", "std")
        x, mean, t = _gaussian_inputs(0, 16, 2)
        std = 0.5
        answer = call(fn, x, t, mean, std, names=names)
        var = (1 - t) ** 2 + t**2 * std**2
        gain = (t * std**2 - (1 - t)) / var
        if matches(answer, mean - x):
            raise Wrong(
                "That is the field at t = 0 only (E[x_1] - x). At later times x_t = x also tells you "
                "about x_1: condition on it with the Gaussian regression formula."
            )
        if matches(answer, mean + gain * (x - mean)):
            raise Wrong(
                "Given the target, x_t = (1 - t) x_0 + t x_1 has mean t * mean, not mean: "
                "regress on x - t * mean."
            )
        if matches(answer, mean + (t * std**2 - (1 - t)) / ((1 - t) + t * std**2) * (x - t * mean)):
            raise Wrong(
                "The variance of x_t is (1 - t)^2 + t^2 std^2: coefficients are squared when you "
                "take the variance of a sum of independent terms."
            )
        if matches(answer, mean - gain * (x - t * mean)):
            raise Wrong("The sign of the gain is flipped: Cov(x_1 - x_0, x_t) = t std^2 - (1 - t).")
        expect_close(
            answer,
            gaussian_field_reference(x, t, mean, std),
            "Work it out as in the chapter: x_t is N(t m, s_t^2) with s_t^2 = (1 - t)^2 + t^2 std^2, and "
            "E[x_1 - x_0 | x_t = x] = m + (t std^2 - (1 - t)) / s_t^2 (x - t m).",
        )
        x, mean, t = _gaussian_inputs(1, 10, 3)
        std = torch.tensor([0.3, 1.5, 0.8])
        expect_close(
            call(fn, x, t, mean, std, names=names),
            gaussian_field_reference(x, t, mean, std),
            "Right for one std shared by every coordinate, but not for std = (0.3, 1.5, 0.8): each "
            "coordinate is its own one-dimensional problem with its own gain, so keep std a (dim,) "
            "tensor and let it broadcast.",
        )
        try:
            answer = call(fn, x, 0.25, mean, std, names=names)
        except Wrong as error:
            raise Wrong(
                f"{error} (t was the float 0.25.) Write the formula so that it also works for a "
                "float t (a float has no .shape, .pow or indexing), or convert it with torch.as_tensor(t)."
            ) from None
        expect_close(
            answer,
            gaussian_field_reference(x, 0.25, mean, std),
            "Right for a (batch, 1) t but not for the float t = 0.25.",
        )
        return "each coordinate regresses x_1 - x_0 on x_t with gain (t std^2 - (1 - t)) / ((1 - t)^2 + t^2 std^2)."

    return run_check("gaussian_field", check, quiet)


# ----------------------------------------------------------------------------- Exercise 4


def _memorising_inputs(
    seed: int, n: int, n_data: int, dim: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    data = 3 * torch.randn(n_data, dim, generator=g)
    x = 2 * torch.randn(n, dim, generator=g)
    t = 0.9 * torch.rand(n, 1, generator=g)
    return x, data, t


def check_memorising_field(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x, t, data)`` must return the exact field when the target is the finite set
    ``data`` ``(n, dim)``: the softmax-weighted average of ``(y_i - x) / (1 - t)``."""

    def check():
        names = ("x", "t", "data")
        x, data, t = _memorising_inputs(0, 16, 5, 2)
        answer = call(fn, x, t, data, names=names)
        diff = x[:, None, :] - t[:, :, None] * data  # (batch, n, dim)

        def weighted(logits):  # the velocity with these weights over the data points
            return (torch.softmax(logits, dim=1) @ data - x) / (1 - t)

        if matches(answer, (data.mean(0) - x) / (1 - t)):
            raise Wrong(
                "Those are uniform weights 1/n: the field at x must favour the data points whose "
                "path is likely to pass through x, with softmax(-|x - t y_i|^2 / (2 (1 - t)^2))."
            )
        if matches(answer, (1 - t) * weighted(-(diff**2).sum(-1) / (2 * (1 - t) ** 2))):
            raise Wrong(
                "The weights are right but the velocity is not: a pair (x_0, y_i) that is at x at time t "
                "moves at (y_i - x) / (1 - t); you left out the division by 1 - t."
            )
        if matches(answer, weighted(-((x[:, None, :] - data) ** 2).sum(-1) / (2 * (1 - t) ** 2))):
            raise Wrong(
                "Given x_1 = y_i, the point x_t is centred at t * y_i, not at y_i: use |x - t y_i|^2 "
                "in the weights."
            )
        if matches(answer, weighted(-(diff**2).sum(-1) / (2 * (1 - t)))):
            raise Wrong(
                "Given x_1 = y_i, x_t = (1 - t) x_0 + t y_i has variance (1 - t)^2, not 1 - t."
            )
        if matches(answer, -weighted(-(diff**2).sum(-1) / (2 * (1 - t) ** 2))):
            raise Wrong(
                "The sign is flipped: the pairs move from x towards the data, (y_i - x) / (1 - t)."
            )
        expect_close(
            answer,
            exact.empirical_field(data)(x, t),
            "The field is sum_i w_i (y_i - x) / (1 - t) with w = softmax_i(-|x - t y_i|^2 / (2 (1 - t)^2)).",
        )
        # Late times and far points: exp(-large) underflows to 0 and 0 / 0 is NaN without a softmax.
        x, data, _ = _memorising_inputs(1, 8, 6, 3)
        late = torch.full((8, 1), 0.98)
        answer = as_answer(call(fn, 4 * x, late, data, names=names))
        if answer.shape == (8, 3) and not torch.all(torch.isfinite(answer)):
            raise Wrong(
                "Right at moderate times, but at t = 0.98 far from the data your weights are 0 / 0 = NaN: "
                "every exp(-|x - t y_i|^2 / (2 (1 - t)^2)) underflows to 0. Use torch.softmax on the "
                "exponents (it subtracts the largest before exponentiating)."
            )
        expect_close(
            answer,
            exact.empirical_field(data)(4 * x, late),
            "Right at moderate times but not at t = 0.98 far from the data.",
            atol=1e-3,
            rtol=1e-4,
        )
        try:
            answer = call(fn, x, 0.0, data, names=names)
        except Wrong as error:
            raise Wrong(
                f"{error} (t was the float 0.0.) Bring t to a (batch, 1) tensor first, e.g. "
                "t = torch.as_tensor(t, dtype=x.dtype).expand(len(x), 1) for a float."
            ) from None
        expect_close(
            answer,
            exact.empirical_field(data)(x, 0.0),
            "Right for a (batch, 1) t but not for the float t = 0: the field must be mean(y) - x there.",
        )
        return "the weights are a softmax over the data points, and near t = 1 they pick the nearest one."

    return run_check("memorising_field", check, quiet)


# ----------------------------------------------------------------------------- Exercises 5, 6


def _ring_field_at(point: tuple[float, float], t: float) -> torch.Tensor:
    return exact.ring_field()(torch.tensor([point]), t)[0]


def check_field_at_start(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn()`` returns the ring's exact field u(x, 0) at x = (1, 2), worked out by hand."""
    x = torch.tensor([1.0, 2.0])
    centres = ring_means()  # (8, 2)
    closest = centres[(centres - x).norm(dim=1).argmin()]  # the blob nearest to x
    return check_value(
        "field_at_start",
        fn,
        _ring_field_at((1.0, 2.0), 0.0),
        hint="At t = 0, x_t = x_0 tells you nothing about x_1 (they are independent): "
        "u(x, 0) = E[x_1] - x. Where is the ring's mean?",
        mistakes=(
            (
                (1.0, 2.0),
                "The sign is flipped: the velocity is x_1 - x_0, and at t = 0 x_0 = x, so it is E[x_1] - x.",
            ),
            (
                (0.0, 0.0),
                "The pairs' velocities x_1 - x_0 do not cancel: their x_1 parts average to the ring's "
                "mean, but their -x_0 part is -x for every pair through x.",
            ),
            (
                tuple((closest - x).tolist()),
                "That is the velocity towards the nearest blob. At t = 0 the point "
                "x_t = x_0 says nothing about which blob its partner comes from: "
                "average over all of them.",
            ),
        ),
        success="u(x, 0) = E[x_1] - x = -x for the ring: at the start every arrow points at the data's mean.",
        quiet=quiet,
    )


def check_field_at_end(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn()`` returns the ring's exact field u(x, 1) at x = (3, 0), worked out by hand."""
    return check_value(
        "field_at_end",
        fn,
        _ring_field_at((3.0, 0.0), 1.0),
        hint="At t = 1, x_t = x_1: knowing x_t = x tells you x_1 exactly. What is the average of x_0 then?",
        mistakes=(
            (
                (0.0, 0.0),
                "The field does not vanish at the data: given x_1 = x, the velocity x_1 - x_0 averages "
                "to x - E[x_0], and x_0 is independent of x_1.",
            ),
            (
                (-3.0, 0.0),
                "That is E[x_1] - x, the field at t = 0. At t = 1 you know x_1 = x; it is x_0 you "
                "average over.",
            ),
        ),
        success="u(x, 1) = x - E[x_0] = x: the samples are still moving, straight away from the base's mean.",
        quiet=quiet,
    )


CHECKS = {
    "interpolate": check_interpolate,
    "target_velocity": check_target_velocity,
    "cosine_velocity": check_cosine_velocity,
    "gaussian_field": check_gaussian_field,
    "memorising_field": check_memorising_field,
    "field_at_start": check_field_at_start,
    "field_at_end": check_field_at_end,
}
