import itertools

import pytest
import torch

import fmkit as fm
from fmkit import metrics


def test_identical_clouds_give_zero(gen):
    a = torch.randn(200, 2, generator=gen)
    assert metrics.wasserstein2(a, a) == pytest.approx(0.0, abs=1e-9)
    assert metrics.energy_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # Unbiased MMD of a cloud with itself sits just below zero, by at most 2 / n.
    assert -2 / 200 < metrics.mmd(a, a) <= 0


def test_shifted_cloud_w2_is_the_shift(gen):
    a = torch.randn(300, 2, generator=gen)
    shift = torch.tensor([0.6, -0.8])
    assert metrics.wasserstein2(a, a + shift) == pytest.approx(1.0, rel=1e-6)


def test_w2_matches_brute_force_on_a_tiny_problem(gen):
    a, b = torch.randn(6, 2, generator=gen), torch.randn(6, 2, generator=gen)
    best = min(((a[list(p)] - b) ** 2).sum(1).mean().item() for p in itertools.permutations(range(6)))
    assert metrics.wasserstein2(a, b) == pytest.approx(best**0.5, rel=1e-6)


@pytest.mark.parametrize("metric", [metrics.wasserstein2, metrics.energy_distance, metrics.mmd])
def test_metrics_are_symmetric_and_grow_with_the_gap(metric, gen):
    a, b = torch.randn(300, 2, generator=gen), torch.randn(250, 2, generator=gen)
    assert metric(a, b) == pytest.approx(metric(b, a), rel=1e-6, abs=1e-12)
    near, far = metric(a, b + 0.5), metric(a, b + 2.0)
    assert 0 < near < far


def test_metrics_reject_bad_clouds():
    with pytest.raises(ValueError, match="NaN or infinite"):
        metrics.mmd(torch.tensor([[0.0, float("nan")], [1.0, 1.0]]), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="same dimension"):
        metrics.energy_distance(torch.zeros(3, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"shape \(n, dim\)"):
        metrics.wasserstein2(torch.zeros(3), torch.zeros(3, 2))


def test_noise_floor_separates_true_draws_from_a_wrong_model(gen):
    floor = metrics.noise_floor(fm.data.ring_of_gaussians, metrics.mmd, 1000, n_repeats=8, generator=gen)
    assert floor.values.shape == (8,)
    assert floor.p10 <= floor.median <= floor.p90
    assert floor.p90 < 0.003
    blurred = fm.data.ring_of_gaussians(1000, std=0.4, generator=gen)
    assert metrics.mmd(blurred, fm.sample("ring", 1000, generator=gen)) > 5 * floor.p90
