"""Classifier-free guidance: steer a conditional flow towards its class.

With a network trained on labels and on "no label" (label dropout), the guided field is

    v_w(x, t | c) = v(x, t | none) + w * (v(x, t | c) - v(x, t | none))

``w = 1`` is the plain conditional field, ``w = 0`` the unconditional one, and ``w > 1``
pushes further along the direction that the label adds: samples concentrate on the
class's most typical region, at the cost of diversity, and overshoot for large ``w``.
"""

from __future__ import annotations

from typing import Callable

import torch


def guided_velocity(model: Callable, label: int | torch.Tensor, scale: float) -> Callable:
    """The guided field for ``label`` at guidance ``scale``, as an ``(x, t)`` velocity
    that solvers, plots and explorers take like any other."""

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        unconditional = model(x, t, label=-1)
        if scale == 0:
            return unconditional
        conditional = model(x, t, label=label)
        return unconditional + scale * (conditional - unconditional)

    return velocity
