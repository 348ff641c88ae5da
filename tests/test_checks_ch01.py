"""Chapter 1's checkers name each plausible mistake with its own hint, accept every correct
form of an answer, and their references agree with fmkit's exact fields."""

import math

import cases_ch01 as cases
import pytest
import torch

import fmkit as fm
from fmkit import checks
from fmkit.checks import ch01

WRONG = [
    # (checker, wrong answer, a phrase of the hint that names the mistake)
    (
        "interpolate",
        lambda x_0, x_1, t: t * x_0 + (1 - t) * x_1,
        "At t = 0 the point must be the base sample",
    ),
    (
        "interpolate",
        lambda x_0, x_1, t: x_0 + t * x_1,
        "At t = 1 the point must be the data sample",
    ),
    ("interpolate", cases.interpolate_naive, "multiplies coordinate j by t[j]"),
    ("interpolate", cases.interpolate_tensor_only, "(t was the float 0.3.)"),
    ("target_velocity", lambda x_0, x_1: x_0 - x_1, "sign is flipped"),
    ("cosine_velocity", lambda x_0, x_1, t: x_1 - x_0, "straight path's velocity"),
    ("cosine_velocity", cases.cosine_velocity_no_chain_rule, "factor pi / 2"),
    ("cosine_velocity", lambda x_0, x_1, t: -cases.cosine_velocity(x_0, x_1, t), "sign is flipped"),
    ("cosine_velocity", ch01.cosine_path, "the point x_t itself"),
    ("gaussian_field", lambda x, t, mean, std: mean - x, "the field at t = 0 only"),
    ("gaussian_field", cases.gaussian_field_forgot_t, "has mean t * mean"),
    ("gaussian_field", cases.gaussian_field_unsquared, "coefficients are squared"),
    (
        "gaussian_field",
        lambda x, t, mean, std: 2 * mean - cases.gaussian_field(x, t, mean, std),
        "sign of the gain",
    ),
    (
        "gaussian_field",
        cases.gaussian_field_one_std,
        "each coordinate is its own one-dimensional problem",
    ),
    ("memorising_field", cases.memorising_uniform, "uniform weights"),
    ("memorising_field", cases.memorising_no_division, "division by 1 - t"),
    ("memorising_field", cases.memorising_no_t, "centred at t * y_i"),
    ("memorising_field", cases.memorising_unsquared, "variance (1 - t)^2"),
    ("memorising_field", lambda x, t, data: -cases.memorising_field(x, t, data), "sign is flipped"),
    ("memorising_field", cases.memorising_naive_exp, "underflows"),
    ("field_at_start", lambda: (1.0, 2.0), "sign is flipped"),
    ("field_at_start", lambda: (0.0, 0.0), "do not cancel"),
    ("field_at_start", lambda: torch.tensor([1.1213, 0.1213]), "nearest blob"),
    ("field_at_end", lambda: (0.0, 0.0), "does not vanish"),
    ("field_at_end", lambda: (-3.0, 0.0), "the field at t = 0"),
]


@pytest.mark.parametrize(
    "name, wrong, phrase", WRONG, ids=lambda v: v if isinstance(v, str) else ""
)
def test_each_mistake_gets_its_own_hint(name, wrong, phrase):
    result = checks.CHECKS[name](wrong, quiet=True)
    assert result.status == "wrong"
    assert phrase in result.message, result.message


def test_interpolate_accepts_every_correct_way_of_handling_t():
    def with_as_time(x_0, x_1, t):
        t = torch.as_tensor(t, dtype=x_0.dtype)
        if t.ndim == 1:
            t = t[:, None]
        return (1 - t) * x_0 + t * x_1

    assert checks.check_interpolate(with_as_time, quiet=True)
    assert checks.check_interpolate(
        lambda x_0, x_1, t: x_0 + cases._as_column(t, x_0) * (x_1 - x_0), quiet=True
    )


def test_field_checkers_accept_equivalent_forms():
    def gaussian_per_coordinate(x, t, mean, std):  # std and t made tensors first
        std = torch.as_tensor(std, dtype=x.dtype).expand(x.shape[1])
        t = torch.as_tensor(t, dtype=x.dtype)
        s2 = std**2
        return mean + (t * s2 - (1 - t)) * (x - t * mean) / ((1 - t) ** 2 + t**2 * s2)

    def memorising_by_logsumexp(x, t, data):
        t = cases._as_column(t, x)
        sq = ((x[:, None, :] - t[:, :, None] * data) ** 2).sum(-1)  # (batch, n)
        logits = -sq / (2 * (1 - t) ** 2)
        weights = (logits - torch.logsumexp(logits, dim=1, keepdim=True)).exp()
        return (weights @ data - x) / (1 - t)

    assert checks.check_gaussian_field(gaussian_per_coordinate, quiet=True)
    assert checks.check_memorising_field(memorising_by_logsumexp, quiet=True)


def test_derive_answers_may_be_tuples_lists_or_tensors():
    for answer in [(-1.0, -2.0), [-1, -2], torch.tensor([[-1.0, -2.0]])]:
        assert checks.check_field_at_start(lambda a=answer: a, quiet=True)
    assert checks.check_field_at_end(lambda: (3, 0), quiet=True)


def test_derive_references_come_from_the_exact_field():
    field = fm.exact.ring_field()
    torch.testing.assert_close(
        field(torch.tensor([[1.0, 2.0]]), 0.0)[0], torch.tensor([-1.0, -2.0]), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        field(torch.tensor([[3.0, 0.0]]), 1.0)[0], torch.tensor([3.0, 0.0]), atol=1e-5, rtol=0
    )


def test_gaussian_reference_is_the_one_blob_mixture_field_for_a_shared_std(gen):
    x, mean, t = (
        2 * torch.randn(20, 3, generator=gen),
        torch.randn(3, generator=gen),
        torch.rand(20, 1, generator=gen),
    )
    expected = fm.exact.mixture_field(mean[None], 0.7)(x, t)
    torch.testing.assert_close(
        ch01.gaussian_field_reference(x, t, mean, 0.7), expected, atol=1e-5, rtol=1e-5
    )


def test_cosine_oracle_is_the_time_derivative_of_the_path(gen):
    x_0, x_1, t = (
        torch.randn(5, 2, generator=gen),
        torch.randn(5, 2, generator=gen),
        torch.rand(5, 1, generator=gen),
    )
    h = 1e-3
    finite = (
        ch01.cosine_path(x_0.double(), x_1.double(), t.double() + h)
        - ch01.cosine_path(x_0.double(), x_1.double(), t.double() - h)
    ) / (2 * h)
    torch.testing.assert_close(
        ch01._time_derivative(x_0, x_1, t), finite.float(), atol=1e-4, rtol=1e-4
    )
    torch.testing.assert_close(
        ch01._time_derivative(x_0, x_1, t), cases.cosine_velocity(x_0, x_1, t)
    )
    torch.testing.assert_close(
        ch01._time_derivative(x_0, x_1, 0.0), math.pi / 2 * x_1
    )  # at t = 0: (pi / 2) x_1


def test_a_checker_never_blames_the_student_for_a_stub_or_shows_a_traceback(capsys):
    def stub(*args):
        raise NotImplementedError()

    for name in ch01.CHECKS:
        assert checks.CHECKS[name](stub).status == checks.NOT_ATTEMPTED
    assert "Traceback" not in capsys.readouterr().out
