"""The Gaussian-paths chapter's checkers accept fmkit's reference, name each plausible
mistake with its own hint, report a stub as not attempted, and agree with fmkit's sampler."""

import cases_ch06 as cases
import pytest
import torch
from verdicts import wrong_message as _message

from fmkit import exact, paths, solvers
from fmkit.checks import NOT_ATTEMPTED
from fmkit.checks import ch06 as gp


def stub(*args, **kwargs):
    raise NotImplementedError()


def test_every_checker_has_cases():
    assert sorted(cases.CASES) == sorted(gp.CHECKS)


@pytest.mark.parametrize("name", list(gp.CHECKS))
def test_checker_accepts_the_reference_and_rejects_the_wrong_answers(name, capsys):
    reference, wrong_answers = cases.CASES[name]
    assert gp.CHECKS[name](reference).passed
    assert len(wrong_answers) >= 2
    for wrong in wrong_answers:
        result = gp.CHECKS[name](wrong)
        assert result.status == "wrong" and not result, (name, wrong)
        assert len(result.message) > 20
    out = capsys.readouterr().out
    assert "✓" in out and "✗" in out and "Traceback" not in out


@pytest.mark.parametrize("name", list(gp.CHECKS))
def test_checker_reports_a_stub_as_not_attempted(name):
    assert gp.CHECKS[name](stub, quiet=True).status == NOT_ATTEMPTED


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (cases.score_sign_flipped, "sign is flipped"),
        (cases.score_without_sigma, "divide by sigma_t once more"),
        (cases.score_times_sigma, "multiplied by sigma_t"),
        (cases.score_always_linear, "straight line's identity"),
    ],
)
def test_score_from_velocity_names_the_mistake(fn, words):
    assert words in _message(gp.check_score_from_velocity, fn)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (cases.em_step_noise_times_dt, "sqrt(dt)"),
        (cases.em_step_no_correction, "without the matching drift"),
        (cases.em_step_full_g2, "half of what you added"),
        (cases.em_step_minus, "sign is flipped"),
        (cases.em_step_ode, "Euler ODE step"),
        (cases.em_step_in_place, "in place"),
    ],
)
def test_euler_maruyama_step_names_the_mistake(fn, words):
    assert words in _message(gp.check_euler_maruyama_step, fn)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (lambda: 1 - 4 / 3.141592653589793, "sign is flipped"),
        (lambda: 0.0, "straight line"),
        (lambda: (4 / 3.141592653589793 - 1) * 0.5**0.5, "sigma_t in the denominator"),
        (
            lambda: (4 / 3.141592653589793 - 1) * 2**0.5,
            "not squared",
        ),  # one sigma_t = 1/sqrt(2) too many
    ],
)
def test_cosine_score_names_the_mistake(value, words):
    assert words in _message(gp.check_cosine_score, value)


def test_the_derived_value_is_four_over_pi_minus_one():
    assert abs(gp.cosine_score_value() - (4 / torch.pi - 1)) < 1e-12


@pytest.mark.parametrize("schedule", paths.SCHEDULES)
def test_the_reference_step_is_one_step_of_fmkits_sampler(schedule):
    x_0 = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    field = exact.ring_field(schedule=schedule)
    sol = solvers.sample_sde(
        field,
        x_0,
        n_steps=4,
        noise=0.7,
        schedule=schedule,
        generator=torch.Generator().manual_seed(1),
        return_trajectory=True,
    )
    kicks = torch.Generator().manual_seed(1)
    x = x_0
    for i in range(4):
        x = gp.em_step_reference(
            field, x, i / 4, 0.25, 0.7, torch.randn(x.shape, generator=kicks), schedule
        )
        torch.testing.assert_close(x, sol.trajectory[i + 1])


def test_the_score_reference_is_the_gradient_of_the_exact_log_density():
    x = 2 * torch.randn(30, 2, generator=torch.Generator().manual_seed(2))
    for schedule in paths.SCHEDULES:
        u = exact.ring_field(schedule=schedule)(x, 0.4)
        y = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(exact.ring_log_prob(t=0.4, schedule=schedule)(y).sum(), y)
        torch.testing.assert_close(
            cases.score_from_velocity(u, x, 0.4, schedule), grad, rtol=1e-4, atol=1e-4
        )
