"""Every checker accepts fmkit's reference and rejects plausible wrong answers, and says
"not attempted yet" for a stub."""

import pytest
import torch

import fmkit as fm
from fmkit import checks, likelihood, solvers


def stub(*args, **kwargs):
    raise NotImplementedError()


def _euler_sample(velocity, x, n_steps, shift=0):
    dt = 1.0 / n_steps
    for i in range(n_steps):
        x = x + dt * velocity(x, torch.full((len(x), 1), (i + shift) * dt))
    return x


def _divergence(velocity, x, t):
    return likelihood.divergence(velocity, x, t)


def _ot_pair(x_0, x_1):
    return fm.ot_pairing(x_0, x_1, sub_batch=None)[0]


CASES = {
    "interpolate": (
        fm.interpolate,
        [lambda x_0, x_1, t: t * x_0 + (1 - t) * x_1,            # roles swapped
         lambda x_0, x_1, t: x_0 + t * x_1,                      # missing 1 - t
         lambda x_0, x_1, t: (1 - t.flatten()) * x_0.T + (t.flatten() * x_1.T)]),   # t not broadcast (transposed)
    "target_velocity": (
        fm.target_velocity,
        [lambda x_0, x_1: x_0 - x_1,                             # sign flip
         lambda x_0, x_1: x_1]),                                 # forgot x_0
    "loss": (
        fm.flow_matching_loss,
        [lambda m, x_0, x_1, t: ((m(fm.interpolate(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum(),   # sum, not mean
         lambda m, x_0, x_1, t: ((m(x_0 + t * x_1, t) - (x_1 - x_0)) ** 2).mean(),              # missing 1 - t
         lambda m, x_0, x_1, t: ((m(fm.interpolate(x_0, x_1, t), t) - (x_0 - x_1)) ** 2).mean()]),  # sign flip
    "euler_sample": (
        _euler_sample,
        [lambda v, x, n: _euler_sample(v, x, n, shift=1),        # off by one in the time grid
         lambda v, x, n: x + v(x, torch.zeros(len(x), 1)),       # one step whatever n
         lambda v, x, n: _euler_sample(v, x, n) * 1.01]),
    "midpoint_step": (
        solvers.midpoint_step,
        [solvers.euler_step,                                     # no midpoint at all
         lambda v, x, t, dt: x + dt * v(x + 0.5 * dt * v(x, torch.full((len(x), 1), t)), torch.full((len(x), 1), t)),  # wrong time
         ]),
    "ot_pair": (
        _ot_pair,
        [lambda x_0, x_1: x_0,                                   # independent pairing
         lambda x_0, x_1: x_1,                                   # not the points of x_0
         lambda x_0, x_1: fm.ot_pairing(x_0, x_1, sub_batch=5)[0]]),  # optimal only within chunks
    "divergence": (
        _divergence,
        [lambda v, x, t: _divergence(v, x, t).sum(),             # summed over the batch
         lambda v, x, t: -_divergence(v, x, t),                  # sign flip
         lambda v, x, t: _divergence(v, x, t)[:, None]]),        # wrong shape
    "guided_velocity": (
        fm.guided_velocity,
        [lambda m, c, w: (lambda x, t: m(x, t, label=c) + w * (m(x, t, label=-1) - m(x, t, label=c))),  # roles swapped
         lambda m, c, w: (lambda x, t: w * m(x, t, label=c)),                                             # no unconditional part
         lambda m, c, w: (lambda x, t: m(x, t, label=c))]),                                               # ignores the scale
    "nearest_distance": (
        lambda x, train: torch.cdist(x, train).min(1).values,
        [lambda x, train: (torch.cdist(x, train) ** 2).min(1).values,   # squared
         lambda x, train: torch.cdist(x, train).mean(1)]),              # mean, not nearest
}


@pytest.mark.parametrize("name", list(checks.CHECKS))
def test_checker_accepts_the_reference(name, capsys):
    reference, _ = CASES[name]
    result = checks.CHECKS[name](reference)
    assert result.passed and bool(result)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("name", list(checks.CHECKS))
def test_checker_rejects_plausible_wrong_answers_with_a_hint(name, capsys):
    _, wrong_answers = CASES[name]
    assert len(wrong_answers) >= 2
    for wrong in wrong_answers:
        result = checks.CHECKS[name](wrong)
        assert result.status == "wrong" and not result, (name, wrong)
        assert len(result.message) > 20
    out = capsys.readouterr().out
    assert "✗" in out and "Traceback" not in out


@pytest.mark.parametrize("name", list(checks.CHECKS))
def test_checker_reports_a_stub_as_not_attempted(name, capsys):
    result = checks.CHECKS[name](stub)
    assert result.status == checks.NOT_ATTEMPTED and not result
    assert "not attempted yet" in capsys.readouterr().out


def test_specific_hints_name_the_mistake():
    assert "sign is flipped" in checks.check_target_velocity(lambda a, b: a - b, quiet=True).message
    assert "Off by one" in checks.check_euler_sample(lambda v, x, n: _euler_sample(v, x, n, shift=1), quiet=True).message
    assert "sum of squared errors" in checks.check_loss(CASES["loss"][1][0], quiet=True).message
    assert "Euler step" in checks.check_midpoint_step(solvers.euler_step, quiet=True).message
    assert "squared distances" in checks.check_nearest_distance(CASES["nearest_distance"][1][0], quiet=True).message
