"""Affine Gaussian paths: schedules, the four parameterisations, the exact fields under
every schedule, and the stochastic sampler."""

import math

import pytest
import torch
from torch.testing import assert_close

import fmkit as fm
from fmkit import exact, metrics, paths, solvers

SCHEDULES = paths.SCHEDULES
TIMES = (0.1, 0.3, 0.5, 0.7, 0.9)


def test_the_schedules_are_the_documented_ones():
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    lin, cos, vp = (paths.get_schedule(name) for name in ("linear", "cosine", "vp"))
    assert_close(lin.alpha(t), t)
    assert_close(lin.sigma(t), 1 - t)
    assert_close(cos.alpha(t), torch.sin(math.pi * t / 2))
    assert_close(cos.sigma(t), torch.cos(math.pi * t / 2))
    assert_close(vp.alpha(t) ** 2 + vp.sigma(t) ** 2, torch.ones_like(t))
    # Variance preserving: noise (almost) at t = 0, the data at t = 1.
    assert float(vp.alpha(t[:1])) < 0.01 and float(vp.sigma(t[-1:])) == 0.0
    assert (vp.alpha(t).diff() > 0).all()


@pytest.mark.parametrize("name", SCHEDULES)
def test_derivatives_match_finite_differences(name):
    path = paths.get_schedule(name)
    t = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    h = 1e-6
    assert_close(
        path.d_alpha(t), (path.alpha(t + h) - path.alpha(t - h)) / (2 * h), rtol=1e-5, atol=1e-6
    )
    assert_close(
        path.d_sigma(t), (path.sigma(t + h) - path.sigma(t - h)) / (2 * h), rtol=1e-5, atol=1e-6
    )
    assert_close(path.sigma_d_sigma(t), path.sigma(t) * path.d_sigma(t))


@pytest.mark.parametrize("name", SCHEDULES)
def test_interpolate_and_target_velocity_follow_the_schedule(name, gen):
    x_0, x_1 = torch.randn(6, 2, generator=gen), torch.randn(6, 2, generator=gen)
    assert_close(paths.interpolate(x_0, x_1, 1.0, schedule=name), x_1, atol=1e-6, rtol=0)
    t = torch.rand(6, 1, generator=gen) * 0.9 + 0.05
    h = 1e-3
    slope = (
        paths.interpolate(x_0, x_1, t + h, schedule=name)
        - paths.interpolate(x_0, x_1, t - h, schedule=name)
    ) / (2 * h)
    assert_close(paths.target_velocity(x_0, x_1, t, schedule=name), slope, rtol=1e-3, atol=1e-3)


def test_linear_defaults_are_unchanged(gen):
    x_0, x_1 = torch.randn(5, 2, generator=gen), torch.randn(5, 2, generator=gen)
    assert torch.equal(paths.interpolate(x_0, x_1, 0.3), (1 - 0.3) * x_0 + 0.3 * x_1)
    assert torch.equal(paths.target_velocity(x_0, x_1), x_1 - x_0)
    assert torch.equal(paths.target_velocity(x_0, x_1, 0.7, schedule="linear"), x_1 - x_0)


def test_time_dependent_schedules_need_t():
    with pytest.raises(ValueError, match="pass t"):
        paths.target_velocity(torch.zeros(2, 2), torch.zeros(2, 2), schedule="cosine")


@pytest.mark.parametrize("name", SCHEDULES)
@pytest.mark.parametrize("source", paths.PREDICTIONS)
@pytest.mark.parametrize("target", paths.PREDICTIONS)
def test_conversions_round_trip(name, source, target, gen):
    x = torch.randn(20, 2, generator=gen, dtype=torch.float64)
    value = torch.randn(20, 2, generator=gen, dtype=torch.float64)
    t = torch.rand(20, 1, generator=gen, dtype=torch.float64) * 0.9 + 0.05
    there = paths.convert(value, x, t, source=source, target=target, schedule=name)
    back = paths.convert(there, x, t, source=target, target=source, schedule=name)
    assert_close(back, value)


@pytest.mark.parametrize("name", SCHEDULES)
def test_conversions_agree_with_a_known_pair(name, gen):
    """From one pair (x_0, x_1): the noise is x_0, the data x_1, the velocity the path's."""
    x_0, x_1 = (torch.randn(8, 2, generator=gen, dtype=torch.float64) for _ in range(2))
    t = 0.4
    x_t = paths.interpolate(x_0, x_1, t, schedule=name)
    u = paths.target_velocity(x_0, x_1, t, schedule=name)
    assert_close(paths.epsilon_from_velocity(u, x_t, t, name), x_0)
    assert_close(paths.x1_from_velocity(u, x_t, t, name), x_1)
    assert_close(paths.velocity_from_epsilon(x_0, x_t, t, name), u)
    assert_close(paths.velocity_from_x1(x_1, x_t, t, name), u)
    assert_close(paths.x1_from_epsilon(x_0, x_t, t, name), x_1)
    assert_close(paths.epsilon_from_x1(x_1, x_t, t, name), x_0)
    sigma = float(paths.get_schedule(name).sigma(torch.tensor(t, dtype=torch.float64)))
    assert_close(paths.score_from_velocity(u, x_t, t, name), -x_0 / sigma)
    assert_close(paths.velocity_from_score(-x_0 / sigma, x_t, t, name), u)


def test_conversions_clamp_the_end_points(gen):
    x, u = torch.randn(4, 2, generator=gen), torch.randn(4, 2, generator=gen)
    for name in SCHEDULES:
        for t in (0.0, 1.0):
            for target in paths.PREDICTIONS:
                out = paths.convert(u, x, t, source="velocity", target=target, schedule=name)
                assert torch.isfinite(out).all(), (name, t, target)
    at_one = paths.score_from_velocity(u, x, 1.0)
    assert_close(at_one, paths.score_from_velocity(u, x, 1 - paths.T_EPS))


def test_velocity_formula_of_the_issue(gen):
    """score = (alpha u - alpha' x) / (sigma (alpha' sigma - alpha sigma'))."""
    x, u = (
        torch.randn(4, 2, generator=gen, dtype=torch.float64),
        torch.randn(4, 2, generator=gen, dtype=torch.float64),
    )
    t = torch.tensor(0.35, dtype=torch.float64)
    for name in SCHEDULES:
        p = paths.get_schedule(name)
        a, s, da, ds = p.alpha(t), p.sigma(t), p.d_alpha(t), p.d_sigma(t)
        assert_close(
            paths.score_from_velocity(u, x, 0.35, name), (a * u - da * x) / (s * (da * s - a * ds))
        )


def _autograd_score(log_prob, x):
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(log_prob(x).sum(), x)
    return grad


@pytest.mark.parametrize("name", SCHEDULES)
@pytest.mark.parametrize("t", TIMES)
def test_score_of_the_exact_field_is_the_gradient_of_the_exact_log_density(name, t, gen):
    x = 3 * torch.randn(200, 2, generator=gen, dtype=torch.float64)
    field = exact.ring_field(schedule=name)
    score = paths.score_from_velocity(field(x, t), x, t, name)
    expected = _autograd_score(exact.ring_log_prob(t=t, schedule=name), x)
    assert_close(score, expected, rtol=1e-4, atol=1e-4)  # the ring's means are float32


def test_linear_exact_field_and_density_are_unchanged(gen):
    x = torch.randn(50, 2, generator=gen)
    assert torch.equal(exact.ring_field(schedule="linear")(x, 0.3), exact.ring_field()(x, 0.3))
    assert torch.equal(
        exact.ring_log_prob(t=0.3, schedule="linear")(x), exact.ring_log_prob(t=0.3)(x)
    )


@pytest.fixture(scope="module")
def ring_reference():
    g = fm.seed_everything(11)
    reference = fm.ring_of_gaussians(1000, generator=g)
    band = metrics.null_band(fm.ring_of_gaussians, metrics.mmd, 1000, generator=g)
    return reference, band


@pytest.mark.parametrize("name", SCHEDULES)
def test_exact_field_carries_the_gaussian_to_the_ring(name, ring_reference):
    reference, band = ring_reference
    g = fm.seed_everything(1)
    x_0 = torch.randn(1000, 2, generator=g)
    out = fm.integrate(exact.ring_field(schedule=name), x_0, n_steps=50, method="midpoint").x
    assert metrics.mmd(out, reference) <= band.p90 + 1e-3


@pytest.mark.parametrize("name", SCHEDULES)
@pytest.mark.parametrize("noise", (0.0, 0.5, 1.0))
def test_sample_sde_with_the_exact_field_reaches_the_ring(name, noise, ring_reference):
    reference, band = ring_reference
    g = fm.seed_everything(2)
    x_0 = torch.randn(1000, 2, generator=g)
    sol = solvers.sample_sde(
        exact.ring_field(schedule=name), x_0, n_steps=100, noise=noise, schedule=name, generator=g
    )
    assert isinstance(sol, fm.Solution) and sol.nfe == 100 and sol.trajectory is None
    assert metrics.mmd(sol.x, reference) <= band.p90 + 1e-3


def test_sample_sde_without_noise_is_the_euler_ode_sampler(gen):
    x_0 = torch.randn(64, 2, generator=gen)
    field = exact.ring_field()
    sde = solvers.sample_sde(field, x_0, n_steps=10, noise=0.0, return_trajectory=True)
    ode = fm.integrate(field, x_0, n_steps=10, return_trajectory=True)
    assert_close(sde.x, ode.x)
    assert_close(sde.trajectory, ode.trajectory)
    assert_close(sde.times, ode.times)


def test_sample_sde_is_reproducible_and_leaves_its_input_alone(gen):
    x_0 = torch.randn(64, 2, generator=gen)
    copy = x_0.clone()
    field = exact.ring_field(schedule="cosine")
    a = solvers.sample_sde(
        field, x_0, n_steps=20, schedule="cosine", generator=torch.Generator().manual_seed(3)
    )
    b = solvers.sample_sde(
        field, x_0, n_steps=20, schedule="cosine", generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(a.x, b.x) and torch.equal(x_0, copy)
    assert torch.isfinite(a.x).all()


def test_sample_time_logit_normal_is_in_the_open_interval():
    t = paths.sample_time(
        10_000, generator=torch.Generator().manual_seed(0), time_sampling="logit-normal"
    )
    assert t.shape == (10_000, 1) and (t > 0).all() and (t < 1).all()
    assert abs(float(t.mean()) - 0.5) < 0.01 and float(t.std()) < 0.25  # peaked in the middle


def test_the_source_recipe_is_bit_identical_to_before():
    """The losses the loop gave before schedules, predictions and time sampling existed, with
    the source chapter's recipe (ReLU, lr 1e-3, uniform times: the defaults until issue 14)."""
    source = {"lr": 1e-3, "time_sampling": "uniform"}
    g = fm.seed_everything(0)
    data = fm.ring_of_gaussians(2000, generator=g)
    model = fm.VelocityField(activation="relu")
    history = fm.train_flow(
        model, data, n_steps=30, batch_size=256, generator=g, progress=False, **source
    )
    assert history.loss[:3] == [5.722550392150879, 5.534710884094238, 5.688998699188232]
    assert history.loss[-1] == 4.745685577392578
    g = fm.seed_everything(0)
    data = fm.ring_of_gaussians(2000, generator=g)
    again = fm.VelocityField(activation="relu")
    explicit = fm.train_flow(
        again,
        data,
        n_steps=30,
        batch_size=256,
        generator=g,
        progress=False,
        schedule="linear",
        prediction="velocity",
        lr=1e-3,
        time_sampling="uniform",
    )
    assert explicit.loss == history.loss


@pytest.mark.parametrize("prediction", paths.PREDICTIONS)
def test_every_prediction_trains(prediction):
    g = fm.seed_everything(0)
    data = fm.ring_of_gaussians(500, generator=g)
    model = fm.VelocityField(hidden_dim=16, n_hidden=1)
    history = fm.train_flow(
        model,
        data,
        n_steps=5,
        batch_size=64,
        schedule="cosine",
        prediction=prediction,
        time_sampling="logit-normal",
        generator=g,
        progress=False,
    )
    assert history.n_steps == 5 and all(math.isfinite(v) for v in history.loss)


def test_a_vp_epsilon_model_samples_near_the_modes_through_both_samplers(ring_reference):
    reference, _ = ring_reference
    g = fm.seed_everything(0)
    data = fm.ring_of_gaussians(5000, generator=g)
    # ReLU: in 600 steps a SiLU network (the default) learns the noise prediction too smoothly,
    # and only about 30% of its samples reach a mode (ReLU: about 66%).
    model = fm.VelocityField(activation="relu")
    fm.train_flow(
        model,
        data,
        n_steps=600,
        batch_size=500,
        schedule="vp",
        prediction="epsilon",
        generator=g,
        progress=False,
    )
    velocity = paths.as_velocity(model, prediction="epsilon", schedule="vp")
    assert "epsilon" in repr(velocity)
    x_0 = torch.randn(1000, 2, generator=g)
    means = fm.data.RING.means()
    for noise in (0.0, 1.0):
        x = solvers.sample_sde(velocity, x_0, n_steps=50, noise=noise, schedule="vp", generator=g).x
        near = (torch.cdist(x, means).min(1).values < 0.6).float().mean()
        assert near > 0.6, (noise, float(near))
        assert metrics.mmd(x, reference) < 0.02
    ode = fm.integrate(velocity, x_0, n_steps=50).x  # as_velocity works with every solver
    assert (torch.cdist(ode, means).min(1).values < 0.6).float().mean() > 0.6


@pytest.mark.parametrize(
    ("call", "choices"),
    [
        (lambda: paths.get_schedule("cosin"), "linear, cosine, vp"),
        (
            lambda: paths.interpolate(torch.zeros(2, 2), torch.zeros(2, 2), 0.5, schedule="ve"),
            "linear, cosine, vp",
        ),
        (lambda: exact.ring_field(schedule="VP"), "linear, cosine, vp"),
        (lambda: exact.ring_log_prob(t=0.5, schedule="sigmoid"), "linear, cosine, vp"),
        (
            lambda: paths.as_velocity(lambda x, t: x, prediction="noise"),
            "velocity, epsilon, x1, score",
        ),
        (
            lambda: paths.convert(
                torch.zeros(2, 2), torch.zeros(2, 2), 0.5, source="eps", target="score"
            ),
            "velocity, epsilon, x1, score",
        ),
        (lambda: paths.sample_time(3, time_sampling="lognormal"), "uniform, logit-normal"),
        (
            lambda: fm.train_flow(
                fm.VelocityField(), torch.zeros(10, 2), schedule="edm", progress=False
            ),
            "linear, cosine, vp",
        ),
        (
            lambda: fm.train_flow(
                fm.VelocityField(), torch.zeros(10, 2), prediction="v", progress=False
            ),
            "velocity, epsilon, x1, score",
        ),
        (
            lambda: fm.train_flow(
                fm.VelocityField(), torch.zeros(10, 2), time_sampling="beta", progress=False
            ),
            "uniform, logit-normal",
        ),
        (
            lambda: solvers.sample_sde(
                lambda x, t: x, torch.zeros(2, 2), n_steps=2, schedule="cos"
            ),
            "linear, cosine, vp",
        ),
    ],
)
def test_bad_names_raise_value_errors_naming_the_choices(call, choices):
    with pytest.raises(ValueError, match=choices):
        call()


@pytest.mark.parametrize("noise", (-0.5, float("nan"), float("inf")))
def test_bad_noise_levels_are_refused(noise):
    with pytest.raises(ValueError, match="noise"):
        solvers.sample_sde(lambda x, t: x, torch.zeros(2, 2), n_steps=2, noise=noise)
