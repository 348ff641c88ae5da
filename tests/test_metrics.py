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
    best = min(
        ((a[list(p)] - b) ** 2).sum(1).mean().item() for p in itertools.permutations(range(6))
    )
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
    floor = metrics.noise_floor(
        fm.data.ring_of_gaussians, metrics.mmd, 1000, n_repeats=8, generator=gen
    )
    assert floor.values.shape == (8,)
    assert floor.p10 <= floor.median <= floor.p90
    assert floor.p90 < 0.003
    blurred = fm.data.ring_of_gaussians(1000, std=0.4, generator=gen)
    assert metrics.mmd(blurred, fm.sample("ring", 1000, generator=gen)) > 5 * floor.p90


def test_large_clouds_are_scored_in_blocks_with_the_same_answer(gen, monkeypatch):
    a, b = torch.randn(300, 2, generator=gen), torch.randn(200, 2, generator=gen) + 0.3
    whole = metrics.mmd(a, b), metrics.energy_distance(a, b)
    monkeypatch.setattr(metrics, "_BLOCK_PAIRS", 1000)  # blocks of a few rows
    blocked = metrics.mmd(a, b), metrics.energy_distance(a, b)
    assert blocked == pytest.approx(whole, rel=1e-9, abs=1e-12)


def test_metrics_take_arrays_and_tensors_of_any_dtype(gen):
    a = torch.randn(50, 2, generator=gen)
    assert metrics.mmd(a.numpy(), a.double()) == pytest.approx(metrics.mmd(a, a))
    assert metrics.mmd((a * 10).long(), a) > 0


def test_the_null_band_says_whether_a_score_is_inside_it(gen):
    band = metrics.null_band(
        fm.data.ring_of_gaussians, metrics.mmd, 300, n_repeats=5, generator=gen
    )
    assert band.covers(band.p10) and not band.covers(10 * band.p90 + 1)
    assert repr(band).startswith("NullBand(5 pairs: p10 ")
    assert metrics.noise_floor is metrics.null_band  # the earlier name still works


def test_score_solve_gives_what_the_explorers_show(gen):
    reference = fm.sample("ring", 200, generator=gen)
    sol = fm.integrate(
        fm.exact.ring_field(),
        fm.sample("gaussian", 200, generator=gen),
        n_steps=4,
        method="midpoint",
        return_trajectory=True,
    )
    score = metrics.score_solve(sol, reference)
    assert score.nfe == 8
    assert score.mmd2 == pytest.approx(metrics.mmd(sol.x, reference))
    assert score.straightness == pytest.approx(metrics.straightness(sol.trajectory))
    without = fm.integrate(fm.exact.ring_field(), sol.trajectory[0], n_steps=4, method="midpoint")
    assert metrics.score_solve(without, reference).straightness is None


def test_reach_and_spread_of_class_samples():
    means = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    x = torch.tensor([[0.1, 0.0], [0.0, 0.3], [9.0, 0.0], [0.0, -0.2]])
    assert metrics.reach(x, means, 0) == 0.75 and metrics.reach(x, means, 1) == 0.25
    assert metrics.spread(x[[0, 1, 3]], means[0]) == pytest.approx(0.2)  # distances 0.1, 0.3, 0.2
    with pytest.raises(ValueError, match=r"label must be in 0..1"):
        metrics.reach(x, means, 2)


def _projection(dim: int, k: int) -> torch.Tensor:
    return torch.randn(dim, k, generator=torch.Generator().manual_seed(7)) / dim**0.5


def test_feature_mmd_reads_two_real_draws_inside_its_band_and_a_wrong_model_above(gen):
    weights = _projection(16, 8)
    features = lambda x: torch.tanh(x @ weights)  # a fixed feature map, (batch, 8)
    real = torch.randn(400, 16, generator=gen)
    same = metrics.feature_mmd(torch.randn(300, 16, generator=gen), real, features, generator=gen)
    assert same.n == 200 and same.covered, same
    assert len(same.scores) == len(same.band.values) == 20
    # The kernel's width is the median feature distance of the real images, fixed by them.
    assert same.bandwidth == pytest.approx(float(torch.pdist(features(real).double()).median()))
    shifted = torch.randn(300, 16, generator=gen) + 1.0
    wrong = metrics.feature_mmd(shifted, real, features, generator=gen)
    assert not wrong.covered and wrong.score > 10 * same.band.p90, wrong


def test_feature_mmd_band_comes_from_disjoint_halves(gen):
    # The two halves of one real set share no rows: the band is centred on zero, not pulled
    # below it, so its median sits well inside +-(its own spread).
    real = torch.randn(300, 4, generator=gen)
    result = metrics.feature_mmd(real[:100], real, lambda x: x, n_repeats=40, generator=gen)
    spread = result.band.p90 - result.band.p10
    assert abs(result.band.median) < 0.5 * spread, result


def test_feature_mmd_refuses_sizes_it_cannot_split(gen):
    real = torch.randn(50, 4, generator=gen)
    with pytest.raises(ValueError, match="n can be 2 to 25"):
        metrics.feature_mmd(real, real, lambda x: x, n=40)
    with pytest.raises(ValueError, match="feature rows"):
        metrics.feature_mmd(real, real, lambda x: x[:3])
