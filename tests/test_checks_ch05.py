"""Chapter 5's checkers (fmkit.checks.ch05, sampling in one step) accept the reference,
say "not attempted yet" for a stub, and name each plausible mistake with its own hint."""

import pytest
import torch
from cases_ch05 import CASES, distillation_loss, meanflow_loss

import fmkit as fm
from fmkit.checks import NOT_ATTEMPTED
from fmkit.checks import ch05 as checks


def stub(*args, **kwargs):
    raise NotImplementedError()


def _hint(check, fn):
    result = check(fn, quiet=True)
    assert result.status == "wrong", result
    return result.message


def test_every_checker_has_cases():
    assert sorted(CASES) == sorted(checks.CHECKS)


@pytest.mark.parametrize("name", list(checks.CHECKS))
def test_checker_accepts_the_reference(name, capsys):
    reference, _ = CASES[name]
    assert checks.CHECKS[name](reference)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("name", list(checks.CHECKS))
def test_checker_rejects_plausible_wrong_answers(name, capsys):
    _, wrong_answers = CASES[name]
    assert len(wrong_answers) >= 2
    for wrong in wrong_answers:
        result = checks.CHECKS[name](wrong)
        assert result.status == "wrong" and not result, (name, wrong)
        assert len(result.message) > 20
    out = capsys.readouterr().out
    assert "✗" in out and "Traceback" not in out


@pytest.mark.parametrize("name", list(checks.CHECKS))
def test_checker_reports_a_stub_as_not_attempted(name):
    assert checks.CHECKS[name](stub, quiet=True).status == NOT_ATTEMPTED


# ------------------------------------------------------------------ distillation loss


def test_distillation_loss_names_each_mistake():
    check = checks.check_distillation_loss
    assert "the end point x_1" in _hint(
        check, lambda s, a, b: distillation_loss(s, a, b, target="end point")
    )
    assert "r = t = 0" in _hint(check, lambda s, a, b: distillation_loss(s, a, b, t=0.0))
    assert "wrong way" in _hint(
        check, lambda s, a, b: distillation_loss(s, a, b, target="reversed")
    )
    assert "summed the squared error" in _hint(
        check, lambda s, a, b: distillation_loss(s, a, b, reduce="sum over coordinates")
    )
    assert "root of the mean" in _hint(check, lambda s, a, b: distillation_loss(s, a, b).sqrt())
    assert ".item()" in _hint(check, lambda s, a, b: distillation_loss(s, a, b).item())
    assert "no gradient" in _hint(check, lambda s, a, b: distillation_loss(s, a, b).detach())
    assert "one number" in _hint(check, lambda s, a, b: ((s(a, 0.0, 1.0) - (b - a)) ** 2).mean(1))


def test_distillation_loss_accepts_a_float_time_tensor_and_sees_a_wrong_gradient():
    def as_tensors(student, x_0, x_1):
        n = len(x_0)
        u = student(x_0, torch.zeros(n, 1, dtype=x_0.dtype), torch.ones(n, 1, dtype=x_0.dtype))
        return torch.nn.functional.mse_loss(u, x_1 - x_0)

    assert checks.check_distillation_loss(as_tensors, quiet=True)

    def gradient_through_a_bias(student, x_0, x_1):  # right value, wrong gradient
        u = student(x_0, 0.0, 1.0)
        bias = next(student.parameters()).sum()
        return torch.mean((u - (x_1 - x_0)) ** 2) + bias - bias.detach()

    assert "right value but not the right gradient" in _hint(
        checks.check_distillation_loss, gradient_through_a_bias
    )


# ------------------------------------------------------------------ MeanFlow loss


def test_meanflow_loss_names_each_mistake():
    check = checks.check_meanflow_loss
    assert "paper's identity" in _hint(check, lambda *a: meanflow_loss(*a, tangents="t", sign=-1.0))
    assert "end time t (tangents (0, 0, 1))" in _hint(
        check, lambda *a: meanflow_loss(*a, tangents="t")
    )
    assert "sign of the derivative term" in _hint(check, lambda *a: meanflow_loss(*a, sign=-1.0))
    assert "held x still" in _hint(check, lambda *a: meanflow_loss(*a, tangents="r only"))
    assert "flow matching's target" in _hint(check, lambda *a: meanflow_loss(*a, use_jvp=False))
    assert "factor (t - r)" in _hint(check, lambda *a: meanflow_loss(*a, weight=False))
    assert "torch.no_grad()" in _hint(check, lambda *a: meanflow_loss(*a, stop=False))
    assert "start of the jump" in _hint(check, lambda *a: meanflow_loss(*a, at="t"))
    assert ".item()" in _hint(check, lambda *a: meanflow_loss(*a).item())


def test_meanflow_reference_uses_fmkits_target():
    """The cases' hand-written loss is fmkit's target inside a mean squared error."""
    torch.manual_seed(0)
    u = fm.onestep.TwoTimeField(hidden_dim=16, n_hidden=2, activation="silu").double()
    g = torch.Generator().manual_seed(1)
    x_0, x_1 = torch.randn(6, 2, generator=g).double(), torch.randn(6, 2, generator=g).double()
    r = torch.tensor([[0.0], [0.1], [0.3], [0.5], [0.2], [0.9]], dtype=torch.float64)
    t = torch.tensor([[1.0], [0.4], [0.3], [0.9], [0.7], [1.0]], dtype=torch.float64)
    x_r = (1 - r) * x_0 + r * x_1
    target = fm.onestep.meanflow_target(u, x_r, r, t, x_1 - x_0)
    torch.testing.assert_close(
        meanflow_loss(u, x_0, x_1, r, t), torch.mean((u(x_r, r, t) - target) ** 2)
    )


def test_meanflow_loss_is_flow_matching_when_r_equals_t():
    """At r = t the target is v: the right loss and the no-jvp loss agree, so the checker's
    batches must hold rows with r < t to tell them apart (they do)."""
    torch.manual_seed(0)
    u = fm.onestep.TwoTimeField(hidden_dim=16, n_hidden=2, activation="silu").double()
    x_0, x_1 = torch.randn(5, 2).double(), torch.randn(5, 2).double()
    r = torch.rand(5, 1).double()
    torch.testing.assert_close(
        meanflow_loss(u, x_0, x_1, r, r), meanflow_loss(u, x_0, x_1, r, r, use_jvp=False)
    )
    rr, tt = checks._times(21, 32)
    assert (tt > rr).sum() >= 30 and (tt == rr).any()


# ------------------------------------------------------------------ derive: a Gaussian's map


def test_gaussian_average_velocity_comes_from_fmkits_exact_field():
    u = checks.gaussian_average_velocity()
    m, s, x = (
        torch.tensor(v, dtype=torch.float64)
        for v in (checks.GAUSS_MEAN, checks.GAUSS_STD, checks.GAUSS_POINT)
    )
    torch.testing.assert_close(u, m + (s - 1) * x, atol=1e-6, rtol=0)


def test_gaussian_average_velocity_names_each_mistake():
    check = checks.check_gaussian_average_velocity
    assert "single Euler step" in _hint(check, lambda: (1.0, -2.0))
    assert "subtract x" in _hint(check, lambda: (2.25, -0.75))
    assert "left out the mean" in _hint(check, lambda: (-0.75, -0.75))
    assert "not by the variance" in _hint(check, lambda: (1.0625, -1.9375))
    assert "sign of the scale term" in _hint(check, lambda: (2.75, -0.25))
    assert checks.check_gaussian_average_velocity(lambda: torch.tensor([1.25, -1.75]), quiet=True)
