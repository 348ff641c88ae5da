"""Chapter 4's checkers: for each exercise name, a reference answer and plausible wrong
answers (at least two) that the checker must reject with a hint."""

import torch
from scipy.optimize import linear_sum_assignment

import fmkit as fm
from fmkit import likelihood, solvers  # noqa: F401


def sub_batch_ot(x_0, x_1, size, *, transposed=False, squared=True, offset=True, whole=False):
    """The student's loop: one assignment per sub-batch, with switches for the usual slips."""
    size = len(x_0) if whole else size
    perm = []
    for start in range(0, len(x_0), size):
        a, b = x_0[start : start + size], x_1[start : start + size]
        cost = torch.cdist(a, b) if transposed else torch.cdist(b, a)
        _, cols = linear_sum_assignment((cost**2 if squared else cost).numpy())
        perm.append(torch.as_tensor(cols) + (start if offset else 0))
    return torch.cat(perm)


def straightness(trajectory, *, normalise=True, velocity=True, per_path=False):
    n_steps = len(trajectory) - 1
    step = trajectory[1:] - trajectory[:-1]
    d = trajectory[-1] - trajectory[0]
    dev = ((step * (n_steps if velocity else 1) - d) ** 2).sum(-1).mean(0)  # (n,)
    norm = (d**2).sum(-1)
    if per_path:
        return (dev / norm).mean()
    return dev.mean() / norm.mean() if normalise else dev.mean()


def reflow_pairs(velocity, x_0, n_steps, *, method="midpoint"):
    return x_0, fm.integrate(velocity, x_0, n_steps=n_steps, method=method).x


CASES = {
    "sub_batch_ot": (
        sub_batch_ot,
        [
            # indices local to each sub-batch
            lambda x_0, x_1, size: sub_batch_ot(x_0, x_1, size, offset=False),
            # one plan for the whole batch
            lambda x_0, x_1, size: sub_batch_ot(x_0, x_1, size, whole=True),
            # x_0 on the rows: the inverse permutation
            lambda x_0, x_1, size: sub_batch_ot(x_0, x_1, size, transposed=True),
            # plain distances, not squared
            lambda x_0, x_1, size: sub_batch_ot(x_0, x_1, size, squared=False),
            # the reordered points, not perm
            lambda x_0, x_1, size: x_0[sub_batch_ot(x_0, x_1, size)],
            # independent pairs
            lambda x_0, x_1, size: torch.arange(len(x_0)),
        ],
    ),
    "straightness": (
        straightness,
        [
            # not normalised
            lambda traj: straightness(traj, normalise=False),
            # steps, not velocities
            lambda traj: straightness(traj, velocity=False),
            # ratio path by path
            lambda traj: straightness(traj, per_path=True),
            # summed over the steps
            lambda traj: straightness(traj) * (len(traj) - 1),
        ],
    ),
    "reflow_pairs": (
        reflow_pairs,
        [
            # Euler, not midpoint
            lambda v, x_0, n: reflow_pairs(v, x_0, n, method="euler"),
            # (x_1, x_0)
            lambda v, x_0, n: reflow_pairs(v, x_0, n)[::-1],
            # only x_1
            lambda v, x_0, n: reflow_pairs(v, x_0, n)[1],
            # fresh noise instead of the x_0 given
            lambda v, x_0, n: (torch.randn_like(x_0), reflow_pairs(v, x_0, n)[1]),
        ],
    ),
    "two_pairs": (
        lambda: (4 / 7, 4.5),
        [
            lambda: (4 / 7, 16.5),  # the crossing pairs' cost
            lambda: (0.5, 4.5),  # assumed they meet half way
            lambda: (4 / 7, 9.0),  # the total, not the mean
            lambda: (3 / 7, 4.5),  # 1 - t
        ],
    ),
    "parabola_straightness": (
        lambda: 1 / 6,
        [
            lambda: 1 / 3,  # not normalised
            lambda: 7 / 6,  # mean squared speed
            lambda: 0.0,  # deviation not squared
        ],
    ),
}
