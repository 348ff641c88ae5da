"""The checkers' shared core: a student's mistake gets a verdict that names it, the checker's
own data is protected, a runaway function is stopped, and fmkit's own bugs are never blamed
on the student."""

import time

import numpy as np
import pytest
import torch

import fmkit as fm
from fmkit import checks
from fmkit.checks import _core


def _verdict(fn, check=checks.check_interpolate):
    return check(fn, quiet=True)


def test_a_missing_return_is_named():
    def forgot(x_0, x_1, t):
        (1 - t) * x_0 + t * x_1

    result = _verdict(forgot)
    assert result.status == "wrong" and "forget the `return`" in result.message


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (lambda x_0, x_1, t: (fm.interpolate(x_0, x_1, t),), "tuple"),
        (lambda x_0, x_1, t: [fm.interpolate(x_0, x_1, t)], "list"),
        (lambda x_0, x_1, t: fm.interpolate(x_0, x_1, t).numpy(), "NumPy"),
        (lambda x_0, x_1, t: fm.interpolate(x_0, x_1, t).T, "transposed"),
        (lambda x_0, x_1, t: fm.interpolate(x_0, x_1, t).flatten(), "wrong shape"),
        (lambda x_0, x_1, t: "x_t", "str"),
    ],
)
def test_wrong_return_types_and_shapes_are_named(fn, words):
    result = _verdict(fn)
    assert result.status == "wrong" and words in result.message, result.message


def _check_nearest(fn, quiet=True):
    """A small checker built on the core, as a chapter's would be: nearest distances."""
    x, train, _ = _core.inputs(8, n=30, dim=4)

    def check():
        answer = _core.call(fn, x, train, names=("x", "train"))
        _core.expect_close(
            answer, torch.cdist(x, train).min(1).values, "the nearest distance per row."
        )
        return "right."

    return _core.run_check("nearest", check, quiet)


def test_torch_min_without_values_is_named():
    assert _check_nearest(lambda x, train: torch.cdist(x, train).min(1).values)
    result = _check_nearest(lambda x, train: torch.cdist(x, train).min(1))
    assert result.status == "wrong" and ".values" in result.message


def test_indices_instead_of_values_are_named():
    result = _check_nearest(lambda x, train: torch.cdist(x, train).argmin(1))
    assert result.status == "wrong" and "indices" in result.message


def test_a_function_that_works_in_place_is_wrong_and_cannot_corrupt_the_checker():
    x_0, x_1, t = _core.inputs()
    kept = x_0.clone()

    def in_place(x_0, x_1, t):
        x_0.mul_(1 - t).add_(t * x_1)  # right values, but it overwrites the caller's x_0
        return x_0

    result = _verdict(in_place)
    assert result.status == "wrong" and "in place" in result.message and "`x_0`" in result.message
    torch.testing.assert_close(_core.inputs()[0], kept)  # the checker's inputs are intact


def test_a_runaway_function_is_stopped_with_a_hint(monkeypatch):
    monkeypatch.setattr(_core, "TIME_LIMIT", 0.2)
    started = time.perf_counter()

    def forever(x_0, x_1, t):
        while True:
            pass

    result = _core.run_check(
        "loop", lambda: _core.call(forever, 1, 2, 3, time_limit=0.2), quiet=True
    )
    assert result.status == "wrong" and "infinite loop" in result.message
    assert time.perf_counter() - started < 5


def test_a_sleeping_function_is_stopped_even_if_it_catches_exceptions():
    def stubborn():
        try:
            time.sleep(30)
        except Exception:
            return 1

    result = _core.run_check(
        "sleep", lambda: _core.call(stubborn, time_limit=0.2) and "ok", quiet=True
    )
    assert result.status == "wrong" and "longer than 0.2 s" in result.message


def test_the_students_crash_is_reported_as_a_verdict_not_a_traceback(capsys):
    result = checks.check_interpolate(lambda x_0, x_1, t: x_0 @ x_1)
    assert result.status == "wrong" and "RuntimeError" in result.message
    assert "Traceback" not in capsys.readouterr().out


def test_a_bug_inside_fmkit_is_reported_as_fmkits_not_the_students():
    def buggy_check():
        _core.call(lambda: 1.0)
        raise KeyError("reference broke")

    with pytest.raises(checks.CheckerBug, match="bug in fmkit, not in your code"):
        _core.run_check("broken", buggy_check, quiet=True)


def test_the_toy_field_takes_time_in_every_form():
    x = torch.randn(5, 2)
    ref = _core.toy_field(x, torch.full((5, 1), 0.3))
    torch.testing.assert_close(_core.toy_field(x, 0.3), ref)
    torch.testing.assert_close(_core.toy_field(x, torch.full((5,), 0.3)), ref)


def test_check_value_names_plausible_mistakes_and_accepts_any_vector_form():
    def check(fn):
        return checks.check_value(
            "u(x, 0)",
            fn,
            [-1.0, -2.0],
            hint="u(x, 0) = E[x_1] - x.",
            mistakes=(([1.0, 2.0], "sign flipped"), ([0.0, 0.0], "that is E[x_1]")),
            quiet=True,
        )

    assert (
        check(lambda: (-1, -2))
        and check(lambda: torch.tensor([[-1.0, -2.0]]))
        and check(lambda: np.array([-1.0, -2.0]).tolist())
    )
    assert check(lambda: [1, 2]).message == "sign flipped"
    assert check(lambda: (0, 0)).message == "that is E[x_1]"
    assert "E[x_1] - x" in check(lambda: (3, 3)).message
    assert check(lambda: None).status == "wrong"
    assert (
        check(lambda: (_ for _ in ()).throw(NotImplementedError())).status == checks.NOT_ATTEMPTED
    )


@pytest.mark.slow
def test_the_time_limit_works_inside_a_jupyter_kernel():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "from fmkit.checks import _core\n"
                "def forever():\n    while True:\n        pass\n"
                "print(_core.run_check('loop', lambda: _core.call(forever, time_limit=0.5), quiet=True))"
            )
        ]
    )
    started = time.perf_counter()
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    assert time.perf_counter() - started < 60
    assert "infinite loop" in nb.cells[0].outputs[0]["text"]
