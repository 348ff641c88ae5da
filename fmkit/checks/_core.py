"""The machinery every exercise checker shares.

A checker builds its own inputs, calls the student's function through :func:`call` (which
protects the inputs, enforces a time limit and turns the student's mistakes into verdicts),
compares the answer with fmkit's reference through :func:`expect_close`, and wraps it all in
:func:`run_check`, which prints the verdict and returns a :class:`Result`.

Only the student's call is wrapped: an exception anywhere else inside a checker is a bug in
fmkit, and it is reported as such, never blamed on the student.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

NOT_ATTEMPTED = "not attempted yet"
TIME_LIMIT = 10.0  # seconds one call of a student's function may take


@dataclass
class Result:
    """The verdict on one exercise: ``status`` is ``"correct"``, ``"wrong"`` or
    ``"not attempted yet"``; truthy only when correct, so graders write ``assert result``."""

    name: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = {"correct": "✓", "wrong": "✗"}.get(self.status, "…")
        return f"{mark} {self.name}: {self.status}. {self.message}"


class Wrong(Exception):
    """Raised inside a checker with the hint to show the student."""


class _NotAttempted(Exception):
    """The student's function still raises ``NotImplementedError`` (the stub)."""


class _TimedOut(BaseException):
    """Raised by the alarm; a BaseException so that a student's ``except Exception`` cannot
    swallow it."""


class CheckerBug(RuntimeError):
    """A checker failed outside the student's code: fmkit's fault, not the student's."""


def run_check(name: str, check: Callable[[], str], quiet: bool = False) -> Result:
    """Run ``check`` (which returns the success message or raises :class:`Wrong`), print the
    verdict unless ``quiet``, and return it."""
    try:
        result = Result(name, "correct", check())
    except _NotAttempted:
        result = Result(
            name,
            NOT_ATTEMPTED,
            "Replace the `raise NotImplementedError` with your code, then run this cell again.",
        )
    except Wrong as hint:
        result = Result(name, "wrong", str(hint))
    except Exception as error:  # not the student's call: fmkit's own bug
        raise CheckerBug(
            f"the checker for '{name}' failed inside fmkit ({type(error).__name__}: {error}). "
            "This is a bug in fmkit, not in your code; please report it."
        ) from error
    if not quiet:
        print(result)
    return result


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (Unix, main thread: true inside a Jupyter kernel);
    elsewhere run it without a limit."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def alarm(signum, frame):
        raise _TimedOut()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _copy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    return value


def _changed(before: Any, after: Any) -> bool:
    if isinstance(before, torch.Tensor):
        return before.shape != after.shape or not torch.equal(before, after.detach())
    if isinstance(before, (list, tuple)):
        return any(_changed(b, a) for b, a in zip(before, after))
    return False


def call(
    fn: Callable,
    *args: Any,
    time_limit: float = TIME_LIMIT,
    names: tuple[str, ...] = (),
    **kwargs: Any,
) -> Any:
    """Call the student's ``fn`` on copies of ``args`` and return what it returns.

    The checker's own tensors are never handed over, so a function that works in place
    cannot corrupt them; one that does modify its inputs is told so. ``names`` (the
    parameters' names, in order) make that message precise. A stub is reported as not
    attempted, a crash or a run past ``time_limit`` seconds as a wrong answer with a hint.
    """
    if not callable(fn):
        raise Wrong(f"expected a function (define it with `def`), got {type(fn).__name__}.")
    originals = [_copy(a) for a in args]
    given = [_copy(a) for a in args]
    try:
        with _time_limit(time_limit):
            answer = fn(*given, **kwargs)
    except NotImplementedError:
        raise _NotAttempted() from None
    except _TimedOut:
        raise Wrong(
            f"your function took longer than {time_limit:g} s: look for an infinite loop "
            "(a `while` whose condition never changes) or a `sleep`."
        ) from None
    except Exception as error:
        raise Wrong(f"calling your function raised {type(error).__name__}: {error}") from None
    for i, (before, after) in enumerate(zip(originals, given)):
        if _changed(before, after):
            name = names[i] if i < len(names) else f"argument {i + 1}"
            raise Wrong(
                f"your function changed its input `{name}` in place. Leave inputs untouched: "
                "write `x = x + dx` rather than `x += dx`, or start from `x.clone()`."
            )
    return answer


def as_answer(answer: Any, what: str = "a tensor") -> torch.Tensor:
    """The student's return value as a tensor, or :class:`Wrong` naming what it was instead."""
    if answer is None:
        raise Wrong("your function returned None: did you forget the `return` statement?")
    if (
        type(answer).__module__ == "torch.return_types"
    ):  # torch.min(...), torch.max(...), torch.sort(...)
        raise Wrong(
            f"your function returned a `{type(answer).__name__}` result, a (values, indices) pair: "
            "take `.values` (or `.indices`, whichever the exercise asks for)."
        )
    if isinstance(answer, (tuple, list)):
        raise Wrong(
            f"your function returned a {type(answer).__name__} of {len(answer)} items; return {what} instead "
            "(check for a stray comma after the return value)."
        )
    if isinstance(answer, np.ndarray):
        raise Wrong(
            f"your function returned a NumPy array; return {what} (stay in torch, or use torch.from_numpy)."
        )
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        return torch.tensor(float(answer))
    if not isinstance(answer, torch.Tensor):
        raise Wrong(f"your function returned a {type(answer).__name__}; return {what}.")
    return answer.detach()


def expect_close(
    answer: Any, expected: torch.Tensor, hint: str, *, atol: float = 1e-5, rtol: float = 1e-4
) -> torch.Tensor:
    """Raise :class:`Wrong` (with a diagnosis, else ``hint``) unless ``answer`` matches ``expected``."""
    answer = as_answer(answer)
    expected = expected.detach()
    if answer.shape != expected.shape:
        if answer.ndim == 2 and answer.shape == expected.shape[::-1]:
            raise Wrong(
                f"your result is transposed: shape {tuple(answer.shape)}, expected {tuple(expected.shape)}."
            )
        if answer.numel() == expected.numel():
            raise Wrong(
                f"the right number of entries in the wrong shape: got {tuple(answer.shape)}, expected "
                f"{tuple(expected.shape)}. {hint}"
            )
        raise Wrong(
            f"expected a result of shape {tuple(expected.shape)}, got {tuple(answer.shape)}. {hint}"
        )
    if not answer.is_floating_point() and expected.is_floating_point():
        raise Wrong(
            f"your result holds integers ({answer.dtype}); are those indices? Return the values, as floats. {hint}"
        )
    if not torch.all(torch.isfinite(answer)):
        raise Wrong(f"your result contains NaN or infinity. {hint}")
    answer = answer.to(device=expected.device, dtype=expected.dtype)
    if not torch.allclose(answer, expected, atol=atol, rtol=rtol):
        raise Wrong(hint)
    return answer


def matches(answer: Any, other: torch.Tensor, atol: float = 1e-5) -> bool:
    """Whether ``answer`` equals ``other`` (shape and values): for naming a known mistake."""
    try:
        answer = as_answer(answer)
    except Wrong:
        return False
    return answer.shape == other.shape and torch.allclose(
        answer.to(other.dtype), other.detach(), atol=atol, rtol=1e-4
    )


def check_value(
    name: str,
    fn: Callable[[], Any],
    expected: Any,
    *,
    hint: str,
    mistakes: tuple[tuple[Any, str], ...] = (),
    success: str = "that is the value.",
    atol: float = 1e-3,
    rtol: float = 1e-3,
    quiet: bool = False,
) -> Result:
    """Check a derivation exercise: ``fn()`` returns a number (or a short vector) worked out by
    hand. ``mistakes`` pairs the values of plausible wrong derivations with what went wrong."""
    expected = torch.as_tensor(expected, dtype=torch.float64)

    def check() -> str:
        answer = call(fn)
        if isinstance(answer, (tuple, list)) and all(isinstance(a, (int, float)) for a in answer):
            answer = torch.tensor(answer, dtype=torch.float64)
        answer = as_answer(answer, "a number").to(torch.float64)
        if answer.numel() == expected.numel():
            answer = answer.reshape(expected.shape)  # accept (2,), (1, 2) or a list for a 2-vector
        for value, why in mistakes:
            value = torch.as_tensor(value, dtype=torch.float64)
            if (
                answer.shape == value.shape
                and torch.allclose(answer, value, atol=atol, rtol=rtol)
                and not torch.allclose(value, expected, atol=atol, rtol=rtol)
            ):
                raise Wrong(why)
        expect_close(answer, expected, hint, atol=atol, rtol=rtol)
        return success

    return run_check(name, check, quiet)


# ----------------------------------------------------------------- inputs the checkers share


def inputs(
    seed: int = 0, n: int = 16, dim: int = 2
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reproducible ``x_0 (n, dim)``, ``x_1 (n, dim)`` and ``t (n, 1)`` for a checker."""
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, dim, generator=g),
        3 * torch.randn(n, dim, generator=g),
        torch.rand(n, 1, generator=g),
    )


def toy_field(x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """A smooth 2-D field that depends on both x and t, so time mistakes show; ``t`` may be a
    float, ``(batch,)`` or ``(batch, 1)``, as for every velocity in the course."""
    from ..paths import as_time

    t = as_time(t, x)[:, 0]  # (batch,)
    return torch.stack([torch.sin(x[:, 1]) + 3 * t, x[:, 0] * t**2 - x[:, 1]], dim=1)
