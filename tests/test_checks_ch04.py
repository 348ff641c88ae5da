"""Chapter 4's checkers name each plausible mistake with its own hint."""

import math

import torch
from cases_ch04 import reflow_pairs, straightness, sub_batch_ot

import fmkit as fm
from fmkit import checks
from fmkit.checks import ch04


def _hint(check, fn):
    result = check(fn, quiet=True)
    assert result.status == "wrong", result
    return result.message


def test_sub_batch_ot_names_each_mistake():
    check = checks.check_sub_batch_ot
    assert "counted from 0" in _hint(check, lambda a, b, s: sub_batch_ot(a, b, s, offset=False))
    assert "whole batch" in _hint(check, lambda a, b, s: sub_batch_ot(a, b, s, whole=True))
    assert "inverse permutation" in _hint(
        check, lambda a, b, s: sub_batch_ot(a, b, s, transposed=True)
    )
    assert "*squared* distances" in _hint(
        check, lambda a, b, s: sub_batch_ot(a, b, s, squared=False)
    )
    assert "reordered points" in _hint(check, lambda a, b, s: a[sub_batch_ot(a, b, s)])
    assert "independent pairing" in _hint(check, lambda a, b, s: torch.arange(len(a)))
    assert "shorter sub-batch" in _hint(
        check, lambda a, b, s: sub_batch_ot(a, b, s)[: len(a) // s * s]
    )
    assert "integer indices" in _hint(check, lambda a, b, s: sub_batch_ot(a, b, s).float())
    assert "NumPy" in _hint(check, lambda a, b, s: sub_batch_ot(a, b, s).numpy())
    assert "not a permutation" in _hint(
        check, lambda a, b, s: torch.zeros(len(a), dtype=torch.long)
    )


def test_sub_batch_ot_reference_agrees_with_fmkit_on_edge_sizes():
    x_0, x_1 = torch.randn(13, 2), torch.randn(13, 2)
    for size in (1, 4, 13, 20):
        torch.testing.assert_close(
            x_0[ch04.sub_batch_permutation(x_0, x_1, size)],
            fm.ot_pairing(x_0, x_1, sub_batch=size)[0],
        )
    assert torch.equal(ch04.sub_batch_permutation(x_0, x_1, 1), torch.arange(13))


def test_straightness_names_each_mistake():
    check = checks.check_straightness
    assert "divide it by the mean" in _hint(check, lambda p: straightness(p, normalise=False))
    assert "velocity is (x_{k+1} - x_k) * n_steps" in _hint(
        check, lambda p: straightness(p, velocity=False)
    )
    assert "its own |x_1 - x_0|^2" in _hint(check, lambda p: straightness(p, per_path=True))
    assert "*mean* over the steps" in _hint(check, lambda p: straightness(p) * (len(p) - 1))
    assert "squared norms" in _hint(check, lambda p: ch04.straightness_variants(p)["not squared"])
    assert "not with the end point" in _hint(
        check, lambda p: ch04.straightness_variants(p)["against x_1"]
    )
    assert "one number" in _hint(check, lambda p: ((p[1:] - p[:-1]) ** 2).sum(-1).mean(0))


def test_straightness_of_straight_paths_is_zero_and_reference_matches_fmkit():
    t = torch.linspace(0, 1, 9)[:, None, None]
    line = torch.randn(5, 2) + t * torch.randn(5, 2)
    assert fm.metrics.straightness(line) < 1e-12
    assert checks.check_straightness(straightness, quiet=True)


def test_reflow_pairs_names_each_mistake():
    check = checks.check_reflow_pairs
    assert "Euler steps" in _hint(check, lambda v, x, n: reflow_pairs(v, x, n, method="euler"))
    assert "RK4" in _hint(check, lambda v, x, n: reflow_pairs(v, x, n, method="rk4"))
    assert "wrong way round" in _hint(check, lambda v, x, n: reflow_pairs(v, x, n)[::-1])
    assert "only the end points" in _hint(check, lambda v, x, n: reflow_pairs(v, x, n)[1])
    assert "unchanged" in _hint(
        check, lambda v, x, n: (torch.randn_like(x), reflow_pairs(v, x, n)[1])
    )
    assert "single Euler step" in _hint(check, lambda v, x, n: (x, x + v(x, 0.0)))
    assert "half-step time" in _hint(
        check, lambda v, x, n: (x, ch04.midpoint_variant(v, x, n, time_at_start=True))
    )
    assert "one step short" in _hint(
        check, lambda v, x, n: (x, ch04.midpoint_variant(v, x, n, stop_early=True))
    )
    assert "got a tuple of 3 items" in _hint(check, lambda v, x, n: (*reflow_pairs(v, x, n), n))


def test_reflow_pairs_accepts_a_hand_written_midpoint_loop():
    def by_hand(velocity, x_0, n_steps):
        x, dt = x_0, 1.0 / n_steps
        for k in range(n_steps):
            t = k * dt
            x = x + dt * velocity(x + 0.5 * dt * velocity(x, t), t + 0.5 * dt)
        return x_0, x

    assert checks.check_reflow_pairs(by_hand, quiet=True)


def test_two_pairs_expected_values_and_mistakes():
    t, cost = ch04.two_pair_answer()
    assert math.isclose(t, 4 / 7, rel_tol=1e-9) and math.isclose(cost, 4.5, rel_tol=1e-9)
    check = checks.check_two_pairs
    assert "as given" in _hint(check, lambda: (4 / 7, 16.5))
    assert "total" in _hint(check, lambda: (4 / 7, 9.0))
    assert "*squared* length" in _hint(check, lambda: (4 / 7, (2 + math.sqrt(5)) / 2))
    assert "1 - t" in _hint(check, lambda: (3 / 7, 4.5))
    assert "half way" in _hint(check, lambda: (0.5, 4.5))
    assert checks.check_two_pairs(lambda: [4 / 7, 4.5], quiet=True)


def test_parabola_straightness_expected_value_and_mistakes():
    assert math.isclose(ch04.parabola_straightness(), 1 / 6, abs_tol=1e-6)
    check = checks.check_parabola_straightness
    assert "not yet divided" in _hint(check, lambda: 1 / 3)
    assert "not by its length" in _hint(check, lambda: 1 / 3 / math.sqrt(2))
    assert "subtract the displacement" in _hint(check, lambda: 7 / 6)
    assert "its square does not" in _hint(check, lambda: 0.0)
    assert "not (1 + 1)^2" in _hint(check, lambda: 1 / 12)
