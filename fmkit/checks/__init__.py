"""Checkers for the chapters' exercises, one module per chapter.

Each ``check_*`` calls the student's function on its own inputs (copies, so the student
cannot change them), compares the answer with fmkit's reference, prints a verdict with a
hint, and returns a :class:`Result` that is truthy only when the answer is right. A function
whose body still raises ``NotImplementedError`` (the student edition's stub) is reported as
*not attempted yet*, so a chapter runs on with its exercises unfinished; a function that
forgets ``return``, returns the wrong type or shape, changes its inputs, or runs too long is
told exactly that. Graders use ``assert result``.

>>> import fmkit
>>> bool(check_interpolate(fmkit.interpolate, quiet=True))
True
"""

from . import ch01, ch02, ch03, ch04, ch05, ch06, ch07
from ._core import NOT_ATTEMPTED, CheckerBug, Result, check_value
from .ch01 import check_interpolate, check_target_velocity  # chapter 1
from .ch02 import check_loss  # chapter 2
from .ch03 import check_euler_sample, check_midpoint_step  # chapter 3
from .ch04 import check_ot_pair  # chapter 4
from .ch05 import check_divergence  # chapter 5
from .ch06 import check_guided_velocity  # chapter 6
from .ch07 import check_nearest_distance  # chapter 7

# Every checker by exercise name, for the tests and for graders who loop over a course.
CHECKS = {name: check for chapter in (ch01, ch02, ch03, ch04, ch05, ch06, ch07) for name, check in chapter.CHECKS.items()}
