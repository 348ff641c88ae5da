"""Classifier-free guidance: steer a conditional flow towards its class.

With a network trained on labels and on "no label" (label dropout), the guided field is

    v_w(x, t | c) = v(x, t | none) + w * (v(x, t | c) - v(x, t | none))

``w = 1`` is the plain conditional field, ``w = 0`` the unconditional one, and ``w > 1``
pushes further along the direction that the label adds (the course's ``w`` is Ho and
Salimans' ``1 + w``). On the course's ring a moderate ``w`` narrows each class's cloud and
moves it outward, away from the other classes, at the cost of diversity; a large ``w`` takes
the samples away from the data (chapter 8 measures both).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from . import _validate as check


class GuidedVelocity:
    """The guided field as an ``(x, t)`` velocity. It keeps its ``model`` (so fmkit finds the
    model's device and dimension), ``label`` and ``scale``."""

    def __init__(self, model: Callable, label: int | torch.Tensor, scale: float):
        self.model, self.label, self.scale = model, label, scale

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        unconditional = self.model(x, t, label=-1)
        if self.scale == 0:
            return unconditional
        conditional = self.model(x, t, label=self.label)
        return unconditional + self.scale * (conditional - unconditional)

    def __repr__(self) -> str:
        label = self.label if isinstance(self.label, int) else f"tensor of {self.label.numel()}"
        return f"GuidedVelocity(label={label}, scale={self.scale})"


def guided_velocity(model: Callable, label: int | torch.Tensor, scale: float) -> GuidedVelocity:
    """The guided field for ``label`` (one class, or one per row) at guidance ``scale``, as
    an ``(x, t)`` velocity that solvers, plots and explorers take like any other. ``model``
    must be called as ``model(x, t, label=...)``; ``-1`` is its "no label"."""
    check.function(model, "model", "fm.ConditionalVelocityField(n_classes=8)")
    check.takes_label(model, "guidance")
    label = check.class_labels(
        label, "label", n_classes=getattr(model, "n_classes", None), allow_none=False
    )
    scale = check.real(scale, "scale", fix="1 follows the label, 0 ignores it, more sharpens")
    return GuidedVelocity(model, int(label) if label.ndim == 0 else label, scale)
