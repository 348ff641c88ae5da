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
from collections.abc import Callable
from typing import Any

import torch

from . import _validate as check
from .paths import as_time
from .solvers import STEPS
from .utils import Velocity

ESTIMATORS = ("exact", "hutchinson")
DIVERGENCES = ESTIMATORS  # the earlier name


def standard_normal_log_prob(x: torch.Tensor) -> torch.Tensor:
    """``log N(x; 0, I)`` per row: ``(batch,)``."""
    return -0.5 * (x**2).sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi)


def _velocity_and_divergence(
    velocity: Velocity, x: torch.Tensor, t: torch.Tensor, probes: torch.Tensor | None
):
    """``v(x, t)`` and its divergence; ``probes`` ``(k, batch, dim)`` selects Hutchinson."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        v = check.evaluate(velocity, x, t)  # (batch, dim)
        if not v.requires_grad:  # a field that ignores x has zero divergence
            div = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        elif probes is None:
            div = sum(
                torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)[0][:, i]
                for i in range(x.shape[1])
            )
        else:
            div = torch.stack(
                [
                    (torch.autograd.grad((v * eps).sum(), x, retain_graph=True)[0] * eps).sum(1)
                    for eps in probes
                ]
            ).mean(0)
    return v.detach(), div.detach()


def _legacy(estimator: str, old: dict[str, Any], old_name: str) -> str:
    """Accept the estimator under its earlier keyword (``divergence=`` or ``method=``)."""
    unknown = set(old) - {old_name}
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    return old.get(old_name, estimator)


def _probes(x: torch.Tensor, estimator: str, n_probes: int, generator) -> torch.Tensor | None:
    """Rademacher probes ``(n_probes, batch, dim)`` for Hutchinson, ``None`` for the exact trace."""
    estimator = check.choice(estimator, "divergence estimator", ESTIMATORS)
    n_probes = check.count(n_probes, "n_probes")
    if estimator == "exact":
        return None
    check.memory(
        n_probes * x.numel() * x.element_size(),
        f"{n_probes:,} probes for {len(x):,} points",
        "use fewer probes: a handful is enough when the estimate is averaged over many points",
    )
    signs = torch.randint(0, 2, (n_probes, *x.shape), generator=check.generator(generator))
    return signs.to(x) * 2 - 1


def divergence(
    velocity: Velocity,
    x: torch.Tensor,
    t: float | torch.Tensor,
    *,
    estimator: str = "exact",
    n_probes: int = 1,
    probes: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    **earlier,
) -> torch.Tensor:
    """``div v(x, t)`` per row, ``(batch,)``: ``estimator="exact"`` (autograd, one backward
    pass per dimension) or ``"hutchinson"`` (the mean over ``n_probes`` random sign vectors,
    or over the given ``probes``, ``(k, batch, dim)`` or ``(batch, dim)``, which implies
    Hutchinson). ``x`` goes to the velocity's device and dtype; ``t`` is a float, ``(batch,)``
    or ``(batch, 1)``. (``method=`` is the earlier name of ``estimator=``.)"""
    estimator = _legacy(estimator, earlier, "method")
    x = check.for_velocity(x, velocity, "x")
    check.network_memory(velocity, len(x), "the divergence", backward=True)
    t = check.in_unit_interval(as_time(t, x))  # (batch, 1)
    if probes is None:
        probes = _probes(x, estimator, n_probes, generator)
    else:
        probes = torch.as_tensor(probes).to(device=x.device, dtype=x.dtype)
        probes = probes[None] if probes.shape == x.shape else probes  # (k, batch, dim)
        if probes.ndim != 3 or probes.shape[1:] != x.shape:
            raise ValueError(
                f"probes must have shape {tuple(x.shape)} or (k, {len(x)}, {x.shape[1]}) to match x; "
                f"got {tuple(probes.shape)}"
            )
    _, div = _velocity_and_divergence(velocity, x, t, probes)
    return div


def _base_log_prob(base_log_prob: Callable, x_0: torch.Tensor) -> torch.Tensor:
    """The base's log-density per row, ``(batch,)``; a ``(batch, 1)`` answer is flattened, not broadcast."""
    out = base_log_prob(x_0)
    if not isinstance(out, torch.Tensor) or out.shape not in ((len(x_0),), (len(x_0), 1)):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"base_log_prob must return one log-density per row, shape ({len(x_0)},); got {shape}"
        )
    return out.reshape(len(x_0))


def log_likelihood(
    velocity: Velocity,
    x: torch.Tensor,
    *,
    n_steps: int = 32,
    method: str = "rk4",
    estimator: str = "exact",
    n_probes: int = 1,
    base_log_prob: Callable[[torch.Tensor], torch.Tensor] = standard_normal_log_prob,
    t: float | torch.Tensor = 1.0,
    generator: torch.Generator | None = None,
    **earlier,
) -> torch.Tensor:
    """``log p_t(x)`` in nats (``t = 1`` by default: the model's samples) for each row of
    ``x`` ``(batch, dim)`` under the flow that ``velocity`` defines from the base
    ``base_log_prob`` (a standard normal by default). Returns ``(batch,)`` on the velocity's
    device.

    Solves the ODE for ``[x, log-density change]`` from ``t`` back to ``0`` with
    ``n_steps`` fixed steps of the solver ``method``; the divergence comes from
    ``estimator`` (``"exact"`` or ``"hutchinson"``, whose probes are drawn once per call and
    reused at every step, as in FFJORD). ``t`` may be a float or one time per row,
    ``(batch,)`` or ``(batch, 1)``. (``divergence=`` is the earlier name of ``estimator=``.)

    >>> identity = lambda x, t: torch.zeros_like(x)   # a flow that moves nothing
    >>> bool(torch.allclose(log_likelihood(identity, torch.zeros(1, 2)), standard_normal_log_prob(torch.zeros(1, 2))))
    True
    """
    estimator = _legacy(estimator, earlier, "divergence")
    step = STEPS[check.choice(method, "solver method", list(STEPS))]
    n_steps = check.steps(n_steps)
    check.function(base_log_prob, "base_log_prob", "fm.likelihood.standard_normal_log_prob")
    x = check.for_velocity(x, velocity, "x")  # (batch, dim)
    check.network_memory(velocity, len(x), "the log-likelihood", backward=True)
    t_end = check.in_unit_interval(as_time(t, x))  # (batch, 1), each row's own end time
    probes = _probes(x, estimator, n_probes, generator)
    dim = x.shape[1]

    # Each row runs from its own t back to 0. In the rescaled time s = tau / t_row, which runs
    # from 1 to 0 for every row, dz/ds = t_row * [v(x, t_row s), div v(x, t_row s)].
    def augmented(
        z: torch.Tensor, s: torch.Tensor
    ) -> torch.Tensor:  # z = [x, accumulated], (batch, dim + 1)
        v, div = _velocity_and_divergence(velocity, z[:, :dim], t_end * s, probes)
        return t_end * torch.cat([v, div[:, None]], dim=1)

    z = torch.cat([x.detach(), torch.zeros(len(x), 1, dtype=x.dtype, device=x.device)], dim=1)
    ds = -1.0 / n_steps
    with torch.no_grad():
        for i in range(n_steps):
            z = step(augmented, z, 1.0 + i * ds, ds)
    x_0, integral = z[:, :dim], z[:, dim]  # integral = -int_0^t div v dt, per row
    return _base_log_prob(base_log_prob, x_0) + integral
