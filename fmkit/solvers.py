"""ODE solvers for ``dx/dt = velocity(x, t)``: fixed-step Euler, midpoint and RK4, plus
torchdiffeq's adaptive dopri5 as the reference.

Every step function has the form ``step(velocity, x, t, dt) -> x_next`` with ``t`` a float.

>>> constant = lambda x, t: torch.ones_like(x)
>>> integrate(constant, torch.zeros(4, 2), n_steps=4).x[0].tolist()
[1.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from . import data as fm_data
from .paths import as_time

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _v(velocity: Velocity, x: torch.Tensor, t: float) -> torch.Tensor:
    return velocity(x, as_time(t, x))  # t as (batch, 1)


def euler_step(velocity: Velocity, x: torch.Tensor, t: float, dt: float) -> torch.Tensor:
    """One Euler step: follow the velocity at the start for the whole step (1 evaluation)."""
    return x + dt * _v(velocity, x, t)


def midpoint_step(velocity: Velocity, x: torch.Tensor, t: float, dt: float) -> torch.Tensor:
    """One midpoint step: use the velocity found half a step ahead (2 evaluations)."""
    x_half = x + 0.5 * dt * _v(velocity, x, t)
    return x + dt * _v(velocity, x_half, t + 0.5 * dt)


def rk4_step(velocity: Velocity, x: torch.Tensor, t: float, dt: float) -> torch.Tensor:
    """One classical Runge-Kutta step: a weighted mix of four slopes (4 evaluations)."""
    k1 = _v(velocity, x, t)
    k2 = _v(velocity, x + 0.5 * dt * k1, t + 0.5 * dt)
    k3 = _v(velocity, x + 0.5 * dt * k2, t + 0.5 * dt)
    k4 = _v(velocity, x + dt * k3, t + dt)
    return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


STEPS = {"euler": euler_step, "midpoint": midpoint_step, "rk4": rk4_step}
EVALS_PER_STEP = {"euler": 1, "midpoint": 2, "rk4": 4}
METHODS = (*STEPS, "dopri5")


@dataclass
class Solution:
    """The end points ``x`` ``(batch, dim)``, and if asked the states at every time in
    ``times``: ``trajectory`` of shape ``(len(times), batch, dim)``; ``nfe`` counts the
    velocity evaluations the solver spent."""

    x: torch.Tensor
    times: torch.Tensor
    trajectory: torch.Tensor | None
    nfe: int


class _Counted:
    """Wraps a velocity to count how often a solver calls it."""

    def __init__(self, velocity: Velocity):
        self.velocity, self.calls = velocity, 0

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.velocity(x, t)


def _check_inputs(x_0: torch.Tensor, method: str, n_steps: int | None) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown solver method {method!r}; choose one of: {', '.join(METHODS)}")
    if not isinstance(x_0, torch.Tensor) or x_0.ndim != 2:
        shape = tuple(x_0.shape) if isinstance(x_0, torch.Tensor) else type(x_0).__name__
        raise ValueError(f"x_0 must be a tensor of shape (batch, dim); got {shape}")
    if method != "dopri5" and (n_steps is None or int(n_steps) != n_steps or n_steps <= 0):
        raise ValueError(f"n_steps must be a positive integer for {method!r}, got {n_steps!r}")


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
    ``n_steps + 1`` evenly spaced times. Runs under ``torch.inference_mode``; the returned
    tensors are ordinary ones that can feed later training.
    """
    _check_inputs(x_0, method, n_steps)
    t0, t1 = float(t_span[0]), float(t_span[1])
    counted = _Counted(velocity)
    with torch.inference_mode():
        if method == "dopri5":
            x, times, states = _dopri5(counted, x_0, t0, t1, n_steps, rtol, atol)
        else:
            x, times, states = _fixed_steps(STEPS[method], counted, x_0, t0, t1, int(n_steps), return_trajectory)
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
        return velocity(x, as_time(t, x))

    states = odeint(rhs, x_0, times.to(x_0.device), method="dopri5", rtol=rtol, atol=atol)
    return states[-1], times, list(states)


def generate(
    model: Velocity,
    n_or_x0: int | torch.Tensor,
    *,
    n_steps: int = 8,
    method: str = "euler",
    base: str = "gaussian",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sample from a trained flow in one line: draw base points (or take the ones given)
    and carry them to ``t = 1``. Returns ``(n, dim)``.

    >>> identity = lambda x, t: torch.zeros_like(x)
    >>> generate(identity, 3, n_steps=2).shape
    torch.Size([3, 2])
    """
    if isinstance(n_or_x0, torch.Tensor):
        x_0 = n_or_x0
    else:
        # the base in the model's dimension (2 unless the model says otherwise)
        x_0 = fm_data.base_sampler(base, getattr(model, "dim", 2))(n_or_x0, generator=generator)
        params = list(model.parameters()) if isinstance(model, torch.nn.Module) else []
        if params:
            x_0 = x_0.to(params[0].device)
    return integrate(model, x_0, n_steps=n_steps, method=method).x
