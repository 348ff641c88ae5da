"""Checkers for chapter 5, sampling in one step."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import exact, onestep, solvers
from ..paths import as_time
from ._core import Result, Wrong, call, check_value, expect_close, inputs, matches, run_check

# ------------------------------------------------------------------ shared inputs


class _TimeSensitive(torch.nn.Module):
    """A two-time network for the checks: a small :class:`fmkit.onestep.TwoTimeField` plus a
    smooth term that depends strongly on ``x``, ``r`` and ``t``, so that using the wrong time,
    the wrong point or the wrong derivative changes the loss by far more than rounding. A
    freshly initialised network alone barely depends on its times."""

    def __init__(self, seed: int, dim: int):
        super().__init__()
        torch.manual_seed(seed)
        self.dim = dim
        self.net = onestep.TwoTimeField(dim, hidden_dim=24, n_hidden=2, activation="silu").double()
        self.gain = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))

    def forward(self, x: torch.Tensor, r, t) -> torch.Tensor:
        r, t = as_time(r, x), as_time(t, x)  # (batch, 1) each
        shifted = torch.roll(x, 1, dims=1)  # (batch, dim): each coordinate sees another
        smooth = torch.sin(2 * shifted + 3 * r) * (1 + 2 * t**2) + torch.cos(x - 2 * r) * (1 + t)
        return self.net(x, r, t) + self.gain * smooth  # (batch, dim)


def _student_network(seed: int, dim: int = 2) -> _TimeSensitive:
    """The network handed to the student's loss, in float64 (gradients compare tightly)."""
    return _TimeSensitive(seed, dim)


def _pairs(seed: int, n: int, dim: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise ``x_0`` and end points ``x_1``, ``(n, dim)`` each, in float64."""
    x_0, x_1, _ = inputs(seed, n=n, dim=dim)
    return x_0.double(), x_1.double()


def _times(seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``r <= t``, ``(n, 1)`` each, in float64, with ``r = t`` on the last row."""
    g = torch.Generator().manual_seed(seed)
    a, b = (
        torch.rand(n, 1, generator=g, dtype=torch.float64),
        torch.rand(n, 1, generator=g, dtype=torch.float64),
    )
    r, t = torch.minimum(a, b), torch.maximum(a, b)
    t[-1] = r[-1]
    return r, t


def _gradients(model: torch.nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    """The gradient of ``loss`` for every parameter of ``model`` (zeros where none flows)."""
    params = list(model.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]


def _same_gradients(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.allclose(x, y, rtol=1e-6, atol=1e-9) for x, y in zip(a, b, strict=True))


def _loss_answer(answer) -> torch.Tensor:
    """The student's loss: a one-element tensor that still carries its gradient."""
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        raise Wrong(
            "you returned a plain number (did you call .item()?); return the loss as a tensor, "
            "so that the training loop can call backward() on it."
        )
    if not isinstance(answer, torch.Tensor):
        expect_close(answer, torch.zeros(()), "return the loss: one number, as a tensor.")
    if answer.numel() != 1:
        raise Wrong(
            f"return one number for the whole batch; got shape {tuple(answer.shape)}. "
            "Average the squared errors over rows and coordinates (torch.mean)."
        )
    if not answer.requires_grad:
        raise Wrong(
            "your loss carries no gradient to the network: the network's prediction must not be "
            "computed under torch.no_grad() or detached; only the target is held fixed."
        )
    return answer.reshape(())


# ------------------------------------------------------------------ implement: distillation loss


def distillation_loss_variants(
    student: Callable, x_0: torch.Tensor, x_1: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The right loss (``"right"``) and plausible wrong ones, by the mistake that gives them."""
    u = student(x_0, 0.0, 1.0)  # (batch, dim): the average velocity over the whole trip
    return {
        "right": torch.mean((u - (x_1 - x_0)) ** 2),
        "end point": torch.mean((u - x_1) ** 2),
        "velocity": torch.mean((student(x_0, 0.0, 0.0) - (x_1 - x_0)) ** 2),
        "sign": torch.mean((u - (x_0 - x_1)) ** 2),
        "summed coordinates": ((u - (x_1 - x_0)) ** 2).sum(1).mean(),
        "root": torch.mean((u - (x_1 - x_0)) ** 2).sqrt(),
    }


DISTILLATION_HINTS = {
    "end point": "you regressed u onto the end point x_1. The network predicts an average velocity: "
    "the jump is x_0 + (1 - 0) * u(x_0, 0, 1), so its target is the displacement x_1 - x_0.",
    "velocity": "you evaluated the network at r = t = 0, where it is the instantaneous velocity (the "
    "field that flow matching learns, and that collapses in one step). The jump from noise at 0 to "
    "data at 1 is u(x_0, 0, 1): start r = 0, end t = 1.",
    "sign": "the target points the wrong way: the jump goes from the noise x_0 to the teacher's "
    "sample x_1, so it is x_1 - x_0.",
    "summed coordinates": "you summed the squared error over the coordinates; fmkit's losses (and "
    "this check) take the mean over rows and coordinates, torch.mean of the squared error.",
    "root": "that is the root of the mean squared error; return the mean squared error itself.",
}


def check_distillation_loss(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(student, x_0, x_1)`` must return the distillation loss of one batch of (noise,
    teacher sample) pairs: the mean over rows and coordinates of
    ``(student(x_0, 0, 1) - (x_1 - x_0))^2``, as a tensor that carries the gradient."""

    def one(seed: int, n: int, dim: int) -> None:
        student = _student_network(seed, dim)
        x_0, x_1 = _pairs(seed, n, dim)
        answer = _loss_answer(call(fn, student, x_0, x_1, names=("student", "x_0", "x_1")))
        variants = distillation_loss_variants(student, x_0, x_1)
        right = variants.pop("right")
        for mistake, value in variants.items():
            if matches(answer, value.detach(), atol=1e-9) and not matches(
                right.detach(), value.detach(), atol=1e-9
            ):
                raise Wrong(DISTILLATION_HINTS[mistake])
        expect_close(
            answer.detach(),
            right.detach(),
            f"for this batch the loss is {float(right.detach()):.5f}: the mean of (u(x_0, 0, 1) - (x_1 - x_0))^2 "
            "over rows and coordinates.",
            atol=1e-9,
            rtol=1e-7,
        )
        if not _same_gradients(_gradients(student, answer), _gradients(student, right)):
            raise Wrong(
                "the loss has the right value but not the right gradient: let it flow only through "
                "the network's prediction u(x_0, 0, 1)."
            )

    def check():
        one(11, 40, 2)
        one(12, 9, 3)
        return "the one-jump regression of the student onto the teacher's displacement x_1 - x_0."

    return run_check("distillation loss", check, quiet)


# ------------------------------------------------------------------ implement: the MeanFlow loss


def _jvp(u: Callable, x, r, t, tangents) -> torch.Tensor:
    """The derivative of ``u(x, r, t)`` along ``tangents`` (one per input), with gradients
    through it kept (the wrong answers that forget the stop-gradient need them)."""
    return torch.func.jvp(lambda a, b, c: u(a, b, c), (x, r, t), tangents)[1]


def meanflow_loss_variants(
    u: Callable, x_0: torch.Tensor, x_1: torch.Tensor, r: torch.Tensor, t: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The MeanFlow loss (``"right"``, with fmkit's target) and plausible wrong ones."""
    v = x_1 - x_0  # (batch, dim)
    x_r = (1 - r) * x_0 + r * x_1  # (batch, dim): the point at the start of the jump
    one, zero = torch.ones_like(r), torch.zeros_like(t)
    pred = u(x_r, r, t)  # (batch, dim)
    by_r = _jvp(u, x_r, r, t, (v, one, zero))  # d/dr u along the path, gradients kept
    by_t = _jvp(u, x_r, r, t, (torch.zeros_like(v), zero, one))  # partial d/dt u
    partial_r = _jvp(u, x_r, r, t, (torch.zeros_like(v), one, zero))  # x held still

    def loss(target: torch.Tensor, prediction: torch.Tensor = pred) -> torch.Tensor:
        return torch.mean((prediction - target) ** 2)

    x_t = (1 - t) * x_0 + t * x_1
    return {
        "right": loss(onestep.meanflow_target(u, x_r, r, t, v)),
        "paper's direction": loss((v - (t - r) * by_t).detach()),
        "moved t": loss((v + (t - r) * by_t).detach()),
        "sign": loss((v - (t - r) * by_r).detach()),
        "partial": loss((v + (t - r) * partial_r).detach()),
        "no jvp": loss(v),
        "no weight": loss((v + by_r).detach()),
        "no stop-gradient": loss(v + (t - r) * by_r),
        "point at t": loss(onestep.meanflow_target(u, x_t, r, t, v), u(x_t, r, t)),
    }


MEANFLOW_HINTS = {
    "paper's direction": "that is the paper's identity, v - (t - r) du/dt, written for time running "
    "from data to noise with the point at the later time. In this course x sits at the start r: "
    "move r (tangents (v, 1, 0) for (x, r, t)) and add, v + (t - r) du/dr.",
    "moved t": "you differentiated in the end time t (tangents (0, 0, 1)). The identity comes from "
    "moving the start r along the path, with x_r moving at velocity v: tangents (v, 1, 0).",
    "sign": "the sign of the derivative term is flipped. Differentiate (t - r) u(x_r, r, t) = "
    "x_t - x_r in r: -u + (t - r) du/dr = -v, so the target is v + (t - r) du/dr.",
    "partial": "you held x still (tangent 0 for x). When the start r moves, the start point x_r moves "
    "along the path with velocity v: the tangent of x is v, so du/dr = v . grad_x u + d_r u.",
    "no jvp": "your target is v itself: that is flow matching's target, right only at r = t. For r < t "
    "add (t - r) du/dr, the Jacobian-vector product with tangents (v, 1, 0).",
    "no weight": "the derivative term is (t - r) du/dr: you left out the factor (t - r).",
    "no stop-gradient": "the value is right, but the gradient also flows through the target. MeanFlow "
    "holds the target fixed: compute it under torch.no_grad() or .detach() it.",
    "point at t": "you put the point at the end time t. u(x, r, t) takes the point at the start of the "
    "jump: x_r = (1 - r) x_0 + r x_1.",
}


def check_meanflow_loss(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(u, x_0, x_1, r, t)`` must return the MeanFlow loss of one batch: with ``x_r`` on
    each pair's line at the start time ``r`` and ``v = x_1 - x_0``, the mean over rows and
    coordinates of ``(u(x_r, r, t) - target)^2``, the target
    ``v + (t - r) d/dr u(x_r, r, t)`` held fixed (``fm.onestep.meanflow_target``)."""

    def one(seed: int, n: int, dim: int) -> None:
        u = _student_network(seed, dim)
        x_0, x_1 = _pairs(seed, n, dim)
        r, t = _times(seed, n)
        answer = _loss_answer(call(fn, u, x_0, x_1, r, t, names=("u", "x_0", "x_1", "r", "t")))
        variants = meanflow_loss_variants(u, x_0, x_1, r, t)
        right = variants.pop("right")
        right_grads = _gradients(u, right)
        if matches(answer, right.detach(), atol=1e-9):
            if _same_gradients(_gradients(u, answer), right_grads):
                return
            if _same_gradients(_gradients(u, answer), _gradients(u, variants["no stop-gradient"])):
                raise Wrong(MEANFLOW_HINTS["no stop-gradient"])
            raise Wrong(
                "the loss has the right value but not the right gradient: let it flow only through "
                "the prediction u(x_r, r, t), with the target held fixed."
            )
        for mistake, value in variants.items():
            if matches(answer, value.detach(), atol=1e-9):
                raise Wrong(MEANFLOW_HINTS[mistake])
        expect_close(
            answer.detach(),
            right.detach(),
            f"for this batch the loss is {float(right.detach()):.5f}. Put x_r = (1 - r) x_0 + r x_1, take "
            "v = x_1 - x_0, the target v + (t - r) du/dr with du/dr from torch.func.jvp (tangents "
            "(v, 1, 0) for (x, r, t)), and average the squared error over rows and coordinates.",
            atol=1e-9,
            rtol=1e-7,
        )

    def check():
        one(21, 32, 2)
        one(22, 7, 3)
        return "x_r at the start of the jump, the target v + (t - r) du/dr by one jvp, held fixed."

    return run_check("MeanFlow loss", check, quiet)


# ------------------------------------------------------------------ derive: a Gaussian's map

GAUSS_MEAN = (2.0, -1.0)  # the target N(m, s^2 I) of the derivation
GAUSS_STD = 0.25
GAUSS_POINT = (1.0, 1.0)  # the noise point x at r = 0


def gaussian_average_velocity(n_steps: int = 400) -> torch.Tensor:
    """``u(x, 0, 1)`` for the derivation's point: where fmkit's exact field of ``N(m, s^2 I)``
    carries it (RK4, float64), minus where it started."""
    field = exact.mixture_field(torch.tensor([GAUSS_MEAN], dtype=torch.float64), GAUSS_STD)
    x = torch.tensor([GAUSS_POINT], dtype=torch.float64)  # (1, 2)
    return (solvers.integrate(field, x, n_steps=n_steps, method="rk4").x - x)[0]  # (2,)


def check_gaussian_average_velocity(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn()`` must return ``u(x, 0, 1)`` for the chapter's Gaussian target, worked out by hand."""
    m, s, x = (torch.tensor(v, dtype=torch.float64) for v in (GAUSS_MEAN, GAUSS_STD, GAUSS_POINT))
    field = exact.mixture_field(m[None], GAUSS_STD)
    velocity = field(x[None], 0.0)[0]  # m - x: the field at t = 0
    return check_value(
        "average velocity of a Gaussian's map",
        fn,
        gaussian_average_velocity(),
        hint="Check that X_t(x) = t m + sigma_t x solves the ODE, so X_1(x) = m + s x; the average "
        "velocity over [0, 1] is (X_1(x) - x) / (1 - 0).",
        mistakes=(
            (
                velocity,
                "that is the velocity v(x, 0) = m - x at the start, the one that a single Euler step "
                "uses. The path bends (sigma_t is not linear in t), so its average velocity differs.",
            ),
            (
                m + s * x,
                "that is X_1(x), where the point lands; subtract x to get the displacement.",
            ),
            ((s - 1) * x, "you left out the mean: X_1(x) = m + s x, so u = m + (s - 1) x."),
            (
                m + (s**2 - 1) * x,
                "the map scales by the standard deviation s, not by the variance s^2.",
            ),
            (
                m + (1 - s) * x,
                "the sign of the scale term is flipped: u = X_1(x) - x = m + (s - 1) x.",
            ),
        ),
        success="u(x, 0, 1) = m + (s - 1) x; one Euler step would use v(x, 0) = m - x and land on m.",
        atol=1e-4,
        rtol=1e-4,
        quiet=quiet,
    )


CHECKS = {
    "distillation_loss": check_distillation_loss,
    "meanflow_loss": check_meanflow_loss,
    "gaussian_average_velocity": check_gaussian_average_velocity,
}
