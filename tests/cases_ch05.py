"""Chapter 5's checkers (fmkit.checks.ch05, sampling in one step): for each exercise, a
reference answer and plausible wrong answers that the checker must reject with a hint."""

import torch


def distillation_loss(student, x_0, x_1, *, target="displacement", r=0.0, t=1.0, reduce="mean"):
    """The student's loss, with switches for the usual slips."""
    u = student(x_0, r, t)  # (batch, dim)
    goal = {"displacement": x_1 - x_0, "end point": x_1, "reversed": x_0 - x_1}[target]
    error = (u - goal) ** 2
    if reduce == "sum over coordinates":
        return error.sum(1).mean()
    return error.mean()


def meanflow_loss(
    u, x_0, x_1, r, t, *, tangents="r", sign=1.0, weight=True, stop=True, at="r", use_jvp=True
):
    """The MeanFlow loss written out, with switches for the usual slips."""
    v = x_1 - x_0  # (batch, dim)
    s = r if at == "r" else t
    x = (1 - s) * x_0 + s * x_1  # (batch, dim)
    one, zero = torch.ones_like(r), torch.zeros_like(t)
    chosen = {
        "r": (v, one, zero),  # move the start, and x_r with it
        "t": (torch.zeros_like(v), zero, one),  # move the end instead
        "r only": (torch.zeros_like(v), one, zero),  # move r but hold x still
    }[tangents]
    if use_jvp:
        _, du = torch.func.jvp(lambda a, b, c: u(a, b, c), (x, r, t), chosen)
        target = v + sign * (t - r if weight else 1.0) * du
    else:
        target = v
    if stop:
        target = target.detach()
    return torch.mean((u(x, r, t) - target) ** 2)


CASES = {
    "distillation_loss": (
        distillation_loss,
        [
            # regressed onto the end point x_1
            lambda s, a, b: distillation_loss(s, a, b, target="end point"),
            # the velocity at r = t = 0 instead of the jump over [0, 1]
            lambda s, a, b: distillation_loss(s, a, b, t=0.0),
            # the displacement reversed
            lambda s, a, b: distillation_loss(s, a, b, target="reversed"),
            # summed over the coordinates
            lambda s, a, b: distillation_loss(s, a, b, reduce="sum over coordinates"),
            # the loss as a Python number: no gradient
            lambda s, a, b: distillation_loss(s, a, b).item(),
        ],
    ),
    "meanflow_loss": (
        meanflow_loss,
        [
            # the paper's direction: v - (t - r) du/dt
            lambda *a: meanflow_loss(*a, tangents="t", sign=-1.0),
            # the derivative in t, with the course's sign
            lambda *a: meanflow_loss(*a, tangents="t"),
            # the sign of the derivative term flipped
            lambda *a: meanflow_loss(*a, sign=-1.0),
            # x held still: the partial derivative in r only
            lambda *a: meanflow_loss(*a, tangents="r only"),
            # no jvp: the flow-matching target v
            lambda *a: meanflow_loss(*a, use_jvp=False),
            # the factor (t - r) left out
            lambda *a: meanflow_loss(*a, weight=False),
            # the target not held fixed
            lambda *a: meanflow_loss(*a, stop=False),
            # the point at the end time t
            lambda *a: meanflow_loss(*a, at="t"),
        ],
    ),
    "gaussian_average_velocity": (
        lambda: (1.25, -1.75),  # m + (s - 1) x with m = (2, -1), s = 1/4, x = (1, 1)
        [
            lambda: (1.0, -2.0),  # the velocity m - x at t = 0
            lambda: (2.25, -0.75),  # X_1(x), not X_1(x) - x
            lambda: (-0.75, -0.75),  # the mean left out
            lambda: (1.0625, -1.9375),  # scaled by the variance
        ],
    ),
}
