"""Checkers for chapter 4, straighter paths."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import exact, metrics, paths, reflow, solvers
from ._core import (
    CheckerBug,
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

# ------------------------------------------------------------------ OT pairing in sub-batches


def sub_batch_permutation(
    x_0: torch.Tensor,
    x_1: torch.Tensor,
    size: int,
    *,
    inverse: bool = False,
    squared: bool = True,
    offset: bool = True,
) -> torch.Tensor:
    """``perm`` with ``x_0[perm][i]`` paired with ``x_1[i]``, optimal within each run of ``size``
    consecutive rows (the last run may be shorter). The keywords build plausible wrong answers:
    ``inverse`` (cost matrix with x_0 as rows), ``squared=False`` (plain distances),
    ``offset=False`` (each chunk's indices left local)."""
    perm = []
    for start in range(0, len(x_0), size):
        a, b = x_0[start : start + size].double(), x_1[start : start + size].double()
        cost = torch.cdist(a, b) if inverse else torch.cdist(b, a)
        cols = torch.from_numpy(paths._assignment((cost**2 if squared else cost).numpy()))
        perm.append(cols + (start if offset else 0))
    return torch.cat(perm)


def check_sub_batch_ot(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(x_0, x_1, size)`` must return the permutation ``perm`` (integers, shape ``(n,)``)
    such that ``x_0[perm]`` is optimally paired with ``x_1`` within each sub-batch of ``size``
    consecutive rows, the last sub-batch taking what is left: ``fm.ot_pairing``'s plan."""

    def one(n: int, dim: int, size: int, seed: int) -> None:
        x_0, x_1, _ = inputs(seed, n=n, dim=dim)
        answer = as_answer(
            call(fn, x_0, x_1, size, names=("x_0", "x_1", "size")), "a tensor of indices"
        )
        n_full = n // size * size
        if answer.shape == x_0.shape and answer.is_floating_point():
            raise Wrong(
                "you returned the reordered points x_0[perm]; return the indices perm themselves, "
                f"a tensor of shape ({n},)."
            )
        if answer.shape == (n_full,) and n_full < n:
            raise Wrong(
                f"{n} rows in sub-batches of {size} leave a last, shorter sub-batch of {n - n_full}: "
                f"match it on its own too, so perm has all {n} entries."
            )
        if answer.shape != (n,):
            raise Wrong(
                f"perm must have one index per row of x_1, shape ({n},); got {tuple(answer.shape)}."
            )
        if answer.is_floating_point() or answer.dtype == torch.bool:
            raise Wrong(
                f"perm holds {answer.dtype} values; return integer indices (torch.long), "
                "so that x_0[perm] works."
            )
        answer = answer.long().cpu()
        if torch.equal(answer, sub_batch_permutation(x_0, x_1, size, offset=False)):
            raise Wrong(
                "each sub-batch's indices are counted from 0: the assignment solver numbers the columns "
                "of its own sub-batch, so add the sub-batch's first row (k * size) to them."
            )
        if not torch.equal(answer.sort().values, torch.arange(n)):
            raise Wrong(
                "perm is not a permutation: every index 0 .. n - 1 must appear exactly once."
            )
        if torch.equal(answer, torch.arange(n)):
            raise Wrong(
                "that is the identity: every x_0 keeps its random partner (independent pairing). "
                "Solve an assignment problem on each sub-batch."
            )
        if size < n and torch.equal(answer, sub_batch_permutation(x_0, x_1, n)):
            raise Wrong(
                f"that is one plan for the whole batch; pair each sub-batch of {size} rows on its own "
                "(rows and columns of the same sub-batch only)."
            )
        if torch.equal(answer, sub_batch_permutation(x_0, x_1, size, inverse=True)):
            raise Wrong(
                "that is the inverse permutation: with x_0 as the rows of the cost matrix the solver "
                "gives, for each x_0, its partner in x_1. Put x_1 on the rows (cdist(x_1, x_0)), or "
                "invert the result with argsort."
            )
        if torch.equal(answer, sub_batch_permutation(x_0, x_1, size, squared=False)):
            raise Wrong(
                "that plan minimises the summed distances, not the summed *squared* distances: "
                "square the cost matrix."
            )
        expected = paths.ot_pairing(x_0, x_1, sub_batch=size)[0]
        if not torch.equal(x_0[answer], expected):
            mine = ((x_0[answer] - x_1) ** 2).sum()
            best = ((expected - x_1) ** 2).sum()
            raise Wrong(
                f"x_0[perm] is not the optimal pairing within sub-batches: total squared distance "
                f"{mine:.3f}, the optimum is {best:.3f}. Cost: squared distances between x_1 (rows) "
                "and x_0 (columns) of one sub-batch; solve it with linear_sum_assignment."
            )

    def check():
        one(47, 2, 10, seed=5)
        one(24, 3, 8, seed=6)
        return "x_0[perm] is fm.ot_pairing's plan, sub-batch by sub-batch."

    return run_check("OT pairing in sub-batches", check, quiet)


# ------------------------------------------------------------------ the straightness measure


def _toy_trajectory(seed: int, n: int, dim: int, n_steps: int) -> torch.Tensor:
    """Curved paths ``(n_steps + 1, n, dim)`` with uneven speeds and lengths: a random start,
    a random straight displacement, plus a random bump that vanishes at both ends."""
    g = torch.Generator().manual_seed(seed)
    start, move, bump = (torch.randn(n, dim, generator=g) * s for s in (1.0, 2.0, 1.5))
    t = torch.linspace(0, 1, n_steps + 1)[:, None, None]  # (steps + 1, 1, 1)
    return start + t**2 * move + torch.sin(math.pi * t) * bump


def straightness_variants(trajectory: torch.Tensor) -> dict[str, float]:
    """Plausible wrong straightness measures, by the mistake that gives them."""
    traj = trajectory.double()
    n_steps = len(traj) - 1
    steps = traj[1:] - traj[:-1]  # (steps, n, dim)
    d = traj[-1] - traj[0]  # (n, dim)
    norm = (d**2).sum(-1)  # (n,)
    dev = ((steps * n_steps - d) ** 2).sum(-1)  # (steps, n)
    return {
        "not normalised": float(dev.mean()),
        "steps, not velocities": float(((steps - d) ** 2).sum(-1).mean() / norm.mean()),
        "path by path": float((dev.mean(0) / norm).mean()),
        "summed over steps": float(dev.sum(0).mean() / norm.mean()),
        "not squared": float(dev.sqrt().mean() / norm.sqrt().mean()),
        "against x_1": float(((steps * n_steps - traj[-1]) ** 2).sum(-1).mean() / norm.mean()),
    }


HINTS = {
    "not normalised": "you return the mean squared deviation itself; divide it by the mean |x_1 - x_0|^2, so the "
    "measure does not depend on how far the paths travel.",
    "steps, not velocities": "you compared each step (x_{k+1} - x_k) with the whole displacement x_1 - x_0. A step "
    "covers only dt = 1 / n_steps: the velocity is (x_{k+1} - x_k) * n_steps.",
    "path by path": "you divided each path by its own |x_1 - x_0|^2 and then averaged; the measure divides the mean "
    "deviation by the mean |x_1 - x_0|^2 (one ratio of two averages, so short paths do not dominate).",
    "summed over steps": "you summed over the steps; the integral over [0, 1] is the *mean* over the steps "
    "(each step lasts dt = 1 / n_steps).",
    "not squared": "the measure uses squared norms: |dx/dt - (x_1 - x_0)|^2 and |x_1 - x_0|^2.",
    "against x_1": "compare the velocity with the displacement x_1 - x_0 (last state minus first), not with the "
    "end point x_1.",
}


def check_straightness(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(trajectory)`` with ``trajectory`` of shape ``(n_steps + 1, n, dim)`` must return
    ``fm.metrics.straightness(trajectory)`` as a number."""

    def check():
        for seed, n, dim, n_steps in ((7, 30, 2, 10), (8, 12, 3, 5)):
            trajectory = _toy_trajectory(seed, n, dim, n_steps)
            answer = as_answer(call(fn, trajectory, names=("trajectory",)), "a number")
            if answer.numel() != 1:
                raise Wrong(
                    f"return one number for all the paths; got shape {tuple(answer.shape)}. Average over "
                    "the paths (and the steps) before dividing."
                )
            expected = torch.tensor(metrics.straightness(trajectory), dtype=torch.float64)
            answer = answer.reshape(()).double()
            for mistake, value in straightness_variants(trajectory).items():
                if matches(answer, torch.tensor(value, dtype=torch.float64)) and not math.isclose(
                    value, float(expected), rel_tol=1e-4
                ):
                    raise Wrong(HINTS[mistake])
            expect_close(
                answer,
                expected,
                f"with {n} paths of {n_steps} steps in {dim}-D the straightness is {float(expected):.4f}. "
                "Velocity of step k: (x_{k+1} - x_k) * n_steps; deviation |velocity - (x_1 - x_0)|^2, "
                "averaged over steps and paths, divided by the mean |x_1 - x_0|^2.",
                atol=1e-6,
            )
        return "the mean squared deviation from the straight, uniform path, relative to the displacement."

    return run_check("straightness", check, quiet)


# ------------------------------------------------------------------ one reflow round


def midpoint_variant(
    velocity: Callable,
    x: torch.Tensor,
    n_steps: int,
    *,
    time_at_start: bool = False,
    stop_early: bool = False,
) -> torch.Tensor:
    """The midpoint rule from 0 to 1 gone wrong: the second slope taken at the start time, or
    one step too few."""
    dt = 1.0 / n_steps
    for k in range(n_steps - 1 if stop_early else n_steps):
        t = k * dt
        half = x + 0.5 * dt * velocity(x, t)
        x = x + dt * velocity(half, t if time_at_start else t + 0.5 * dt)
    return x


def check_reflow_pairs(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn(velocity, x_0, n_steps)`` must return the pair ``(x_0, x_1)``: the noise as given
    and where the midpoint method (``n_steps`` equal steps from t = 0 to 1) carries it, the
    pairs of ``fm.reflow_pairs``. Checked with the ring's exact field."""
    field = exact.ring_field()

    def check():
        for n, n_steps, seed in ((64, 6, 9), (10, 3, 10)):
            x_0, x_1 = reflow.reflow_pairs(
                field, n, n_steps=n_steps, generator=torch.Generator().manual_seed(seed)
            )
            answer = call(fn, field, x_0, n_steps, names=("velocity", "x_0", "n_steps"))
            if isinstance(answer, torch.Tensor):
                if matches(answer, x_1, atol=1e-4):
                    raise Wrong("you returned only the end points; return the pair (x_0, x_1).")
                raise Wrong(
                    "return the pair (x_0, x_1), two tensors: the noise and where the flow carries it."
                )
            if not isinstance(answer, (tuple, list)) or len(answer) != 2:
                kind = type(answer).__name__ + (
                    f" of {len(answer)} items" if isinstance(answer, (tuple, list)) else ""
                )
                raise Wrong(f"return the pair (x_0, x_1), two tensors; got a {kind}.")
            start, end = as_answer(answer[0]), as_answer(answer[1])
            if matches(start, x_1, atol=1e-4) and matches(end, x_0):
                raise Wrong("the pair is the wrong way round: return (x_0, x_1), the noise first.")
            if not matches(start, x_0):
                raise Wrong(
                    "the first item must be the noise x_0 you were given, unchanged (do not draw new "
                    "noise): the pairs are (x_0, where the flow carries x_0)."
                )
            wrong = {
                "Euler": solvers.integrate(field, x_0, n_steps=n_steps, method="euler").x,
                "RK4": solvers.integrate(field, x_0, n_steps=n_steps, method="rk4").x,
                "one step": x_0 + field(x_0, 0.0),
                "start time": midpoint_variant(field, x_0, n_steps, time_at_start=True),
                "stop early": midpoint_variant(field, x_0, n_steps, stop_early=True),
            }
            hints = {
                "Euler": "those are Euler steps. The midpoint method takes a half step, x_half = x + dt/2 v(x, t), "
                "and then the full step with the velocity found there: x + dt v(x_half, t + dt/2).",
                "RK4": "that is the RK4 solution; fm.reflow_pairs (and this exercise) use the midpoint method.",
                "one step": "that is a single Euler step from t = 0; take n_steps midpoint steps of dt = 1 / n_steps.",
                "start time": "the second slope must be taken at the half-step time t + dt/2, not at t: the field "
                "changes with time.",
                "stop early": "you stop one step short of t = 1: take n_steps steps of dt = 1 / n_steps, at times "
                "0, dt, ..., 1 - dt.",
            }
            for name, value in wrong.items():
                if matches(end, value, atol=1e-4):
                    raise Wrong(hints[name])
            expect_close(
                end,
                x_1,
                f"with {n_steps} midpoint steps the end points differ from fm.reflow_pairs'. "
                "Step k starts at t = k / n_steps.",
                atol=1e-4,
            )
        return "(x_0, ODE(x_0)) as fm.reflow_pairs makes them: one reflow round's training pairs."

    return run_check("reflow pairs", check, quiet)


# ------------------------------------------------------------------ derive: two crossing pairs

# Two noise points and two data points; paired in this order, the two lines cross.
TWO_NOISE = torch.tensor([[0.0, 0.0], [4.0, 0.0]])
TWO_DATA = torch.tensor([[3.0, 2.0], [0.0, 2.0]])


def two_pair_answer() -> tuple[float, float]:
    """``(t, cost)``: the time at which the given pairs ``TWO_NOISE[i] -> TWO_DATA[i]`` are at one
    point, and the mean squared length of the optimal pairing, from fmkit's functions."""
    a, b = TWO_NOISE.double(), TWO_DATA.double()
    # (1 - t) a_1 + t b_1 = (1 - t) a_2 + t b_2  <=>  (a_1 - a_2) + t e = 0, e = (b_1 - a_1) - (b_2 - a_2)
    e = (b[0] - a[0]) - (b[1] - a[1])
    t = float(-((a[0] - a[1]) @ e) / (e @ e))
    at_t = paths.interpolate(a, b, t)
    if not torch.allclose(at_t[0], at_t[1]):
        raise CheckerBug(
            "the two given pairs of the chapter 4 derivation do not meet; please report it."
        )
    paired = paths.ot_pairing(a, b, sub_batch=None)[0]
    return t, float(((paired - b) ** 2).sum(1).mean())


def check_two_pairs(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn()`` must return ``(t, cost)`` worked out by hand for the chapter's two pairs."""
    t, cost = two_pair_answer()
    a, b = TWO_NOISE.double(), TWO_DATA.double()
    given = float(((b - a) ** 2).sum(1).mean())
    return check_value(
        "two crossing pairs",
        fn,
        (t, cost),
        hint="Write both points at time t, (1 - t) a_i + t b_i, and set them equal: one equation per coordinate. "
        "For the cost, swap the partners and average the two squared lengths.",
        mistakes=(
            (
                (t, given),
                f"{given:g} is the mean squared length of the crossing pairs as given; swap the partners "
                "to get the optimal pairing.",
            ),
            (
                (t, 2 * cost),
                "that is the total over the two pairs; the exercise asks for the mean.",
            ),
            (
                (t, float(((paths.ot_pairing(a, b, sub_batch=None)[0] - b).norm(dim=1)).mean())),
                "those are plain lengths; the cost of the pairing is the mean *squared* length.",
            ),
            (
                (1 - t, cost),
                "the cost is right, but that is 1 - t: t is measured from the noise (t = 0 at a_i).",
            ),
            (
                (0.5, cost),
                "the cost is right, but the pairs do not meet half way: the lines are not symmetric; "
                "solve (1 - t) a_1 + t b_1 = (1 - t) a_2 + t b_2 for t.",
            ),
        ),
        success="the crossing pairs meet at one point at one time; swapping partners removes that and costs less.",
        quiet=quiet,
    )


# ------------------------------------------------------------------ derive: straightness of a parabola


def parabola_straightness(n_steps: int = 4000) -> float:
    """``fm.metrics.straightness`` of the path ``x_t = (t, t^2)``, on a fine grid (exact: 1/6)."""
    t = torch.linspace(0, 1, n_steps + 1, dtype=torch.float64)
    return metrics.straightness(torch.stack([t, t**2], dim=1)[:, None, :])


def check_parabola_straightness(fn: Callable, *, quiet: bool = False) -> Result:
    """``fn()`` must return the straightness of the single path ``x_t = (t, t^2)``, worked out by hand."""
    expected = parabola_straightness()
    deviation, displacement = 1 / 3, 2.0  # integral of (2t - 1)^2, and |(1, 1)|^2
    return check_value(
        "straightness of a parabola",
        fn,
        expected,
        hint="Velocity (1, 2t), displacement (1, 1): integrate |(1, 2t) - (1, 1)|^2 over [0, 1], then divide by "
        "|(1, 1)|^2.",
        mistakes=(
            (
                deviation,
                "that is the integral of the squared deviation, not yet divided by |x_1 - x_0|^2 = 2.",
            ),
            (
                deviation / math.sqrt(displacement),
                "divide by the *squared* displacement |x_1 - x_0|^2 = 2, not by its length.",
            ),
            (
                (1 + 4 / 3) / displacement,
                "that is the mean squared speed over |x_1 - x_0|^2; subtract the "
                "displacement from the velocity before squaring.",
            ),
            (
                0.0,
                "the deviation (2t - 1) averages to zero, but its square does not: a curved path has "
                "positive straightness.",
            ),
            (deviation / 4, "|x_1 - x_0|^2 = |(1, 1)|^2 = 1^2 + 1^2 = 2, not (1 + 1)^2 = 4."),
        ),
        success="1/6: the parabola spends (1 + 1/6) times the kinetic energy of the straight line between its ends.",
        quiet=quiet,
    )


CHECKS = {
    "sub_batch_ot": check_sub_batch_ot,
    "straightness": check_straightness,
    "reflow_pairs": check_reflow_pairs,
    "two_pairs": check_two_pairs,
    "parabola_straightness": check_parabola_straightness,
}
