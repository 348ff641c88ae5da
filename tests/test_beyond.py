"""Straightness, reflow, likelihoods, conditional fields and guidance, digits."""

import math

import pytest
import torch
from torch.testing import assert_close

import fmkit as fm
from fmkit import exact, likelihood, metrics

# ----------------------------------------------------------------------------- straightness


def test_straight_constant_speed_paths_score_zero_and_curved_ones_do_not():
    t = torch.linspace(0, 1, 11)[:, None, None]  # (11, 1, 1)
    start, end = torch.randn(1, 20, 2), torch.randn(1, 20, 2)
    straight = (1 - t) * start + t * end  # (11, 20, 2)
    assert metrics.straightness(straight) == pytest.approx(0.0, abs=1e-12)
    angle = math.pi / 2 * t
    arc = torch.cat([torch.cos(angle), torch.sin(angle)], dim=2).expand(
        11, 20, 2
    )  # quarter circles
    assert metrics.straightness(arc) > 0.1
    with pytest.raises(ValueError, match="steps"):
        metrics.straightness(torch.zeros(1, 3, 2))


def test_a_constant_field_is_straight_and_the_rings_field_is_not(gen):
    def shift(x, t):
        return torch.full_like(x, 2.0)

    x_0 = torch.randn(200, 2, generator=gen)
    traj = fm.integrate(shift, x_0, n_steps=10, return_trajectory=True).trajectory
    assert metrics.straightness(traj) == pytest.approx(0.0, abs=1e-10)
    ring_traj = fm.integrate(
        exact.ring_field(), x_0, n_steps=20, method="rk4", return_trajectory=True
    ).trajectory
    assert metrics.straightness(ring_traj) > 0.01  # the ring's marginal paths bend


# ----------------------------------------------------------------------------- reflow


def test_reflow_pairs_are_the_flows_end_points(gen):
    field = exact.ring_field()
    x_0, x_1 = fm.reflow_pairs(field, 300, n_steps=16, generator=gen)
    assert x_0.shape == x_1.shape == (300, 2)
    assert_close(x_1, fm.integrate(field, x_0, n_steps=16, method="midpoint").x)


def test_reflow_straightens_the_field_so_one_step_suffices(gen):
    field = exact.ring_field()
    x_0, x_1 = fm.reflow_pairs(field, 3000, n_steps=32, generator=gen)
    model = fm.VelocityField()
    fm.train_on_pairs(model, x_0, x_1, n_steps=600, batch_size=500, generator=gen, progress=False)
    start = fm.sample("gaussian", 1000, generator=gen)
    ref = fm.sample("ring", 1000, generator=gen)
    one_step_rectified = metrics.mmd(fm.integrate(model, start, n_steps=1).x, ref)
    one_step_original = metrics.mmd(fm.integrate(field, start, n_steps=1).x, ref)
    assert one_step_rectified < 0.2 * one_step_original


# ----------------------------------------------------------------------------- likelihood


def test_divergence_of_a_linear_field_is_its_trace(gen):
    A = torch.tensor([[0.5, 2.0], [-1.0, -1.5]])

    def field(x, t):
        return x @ A.T

    x = torch.randn(50, 2, generator=gen)
    assert_close(likelihood.divergence(field, x, 0.3), torch.full((50,), -1.0), rtol=0, atol=1e-6)
    estimate = likelihood.divergence(
        field, x, 0.3, method="hutchinson", n_probes=4000, generator=gen
    )
    assert_close(estimate, torch.full((50,), -1.0), rtol=0, atol=0.1)  # unbiased, noisy


def test_hutchinson_is_unbiased_on_a_nonlinear_field(gen):
    field = exact.ring_field()
    x = torch.randn(20, 2, generator=gen)
    exact_div = likelihood.divergence(field, x, 0.6)
    estimate = likelihood.divergence(
        field, x, 0.6, method="hutchinson", n_probes=3000, generator=gen
    )
    assert (estimate - exact_div).abs().max() < 0.15 * exact_div.abs().max() + 0.05


def test_log_likelihood_of_the_exact_gaussian_flow_is_the_gaussian_density(gen):
    mean, std = torch.tensor([[1.0, -2.0]]), 0.5
    field = exact.mixture_field(mean, std)
    x = mean + std * torch.randn(100, 2, generator=gen)
    truth = exact.mixture_log_prob(mean, std)(x)
    assert_close(fm.log_likelihood(field, x, n_steps=32), truth, rtol=0, atol=1e-3)
    hutch = fm.log_likelihood(
        field, x, n_steps=32, divergence="hutchinson", n_probes=64, generator=gen
    )
    assert (hutch - truth).abs().mean() < 0.1


def test_log_likelihood_of_the_exact_ring_flow_is_the_ring_density(gen):
    x = fm.sample("ring", 200, generator=gen)
    estimate = fm.log_likelihood(exact.ring_field(), x, n_steps=64)
    truth = exact.ring_log_prob()(x)
    assert (estimate - truth).abs().mean() < 0.05


@pytest.mark.parametrize("t", [0.3, 0.7])
def test_log_likelihood_at_an_intermediate_time_is_the_marginal_path_density(t, gen):
    x = fm.interpolate(
        fm.sample("gaussian", 200, generator=gen), fm.sample("ring", 200, generator=gen), t
    )
    estimate = fm.log_likelihood(exact.ring_field(), x, n_steps=32, t=t)
    assert (estimate - exact.ring_log_prob(t=t)(x)).abs().mean() < 0.02


def test_mixture_log_prob_integrates_to_one():
    axis = torch.linspace(-5, 5, 401)
    X, Y = torch.meshgrid(axis, axis, indexing="xy")
    density = exact.ring_log_prob()(torch.stack([X.ravel(), Y.ravel()], 1)).exp()
    assert density.sum().item() * (axis[1] - axis[0]).item() ** 2 == pytest.approx(1.0, abs=1e-3)


def test_likelihood_bad_arguments_are_clear_errors():
    with pytest.raises(
        ValueError, match="unknown divergence estimator 'trace'; choose one of: exact, hutchinson"
    ):
        fm.log_likelihood(lambda x, t: x, torch.zeros(2, 2), estimator="trace")
    with pytest.raises(ValueError, match="unknown divergence estimator 'trace'"):
        fm.log_likelihood(
            lambda x, t: x, torch.zeros(2, 2), divergence="trace"
        )  # the earlier keyword
    with pytest.raises(ValueError, match="unknown solver method"):
        fm.log_likelihood(lambda x, t: x, torch.zeros(2, 2), method="dopri5")


# ----------------------------------------------------------------------------- guidance


def test_conditional_model_uses_its_label(gen):
    model = fm.ConditionalVelocityField(n_classes=3)
    x = torch.randn(4, 2, generator=gen)
    a, b, none = (
        model(x, 0.5, label=0),
        model(x, 0.5, label=torch.tensor([1, 1, 1, 1])),
        model(x, 0.5),
    )
    assert not torch.allclose(a, b) and not torch.allclose(a, none)
    assert_close(none, model(x, 0.5, label=-1))
    with pytest.raises(ValueError, match=r"labels must be in 0..2"):
        model(x, 0.5, label=3)


def test_guided_velocity_interpolates_and_extrapolates():
    def model(x, t, label):  # 0 without a label, 1 with one
        return (
            torch.zeros_like(x)
            if int(torch.as_tensor(label).flatten()[0]) < 0
            else torch.ones_like(x)
        )

    x = torch.zeros(3, 2)
    for scale, expected in [(0.0, 0.0), (1.0, 1.0), (3.0, 3.0)]:
        assert_close(fm.guided_velocity(model, 1, scale)(x, 0.5), torch.full_like(x, expected))


@pytest.fixture(scope="module")
def conditional_ring():
    g = torch.Generator().manual_seed(0)
    data, labels = fm.ring_of_gaussians(4000, generator=g, return_labels=True)
    torch.manual_seed(0)
    model = fm.ConditionalVelocityField(n_classes=8)
    fm.train_flow(
        model,
        data,
        labels=labels,
        label_dropout=0.2,
        n_steps=1200,
        batch_size=500,
        generator=g,
        progress=False,
    )
    return model


def test_conditional_samples_land_on_their_mode_and_guidance_sharpens_them(conditional_ring, gen):
    means = fm.data.ring_means()
    hit_rate, spread = {}, {}
    for scale in (1.0, 2.0):
        x = fm.integrate(
            fm.guided_velocity(conditional_ring, 2, scale),
            fm.sample("gaussian", 1000, generator=gen),
            n_steps=16,
            method="midpoint",
        ).x
        hit_rate[scale] = (torch.cdist(x, means).argmin(1) == 2).float().mean()
        spread[scale] = (x - means[2]).norm(dim=1).median()
    assert hit_rate[1.0] > 0.8 and hit_rate[2.0] >= hit_rate[1.0] - 0.02
    assert spread[2.0] < spread[1.0]  # guidance trades diversity for typicality


# ----------------------------------------------------------------------------- digits


def test_digits_are_shipped_scaled_and_labelled():
    x, labels = fm.data.digits(return_labels=True)
    assert x.shape == (1797, 64) and x.dtype == torch.float32
    assert x.min() == -1.0 and x.max() == 1.0
    assert set(labels.tolist()) == set(range(10))


# ----------------------------------------------------------------------------- shapes and names


def test_a_base_log_prob_of_shape_batch_by_one_gives_one_value_per_row(gen):
    x = torch.randn(5, 2, generator=gen)
    flat = fm.log_likelihood(exact.ring_field(), x, n_steps=4)
    column = fm.log_likelihood(
        exact.ring_field(),
        x,
        n_steps=4,
        base_log_prob=lambda z: likelihood.standard_normal_log_prob(z)[:, None],
    )
    assert column.shape == (5,)
    assert_close(column, flat)


def test_log_likelihood_takes_one_time_per_row(gen):
    times = torch.tensor([0.2, 0.6, 1.0])
    x = fm.interpolate(
        fm.sample("gaussian", 3, generator=gen), fm.sample("ring", 3, generator=gen), times
    )  # on p_t
    per_row = fm.log_likelihood(exact.ring_field(), x, n_steps=16, t=times)
    one_by_one = torch.cat(
        [
            fm.log_likelihood(exact.ring_field(), x[i : i + 1], n_steps=16, t=float(times[i]))
            for i in range(3)
        ]
    )
    assert_close(per_row, one_by_one, rtol=1e-5, atol=1e-5)
    assert_close(fm.log_likelihood(exact.ring_field(), x, n_steps=16, t=times[:, None]), per_row)
    truth = torch.stack(
        [exact.ring_log_prob(t=float(s))(x[i : i + 1])[0] for i, s in enumerate(times)]
    )
    assert (per_row - truth).abs().max() < 0.02


def test_the_estimator_has_one_name_and_the_earlier_ones_still_work(gen):
    field = exact.ring_field()
    x = torch.randn(6, 2, generator=gen)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    new = likelihood.divergence(field, x, 0.5, estimator="hutchinson", n_probes=3, generator=g())
    assert_close(
        likelihood.divergence(field, x, 0.5, method="hutchinson", n_probes=3, generator=g()), new
    )
    new_ll = fm.log_likelihood(field, x, n_steps=4, estimator="hutchinson", generator=g())
    assert_close(
        fm.log_likelihood(field, x, n_steps=4, divergence="hutchinson", generator=g()), new_ll
    )
    import inspect

    for function in (likelihood.divergence, fm.log_likelihood):  # no parameter shadows the function
        assert "divergence" not in inspect.signature(function).parameters


def test_straightness_takes_a_solution(gen):
    sol = fm.integrate(
        exact.ring_field(), torch.randn(50, 2, generator=gen), n_steps=8, return_trajectory=True
    )
    assert metrics.straightness(sol) == metrics.straightness(sol.trajectory)


def test_labels_reach_the_model_as_whole_numbers(gen):
    model = fm.ConditionalVelocityField(n_classes=3)
    x = torch.randn(2, 2, generator=gen)
    assert_close(
        model(x, 0.5, label=torch.tensor([1.0, 2.0])), model(x, 0.5, label=torch.tensor([1, 2]))
    )
    assert_close(
        model(x, 0.5, label=torch.tensor([[1], [2]])), model(x, 0.5, label=torch.tensor([1, 2]))
    )
    with pytest.raises(ValueError, match="whole class numbers"):
        model(x, 0.5, label=torch.tensor([1.7, 2.0]))  # would have been truncated to 1
    guided = fm.guided_velocity(model, torch.tensor([0, 2]), 2.0)
    assert guided(x, 0.5).shape == (2, 2)


def test_reflow_pairs_follow_the_models_dimension(gen):
    model = fm.VelocityField(dim=5, hidden_dim=8)
    x_0, x_1 = fm.reflow_pairs(model, 4, n_steps=2, generator=gen)
    assert x_0.shape == x_1.shape == (4, 5)


def test_divergence_with_given_probes_is_the_mean_of_their_quadratic_forms(gen):
    a = torch.tensor([[1.0, 2.0], [-3.0, 0.5]])
    x = torch.randn(6, 2, generator=gen)
    probes = torch.randint(0, 2, (3, 6, 2), generator=gen).float() * 2 - 1  # (k, batch, dim)
    expected = torch.einsum("kbi,ij,kbj->kb", probes, a, probes).mean(0)  # eps^T A eps, averaged
    torch.testing.assert_close(
        likelihood.divergence(lambda z, t: z @ a.T, x, 0.5, probes=probes), expected
    )
    torch.testing.assert_close(
        likelihood.divergence(lambda z, t: z @ a.T, x, 0.5, probes=probes[0]),
        torch.einsum("bi,ij,bj->b", probes[0], a, probes[0]),
    )
    with pytest.raises(ValueError, match="probes must have shape"):
        likelihood.divergence(lambda z, t: z @ a.T, x, 0.5, probes=torch.ones(2, 5, 2))
