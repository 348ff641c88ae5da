"""Chapter 3's checkers name each plausible mistake with its own hint, and their references
agree with fmkit (solvers, metrics, the exact ring field)."""

import cases_ch03 as cases
import pytest
import torch
from verdicts import wrong_message as _message

import fmkit as fm
from fmkit import checks, metrics, solvers
from fmkit.checks import ch03


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (cases.euler_path_slope_at_end, "*start* of its interval"),
        (cases.euler_path_even_steps, "all the same size"),
        (cases.euler_path_no_start, "start with x_0"),
        (cases.euler_path_forward_only, "negative"),
        (lambda v, x, times: cases.euler_path(v, x, times)[-1], "only the end point"),
        (lambda v, x, times: list(cases.euler_path(v, x, times)), "torch.stack"),
    ],
)
def test_euler_path_names_the_mistake(fn, words):
    assert words in _message(checks.check_euler_path, fn)


def test_euler_path_reference_is_fm_integrate_on_an_even_grid():
    x_0 = torch.randn(7, 2, generator=torch.Generator().manual_seed(0))
    for t_span in [(0.0, 1.0), (1.0, 0.0)]:
        times = torch.linspace(*t_span, 9)
        ours = cases.euler_path(fm.exact.ring_field(), x_0, times)
        theirs = fm.integrate(
            fm.exact.ring_field(), x_0, n_steps=8, t_span=t_span, return_trajectory=True
        )
        torch.testing.assert_close(ours, theirs.trajectory)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (solvers.euler_step, "Euler step"),
        (solvers.midpoint_step, "midpoint method"),
        (cases.heun_second_slope_at_t, "time t + dt"),
        (cases.heun_second_slope_at_x, "*predicted* point"),
        (cases.heun_summed, "Average the two slopes"),
        (cases.heun_from_predicted, "starts again from x"),
    ],
)
def test_heun_step_names_the_mistake(fn, words):
    assert words in _message(checks.check_heun_step, fn)


def test_heun_reference_is_second_order():
    # dx/dt = t x from x(0) = 1: x(1) = exp(1/2). Halving the step divides the error by about 4.
    field = lambda x, t: fm.paths.as_time(t, x) * x  # noqa: E731
    errors = []
    for n in (10, 20):
        x = torch.ones(1, 1, dtype=torch.float64)
        for i in range(n):
            x = ch03.heun_reference(field, x, i / n, 1 / n)
        errors.append(abs(float(x) - torch.e**0.5))
    assert 3.6 < errors[0] / errors[1] < 4.4


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (cases.mmd2_biased, "biased estimate"),
        (cases.mmd2_cross_once, "counts twice"),
        (cases.mmd2_square_root, "square root"),
        (cases.mmd2_over_n_squared, "n (n - 1) pairs"),
        (cases.mmd2_no_factor_two, "with the factor 2"),
        (cases.mmd2_distance_not_squared, "*squared* distance"),
        (
            lambda a, b, h: cases.mmd2(a, b, h * 2**0.5),
            "wrong",
        ),  # kernel width convention: generic hint
    ],
)
def test_mmd2_names_the_mistake(fn, words):
    message = _message(checks.check_mmd2, fn)
    assert words in message or words == "wrong"


def test_mmd2_variants_agree_with_fm_metrics():
    a, b = ch03._clouds()
    assert float(ch03.mmd2_variants(a, b, 0.5)["unbiased"]) == pytest.approx(
        metrics.mmd(a, b), abs=1e-12
    )
    assert float(cases.mmd2(a, b, 0.7)) == pytest.approx(
        metrics.mmd(a, b, bandwidth=0.7), abs=1e-12
    )


def test_mmd2_accepts_a_python_float_and_a_one_element_tensor():
    assert checks.check_mmd2(lambda a, b, h: float(cases.mmd2(a, b, h)), quiet=True)
    assert checks.check_mmd2(lambda a, b, h: cases.mmd2(a, b, h).reshape(1), quiet=True)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ((0.0, 0.0), "whole"),
        ((0.625, -1.25), "inwards"),
        ((-0.125, 0.25), "displacement"),
        ((0.5, -1.0), "not zero"),
        ((0.5 * 0.75 + 0.25 * 3 / 2**0.5, -0.75 - 0.25 * 3 / 2**0.5), "nearest blob"),
    ],
)
def test_first_step_names_the_mistake(value, words):
    assert words in _message(checks.check_first_step, lambda: value)


def test_first_step_answer_is_the_exact_fields_step():
    # u(x, 0) = E[x_1] - x = -x for the ring, so a step of 1/4 keeps 3/4 of x_0.
    x = torch.tensor([[0.5, -1.0]])
    torch.testing.assert_close(
        fm.integrate(fm.exact.ring_field(), x, n_steps=1, t_span=(0.0, 0.25)).x,
        torch.tensor([[0.375, -0.75]]),
        atol=1e-6,
        rtol=0,
    )
    assert checks.check_first_step(lambda: torch.tensor([0.375, -0.75]), quiet=True)
    assert checks.check_first_step(lambda: [0.375, -0.75], quiet=True)
