"""Exact marginal velocity fields of the straight-line path from a standard Gaussian base.

With ``x_t = (1 - t) x_0 + t x_1`` and ``x_0 ~ N(0, I)``, the field that a perfect network
would learn is ``u(x, t) = E[x_1 - x_0 | x_t = x]``: an average of the pairs' velocities,
weighted by how likely each pair is to pass through ``x`` at time ``t``. Each function here
returns such a field with the network's signature ``(x, t) -> v``, so solvers, losses,
plots and widgets take it in place of a model.

>>> field = ring_field()
>>> field(torch.zeros(3, 2), 1.0).shape
torch.Size([3, 2])
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .data import ring_means
from .paths import as_time

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

# The empirical field blows up like 1 / (1 - t) at t = 1; evaluate it at most here.
T_MAX_EMPIRICAL = 1.0 - 1e-3


def empirical_field(data: torch.Tensor, *, chunk: int = 2048) -> Velocity:
    """The exact field when the target is the finite set of points ``data`` ``(n, dim)``.

    Given ``x_1 = y_i`` the path point is ``x_t ~ N(t y_i, (1 - t)^2 I)`` and the pair's
    velocity is ``(y_i - x) / (1 - t)``; the field is the posterior-weighted mean of these,
    with weights from a log-sum-exp softmax. Queries are processed ``chunk`` at a time.
    Near ``t = 1`` it carries every point onto its nearest data point (memorisation).
    """
    data = torch.as_tensor(data, dtype=torch.float32)

    def field(x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        t = as_time(t, x).clamp(max=T_MAX_EMPIRICAL)  # (batch, 1)
        y = data.to(x.device)
        out = []
        for start in range(0, len(x), chunk):
            xc, tc = x[start : start + chunk], t[start : start + chunk]
            diff = xc[:, None, :] - tc[:, :, None] * y[None, :, :]  # (b, n, dim)
            logits = -(diff**2).sum(-1) / (2 * (1 - tc) ** 2)  # (b, n)
            weights = torch.softmax(logits, dim=1)  # (b, n)
            mean_y = weights @ y  # (b, dim)
            out.append((mean_y - xc) / (1 - tc))
        return torch.cat(out)

    return field


def mixture_field(
    means: torch.Tensor, std: float | torch.Tensor, weights: torch.Tensor | None = None
) -> Velocity:
    """The exact field of the Gaussian mixture ``sum_k w_k N(means_k, std_k^2 I)``.

    Within component ``k`` the pair ``(x_0, x_1)`` is jointly Gaussian, so ``x_t`` is
    ``N(t m_k, s_t^2 I)`` with ``s_t^2 = (1 - t)^2 + t^2 std_k^2`` and the conditional mean
    velocity is linear in ``x``::

        u_k(x, t) = m_k + (t std_k^2 - (1 - t)) / s_t^2 * (x - t m_k)

    The field weights the ``u_k`` by the posterior of each component given ``x_t = x``.
    It is the field of the distribution itself, not of a finite sample, and stays finite
    at ``t = 1`` whenever ``std > 0``.
    """
    means = torch.as_tensor(means, dtype=torch.float32)  # (k, dim)
    n_comp, dim = means.shape
    stds = torch.as_tensor(std, dtype=torch.float32).expand(n_comp)  # (k,)
    w = torch.full((n_comp,), 1.0 / n_comp) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    log_w = torch.log(w / w.sum())

    def field(x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        t = as_time(t, x)  # (batch, 1)
        m, s2 = means.to(x.device), stds.to(x.device) ** 2
        var_t = (1 - t) ** 2 + t**2 * s2  # (batch, k)
        diff = x[:, None, :] - t[:, :, None] * m  # (batch, k, dim)
        logits = log_w.to(x.device) - (diff**2).sum(-1) / (2 * var_t) - 0.5 * dim * torch.log(var_t)
        post = torch.softmax(logits, dim=1)  # (batch, k)
        gain = (t * s2 - (1 - t)) / var_t  # (batch, k)
        u_k = m + gain[:, :, None] * diff  # (batch, k, dim)
        return (post[:, :, None] * u_k).sum(1)

    return field


def ring_field(*, n_modes: int = 8, radius: float = 3.0, std: float = 0.2) -> Velocity:
    """The exact field of the distribution that :func:`fmkit.data.ring_of_gaussians` samples."""
    return mixture_field(ring_means(n_modes, radius), std)


def mixture_log_prob(
    means: torch.Tensor, std: float | torch.Tensor, weights: torch.Tensor | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The log-density of ``sum_k w_k N(means_k, std_k^2 I)``: ``x (batch, dim) -> (batch,)``."""
    means = torch.as_tensor(means, dtype=torch.float32)
    n_comp, dim = means.shape
    stds = torch.as_tensor(std, dtype=torch.float32).expand(n_comp)
    w = torch.full((n_comp,), 1.0 / n_comp) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    log_w = torch.log(w / w.sum())

    def log_prob(x: torch.Tensor) -> torch.Tensor:
        sq = ((x[:, None, :] - means.to(x.device)) ** 2).sum(-1)  # (batch, k)
        s2 = stds.to(x.device) ** 2
        log_normal = -sq / (2 * s2) - 0.5 * dim * torch.log(2 * math.pi * s2)
        return torch.logsumexp(log_w.to(x.device) + log_normal, dim=1)

    return log_prob


def ring_log_prob(*, t: float = 1.0, n_modes: int = 8, radius: float = 3.0, std: float = 0.2) -> Callable[[torch.Tensor], torch.Tensor]:
    """The true log-density of :func:`fmkit.data.ring_of_gaussians`'s distribution (``t = 1``),
    or of the marginal path ``p_t`` from a standard Gaussian at any ``t``: each blob is then
    ``N(t m_k, ((1 - t)^2 + t^2 std^2) I)``."""
    return mixture_log_prob(t * ring_means(n_modes, radius), math.sqrt((1 - t) ** 2 + t**2 * std**2))
