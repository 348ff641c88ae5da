"""Chapter 7's checkers name each plausible mistake with its own hint, and their references
agree with fmkit and with closed forms (the trace of a linear field, an exponential flow)."""

import itertools
import math

import cases_ch07 as cases
import pytest
import torch
from verdicts import wrong_message as _message

import fmkit as fm
from fmkit import checks, likelihood
from fmkit.checks import ch07


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (cases.divergence_full_jacobian_sum, "every entry of the Jacobian"),
        (cases.divergence_first_two, "first two coordinates"),
        (cases.divergence_diagonal, "add them up"),
        (cases.divergence_at_t0, "at t = 0"),
        (lambda v, x, t: cases.divergence(v, x, t).sum(), "total over the batch"),
        (lambda v, x, t: -cases.divergence(v, x, t), "sign is flipped"),
        (lambda v, x, t: cases.divergence(v, x, t)[:, None], "wrong shape"),
    ],
)
def test_divergence_names_the_mistake(fn, words):
    assert words in _message(checks.check_divergence, fn)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (cases.hutchinson_no_probe_right, "one side only"),
        (cases.hutchinson_no_probe_left, "one side only"),
        (cases.hutchinson_full_jacobian_sum, "1^T J 1"),
        (cases.hutchinson_batch_sum, "over the batch"),
        (cases.hutchinson_probe_sum, "average them"),
        (cases.hutchinson_not_averaged, "average them over the probes"),
        (cases.hutchinson_exact, "exact divergence"),
        (lambda v, x, t, p: -cases.hutchinson(v, x, t, p), "sign is flipped"),
    ],
)
def test_hutchinson_names_the_mistake(fn, words):
    assert words in _message(checks.check_hutchinson, fn)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (cases.euler_sign, "wrong sign"),
        (cases.euler_no_base, "base density is missing"),
        (cases.euler_base_at_x, "evaluated at x"),
        (cases.euler_off_by_one, "Off by one"),
        (cases.euler_time_forwards, "time runs the wrong way"),
        (cases.euler_moves_forwards, "x moves forwards"),
        (cases.euler_batch_mean, "one number for the whole batch"),
        (lambda v, x, n: fm.log_likelihood(v, x, n_steps=n), "RK4"),
    ],
)
def test_euler_log_likelihood_names_the_mistake(fn, words):
    assert words in _message(checks.check_euler_log_likelihood, fn)


def test_a_hand_written_euler_solve_passes():
    assert checks.check_euler_log_likelihood(cases._euler, quiet=True)
    assert checks.check_euler_log_likelihood(
        lambda v, x, n: ch07.euler_variant(v, x, n), quiet=True
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (-1.5, "sign is flipped"),
        (-2.0, "determinant"),
        (2.0, "determinant"),
        (-0.5, "every entry of A"),
        (-math.log(2.0), "log|det A|"),
        (math.exp(1.5), "density ratio"),
        (7.0, "integrate it over one unit of time"),
    ],
)
def test_linear_flow_names_the_mistake(value, words):
    assert words in _message(checks.check_linear_flow_log_density, lambda: value)


def test_linear_flow_answer_is_minus_the_trace_and_matches_the_flow():
    a = torch.tensor(ch07.LINEAR_A)
    assert checks.check_linear_flow_log_density(lambda: -float(torch.trace(a)), quiet=True)
    assert checks.check_linear_flow_log_density(lambda: torch.tensor([1.5]), quiet=True)
    # The flow itself: x_1 = exp(A) x_0, and log p_1(x_1) - log p_0(x_0) is the same for every point.
    x_0 = torch.randn(5, 2, generator=torch.Generator().manual_seed(0))
    x_1 = x_0 @ torch.linalg.matrix_exp(a).T
    change = fm.log_likelihood(
        lambda z, t: z @ a.T, x_1, n_steps=64
    ) - likelihood.standard_normal_log_prob(x_0)
    torch.testing.assert_close(change, torch.full((5,), 1.5), atol=1e-3, rtol=0)


def test_mixing_field_has_a_full_nonsymmetric_jacobian_that_moves_with_x_and_t():
    field = ch07.mixing_field(3, seed=1)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
    jac = ch07.jacobian(field, x, 0.3)
    assert (jac.abs() > 1e-3).all()
    assert not torch.allclose(jac, jac.transpose(1, 2), atol=1e-3)
    div = likelihood.divergence(field, x, 0.3)
    torch.testing.assert_close(div, torch.diagonal(jac, dim1=1, dim2=2).sum(1))
    assert div.std() > 1e-2
    assert not torch.allclose(div, likelihood.divergence(field, x, 0.8))
    # t as a float or (batch, 1): the same field
    torch.testing.assert_close(field(x, 0.3), field(x, torch.full((4, 1), 0.3)))


def test_hutchinson_reference_over_every_sign_pattern_is_the_exact_divergence():
    field = ch07.mixing_field(3, seed=4)
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(4))
    signs = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=3)))  # (8, 3)
    probes = signs[:, None, :].expand(-1, 6, -1).contiguous()  # (8, 6, 3)
    torch.testing.assert_close(
        ch07.hutchinson_reference(field, x, 0.5, probes), likelihood.divergence(field, x, 0.5)
    )
    # one probe: the exact divergence plus the off-diagonal terms eps_i eps_j J_ij
    jac = ch07.jacobian(field, x, 0.5)
    eps = probes[:1]
    expected = torch.einsum("bi,bij,bj->b", eps[0], jac, eps[0])
    torch.testing.assert_close(ch07.hutchinson_reference(field, x, 0.5, eps), expected)


def test_euler_reference_agrees_with_a_hand_written_solve_and_an_exponential_flow():
    field = ch07.mixing_field(2, seed=3)
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(3))
    for n in (1, 3, 8):
        torch.testing.assert_close(
            ch07.euler_variant(field, x, n),
            cases.euler_log_likelihood(field, x, n),
            atol=1e-5,
            rtol=1e-5,
        )
    # v = a x carries N(0, I) to N(0, e^{2a} I): log p_1(x) = log N(x e^{-a}) - d a
    a = 0.5
    exact = likelihood.standard_normal_log_prob(x * math.exp(-a)) - 2 * a
    assert (cases.euler_log_likelihood(lambda z, t: a * z, x, 400) - exact).abs().max() < 0.01


def test_checkers_leave_the_students_inputs_alone():
    def changes_x(velocity, x, t):
        x += 1.0
        return likelihood.divergence(velocity, x, t)

    assert "changed its input `x`" in _message(checks.check_divergence, changes_x)

    def changes_probes(velocity, x, t, probes):
        probes.mul_(-1)
        return ch07.hutchinson_reference(velocity, x, t, probes)

    assert "changed its input `probes`" in _message(checks.check_hutchinson, changes_probes)
