"""Checkers for chapter 6, conditional generation and guidance."""

from __future__ import annotations

from typing import Callable

import torch

from ..guidance import guided_velocity as _reference_guided_velocity
from ._core import Result, Wrong, call, expect_close, inputs, matches, run_check


def toy_conditional(x: torch.Tensor, t, label=None) -> torch.Tensor:
    """A toy conditional field: ``-x`` without a label (or label -1), ``x + c`` for class c."""
    label = torch.as_tensor(-1 if label is None else label).expand(len(x)).float()[:, None]
    return torch.where(label < 0, -x, x + label)


def check_guided_velocity(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(model, label, scale)`` must return the classifier-free-guided ``(x, t)`` field."""

    def check():
        x, _, t = inputs(7)
        for scale in (0.0, 1.0, 3.0):
            field = call(fn, toy_conditional, 2, scale, names=("model", "label", "scale"))
            if not callable(field):
                raise Wrong(f"return a velocity function v(x, t) (for example a nested def), not a {type(field).__name__}.")
            answer = call(field, x, t, names=("x", "t"))
            expected = _reference_guided_velocity(toy_conditional, 2, scale)(x, t)
            v_none, v_label = toy_conditional(x, t, -1), toy_conditional(x, t, 2)
            if scale == 3.0 and matches(answer, v_label + scale * (v_none - v_label)):
                raise Wrong("The roles are swapped: start from the unconditional field and move towards the conditional one.")
            expect_close(answer, expected, f"At scale {scale}: v_none + scale * (v_label - v_none), with the label -1 for 'none'.")
        return "scale 0 ignores the label, 1 follows it, more pushes further."

    return run_check("guided velocity", check, quiet)


CHECKS = {"guided_velocity": check_guided_velocity}
