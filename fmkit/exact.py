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
from collections.abc import Callable

import torch

from . import _validate as check
from .data import RING, ring_means
from .paths import Schedule, as_time, get_schedule
from .utils import Velocity

# The empirical field blows up like 1 / (1 - t) at t = 1; evaluate it at most here.
T_MAX_EMPIRICAL = 1.0 - 1e-3
# Memory for one chunk of the empirical field's (queries, data points, dim) differences.
_CHUNK_BYTES = 64 * 2**20


def _query(x, dim: int) -> torch.Tensor:
    """Query points for a field in ``dim`` dimensions: ``(batch, dim)``, floating point."""
    x = check.floating(x, "x")
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(
            f"x must have shape (batch, {dim}), the field's dimension; got {tuple(x.shape)}"
        )
    return x


def empirical_field(data: torch.Tensor, *, chunk: int = 2048) -> Velocity:
    """The exact field when the target is the finite set of points ``data`` ``(n, dim)``.

    Given ``x_1 = y_i`` the path point is ``x_t ~ N(t y_i, (1 - t)^2 I)`` and the pair's
    velocity is ``(y_i - x) / (1 - t)``; the field is the posterior-weighted mean of these,
    with weights from a log-sum-exp softmax. Queries are processed at most ``chunk`` at a
    time, fewer for a large ``data`` so that one chunk's differences stay within 64 MB.
    Near ``t = 1`` it carries every point onto its nearest data point (memorisation).
    """
    data = check.points(data, "data")  # (n, dim)
    chunk = check.count(chunk, "chunk")
    n, dim = data.shape

    def field(x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        x = _query(x, dim)
        t = as_time(t, x).clamp(max=T_MAX_EMPIRICAL)  # (batch, 1)
        y = data.to(device=x.device, dtype=x.dtype)  # (n, dim)
        rows = max(1, min(chunk, _CHUNK_BYTES // (n * (dim + 2) * x.element_size())))
        out = []
        for start in range(0, len(x), rows):
            xc, tc = x[start : start + rows], t[start : start + rows]
            diff = xc[:, None, :] - tc[:, :, None] * y[None, :, :]  # (b, n, dim)
            logits = -(diff**2).sum(-1) / (2 * (1 - tc) ** 2)  # (b, n)
            weights = torch.softmax(logits, dim=1)  # (b, n)
            mean_y = weights @ y  # (b, dim)
            out.append((mean_y - xc) / (1 - tc))
        return torch.cat(out) if out else torch.zeros_like(x)

    return field


def _mixture(means, std, weights) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Checked mixture parameters: means ``(k, dim)``, stds ``(k,)``, log-weights ``(k,)``."""
    means = check.points(means, "means")  # (k, dim)
    n_comp = len(means)
    stds = check.floating(std, "std", torch.float32)
    if stds.numel() not in (1, n_comp) or stds.ndim > 1:
        raise ValueError(
            f"std must be one number or one per component, shape ({n_comp},); got {tuple(stds.shape)}"
        )
    if not (torch.isfinite(stds) & (stds > 0)).all():
        raise ValueError(
            f"std must be finite and > 0 (a blob of zero width has no density); got {stds.tolist()}"
        )
    stds = stds.reshape(-1).expand(n_comp)  # (k,)
    if weights is None:
        w = torch.full((n_comp,), 1.0 / n_comp)
    else:
        w = check.floating(weights, "weights", torch.float32)
        if w.shape != (n_comp,) or not (torch.isfinite(w) & (w >= 0)).all() or w.sum() <= 0:
            raise ValueError(
                f"weights must be {n_comp} finite numbers ≥ 0 with a positive sum, one per mean; "
                f"got {w.tolist() if w.numel() < 20 else tuple(w.shape)}"
            )
    return means, stds, torch.log(w / w.sum())


def mixture_field(
    means: torch.Tensor,
    std: float | torch.Tensor,
    weights: torch.Tensor | None = None,
    *,
    schedule: str | Schedule = "linear",
) -> Velocity:
    """The exact field of the Gaussian mixture ``sum_k w_k N(means_k, std_k^2 I)``.

    Within component ``k`` the pair ``(x_0, x_1)`` is jointly Gaussian, so ``x_t`` is
    ``N(t m_k, s_t^2 I)`` with ``s_t^2 = (1 - t)^2 + t^2 std_k^2`` and the conditional mean
    velocity is linear in ``x``::

        u_k(x, t) = m_k + (t std_k^2 - (1 - t)) / s_t^2 * (x - t m_k)

    The field weights the ``u_k`` by the posterior of each component given ``x_t = x``.
    It is the field of the distribution itself, not of a finite sample, and stays finite
    at ``t = 1`` because every ``std > 0``.

    Under another ``schedule`` (:func:`fmkit.paths.get_schedule`), ``x_t = alpha_t x_1 +
    sigma_t x_0`` puts blob ``k`` at ``N(alpha m_k, s_t^2 I)`` with ``s_t^2 = sigma^2 +
    alpha^2 std_k^2``, and the same regression gives::

        u_k(x, t) = alpha' m_k + (alpha' alpha std_k^2 + sigma sigma') / s_t^2 * (x - alpha m_k)
    """
    means, stds, log_w = _mixture(means, std, weights)
    dim = means.shape[1]
    path = get_schedule(schedule)
    if path.name != "linear":
        return _affine_mixture_field(means, stds, log_w, path)

    def field(x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        x = _query(x, dim)
        t = as_time(t, x)  # (batch, 1)
        m, s2 = means.to(x), stds.to(x) ** 2
        var_t = (1 - t) ** 2 + t**2 * s2  # (batch, k)
        diff = x[:, None, :] - t[:, :, None] * m  # (batch, k, dim)
        logits = log_w.to(x) - (diff**2).sum(-1) / (2 * var_t) - 0.5 * dim * torch.log(var_t)
        post = torch.softmax(logits, dim=1)  # (batch, k)
        gain = (t * s2 - (1 - t)) / var_t  # (batch, k)
        u_k = m + gain[:, :, None] * diff  # (batch, k, dim)
        return (post[:, :, None] * u_k).sum(1)

    return field


def _affine_mixture_field(means, stds, log_w, path: Schedule) -> Velocity:
    """:func:`mixture_field` under a general affine schedule."""
    dim = means.shape[1]

    def field(x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        x = _query(x, dim)
        t = check.in_unit_interval(as_time(t, x))  # (batch, 1)
        m, s2 = means.to(x), stds.to(x) ** 2
        a, sig, da = path.alpha(t), path.sigma(t), path.d_alpha(t)  # (batch, 1) each
        var_t = sig**2 + a**2 * s2  # (batch, k)
        diff = x[:, None, :] - a[:, :, None] * m  # (batch, k, dim)
        logits = log_w.to(x) - (diff**2).sum(-1) / (2 * var_t) - 0.5 * dim * torch.log(var_t)
        post = torch.softmax(logits, dim=1)  # (batch, k)
        gain = (da * a * s2 + path.sigma_d_sigma(t)) / var_t  # (batch, k)
        u_k = da[:, :, None] * m + gain[:, :, None] * diff  # (batch, k, dim)
        return (post[:, :, None] * u_k).sum(1)

    return field


def ring_field(
    *,
    n_modes: int = RING.n_modes,
    radius: float = RING.radius,
    std: float = RING.std,
    schedule: str | Schedule = "linear",
) -> Velocity:
    """The exact field of the distribution that :func:`fmkit.data.ring_of_gaussians` samples
    (by default the course's :data:`fmkit.data.RING`), along the path of ``schedule``
    (``"linear"``, ``"cosine"`` or ``"vp"``, see :func:`fmkit.paths.get_schedule`)."""
    return mixture_field(ring_means(n_modes, radius), check.positive(std, "std"), schedule=schedule)


def mixture_log_prob(
    means: torch.Tensor, std: float | torch.Tensor, weights: torch.Tensor | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The log-density of ``sum_k w_k N(means_k, std_k^2 I)``: ``x (batch, dim) -> (batch,)``."""
    means, stds, log_w = _mixture(means, std, weights)
    dim = means.shape[1]

    def log_prob(x: torch.Tensor) -> torch.Tensor:
        x = _query(x, dim)
        sq = ((x[:, None, :] - means.to(x)) ** 2).sum(-1)  # (batch, k)
        s2 = stds.to(x) ** 2
        log_normal = -sq / (2 * s2) - 0.5 * dim * torch.log(2 * math.pi * s2)
        return torch.logsumexp(log_w.to(x) + log_normal, dim=1)

    return log_prob


def ring_log_prob(
    *,
    t: float = 1.0,
    n_modes: int = RING.n_modes,
    radius: float = RING.radius,
    std: float = RING.std,
    schedule: str | Schedule = "linear",
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The true log-density of :func:`fmkit.data.ring_of_gaussians`'s distribution (``t = 1``),
    or of the marginal path ``p_t`` from a standard Gaussian at any ``t``: each blob is then
    ``N(t m_k, ((1 - t)^2 + t^2 std^2) I)``, and under another ``schedule``
    ``N(alpha_t m_k, (sigma_t^2 + alpha_t^2 std^2) I)``."""
    t = check.real(t, "t", low=0.0, high=1.0, fix="time runs from noise at 0 to data at 1")
    std = check.positive(std, "std")
    path = get_schedule(schedule)
    if path.name != "linear":
        tt = torch.tensor(t, dtype=torch.float64)
        a, sig = float(path.alpha(tt)), float(path.sigma(tt))
        return mixture_log_prob(a * ring_means(n_modes, radius), math.sqrt(sig**2 + a**2 * std**2))
    return mixture_log_prob(
        t * ring_means(n_modes, radius), math.sqrt((1 - t) ** 2 + t**2 * std**2)
    )
