"""Chapter 3's checkers: for each exercise name, a reference answer and plausible wrong
answers (at least two) that the checker must reject with a hint."""

import torch

from fmkit import solvers


def euler_path(velocity, x, times):
    states = [x]
    for k in range(len(times) - 1):
        x = x + (times[k + 1] - times[k]) * velocity(x, float(times[k]))
        states.append(x)
    return torch.stack(states)


def euler_path_slope_at_end(velocity, x, times):
    states = [x]
    for k in range(len(times) - 1):
        x = x + (times[k + 1] - times[k]) * velocity(x, float(times[k + 1]))
        states.append(x)
    return torch.stack(states)


def euler_path_even_steps(velocity, x, times):
    dt = (times[-1] - times[0]) / (len(times) - 1)
    states = [x]
    for k in range(len(times) - 1):
        x = x + dt * velocity(x, float(times[k]))
        states.append(x)
    return torch.stack(states)


def euler_path_no_start(velocity, x, times):
    return euler_path(velocity, x, times)[1:]


def euler_path_forward_only(velocity, x, times):
    states = [x]
    for k in range(len(times) - 1):
        x = x + abs(times[k + 1] - times[k]) * velocity(x, float(times[k]))
        states.append(x)
    return torch.stack(states)


def heun_step(velocity, x, t, dt):
    slope = velocity(x, t)
    return x + dt / 2 * (slope + velocity(x + dt * slope, t + dt))


def heun_second_slope_at_t(velocity, x, t, dt):
    slope = velocity(x, t)
    return x + dt / 2 * (slope + velocity(x + dt * slope, t))


def heun_second_slope_at_x(velocity, x, t, dt):
    return x + dt / 2 * (velocity(x, t) + velocity(x, t + dt))


def heun_summed(velocity, x, t, dt):
    slope = velocity(x, t)
    return x + dt * (slope + velocity(x + dt * slope, t + dt))


def heun_from_predicted(velocity, x, t, dt):
    slope = velocity(x, t)
    predicted = x + dt * slope
    return predicted + dt / 2 * (slope + velocity(predicted, t + dt))


def _gram(x, y, bandwidth):
    return torch.exp(-(torch.cdist(x, y) ** 2) / (2 * bandwidth**2))


def mmd2(a, b, bandwidth=0.5):
    n, m = len(a), len(b)
    k_aa, k_bb = _gram(a, a, bandwidth), _gram(b, b, bandwidth)
    within_a = (k_aa.sum() - k_aa.trace()) / (n * (n - 1))
    within_b = (k_bb.sum() - k_bb.trace()) / (m * (m - 1))
    return within_a + within_b - 2 * _gram(a, b, bandwidth).mean()


def mmd2_biased(a, b, bandwidth=0.5):
    return (
        _gram(a, a, bandwidth).mean()
        + _gram(b, b, bandwidth).mean()
        - 2 * _gram(a, b, bandwidth).mean()
    )


def mmd2_cross_once(a, b, bandwidth=0.5):
    return mmd2(a, b, bandwidth) + _gram(a, b, bandwidth).mean()


def mmd2_square_root(a, b, bandwidth=0.5):
    return mmd2(a, b, bandwidth).clamp(min=0).sqrt()


def mmd2_distance_not_squared(a, b, bandwidth=0.5):
    def gram(x, y):
        return torch.exp(-torch.cdist(x, y) / (2 * bandwidth**2))

    n, m = len(a), len(b)
    return (
        (gram(a, a).sum() - n) / (n * (n - 1))
        + (gram(b, b).sum() - m) / (m * (m - 1))
        - 2 * gram(a, b).mean()
    )


def mmd2_no_factor_two(a, b, bandwidth=0.5):
    return mmd2(a, b, bandwidth / 2**0.5)  # exp(-|x - y|^2 / h^2): the kernel without its 2


def mmd2_over_n_squared(a, b, bandwidth=0.5):
    k_aa, k_bb = _gram(a, a, bandwidth), _gram(b, b, bandwidth)
    return (
        (k_aa.sum() - k_aa.trace()) / len(a) ** 2
        + (k_bb.sum() - k_bb.trace()) / len(b) ** 2
        - 2 * _gram(a, b, bandwidth).mean()
    )


CASES = {
    "euler_path": (
        euler_path,
        [
            euler_path_slope_at_end,  # slope at the end of each interval
            euler_path_even_steps,  # equal steps on an uneven grid
            euler_path_no_start,  # trajectory without x_0
            euler_path_forward_only,  # |dt|: cannot run backwards
            lambda v, x, times: euler_path(v, x, times)[-1],  # only the end point
        ],
    ),
    "heun_step": (
        heun_step,
        [
            solvers.euler_step,  # no corrector
            solvers.midpoint_step,  # the other second-order method
            heun_second_slope_at_t,  # second slope at the wrong time
            heun_second_slope_at_x,  # second slope at the wrong point
            heun_summed,  # slopes summed, not averaged
        ],
    ),
    "mmd2": (
        mmd2,
        [
            mmd2_biased,  # diagonal included
            mmd2_cross_once,  # cross term without its factor 2
            mmd2_square_root,  # MMD, not MMD²
            mmd2_over_n_squared,  # diagonal dropped, wrong normaliser
            mmd2_no_factor_two,  # exp(-d^2 / h^2): another width convention
            mmd2_distance_not_squared,  # exp(-d / 2h^2)
        ],
    ),
    "first_step": (
        lambda: (0.375, -0.75),
        [
            lambda: (0.0, 0.0),  # a whole step: the data mean
            lambda: (0.625, -1.25),  # field pointing outwards
            lambda: (-0.125, 0.25),  # the displacement, not the end point
            lambda: (0.5, -1.0),  # field taken as zero at t = 0
        ],
    ),
}
