"""The Gaussian-paths chapter's checkers: for each exercise name, fmkit's reference answer
and plausible wrong answers (at least two) that the checker must reject with a hint."""

import math

from fmkit import paths
from fmkit.checks import ch06 as gp


def score_from_velocity(u, x, t, schedule):
    return paths.score_from_velocity(u, x, t, schedule)


def score_sign_flipped(u, x, t, schedule):
    return -paths.score_from_velocity(u, x, t, schedule)


def score_without_sigma(u, x, t, schedule):
    """Stops at -eps: one sigma short."""
    return -paths.epsilon_from_velocity(u, x, t, schedule)


def score_times_sigma(u, x, t, schedule):
    sigma = paths.get_schedule(schedule).sigma(paths.as_time(t, x))
    return -paths.epsilon_from_velocity(u, x, t, schedule) * sigma


def score_always_linear(u, x, t, schedule):
    return gp._linear_score(u, x, t)


def em_step(velocity, x, t, dt, noise, kick, schedule="linear"):
    return gp.em_step_reference(velocity, x, t, dt, noise, kick, schedule)


def _pieces(velocity, x, t, noise, schedule):
    u = velocity(x, t)
    g = noise * paths.get_schedule(schedule).sigma(paths.as_time(t, x))
    return u, g, paths.score_from_velocity(u, x, t, schedule)


def em_step_noise_times_dt(velocity, x, t, dt, noise, kick, schedule="linear"):
    u, g, score = _pieces(velocity, x, t, noise, schedule)
    return x + (u + 0.5 * g**2 * score) * dt + g * dt * kick


def em_step_no_correction(velocity, x, t, dt, noise, kick, schedule="linear"):
    u, g, _ = _pieces(velocity, x, t, noise, schedule)
    return x + u * dt + g * math.sqrt(dt) * kick


def em_step_full_g2(velocity, x, t, dt, noise, kick, schedule="linear"):
    u, g, score = _pieces(velocity, x, t, noise, schedule)
    return x + (u + g**2 * score) * dt + g * math.sqrt(dt) * kick


def em_step_minus(velocity, x, t, dt, noise, kick, schedule="linear"):
    u, g, score = _pieces(velocity, x, t, noise, schedule)
    return x + (u - 0.5 * g**2 * score) * dt + g * math.sqrt(dt) * kick


def em_step_ode(velocity, x, t, dt, noise, kick, schedule="linear"):
    return x + velocity(x, t) * dt


def em_step_in_place(velocity, x, t, dt, noise, kick, schedule="linear"):
    x += gp.em_step_reference(velocity, x.clone(), t, dt, noise, kick, schedule) - x
    return x


CASES = {
    "score_from_velocity": (
        score_from_velocity,
        [score_sign_flipped, score_without_sigma, score_times_sigma, score_always_linear],
    ),
    "euler_maruyama_step": (
        em_step,
        [
            em_step_noise_times_dt,
            em_step_no_correction,
            em_step_full_g2,
            em_step_minus,
            em_step_ode,
            em_step_in_place,
        ],
    ),
    "cosine_score": (
        lambda: 4 / math.pi - 1,
        [lambda: 1 - 4 / math.pi, lambda: 0.0, lambda: (4 / math.pi - 1) / math.sqrt(2)],
    ),
}
