import pytest
import torch
from torch.testing import assert_close

import fmkit as fm
from fmkit import data, exact, metrics


def test_ring_field_transports_the_base_to_the_ring(gen):
    x_0 = fm.sample("gaussian", 2000, generator=gen)
    moved = fm.integrate(exact.ring_field(), x_0, n_steps=50, method="rk4").x
    fresh = fm.sample("ring", 2000, generator=gen)
    floor = metrics.noise_floor(
        data.ring_of_gaussians, metrics.mmd, 2000, n_repeats=5, generator=gen
    )
    assert metrics.mmd(moved, fresh) < max(3 * floor.p90, 1e-3)
    # and far from where it started
    assert metrics.mmd(x_0, fresh) > 0.1


def test_mixture_field_of_one_gaussian_gives_that_gaussian(gen):
    mean, std = torch.tensor([[2.0, -1.0]]), 0.5
    x_0 = torch.randn(20000, 2, generator=gen)
    x_1 = fm.integrate(exact.mixture_field(mean, std), x_0, n_steps=20, method="rk4").x
    assert_close(x_1.mean(0), mean[0], rtol=0, atol=0.02)
    assert_close(x_1.std(0), torch.full((2,), std), rtol=0, atol=0.02)
    # One Gaussian to another is an affine map: each point lands at mean + std * x_0.
    assert_close(x_1, mean + std * x_0, rtol=0, atol=1e-3)


def _monte_carlo_field(x, t, sampler, n, generator):
    """E[x_1 - x_0 | x_t = x] by self-normalised importance sampling over fresh x_1 draws."""
    x_1 = sampler(n, generator=generator)  # (n, 2)
    x_0 = (x - t * x_1) / (1 - t)  # the base point each x_1 would need to pass through x
    log_w = -(x_0**2).sum(1) / 2  # N(0, I) density of that base point (Jacobian is constant)
    w = torch.softmax(log_w.double(), 0).float()
    return (w[:, None] * (x_1 - x_0)).sum(0)


@pytest.mark.parametrize("t", [0.1, 0.5, 0.8])
def test_ring_field_agrees_with_a_monte_carlo_estimate(t, gen):
    field = exact.ring_field()
    # Query points drawn from the marginal p_t itself, where the estimate has many samples.
    x_t = fm.interpolate(
        fm.sample("gaussian", 4, generator=gen), fm.sample("ring", 4, generator=gen), t
    )
    for x in x_t:
        mc = _monte_carlo_field(x, t, data.ring_of_gaussians, 400_000, gen)
        assert_close(
            field(x[None], t)[0], mc, rtol=0, atol=0.05, msg=lambda m, x=x: f"{m} at x={x}, t={t}"
        )


def test_empirical_field_of_many_ring_samples_approaches_the_mixture_field(gen):
    pts = fm.sample("ring", 50_000, generator=gen)
    x = fm.sample("gaussian", 200, generator=gen) * 2
    for t in (0.2, 0.6):
        diff = exact.empirical_field(pts)(x, t) - exact.ring_field()(x, t)
        assert diff.norm(dim=1).median() < 0.05


def test_empirical_field_near_t1_lands_on_training_points(gen):
    train = fm.sample("ring", 40, generator=gen)
    x_0 = fm.sample("gaussian", 300, generator=gen)
    x_1 = fm.integrate(exact.empirical_field(train), x_0, n_steps=200, method="euler").x
    nearest = torch.cdist(x_1, train).min(1).values
    assert nearest.max() < 0.05  # every sample is (nearly) a copy of a training point


@pytest.mark.parametrize("field", [exact.ring_field(), exact.empirical_field(torch.randn(30, 2))])
def test_fields_are_finite_at_both_ends(field, gen):
    x = 4 * torch.randn(100, 2, generator=gen)
    for t in (0.0, 1.0, torch.ones(100, 1)):
        v = field(x, t)
        assert v.shape == (100, 2) and torch.isfinite(v).all()


def test_exact_field_loss_is_below_any_trained_loss(trained_ring, gen):
    _, history, _ = trained_ring
    x_1 = fm.sample("ring", 100_000, generator=gen)
    x_0, t = torch.randn(100_000, 2, generator=gen), torch.rand(100_000, 1, generator=gen)
    floor = fm.flow_matching_loss(exact.ring_field(), x_0, x_1, t).item()
    assert 2.65 < floor < 2.85  # the irreducible loss of random pairing on this ring: about 2.75
    # train_flow draws logit-normal times by default, which weight the loss differently and
    # move its floor: compare the trained loss with the floor under the same times.
    t_trained = fm.paths.sample_time(100_000, generator=gen, time_sampling="logit-normal")
    floor_trained = fm.flow_matching_loss(exact.ring_field(), x_0, x_1, t_trained).item()
    assert abs(floor_trained - floor) > 0.05  # the weighting matters
    assert floor_trained < history.final_loss() < floor_trained + 0.3
