"""Exact log-likelihoods of a flow, by the instantaneous change of variables.

Along a path of ``dx/dt = v(x, t)`` the log-density changes as ``d log p_t(x_t) / dt =
-div v(x_t, t)``. So the density of a point ``x`` under the flow's ``t = 1`` distribution is
found by solving the ODE *backwards* from ``x`` at ``t = 1`` to its base point ``x_0`` at
``t = 0`` while accumulating the divergence:

    log p_1(x) = log p_0(x_0) - integral_0^1 div v(x_t, t) dt

The divergence is exact by autograd (one backward pass per dimension: cheap in 2-D), or
Hutchinson's unbiased estimate ``E[eps^T (dv/dx) eps]`` with random signs ``eps`` (one
backward pass whatever the dimension).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .solvers import STEPS

DIVERGENCES = ("exact", "hutchinson")


def standard_normal_log_prob(x: torch.Tensor) -> torch.Tensor:
    """``log N(x; 0, I)`` per row: ``(batch,)``."""
    return -0.5 * (x**2).sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi)


def _velocity_and_divergence(velocity, x, t, probes: torch.Tensor | None):
    """``v(x, t)`` and its divergence; ``probes`` ``(k, batch, dim)`` selects Hutchinson."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        v = velocity(x, t)  # (batch, dim)
        if not v.requires_grad:  # a field that ignores x has zero divergence
            div = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        elif probes is None:
            div = sum(torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)[0][:, i] for i in range(x.shape[1]))
        else:
            div = torch.stack([
                (torch.autograd.grad((v * eps).sum(), x, retain_graph=True)[0] * eps).sum(1) for eps in probes
            ]).mean(0)
    return v.detach(), div.detach()


def _probes(x: torch.Tensor, method: str, n_probes: int, generator) -> torch.Tensor | None:
    if method not in DIVERGENCES:
        raise ValueError(f"unknown divergence method {method!r}; choose one of: {', '.join(DIVERGENCES)}")
    if method == "exact":
        return None
    signs = torch.randint(0, 2, (n_probes, *x.shape), generator=generator).to(x) * 2 - 1
    return signs  # Rademacher probes, (n_probes, batch, dim)


def divergence(velocity: Callable, x: torch.Tensor, t: float | torch.Tensor, *, method: str = "exact",
               n_probes: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """``div v(x, t)`` per row, ``(batch,)``: exact, or Hutchinson's estimate from
    ``n_probes`` random sign vectors."""
    from .paths import as_time

    _, div = _velocity_and_divergence(velocity, x, as_time(t, x), _probes(x, method, n_probes, generator))
    return div


def log_likelihood(
    velocity: Callable,
    x: torch.Tensor,
    *,
    n_steps: int = 32,
    method: str = "rk4",
    divergence: str = "exact",
    n_probes: int = 1,
    base_log_prob: Callable[[torch.Tensor], torch.Tensor] = standard_normal_log_prob,
    t: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``log p_t(x)`` in nats (``t = 1`` by default: the model's samples) for each row of
    ``x`` ``(batch, dim)`` under the flow that ``velocity`` defines from the base
    ``base_log_prob`` (a standard normal by default).

    Solves the ODE for ``[x, log-density change]`` from ``t`` back to ``0`` with
    ``n_steps`` fixed steps of ``method``. Hutchinson probes are drawn once per call, and
    reused at every step, as in FFJORD.

    >>> identity = lambda x, t: torch.zeros_like(x)   # a flow that moves nothing
    >>> bool(torch.allclose(log_likelihood(identity, torch.zeros(1, 2)), standard_normal_log_prob(torch.zeros(1, 2))))
    True
    """
    if method not in STEPS:
        raise ValueError(f"unknown solver method {method!r}; choose one of: {', '.join(STEPS)}")
    if n_steps <= 0:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps}")
    probes = _probes(x, divergence, n_probes, generator)
    dim = x.shape[1]

    def augmented(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # z = [x, accumulated], (batch, dim + 1)
        v, div = _velocity_and_divergence(velocity, z[:, :dim], t, probes)
        return torch.cat([v, div[:, None]], dim=1)

    step, dt = STEPS[method], -float(t) / n_steps
    z = torch.cat([x.detach(), torch.zeros(len(x), 1, dtype=x.dtype, device=x.device)], dim=1)
    with torch.no_grad():
        for i in range(n_steps):
            z = step(augmented, z, float(t) + i * dt, dt)
    x_0, integral = z[:, :dim], z[:, dim]  # integral = -int_0^t div v dt
    return base_log_prob(x_0) + integral
