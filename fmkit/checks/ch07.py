"""Checkers for chapter 7, likelihoods.

The fields the checkers use have a full, non-symmetric Jacobian that changes with ``x`` and
``t`` (:func:`mixing_field`), so that the divergence (the trace) differs from every other sum
of Jacobian entries a student might compute by mistake.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import likelihood
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


def mixing_field(
    dim: int, seed: int = 0
) -> Callable[[torch.Tensor, float | torch.Tensor], torch.Tensor]:
    """``v(x, t) = (1 + t) tanh(x W + b) - t x`` in ``dim`` dimensions, with random ``W, b``:
    every coordinate of ``v`` depends on every coordinate of ``x``, and on ``t``."""
    g = torch.Generator().manual_seed(1000 + seed)
    weight = torch.randn(dim, dim, generator=g) / math.sqrt(dim)
    bias = 0.5 * torch.randn(dim, generator=g)

    def field(x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        t = as_time(t, x)  # (batch, 1)
        return (1 + t) * torch.tanh(x @ weight.to(x) + bias.to(x)) - t * x  # (batch, dim)

    return field


def jacobian(velocity: Callable, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """``J[b, i, j] = d v_i / d x_j`` at each row ``b`` of ``x``: ``(batch, dim, dim)``.
    Used to recognise the wrong sums of Jacobian entries."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        v = velocity(x, t)
        rows = [
            torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)[0] for i in range(x.shape[1])
        ]
    return torch.stack(rows, dim=1).detach()


def _rademacher(k: int, batch: int, dim: int, seed: int) -> torch.Tensor:
    """``k`` probes of random signs, ``(k, batch, dim)``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (k, batch, dim), generator=g).float() * 2 - 1


FULL_JACOBIAN_SUM = (
    "You summed every entry of the Jacobian, sum_i sum_j dv_i/dx_j (what the gradient of v.sum() gives once "
    "you add up its coordinates). The divergence is the trace: only the diagonal entries dv_i/dx_i. Take the "
    "gradient of v[:, i].sum() and keep its coordinate i, for each i."
)


# ------------------------------------------------------------------------ the exact divergence


def check_divergence(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x, t)`` must return the exact divergence per row, ``(batch,)``, in any
    dimension, for ``t`` a float or a ``(batch, 1)`` tensor."""

    def check():
        for dim, seed, float_time in ((3, 6, False), (2, 7, True)):
            x, _, t = inputs(seed, 16, dim)
            t = 0.4 if float_time else t
            field = mixing_field(dim, seed)
            expected = likelihood.divergence(field, x, t)  # (batch,)
            answer = as_answer(call(fn, field, x, t, names=("velocity", "x", "t")))
            jac = jacobian(field, x, t)  # (batch, dim, dim)
            diagonal = torch.diagonal(jac, dim1=1, dim2=2)  # (batch, dim)
            if matches(answer, expected.sum(), atol=1e-4):
                raise Wrong(
                    "That is the total over the batch; return one divergence per row, shape (batch,)."
                )
            if matches(answer, jac.sum(dim=(1, 2)), atol=1e-4):
                raise Wrong(FULL_JACOBIAN_SUM)
            if matches(answer, -expected, atol=1e-4):
                raise Wrong("The sign is flipped: the divergence is +sum_i dv_i/dx_i.")
            if matches(answer, diagonal, atol=1e-4):
                raise Wrong(
                    "Those are the diagonal entries dv_i/dx_i, shape (batch, dim); add them up over i."
                )
            if dim > 2 and matches(answer, diagonal[:, :2].sum(1), atol=1e-4):
                raise Wrong(
                    f"Only the first two coordinates are counted; loop over all x.shape[1] = {dim} of them."
                )
            if not float_time and matches(answer, likelihood.divergence(field, x, 0.0), atol=1e-4):
                raise Wrong(
                    "That is the divergence at t = 0: pass the given t on to velocity(x, t)."
                )
            expect_close(
                answer,
                expected,
                f"In {dim}-D: for each i, the gradient of v[:, i].sum() with respect to "
                "x gives row i of the Jacobian for every point; add up its coordinate i.",
                atol=1e-4,
            )
        return "one exact divergence per point, in any dimension."

    return run_check("divergence", check, quiet)


# --------------------------------------------------------------------- Hutchinson's estimator


def hutchinson_reference(
    velocity: Callable, x: torch.Tensor, t: float | torch.Tensor, probes: torch.Tensor
) -> torch.Tensor:
    """fmkit's Hutchinson estimate with the given ``probes`` ``(k, batch, dim)``: ``(batch,)``."""
    return likelihood.divergence(velocity, x, t, probes=probes)


def check_hutchinson(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x, t, probes)`` with ``probes`` ``(k, batch, dim)`` must return the mean
    over the probes of ``eps^T J eps``, one estimate per row: ``(batch,)``."""
    names = ("velocity", "x", "t", "probes")

    def check():
        for dim, k, seed, float_time in ((3, 3, 8, False), (2, 5, 9, True)):
            x, _, t = inputs(seed, 16, dim)
            t = 0.3 if float_time else t
            field = mixing_field(dim, seed)
            probes = _rademacher(k, 16, dim, seed)
            expected = hutchinson_reference(field, x, t, probes)
            answer = as_answer(call(fn, field, x, t, probes, names=names))
            jac = jacobian(field, x, t)
            per_probe = torch.einsum("kbi,bij,kbj->kb", probes, jac, probes)  # (k, batch)
            exact = torch.diagonal(jac, dim1=1, dim2=2).sum(1)
            if matches(answer, per_probe, atol=1e-4):
                raise Wrong(
                    f"Those are the {k} estimates of each probe, shape (k, batch); average them over the "
                    "probes (dim 0) to get one estimate per point."
                )
            if (
                matches(answer, expected.sum(), atol=1e-4)
                or matches(answer, per_probe.sum(1), atol=1e-4)
                or matches(answer, per_probe.mean(1), atol=1e-4)
            ):
                raise Wrong(
                    "You summed (or averaged) over the batch: keep one estimate per point, shape (batch,), "
                    "and average over the probes only."
                )
            if matches(answer, per_probe.sum(0), atol=1e-4):
                raise Wrong(
                    f"You added up the {k} probes' estimates; average them (divide by the number of probes)."
                )
            if matches(answer, jac.sum(dim=(1, 2)), atol=1e-4):
                raise Wrong(
                    "You summed every entry of the Jacobian, 1^T J 1 (the gradient of v.sum(), added up over "
                    "its coordinates): that is the probe replaced by a vector of ones. Use the given probes: "
                    "eps^T J eps for each probe eps."
                )
            one_sided = (
                torch.einsum("kbi,bij->kb", probes, jac).mean(0),
                torch.einsum("bij,kbj->kb", jac, probes).mean(0),
            )
            if any(matches(answer, side, atol=1e-4) for side in one_sided):
                raise Wrong(
                    "The probe appears on one side only (eps^T J 1 or 1^T J eps). Hutchinson needs it on "
                    "both: the gradient of (v * eps).sum() is eps^T J for every row; multiply that by eps "
                    "again and sum over the coordinates."
                )
            if matches(answer, exact, atol=1e-4):
                raise Wrong(
                    "That is the exact divergence, not the estimate from the given probes: use each probe "
                    "eps, with one autograd call per probe."
                )
            if matches(answer, -expected, atol=1e-4):
                raise Wrong("The sign is flipped: the estimate is +eps^T J eps.")
            expect_close(
                answer,
                expected,
                f"With {k} probes in {dim}-D: for each probe eps, the gradient of "
                "(v * eps).sum() with respect to x, times eps, summed over coordinates; then the mean "
                "over the probes.",
                atol=1e-4,
            )
        return "one unbiased estimate per point, from the probes you were given."

    return run_check("Hutchinson's estimator", check, quiet)


# --------------------------------------------------------------- the backwards likelihood solve


def euler_variant(
    velocity: Callable, x: torch.Tensor, n_steps: int, *, x_sign: float = -1.0
) -> torch.Tensor:
    """Euler from ``t = 1`` to ``0``, with the position moved by ``x_sign * h * v`` (``-1``:
    backwards, right; ``+1``: the mistake of moving forwards while the time runs back)."""
    h, z = 1.0 / n_steps, x.detach().clone()
    total = torch.zeros(len(x), dtype=x.dtype)
    for i in range(n_steps):
        t = 1.0 - i * h
        total = total + h * likelihood.divergence(velocity, z, t)
        with torch.no_grad():
            z = z + x_sign * h * velocity(z, t)
    return likelihood.standard_normal_log_prob(z) - total


def _euler_solve(velocity: Callable, x: torch.Tensor, n_steps: int, **kwargs) -> torch.Tensor:
    return likelihood.log_likelihood(velocity, x, n_steps=n_steps, method="euler", **kwargs)


def _shifted(velocity: Callable, shift: float) -> Callable:
    """The field evaluated at ``t + shift``: an off-by-one time grid."""
    return lambda x, t: velocity(x, t + shift)


def _time_reversed(velocity: Callable) -> Callable:
    """The field evaluated at ``1 - t``: time running the wrong way."""
    return lambda x, t: velocity(x, 1 - t)


def check_euler_log_likelihood(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x, n_steps)`` must return ``log p_1(x)`` ``(batch,)`` under the flow
    from a standard normal, by ``n_steps`` Euler steps from ``t = 1`` back to ``t = 0``: the
    same numbers as ``fm.log_likelihood(velocity, x, n_steps=n_steps, method="euler")``."""

    def nothing(z: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(z), dtype=z.dtype)

    def check():
        for dim, n_steps, seed in ((2, 4, 10), (3, 7, 11)):
            x, _, _ = inputs(seed, 12, dim)
            field = mixing_field(dim, seed)
            answer = as_answer(call(fn, field, x, n_steps, names=("velocity", "x", "n_steps")))

            expected = _euler_solve(field, x, n_steps)
            integral = _euler_solve(
                field, x, n_steps, base_log_prob=nothing
            )  # -int_0^1 div v dt on the Euler path
            base = expected - integral  # log N(x_0)
            if matches(answer, expected.sum(), atol=1e-4) or matches(
                answer, expected.mean(), atol=1e-4
            ):
                raise Wrong(
                    "That is one number for the whole batch; return log p_1 for each point, shape (batch,)."
                )
            if matches(answer, base - integral, atol=1e-4):
                raise Wrong(
                    "The divergence term has the wrong sign: log p_1(x) = log p_0(x_0) - integral_0^1 div v "
                    "dt. Where the flow spreads out (positive divergence) the density falls."
                )
            if matches(answer, integral, atol=1e-4):
                raise Wrong(
                    "The base density is missing: add log N(x_0; 0, I) at the point x_0 where the backward "
                    "solve ends (likelihood.standard_normal_log_prob)."
                )
            if matches(answer, base, atol=1e-4):
                raise Wrong(
                    "Only the base density log N(x_0) is there: subtract the divergence accumulated on "
                    "the way back."
                )
            if matches(answer, likelihood.standard_normal_log_prob(x) + integral, atol=1e-4):
                raise Wrong(
                    "The base density is evaluated at x, where the solve starts; evaluate it at x_0, "
                    "where the backward solve ends."
                )
            if matches(
                answer, _euler_solve(_shifted(field, -1.0 / n_steps), x, n_steps), atol=1e-4
            ):
                raise Wrong(
                    "Off by one in the time grid: step i starts at t = 1 - i / n_steps, so the first step "
                    "evaluates the field at t = 1 and the last at t = 1 / n_steps."
                )
            if matches(answer, _euler_solve(_time_reversed(field), x, n_steps), atol=1e-4):
                raise Wrong(
                    "The time runs the wrong way: going back from t = 1 to 0, step i is at t = 1 - i / "
                    "n_steps, not i / n_steps."
                )
            if matches(answer, euler_variant(field, x, n_steps, x_sign=+1.0), atol=1e-4):
                raise Wrong(
                    "x moves forwards (x + h v) while the time runs back: going from t = 1 to 0, each step "
                    "is x <- x - h v(x, t)."
                )
            if matches(
                answer,
                likelihood.log_likelihood(field, x, n_steps=n_steps, method="rk4"),
                atol=1e-4,
            ):
                raise Wrong(
                    "That is an RK4 solve (fm.log_likelihood's default); this exercise asks for plain Euler "
                    "steps, one evaluation of v and div v per step."
                )
            expect_close(
                answer,
                expected,
                f"With n_steps = {n_steps}: from x at t = 1, take steps of h = 1/n_steps "
                "back to t = 0, evaluating v and div v at the start of each step; then log N(x_0) minus "
                "the accumulated h * div.",
                atol=1e-4,
            )
        return "the same numbers as fm.log_likelihood(..., method='euler')."

    return run_check("likelihood by Euler", check, quiet)


# ------------------------------------------------------------- a derivation: a linear flow


LINEAR_A = ((0.5, 3.0), (-1.0, -2.0))  # the matrix of the exercise's field v(x, t) = A x


def check_linear_flow_log_density(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn()`` must return ``log p_1(x_1) - log p_0(x_0)`` along the flow of ``v(x, t) = A x``
    from ``t = 0`` to ``t = 1`` (``A`` = :data:`LINEAR_A`): ``-trace(A)``."""
    a = torch.tensor(LINEAR_A)
    x, _, _ = inputs(12)
    divergence = likelihood.divergence(
        lambda z, t: z @ a.T.to(z), x, 0.5
    )  # trace(A) at every point
    expected = float(-divergence.mean()) * 1.0  # d log p / dt = -div v, for one unit of time
    trace, det, total = float(torch.trace(a)), float(torch.linalg.det(a)), float(a.sum())
    log_det = math.log(abs(det))
    mistakes = (
        (
            trace,
            "The sign is flipped: d log p_t(x_t) / dt = -div v. This flow contracts area (trace A < 0), so the "
            "density of a point it carries goes up.",
        ),
        (-det, "That uses the determinant of A; the divergence of A x is its trace, a_11 + a_22."),
        (
            det,
            "That is the determinant of A; the divergence of A x is its trace, a_11 + a_22, with a minus sign.",
        ),
        (
            -total,
            "You summed every entry of A: that is the full-Jacobian-sum mistake. The divergence keeps only "
            "the diagonal, a_11 + a_22.",
        ),
        (
            total,
            "You summed every entry of A, and the sign is off too. The divergence is the trace, a_11 + a_22, "
            "and d log p / dt = -div v.",
        ),
        (
            -log_det,
            "log|det A| is the volume change of the map x -> A x, not of the flow. The flow's map over one "
            "unit of time is exp(A), whose log-determinant is trace A.",
        ),
        (
            log_det,
            "log|det A| is the volume change of the map x -> A x, not of the flow. The flow's map over one "
            "unit of time is exp(A), whose log-determinant is trace A.",
        ),
        (
            math.exp(expected),
            "That is the density ratio p_1(x_1) / p_0(x_0); the question asks for the change of "
            "the log-density.",
        ),
    )
    return check_value(
        "log-density along a linear flow",
        fn,
        expected,
        hint="Use d log p_t(x_t) / dt = -div v(x_t, t). For v = A x the divergence is the same at every point "
        "and time; integrate it over one unit of time.",
        mistakes=mistakes,
        success="-trace(A) per unit of time: the flow contracts area, so the density rises.",
        quiet=quiet,
    )


CHECKS = {
    "divergence": check_divergence,
    "hutchinson": check_hutchinson,
    "euler_log_likelihood": check_euler_log_likelihood,
    "linear_flow_log_density": check_linear_flow_log_density,
}
