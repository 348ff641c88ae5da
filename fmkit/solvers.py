"""ODE solvers for ``dx/dt = velocity(x, t)``: fixed-step Euler, midpoint and RK4, plus
torchdiffeq's adaptive dopri5 as the reference.

Every step function has the form ``step(velocity, x, t, dt) -> x_next`` with ``t`` a float.

>>> constant = lambda x, t: torch.ones_like(x)
>>> integrate(constant, torch.zeros(4, 2), n_steps=4).x[0].tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import _validate as check
from . import data as fm_data
from .paths import as_time, get_schedule, score_from_velocity
from .utils import Velocity


def _placed(velocity: Velocity, x: torch.Tensor) -> torch.Tensor:
    """``x`` in the velocity's dtype and on its device (unchanged for a plain function)."""
    place = check.placement(velocity)
    if place is None:
        return check.floating(x, "x")
    return check.floating(x, "x", place[1]).to(place[0])


def _v(velocity: Velocity, x: torch.Tensor, t: float) -> torch.Tensor:
    return check.evaluate(
        velocity, x, as_time(t, x)
    )  # t as (batch, 1); output checked to be x's shape


def euler_step(velocity: Velocity, x: torch.Tensor, t: float, dt: float) -> torch.Tensor:
    """One Euler step: follow the velocity at the start for the whole step (1 evaluation)."""
    x = _placed(velocity, x)
    return x + dt * _v(velocity, x, t)


def midpoint_step(velocity: Velocity, x: torch.Tensor, t: float, dt: float) -> torch.Tensor:
    """One midpoint step: use the velocity found half a step ahead (2 evaluations)."""
    x = _placed(velocity, x)
    x_half = x + 0.5 * dt * _v(velocity, x, t)
    return x + dt * _v(velocity, x_half, t + 0.5 * dt)


def rk4_step(velocity: Velocity, x: torch.Tensor, t: float, dt: float) -> torch.Tensor:
    """One classical Runge-Kutta step: a weighted mix of four slopes (4 evaluations)."""
    x = _placed(velocity, x)
    k1 = _v(velocity, x, t)
    k2 = _v(velocity, x + 0.5 * dt * k1, t + 0.5 * dt)
    k3 = _v(velocity, x + 0.5 * dt * k2, t + 0.5 * dt)
    k4 = _v(velocity, x + dt * k3, t + dt)
    return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


STEPS = {"euler": euler_step, "midpoint": midpoint_step, "rk4": rk4_step}
EVALS_PER_STEP = {"euler": 1, "midpoint": 2, "rk4": 4}
METHODS = (*STEPS, "dopri5")


@dataclass(repr=False)
class Solution:
    """The end points ``x`` ``(batch, dim)``, and if asked the states at every time in
    ``times``: ``trajectory`` of shape ``(len(times), batch, dim)``; ``nfe`` counts the
    velocity evaluations the solver spent."""

    x: torch.Tensor
    times: torch.Tensor
    trajectory: torch.Tensor | None
    nfe: int

    def __repr__(self) -> str:  # the default would print every number
        kept = (
            "no trajectory"
            if self.trajectory is None
            else f"trajectory {tuple(self.trajectory.shape)}"
        )
        return f"Solution(x {tuple(self.x.shape)}, {len(self.times) - 1} steps, nfe {self.nfe}, {kept})"


class _Counted:
    """Wraps a velocity to count how often a solver calls it."""

    def __init__(self, velocity: Velocity):
        self.velocity, self.calls = velocity, 0

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.velocity(x, t)


def _check_steps(method: str, n_steps) -> int | None:
    """A positive step count; ``None`` is allowed only for dopri5, which picks its own."""
    if n_steps is None:
        if method == "dopri5":
            return None
        raise ValueError(
            f"n_steps must be a positive integer for {method!r}: how many equal steps to take "
            "(only dopri5 picks its own)"
        )
    return check.steps(n_steps)


def _check_span(t_span) -> tuple[float, float]:
    if isinstance(t_span, (str, bytes)) or not hasattr(t_span, "__len__") or len(t_span) != 2:
        raise TypeError(f"t_span must be two times (start, end) such as (0.0, 1.0), got {t_span!r}")
    return (
        check.real(
            t_span[0], "t_span[0]", low=0.0, high=1.0, fix="time runs from noise at 0 to data at 1"
        ),
        check.real(
            t_span[1], "t_span[1]", low=0.0, high=1.0, fix="time runs from noise at 0 to data at 1"
        ),
    )


def integrate(
    velocity: Velocity,
    x_0: torch.Tensor,
    *,
    n_steps: int | None = None,
    method: str = "euler",
    t_span: tuple[float, float] = (0.0, 1.0),
    return_trajectory: bool = False,
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> Solution:
    """Solve ``dx/dt = velocity(x, t)`` from ``x_0`` at ``t_span[0]`` to ``t_span[1]``.

    Fixed-step methods take ``n_steps`` equal steps; ``"dopri5"`` (torchdiffeq) picks its
    own steps to meet ``rtol``/``atol`` and, with ``n_steps`` given, reports the state at
    ``n_steps + 1`` evenly spaced times. ``x_0`` (a tensor of any dtype, or an array) is
    moved to a network's device and dtype first. Runs under ``torch.inference_mode``; the
    returned tensors are ordinary ones that can feed later training.
    """
    method = check.choice(method, "solver method", METHODS)
    check.function(velocity, "velocity", "a model, or lambda x, t: -x")
    if not isinstance(x_0, (torch.Tensor, np.ndarray, list)):
        hint = (
            "; to start from n fresh base points use fm.generate(model, n)"
            if isinstance(x_0, int)
            else ""
        )
        raise TypeError(
            f"x_0 must be a tensor of shape (batch, dim); got {type(x_0).__name__}{hint}"
        )
    x_0 = check.for_velocity(
        x_0, velocity, "x_0", fix="start from finite points (a diverged model makes NaN)"
    )
    check.network_memory(velocity, len(x_0), "solving from these points")
    n_steps = _check_steps(method, n_steps)
    t0, t1 = _check_span(t_span)
    rtol, atol = check.positive(rtol, "rtol"), check.positive(atol, "atol")
    if check.flag(return_trajectory, "return_trajectory"):
        check.memory(
            ((n_steps or 1) + 1) * x_0.numel() * x_0.element_size(),
            f"keeping {n_steps or 1} steps of {len(x_0):,} points",
            "pass return_trajectory=False, or use fewer steps or points",
        )
    counted = _Counted(velocity)
    with torch.inference_mode():
        if method == "dopri5":
            x, times, states = _dopri5(counted, x_0, t0, t1, n_steps, rtol, atol)
        else:
            x, times, states = _fixed_steps(
                STEPS[method], counted, x_0, t0, t1, n_steps, return_trajectory
            )
    trajectory = torch.stack(states).clone() if return_trajectory else None
    return Solution(x=x.clone(), times=times.clone(), trajectory=trajectory, nfe=counted.calls)


def _fixed_steps(step, velocity, x, t0, t1, n_steps, keep):
    dt = (t1 - t0) / n_steps
    times = torch.linspace(t0, t1, n_steps + 1)
    states = [x] if keep else []
    for i in range(n_steps):
        x = step(velocity, x, t0 + i * dt, dt)  # t from the grid, not accumulated
        if keep:
            states.append(x)
    return x, times, states


def _dopri5(velocity, x_0, t0, t1, n_steps, rtol, atol):
    from torchdiffeq import odeint

    times = torch.linspace(t0, t1, (n_steps or 1) + 1, dtype=x_0.dtype)

    def rhs(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # torchdiffeq's (t, x) order
        return check.evaluate(velocity, x, as_time(t, x))

    states = odeint(rhs, x_0, times.to(x_0.device), method="dopri5", rtol=rtol, atol=atol)
    return states[-1], times, list(states)


def generate(
    model: Velocity,
    n_or_x0: int | torch.Tensor,
    *,
    n_steps: int = 8,
    method: str = "euler",
    base: str | fm_data.Sampler = "gaussian",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sample from a trained flow in one line: draw base points (or take the ones given)
    and carry them to ``t = 1``. Returns ``(n, dim)``, on the model's device.

    >>> identity = lambda x, t: torch.zeros_like(x)
    >>> generate(identity, 3, n_steps=2).shape
    torch.Size([3, 2])
    """
    method = check.choice(method, "solver method", METHODS)
    n_steps = _check_steps(method, n_steps)
    if isinstance(n_or_x0, (np.ndarray, list)) or (
        isinstance(n_or_x0, torch.Tensor) and n_or_x0.ndim > 0
    ):
        x_0 = n_or_x0
    else:
        n = check.count(n_or_x0, "n_or_x0 (the number of samples, or the start points)")
        check.network_memory(model, n, f"generating {n:,} samples")
        device, dtype = check.placement(model) or (None, None)
        draw = fm_data.base_sampler(base, check.sampling_dim(model), device=device, dtype=dtype)
        x_0 = draw(n, generator=check.generator(generator))  # (n, dim), in the model's dimension
    return integrate(model, x_0, n_steps=n_steps, method=method).x


# --------------------------------------------------------------------------- stochastic sampling


def diffusion_scale(t: torch.Tensor, schedule="linear") -> torch.Tensor:
    """The natural diffusion scale of :func:`sample_sde` at ``noise=1``: ``g_t = sigma_t``,
    the path's own noise level. It is 1 at the noise end and vanishes at the data end, so
    the drift's correction ``(g_t^2 / 2) score = -(sigma_t / 2) eps`` stays finite where the
    score itself blows up (``t = 1``)."""
    return get_schedule(schedule).sigma(t)


def sample_sde(
    velocity: Velocity,
    x_0: torch.Tensor,
    *,
    n_steps: int,
    noise: float = 1.0,
    schedule: str = "linear",
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
) -> Solution:
    """Sample with the stochastic family that keeps the path's marginals ``p_t``:

        dx = [u(x, t) + (g_t^2 / 2) score(x, t)] dt + g_t dW,   g_t = noise * sigma_t,

    integrated from ``t = 0`` to ``1`` by Euler-Maruyama on ``n_steps`` equal steps. The
    score comes from the velocity through the schedule (:func:`fmkit.paths.score_from_velocity`);
    ``velocity`` must be the field of that ``schedule`` (a model trained for another target
    can be wrapped with :func:`fmkit.paths.as_velocity`). Every added ``g_t^2 / 2`` of
    Langevin drift is matched by ``g_t dW`` of noise, so any ``noise >= 0`` keeps the
    marginals (up to the step size); ``noise=0`` is the Euler ODE sampler exactly.

    End points: each step evaluates at its start, so ``t = 1``, where the score is
    singular, is never evaluated; ``g_t = noise * sigma_t`` (:func:`diffusion_scale`) makes
    the last steps nearly noise-free, and the score conversion clamps ``t`` to at most
    ``1 - T_EPS`` (:data:`fmkit.paths.T_EPS`). Returns the same :class:`Solution` as :func:`integrate`, with
    ``nfe`` the velocity evaluations (one per step).

    >>> still = lambda x, t: torch.zeros_like(x)
    >>> sample_sde(still, torch.zeros(3, 2), n_steps=4, noise=0.0).x.tolist()[0]
    [0.0, 0.0]
    """
    check.function(velocity, "velocity", "a model, or fm.exact.ring_field()")
    path = get_schedule(schedule)
    noise = check.nonnegative(
        noise, "noise", fix="0 is the deterministic (probability-flow) ODE, 1 the natural SDE"
    )
    generator = check.generator(generator)
    x = check.for_velocity(
        x_0, velocity, "x_0", fix="start from finite points (a diverged model makes NaN)"
    )
    check.network_memory(velocity, len(x), "sampling from these points")
    n_steps = check.steps(n_steps)
    if check.flag(return_trajectory, "return_trajectory"):
        check.memory(
            (n_steps + 1) * x.numel() * x.element_size(),
            f"keeping {n_steps} steps of {len(x):,} points",
            "pass return_trajectory=False, or use fewer steps or points",
        )
    counted = _Counted(velocity)
    dt = 1.0 / n_steps
    times = torch.linspace(0.0, 1.0, n_steps + 1)
    states = [x] if return_trajectory else []
    with torch.inference_mode():
        for i in range(n_steps):
            t = as_time(i * dt, x)  # (batch, 1), from the grid
            u = check.evaluate(counted, x, t)  # (batch, dim)
            if noise > 0:
                g = noise * diffusion_scale(t, path)  # (batch, 1)
                score = score_from_velocity(u, x, t, path)  # (batch, dim)
                kick = torch.randn(x.shape, generator=generator).to(x)  # (batch, dim)
                x = x + (u + 0.5 * g**2 * score) * dt + g * math.sqrt(dt) * kick
            else:
                x = x + dt * u
            if return_trajectory:
                states.append(x)
    trajectory = torch.stack(states).clone() if return_trajectory else None
    return Solution(x=x.clone(), times=times, trajectory=trajectory, nfe=counted.calls)
