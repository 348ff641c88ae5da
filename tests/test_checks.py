"""Every checker accepts fmkit's reference and rejects plausible wrong answers, and says
"not attempted yet" for a stub."""

import cases_ch01  # noqa: E401
import cases_ch02
import cases_ch03
import cases_ch04
import cases_ch05
import cases_ch06
import cases_ch07
import cases_ch08
import cases_ch09
import pytest

from fmkit import checks


def stub(*args, **kwargs):
    raise NotImplementedError()


CASES = {}
for _module in (
    cases_ch01,
    cases_ch02,
    cases_ch03,
    cases_ch04,
    cases_ch05,
    cases_ch06,
    cases_ch07,
    cases_ch08,
    cases_ch09,
):
    CASES.update(_module.CASES)


def test_every_checker_has_cases():
    assert sorted(CASES) == sorted(checks.CHECKS)


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
    assert "sum of squared errors" in checks.check_loss(CASES["loss"][1][0], quiet=True).message
