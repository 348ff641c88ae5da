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

from . import ch01, ch02, ch03, ch04, ch05, ch06, ch07, ch08, ch09
from ._core import NOT_ATTEMPTED, CheckerBug, Result, check_value
from .ch01 import (  # chapter 1
    check_cosine_velocity,
    check_field_at_end,
    check_field_at_start,
    check_gaussian_field,
    check_interpolate,
    check_memorising_field,
    check_target_velocity,
)
from .ch02 import check_logit_normal_times, check_loss, check_loss_floor_t0, check_path_loss
from .ch03 import check_euler_path, check_first_step, check_heun_step, check_mmd2
from .ch04 import (
    check_parabola_straightness,
    check_reflow_pairs,
    check_straightness,
    check_sub_batch_ot,
    check_two_pairs,
)
from .ch05 import (
    check_distillation_loss,
    check_gaussian_average_velocity,
    check_meanflow_loss,
)
from .ch06 import check_cosine_score, check_euler_maruyama_step, check_score_from_velocity
from .ch07 import (
    check_divergence,
    check_euler_log_likelihood,
    check_hutchinson,
    check_linear_flow_log_density,
)
from .ch08 import (
    check_class_posterior,
    check_drop_labels,
    check_guided_at_t0,
    check_scheduled_guidance,
)
from .ch09 import (
    check_bits_per_pixel,
    check_evaluate_flow,
    check_memorisation_ratio,
    check_pca_encode,
)

CHAPTERS = (ch01, ch02, ch03, ch04, ch05, ch06, ch07, ch08, ch09)

# Every checker by exercise name, for the tests and for graders who loop over a course.
CHECKS = {name: check for chapter in CHAPTERS for name, check in chapter.CHECKS.items()}

__all__ = ["CHECKS", "CHAPTERS", "NOT_ATTEMPTED", "CheckerBug", "Result", "check_value"] + sorted(
    check.__name__ for check in CHECKS.values()
)
