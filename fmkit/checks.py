"""Checkers for the chapters' implement-it exercises.

Each ``check_*`` calls the student's function on crafted inputs, compares the answer with
fmkit's reference, prints a verdict with a hint, and returns a :class:`Result` that is
truthy only when the answer is right. A function whose body still raises
``NotImplementedError`` (the student edition's stub) is reported as *not attempted yet*,
so a chapter runs on with its exercises unfinished. Graders use ``assert result``.

>>> import fmkit
>>> bool(check_interpolate(fmkit.interpolate, quiet=True))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from . import likelihood, paths, solvers, train
from .guidance import guided_velocity as _reference_guided_velocity

NOT_ATTEMPTED = "not attempted yet"


@dataclass
class Result:
    """The verdict on one exercise: ``status`` is ``"correct"``, ``"wrong"`` or
    ``"not attempted yet"``."""

    name: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = {"correct": "✓", "wrong": "✗"}.get(self.status, "…")
        return f"{mark} {self.name}: {self.status}. {self.message}"


class _Wrong(Exception):
    """Raised inside a checker with the hint to show."""


def _run(name: str, check: Callable[[], str], quiet: bool) -> Result:
    try:
        result = Result(name, "correct", check())
    except NotImplementedError:
        result = Result(name, NOT_ATTEMPTED, "Replace the `raise NotImplementedError` with your code, then run this cell again.")
    except _Wrong as hint:
        result = Result(name, "wrong", str(hint))
    except Exception as error:  # the student's code crashed: say how, do not raise
        result = Result(name, "wrong", f"calling it raised {type(error).__name__}: {error}")
    if not quiet:
        print(result)
    return result


def _close(answer, expected, hint: str, atol: float = 1e-5) -> None:
    answer = torch.as_tensor(answer)
    if answer.shape != expected.shape:
        raise _Wrong(f"expected a result of shape {tuple(expected.shape)}, got {tuple(answer.shape)}. {hint}")
    if not torch.allclose(answer.to(expected.dtype), expected, atol=atol, rtol=1e-4):
        raise _Wrong(hint)


def _inputs(seed: int = 0, n: int = 16, dim: int = 2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g), 3 * torch.randn(n, dim, generator=g), torch.rand(n, 1, generator=g)


def _toy_field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A smooth field that depends on both x and t, so time mistakes show."""
    return torch.stack([torch.sin(x[:, 1]) + 3 * t[:, 0], x[:, 0] * t[:, 0] ** 2 - x[:, 1]], dim=1)


# --------------------------------------------------------------------------- chapter 1


def check_interpolate(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x_0, x_1, t)`` must return ``(1 - t) x_0 + t x_1`` for ``t`` of shape ``(batch, 1)``."""

    def check():
        x_0, x_1, t = _inputs()
        _close(fn(x_0, x_1, torch.zeros_like(t)), x_0, "At t = 0 the point must be the base sample x_0.")
        _close(fn(x_0, x_1, torch.ones_like(t)), x_1, "At t = 1 the point must be the data sample x_1.")
        _close(fn(x_0, x_1, t), paths.interpolate(x_0, x_1, t),
               "The endpoints are right but the middle is not: each pair moves at constant speed, "
               "so x_t = (1 - t) x_0 + t x_1 with t of shape (batch, 1) broadcasting over coordinates.")
        return "x_t starts at x_0, ends at x_1 and moves in a straight line in between."

    return _run("interpolate", check, quiet)


def check_target_velocity(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x_0, x_1)`` must return ``x_1 - x_0``."""

    def check():
        x_0, x_1, _ = _inputs(1)
        answer = fn(x_0, x_1)
        if torch.allclose(torch.as_tensor(answer), x_0 - x_1):
            raise _Wrong("The sign is flipped: the path goes from x_0 (noise) to x_1 (data).")
        _close(answer, paths.target_velocity(x_0, x_1), "Differentiate x_t = (1 - t) x_0 + t x_1 with respect to t.")
        return "the velocity of every straight path is x_1 - x_0, the same at every t."

    return _run("target_velocity", check, quiet)


# --------------------------------------------------------------------------- chapter 2


def check_loss(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(model, x_0, x_1, t)`` must return the flow-matching MSE as a scalar tensor."""

    def check():
        x_0, x_1, t = _inputs(2)
        answer = torch.as_tensor(fn(_toy_field, x_0, x_1, t))
        if answer.ndim != 0:
            raise _Wrong(f"the loss must be one number (a 0-d tensor); got shape {tuple(answer.shape)}. Take the mean.")
        expected = train.flow_matching_loss(_toy_field, x_0, x_1, t)
        summed = ((_toy_field(paths.interpolate(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum()
        if torch.allclose(answer, summed):
            raise _Wrong("That is the sum of squared errors; average it (over the batch and the coordinates).")
        _close(answer, expected, "Evaluate the model at x_t = (1 - t) x_0 + t x_1 and time t, and compare with x_1 - x_0.")
        return "the loss regresses v(x_t, t) onto x_1 - x_0."

    return _run("flow-matching loss", check, quiet)


# --------------------------------------------------------------------------- chapter 3


def check_euler_sample(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x_0, n_steps)`` must return the end point of ``n_steps`` Euler steps
    from ``t = 0`` to ``t = 1``."""

    def check():
        x_0, _, _ = _inputs(3)
        for n_steps in (1, 4, 10):
            answer = fn(_toy_field, x_0, n_steps)
            expected = solvers.integrate(_toy_field, x_0, n_steps=n_steps, method="euler").x
            shifted = solvers.integrate(lambda x, t: _toy_field(x, t + 1.0 / n_steps), x_0, n_steps=n_steps, method="euler").x
            if torch.allclose(torch.as_tensor(answer), shifted, atol=1e-5):
                raise _Wrong("Off by one in the time grid: step i starts at t = i / n_steps, not (i + 1) / n_steps.")
            _close(answer, expected, f"With n_steps = {n_steps}: take dt = 1 / n_steps and x <- x + dt * v(x, t).")
        return "your sampler takes the right steps at the right times."

    return _run("Euler sampler", check, quiet)


def check_midpoint_step(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x, t, dt)`` must return one midpoint step (``t`` a float)."""

    def check():
        x, _, _ = _inputs(4)
        answer = fn(_toy_field, x, 0.3, 0.2)
        if torch.allclose(torch.as_tensor(answer), solvers.euler_step(_toy_field, x, 0.3, 0.2), atol=1e-6):
            raise _Wrong("That is an Euler step: evaluate the velocity again half a step ahead and use that one.")
        _close(answer, solvers.midpoint_step(_toy_field, x, 0.3, 0.2),
               "Half step: x_half = x + dt/2 * v(x, t); full step with the slope at (x_half, t + dt/2).")
        return "two evaluations per step, second-order accurate."

    return _run("midpoint step", check, quiet)


# --------------------------------------------------------------------------- chapter 4


def check_ot_pair(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x_0, x_1)`` must return ``x_0`` reordered so row i is x_1[i]'s optimal partner."""

    def check():
        x_0, x_1, _ = _inputs(5, n=40)
        answer = torch.as_tensor(fn(x_0, x_1))
        if answer.shape != x_0.shape:
            raise _Wrong(f"return x_0 reordered, shape {tuple(x_0.shape)}; got {tuple(answer.shape)}.")
        same_points = torch.equal(answer[answer[:, 0].argsort()], x_0[x_0[:, 0].argsort()])
        if not same_points:
            raise _Wrong("The result must contain exactly the points of x_0, only in a new order.")
        best = ((paths.ot_pairing(x_0, x_1, sub_batch=None)[0] - x_1) ** 2).sum()
        cost = ((answer - x_1) ** 2).sum()
        if cost > best + 1e-4:
            raise _Wrong(f"A valid pairing, but not the cheapest: total squared distance {cost:.2f} vs {best:.2f}. "
                         "Use squared distances between x_1 (rows) and x_0 (columns) and an assignment solver.")
        return "the total squared distance is as small as it can be."

    return _run("OT pairing", check, quiet)


# --------------------------------------------------------------------------- chapter 5


def check_divergence(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x, t)`` must return the exact divergence per row, ``(batch,)``."""

    def check():
        x, _, t = _inputs(6)
        expected = likelihood.divergence(_toy_field, x, t)
        answer = torch.as_tensor(fn(_toy_field, x, t)).detach()
        if answer.shape == () and torch.allclose(answer, expected.sum(), atol=1e-4):
            raise _Wrong("That is the total over the batch; return one divergence per row, shape (batch,).")
        _close(answer, expected, "Sum the diagonal of the Jacobian: d v_1 / d x_1 + d v_2 / d x_2, for each row.", atol=1e-4)
        return "one divergence per point, exact."

    return _run("divergence", check, quiet)


# --------------------------------------------------------------------------- chapter 6


def _toy_conditional(x: torch.Tensor, t: torch.Tensor, label=None) -> torch.Tensor:
    label = torch.as_tensor(-1 if label is None else label).expand(len(x)).float()[:, None]
    return torch.where(label < 0, -x, x + label)  # unconditional: -x; class c: x + c


def check_guided_velocity(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(model, label, scale)`` must return the classifier-free-guided ``(x, t)`` field."""

    def check():
        x, _, t = _inputs(7)
        for scale in (0.0, 1.0, 3.0):
            answer = fn(_toy_conditional, 2, scale)(x, t)
            expected = _reference_guided_velocity(_toy_conditional, 2, scale)(x, t)
            v_none, v_label = _toy_conditional(x, t, -1), _toy_conditional(x, t, 2)
            swapped = v_label + scale * (v_none - v_label)
            if scale == 3.0 and torch.allclose(torch.as_tensor(answer), swapped):
                raise _Wrong("The roles are swapped: start from the unconditional field and move towards the conditional one.")
            _close(answer, expected, f"At scale {scale}: v_none + scale * (v_label - v_none), with the label -1 for 'none'.")
        return "scale 0 ignores the label, 1 follows it, more pushes further."

    return _run("guided velocity", check, quiet)


# --------------------------------------------------------------------------- chapter 7


def check_nearest_distance(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x, train)`` must return each row's Euclidean distance to its nearest training row."""

    def check():
        x, train_set, _ = _inputs(8, n=30, dim=64)
        expected = torch.cdist(x, train_set).min(1).values
        answer = torch.as_tensor(fn(x, train_set))
        if answer.shape == expected.shape and torch.allclose(answer, expected**2, atol=1e-3):
            raise _Wrong("Those are squared distances; take the square root.")
        _close(answer, expected, "For each row of x: the smallest Euclidean distance to any row of train.", atol=1e-4)
        return "one distance per sample, to its nearest training image."

    return _run("nearest training distance", check, quiet)


CHECKS = {
    "interpolate": check_interpolate,
    "target_velocity": check_target_velocity,
    "loss": check_loss,
    "euler_sample": check_euler_sample,
    "midpoint_step": check_midpoint_step,
    "ot_pair": check_ot_pair,
    "divergence": check_divergence,
    "guided_velocity": check_guided_velocity,
    "nearest_distance": check_nearest_distance,
}
