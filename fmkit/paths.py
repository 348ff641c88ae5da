"""Couplings and the straight-line probability path.

A coupling pairs base samples ``x_0`` with data samples ``x_1``; the path moves each pair
along the line ``x_t = (1 - t) x_0 + t x_1`` at the constant velocity ``x_1 - x_0``.

>>> x_0, x_1 = torch.zeros(3, 2), torch.ones(3, 2)
>>> interpolate(x_0, x_1, 0.25)[0].tolist()
[0.25, 0.25]
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from . import _validate as check


def _pair(x_0, x_1) -> tuple[torch.Tensor, torch.Tensor]:
    """Two point clouds of one shape, ``(batch, dim)``, in a common floating dtype."""
    x_0, x_1 = check.floating(x_0, "x_0"), check.floating(x_1, "x_1")
    if x_0.ndim != 2 or x_1.ndim != 2:
        raise ValueError(
            f"x_0 and x_1 must be 2-D tensors of shape (batch, dim); got {tuple(x_0.shape)} "
            f"and {tuple(x_1.shape)}"
        )
    if x_0.shape != x_1.shape:
        raise ValueError(
            f"x_0 and x_1 must have the same shape to be paired; got {tuple(x_0.shape)} "
            f"and {tuple(x_1.shape)}"
        )
    dtype = torch.promote_types(x_0.dtype, x_1.dtype)
    return x_0.to(dtype), x_1.to(dtype)


def as_time(t: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bring ``t`` (a float, a one-element tensor, ``(batch,)`` or ``(batch, 1)``) to
    ``(batch, 1)``, in ``x``'s floating dtype (the default float for an integer ``x``, so
    that ``t = 0.5`` never becomes 0) and on its device.

    >>> as_time(0.5, torch.zeros(3, 2, dtype=torch.long)).flatten().tolist()
    [0.5, 0.5, 0.5]
    """
    x = torch.as_tensor(x)
    dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
    batch = x.shape[0]
    if isinstance(t, numbers.Real) and not isinstance(t, (bool, np.bool_)):
        if not math.isfinite(t):
            raise ValueError(f"t must be a finite number in [0, 1], got {t}")
        return torch.tensor(float(t), dtype=dtype, device=x.device).expand(batch, 1)
    if isinstance(t, (bool, np.bool_, str)) or not isinstance(
        t, (torch.Tensor, np.ndarray, list, tuple)
    ):
        raise TypeError(
            f"t must be a float or a tensor of shape ({batch},) or ({batch}, 1), got {type(t).__name__}"
        )
    t = torch.as_tensor(t, dtype=dtype, device=x.device)
    if t.numel() == 1 and t.ndim <= 2:
        return t.reshape(1, 1).expand(batch, 1)
    if t.ndim == 1 and t.shape[0] == batch:
        return t[:, None]
    if t.ndim == 2 and t.shape == (batch, 1):
        return t
    raise ValueError(
        f"t must be a float or have shape ({batch},) or ({batch}, 1) to match x; "
        f"got shape {tuple(t.shape)}"
    )


def interpolate(x_0: torch.Tensor, x_1: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """The point ``x_t = (1 - t) x_0 + t x_1`` on each pair's straight line: ``(batch, dim)``."""
    x_0, x_1 = _pair(x_0, x_1)
    t = check.in_unit_interval(as_time(t, x_0))  # (batch, 1)
    return (1 - t) * x_0 + t * x_1


def target_velocity(x_0: torch.Tensor, x_1: torch.Tensor) -> torch.Tensor:
    """The straight path's velocity ``d x_t / dt = x_1 - x_0``, the same at every t."""
    x_0, x_1 = _pair(x_0, x_1)
    return x_1 - x_0


def sample_time(n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Training times uniform on [0, 1): ``(n, 1)``."""
    return torch.rand(check.count(n, "n"), 1, generator=check.generator(generator))


def _assignment(cost: np.ndarray) -> np.ndarray:
    """Column matched to each row by an exact assignment solve of a square cost matrix."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    return cols[np.argsort(rows)]


# The exact assignment solve grows like n^3: about 0.2 s for 1000 points, minutes past 5000.
MAX_OT_PLAN = 5000


def _ot_inputs(x_0, x_1, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked pairs for an OT plan over chunks of ``size`` points."""
    x_0, x_1 = _pair(x_0, x_1)
    check.finite(x_0, "x_0", "OT pairs points by distance, which NaN or infinity has none of")
    check.finite(x_1, "x_1", "OT pairs points by distance, which NaN or infinity has none of")
    if size > MAX_OT_PLAN:
        raise ValueError(
            f"an exact OT plan on {size:,} points would take minutes (the solve grows like n^3; "
            f"fmkit allows {MAX_OT_PLAN:,}); pair in chunks with sub_batch=50, or use fewer points"
        )
    return x_0, x_1


def ot_permutation(x_0: torch.Tensor, x_1: torch.Tensor) -> torch.Tensor:
    """The reordering of ``x_0`` that minimises the summed squared distance to ``x_1``.

    Exact optimal transport between two equal-size, uniformly weighted point clouds is an
    assignment problem (its plan is a permutation), so SciPy's assignment solver gives the
    same answer as POT's ``ot.emd``, faster on small batches.
    Returns indices ``perm`` such that ``x_0[perm][i]`` is paired with ``x_1[i]``.
    """
    x_0, x_1 = _pair(x_0, x_1)
    x_0, x_1 = _ot_inputs(x_0, x_1, len(x_0))
    cost = torch.cdist(x_1.detach().double(), x_0.detach().double()) ** 2  # (n, n), rows: x_1
    return torch.from_numpy(_assignment(cost.cpu().numpy())).to(x_0.device)


# Measured on one laptop-class core: one training step on a batch of 1000 takes ~5 ms, an
# exact 1000 x 1000 plan ~100-250 ms, and 20 plans of 50 x 50 ~2-4 ms in all.
DEFAULT_OT_SUB_BATCH = 50


def ot_pairing(
    x_0: torch.Tensor, x_1: torch.Tensor, *, sub_batch: int | None = DEFAULT_OT_SUB_BATCH
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minibatch optimal-transport coupling: reorder ``x_0`` to sit near its partner in ``x_1``.

    Exact OT grows roughly cubically with the batch: on a batch of 1000 one plan costs
    twenty or more training steps. With ``sub_batch`` set (default 50) the batch is cut
    into chunks of that size and each chunk is matched on its own, which keeps OT training
    within about twice the step time of independent pairing. The trade: pairs are optimal
    only within their chunk, so paths straighten somewhat less than with one full-batch
    plan. ``sub_batch=None`` solves the whole batch exactly. A batch that is not a
    multiple of ``sub_batch`` has its remainder matched on its own.
    Returns ``(x_0 reordered, x_1)``, each ``(batch, dim)``.
    """
    x_0, x_1 = _pair(x_0, x_1)
    n = len(x_0)
    size = (
        n
        if sub_batch is None
        else min(check.count(sub_batch, "sub_batch", fix="or pass None for one exact plan"), n)
    )
    x_0, x_1 = _ot_inputs(x_0, x_1, size)
    if n == 0:
        return x_0, x_1
    n_full = n // size * size
    # All full chunks at once: (chunks, size, dim) -> cost matrices (chunks, size, size).
    a = x_0[:n_full].detach().double().reshape(-1, size, x_0.shape[1])
    b = x_1[:n_full].detach().double().reshape(-1, size, x_1.shape[1])
    costs = (torch.cdist(b, a) ** 2).cpu().numpy()
    perm = [k * size + _assignment(c) for k, c in enumerate(costs)]
    if n_full < n:  # the remainder, matched on its own
        perm.append(n_full + ot_permutation(x_0[n_full:], x_1[n_full:]).cpu().numpy())
    index = torch.from_numpy(np.concatenate(perm)).to(x_0.device)
    return x_0[index], x_1


COUPLINGS = ("independent", "ot")


def couple(
    x_0: torch.Tensor, x_1: torch.Tensor, coupling: str = "independent", **kwargs
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair a base batch with a data batch: ``"independent"`` keeps the random order,
    ``"ot"`` re-pairs with :func:`ot_pairing`."""
    if check.choice(coupling, "coupling", COUPLINGS) == "independent":
        return _pair(x_0, x_1)
    return ot_pairing(x_0, x_1, **kwargs)
