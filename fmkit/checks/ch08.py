"""Checkers for chapter 8, conditional generation and guidance."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..data import ring_means
from ..exact import mixture_field, mixture_log_prob, ring_field
from ..guidance import guided_velocity as _reference_guided_velocity
from ..paths import as_time
from ._core import (
    Result,
    Wrong,
    as_answer,
    call,
    check_value,
    expect_close,
    inputs,
    matches,
    run_check,
)


def toy_conditional(x: torch.Tensor, t, label=None) -> torch.Tensor:
    """A toy conditional field that depends on x, t and the label: ``-(1 + t) x`` without a
    label (label -1), ``x + c t + 1`` for class c."""
    t = as_time(t, x)  # (batch, 1)
    label = torch.as_tensor(-1 if label is None else label).expand(len(x)).to(x.dtype)[:, None]
    return torch.where(label < 0, -(1 + t) * x, x + label * t + 1)


# --------------------------------------------------------------------------- label dropout


def check_drop_labels(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(labels, p, generator)`` must return a copy of ``labels`` in which each entry is
    replaced by -1 ("no label") with probability ``p``, drawn from ``generator``."""

    def labels_from(answer, labels: torch.Tensor) -> torch.Tensor:
        answer = as_answer(answer, "a tensor of labels")
        if answer.shape != labels.shape:
            raise Wrong(
                f"return one label per input label: shape {tuple(labels.shape)}, got {tuple(answer.shape)}."
            )
        if answer.dtype == torch.bool:
            raise Wrong(
                "you returned the mask of dropped labels; return the labels themselves, with -1 where dropped."
            )
        if answer.is_floating_point():
            raise Wrong(
                f"your labels are {answer.dtype}; keep them integers (torch.long), as the label embedding needs."
            )
        return answer

    def check():
        labels = torch.randint(
            0, 8, (20000,), generator=torch.Generator().manual_seed(3)
        )  # (20000,)
        p = 0.3
        names = ("labels", "p", "generator")
        answer = labels_from(
            call(fn, labels, p, torch.Generator().manual_seed(0), names=names), labels
        )
        changed = answer != labels
        if changed.any() and not (answer[changed] == -1).all():
            values = answer[changed].unique()
            if len(values) == 1:
                raise Wrong(
                    f"your dropped labels became {values.item()}; the course's 'no label' is -1 "
                    "(0 is blob 0's label, and the model maps -1 to its extra embedding row itself)."
                )
            raise Wrong(
                "a dropped label becomes -1 and every other label stays as it was; yours changed labels to other values."
            )
        rate = (answer == -1).double().mean().item()
        if abs(rate - (1 - p)) < 0.02:
            raise Wrong(
                f"you dropped {rate:.0%} of the labels with p = {p}: that is 1 - p. Drop where a uniform draw "
                "falls below p (`torch.rand(...) < p` marks the dropped ones)."
            )
        if abs(rate - p) > 0.02:
            raise Wrong(
                f"you dropped {rate:.1%} of the labels; with p = {p} about {p:.0%} should become -1."
            )
        again = labels_from(
            call(fn, labels, p, torch.Generator().manual_seed(0), names=names), labels
        )
        other = labels_from(
            call(fn, labels, p, torch.Generator().manual_seed(1), names=names), labels
        )
        if not torch.equal(again, answer) or torch.equal(other, answer):
            raise Wrong(
                "the same seed should give the same drops and another seed other drops: draw with the "
                "generator you are given (`torch.rand(n, generator=generator)`), not with the global one."
            )
        kept = labels_from(
            call(fn, labels, 0.0, torch.Generator().manual_seed(0), names=names), labels
        )
        if not torch.equal(kept, labels):
            raise Wrong("with p = 0 nothing should be dropped: every label comes back unchanged.")
        return f"about {p:.0%} of the labels became -1, the rest are untouched, and the generator makes it repeatable."

    return run_check("label dropout", check, quiet)


# --------------------------------------------------------------------------- scheduled guidance


def _demo_schedule(t):
    """A guidance scale that grows with time: 1 at t = 0, 5 at t = 1 (floats or tensors)."""
    return 1 + 4 * t


def _guided_rows(
    model: Callable, label: int, schedule: Callable, x: torch.Tensor, t
) -> torch.Tensor:
    """fmkit's guided field, each row at the scale its own time asks for."""
    times = as_time(t, x)  # (batch, 1)
    rows = [
        _reference_guided_velocity(model, label, float(schedule(times[i, 0].item())))(
            x[i : i + 1], times[i : i + 1]
        )
        for i in range(len(x))
    ]
    return torch.cat(rows)


def check_scheduled_guidance(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(model, label, schedule)`` must return the guided ``(x, t)`` field whose scale at
    time ``t`` is ``schedule(t)``."""

    def check():
        x, _, t = inputs(11)
        field = call(fn, toy_conditional, 2, _demo_schedule, names=("model", "label", "schedule"))
        if not callable(field):
            raise Wrong(
                f"return a velocity function v(x, t) (for example a nested def), not a {type(field).__name__}."
            )
        v_none, v_label = toy_conditional(x, t, -1), toy_conditional(x, t, 2)
        for when in (t, 0.3):
            answer = call(field, x, when, names=("x", "t"))
            expected = _guided_rows(toy_conditional, 2, _demo_schedule, x, when)
            if matches(
                answer, _guided_rows(toy_conditional, 2, lambda s: _demo_schedule(1 - s), x, when)
            ):
                raise Wrong(
                    "your scale follows schedule(1 - t): that is the diffusion convention, where t = 1 is noise. "
                    "Here t runs from the base (t = 0) to the data (t = 1); call schedule(t)."
                )
            for fixed in (0.0, 0.5, 1.0):
                if matches(
                    answer,
                    _reference_guided_velocity(toy_conditional, 2, _demo_schedule(fixed))(x, when),
                ):
                    raise Wrong(
                        f"your scale is schedule({fixed}) at every time; evaluate schedule(t) inside the field, "
                        "with the t the field is called with."
                    )
            scale = _demo_schedule(as_time(when, x))  # (batch, 1)
            if matches(answer, v_label + scale * (v_none - v_label)):
                raise Wrong(
                    "The roles are swapped: start from the unconditional field and move towards the conditional one."
                )
            expect_close(
                answer,
                expected,
                "v_none + schedule(t) * (v_label - v_none), with the label -1 for 'none', at every time.",
            )
        return "the scale follows the clock: schedule(t) at time t, row by row."

    return run_check("scheduled guidance", check, quiet)


# --------------------------------------------------------------------------- class posterior


def _posterior(
    x: torch.Tensor, t, means: torch.Tensor, std: float, *, move: bool = True, blur: bool = True
) -> torch.Tensor:
    """p_t(k | x) on the straight path from N(0, I) to the mixture of N(means_k, std^2 I),
    from fmkit's log-densities, row by row. ``move=False`` leaves the centres at m_k and
    ``blur=False`` keeps the data's std at every time: two mistakes a checker names."""
    times = as_time(t, x)  # (batch, 1)
    rows = []
    for i in range(len(x)):
        s = times[i, 0].item()
        centres = s * means if move else means  # (k, dim)
        sd = math.sqrt((1 - s) ** 2 + s**2 * std**2) if blur else std
        logits = torch.stack(
            [mixture_log_prob(centres[k : k + 1], sd)(x[i : i + 1])[0] for k in range(len(means))]
        )
        rows.append(torch.softmax(logits, dim=0))
    return torch.stack(rows)  # (batch, k)


def check_class_posterior(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x, t, means, std)`` must return ``p_t(k | x)``, shape ``(batch, k)``, for the path
    from a standard Gaussian to the equal-weight mixture of ``N(means_k, std^2 I)``."""

    def check():
        means = ring_means()  # (8, 2)
        g = torch.Generator().manual_seed(6)
        n = 12
        t = 0.2 + 0.5 * torch.rand(n, 1, generator=g)  # (n, 1): times where the blobs still overlap
        x_1 = means[torch.randint(8, (n,), generator=g)] + 0.2 * torch.randn(n, 2, generator=g)
        x = (1 - t) * torch.randn(n, 2, generator=g) + t * x_1  # points on the path
        for when in (t, 0.5):
            answer = call(fn, x, when, means, 0.2, names=("x", "t", "means", "std"))
            expected = _posterior(x, when, means, 0.2)
            if matches(answer, expected.log()):
                raise Wrong(
                    "these are log-probabilities; return the probabilities themselves (each row sums to 1)."
                )
            if matches(answer, _posterior(x, when, means, 0.2, move=False)):
                raise Wrong(
                    "at time t blob k sits at t * m_k, not at m_k: the path shrinks the data towards the origin."
                )
            if matches(answer, _posterior(x, when, means, 0.2, blur=False)):
                raise Wrong(
                    "at time t each blob has variance (1 - t)^2 + t^2 std^2, not std^2: the base's noise is still in x_t."
                )
            answer_t = as_answer(answer)
            if answer_t.shape == expected.shape and torch.allclose(
                answer_t.sum(0), torch.ones(8), atol=1e-4
            ):
                raise Wrong(
                    "your columns sum to 1, but each row should: normalise over the classes (dim=1), not over the batch."
                )
            expect_close(
                answer,
                expected,
                "softmax over k of -|x - t m_k|^2 / (2 s_t^2), with s_t^2 = (1 - t)^2 + t^2 std^2.",
            )
        return "p_t(k | x): the blobs of the path weighed against each other."

    return run_check("class posterior", check, quiet)


# --------------------------------------------------------------------------- derivation


def exact_conditional_ring(std: float = 0.2) -> Callable:
    """The exact fields of the ring as a conditional model: ``model(x, t, label=k)`` is blob
    k's field, ``label=-1`` the whole ring's (what a perfectly trained network would give)."""
    means = ring_means()
    whole = ring_field(std=std)
    blobs = [mixture_field(means[k : k + 1], std) for k in range(len(means))]

    def model(x: torch.Tensor, t, label=-1) -> torch.Tensor:
        return whole(x, t) if int(label) == -1 else blobs[int(label)](x, t)

    return model


def check_guided_at_t0(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn()`` returns the exactly guided velocity at x = (1, 2), t = 0, class 0, scale 3."""
    x = torch.tensor([[1.0, 2.0]])
    expected = _reference_guided_velocity(exact_conditional_ring(), 0, 3.0)(x, 0.0)[0]  # (2,)
    return check_value(
        "guided velocity at t = 0",
        fn,
        expected,
        hint="At t = 0 each field is E[x_1] - x: -x for the whole ring, m_0 - x for blob 0. Combine them with scale 3.",
        mistakes=(
            (
                (2.0, -2.0),
                "that is the conditional field m_0 - x alone (scale 1); apply the scale 3.",
            ),
            (
                (11.0, -2.0),
                "you used 1 + w = 4, Ho and Salimans' way of writing it; the course's w = 3 already is their 1 + w.",
            ),
            (
                (-7.0, -2.0),
                "the roles are swapped: start from the unconditional field and move towards the conditional one.",
            ),
            ((9.0, 0.0), "at t = 0 the fields are E[x_1] - x, not E[x_1]: keep the -x in both."),
            (
                (6.0, -6.0),
                "the unconditional field at t = 0 is E[x_1] - x = -x (the ring's mean is the origin), not 0.",
            ),
        ),
        success=(
            "that is the value, -x + 3 m_0: it differs from the unguided m_0 - x by 2 m_0 at every x, so at t = 0 "
            "guidance shifts the cloud; it cannot squeeze it."
        ),
    )


CHECKS = {
    "drop_labels": check_drop_labels,
    "scheduled_guidance": check_scheduled_guidance,
    "class_posterior": check_class_posterior,
    "guided_at_t0": check_guided_at_t0,
}
