"""Chapter 2's checkers name each plausible mistake, and their oracles agree with fmkit."""

import math

import pytest
import torch
from cases_ch02 import CASES, logit_normal_times, path_loss

import fmkit as fm
from fmkit import checks
from fmkit.checks import ch02


def message(check, fn):
    result = check(fn, quiet=True)
    assert result.status == "wrong", result
    return result.message


# ------------------------------------------------------------------ check_loss: two conventions


def test_check_loss_accepts_the_summed_convention_with_a_note():
    summed = lambda m, x_0, x_1, t: (
        ((m(fm.interpolate(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum(1).mean()
    )
    result = checks.check_loss(summed, quiet=True)
    assert result.passed
    assert "averages over the coordinates" in result.message and "dimension" in result.message


def test_check_loss_accepts_the_course_convention_without_the_note():
    result = checks.check_loss(fm.flow_matching_loss, quiet=True)
    assert result.passed and "averages over the coordinates" not in result.message


def test_check_loss_names_its_mistakes():
    total, no_one_minus_t, _ = CASES["loss"][1]
    assert "sum of squared errors" in message(checks.check_loss, total)
    assert "x_t = (1 - t) x_0 + t x_1" in message(checks.check_loss, no_one_minus_t)


# ------------------------------------------------------------------ check_path_loss


def test_path_loss_names_each_mistake():
    straight_target, swapped, position, ignores, total = CASES["path_loss"][1]
    assert "straight line's velocity" in message(checks.check_path_loss, straight_target)
    assert "swapped" in message(checks.check_path_loss, swapped)
    assert "the point x_t itself" in message(checks.check_path_loss, position)
    assert "straight path's loss" in message(checks.check_path_loss, ignores)
    assert "sum of squared errors" in message(checks.check_path_loss, total)
    on_the_line = lambda m, x_0, x_1, t, a, s, da, ds: (
        (m(fm.interpolate(x_0, x_1, t), t) - (da(t) * x_1 + ds(t) * x_0)) ** 2
    ).mean()
    assert "evaluated on the straight line" in message(checks.check_path_loss, on_the_line)


def test_path_loss_accepts_the_summed_convention_with_a_note():
    summed = lambda m, x_0, x_1, t, a, s, da, ds: (
        path_loss(m, x_0, x_1, t, a, s, da, ds) * x_0.shape[1]
    )
    result = checks.check_path_loss(summed, quiet=True)
    assert result.passed and "averages over the coordinates" in result.message


def test_path_loss_reports_an_input_changed_in_place():
    def in_place(m, x_0, x_1, t, a, s, da, ds):
        x_0 *= s(t)
        return path_loss(m, x_0 / s(t), x_1, t, a, s, da, ds)

    assert "in place" in message(checks.check_path_loss, in_place)


def test_the_straight_path_reduces_to_the_course_loss():
    x_0, x_1, t = checks._core.inputs(5, n=9, dim=3)
    field = lambda x, s: torch.cos(x) * s
    torch.testing.assert_close(
        path_loss(field, x_0, x_1, t, *ch02.straight_path()),
        fm.flow_matching_loss(field, x_0, x_1, t),
    )


# ------------------------------------------------------------------ check_logit_normal_times


def test_logit_normal_times_names_each_mistake():
    uniform, no_sigmoid, ignores, squared, flat, unseeded = CASES["logit_normal_times"][1]
    assert "uniform" in message(checks.check_logit_normal_times, uniform)
    assert "sigmoid" in message(checks.check_logit_normal_times, no_sigmoid)
    assert "ignore `mean` and `std`" in message(checks.check_logit_normal_times, ignores)
    assert "std^2" in message(checks.check_logit_normal_times, squared)
    assert "(20000, 1)" in message(checks.check_logit_normal_times, flat)
    assert "generator" in message(checks.check_logit_normal_times, unseeded)
    swapped = lambda n, mean=0.0, std=1.0, generator=None: logit_normal_times(
        n, std, mean, generator
    )
    assert "swapped" in message(checks.check_logit_normal_times, swapped)


def test_logit_normal_quantiles_match_a_large_sample():
    g = torch.Generator().manual_seed(0)
    times = logit_normal_times(400_000, 1.0, 0.5, g).double().flatten()
    sample = torch.quantile(times, torch.tensor(ch02.QUANTILES, dtype=torch.float64))
    torch.testing.assert_close(sample, ch02.logit_normal_quantiles(1.0, 0.5), atol=3e-3, rtol=0)


def test_logit_normal_accepts_another_correct_implementation():
    """Different draws, same distribution: judged by quantiles, not by matching our draws."""

    def by_inverse_cdf(n, mean=0.0, std=1.0, generator=None):
        u = torch.rand(n, 1, generator=generator).clamp(1e-7, 1 - 1e-7)
        return torch.sigmoid(mean + std * torch.special.ndtri(u))

    assert checks.check_logit_normal_times(by_inverse_cdf, quiet=True).passed


# ------------------------------------------------------------------ the floor at t = 0


def test_the_floor_at_zero_is_the_rings_variance_per_coordinate():
    assert ch02.ring_floor_at_zero() == pytest.approx(3.0**2 / 2 + 0.2**2, abs=1e-6)


def test_the_floor_at_zero_agrees_with_the_exact_field_by_monte_carlo():
    g = torch.Generator().manual_seed(1)
    n = 400_000
    x_0, x_1 = fm.sample("gaussian", n, generator=g), fm.sample("ring", n, generator=g)
    per_pair = ((fm.exact.ring_field()(x_0, 0.0) - (x_1 - x_0)) ** 2).mean(1)  # x_t = x_0 at t = 0
    standard_error = per_pair.std().item() / math.sqrt(n)
    assert abs(per_pair.mean().item() - ch02.ring_floor_at_zero()) < 4 * standard_error


@pytest.mark.parametrize(
    "wrong, words",
    [
        (3.0**2 / 2 + 0.2**2 + 1.0, "noise's variance"),
        (3.0**2 + 2 * 0.2**2, "sum over the two coordinates"),
        (2 * (3.0**2 / 2 + 0.2**2 + 1.0), "E||x_1 - x_0||^2"),
        (3.0**2 / 2, "spread of each blob"),
        (3.0**2 / 2 + 0.2**2 / 2, "std^2 / 2"),
        (1.0, "floor at t = 1"),
        (0.2**2, "knew each point's blob"),
        (0.0, "scatter around u"),
    ],
)
def test_the_floor_at_zero_names_each_mistake(wrong, words):
    assert words in message(checks.check_loss_floor_t0, lambda: wrong)


def test_the_floor_at_zero_accepts_a_tensor_and_rejects_a_guess():
    assert checks.check_loss_floor_t0(lambda: torch.tensor(4.54), quiet=True).passed
    assert "residual" in message(checks.check_loss_floor_t0, lambda: 3.0)
