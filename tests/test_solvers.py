import math

import numpy as np
import pytest
import torch
from torch.testing import assert_close

import fmkit as fm
from fmkit import solvers


def constant(x, t):
    return torch.full_like(x, 2.0)


def cubic(x, t):  # dx/dt = 3 t^2, so x(1) = x(0) + 1
    return 3 * t**2 * torch.ones_like(x)


def rotation(x, t):  # dx/dt = J x: a rotation by one radian over t in [0, 1]
    return torch.stack([-x[:, 1], x[:, 0]], dim=1)


def rotated(x, angle):
    c, s = math.cos(angle), math.sin(angle)
    return torch.stack([c * x[:, 0] - s * x[:, 1], s * x[:, 0] + c * x[:, 1]], dim=1)


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4", "dopri5"])
def test_constant_field_is_solved_exactly(method):
    x_0 = torch.randn(5, 2, dtype=torch.float64)
    sol = fm.integrate(constant, x_0, n_steps=3, method=method)
    assert_close(sol.x, x_0 + 2.0)


@pytest.mark.parametrize("method, order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
@pytest.mark.parametrize(
    "field, exact", [(cubic, lambda x: x + 1), (rotation, lambda x: rotated(x, 1.0))]
)
def test_observed_convergence_order(method, order, field, exact):
    x_0 = torch.tensor([[1.0, 0.5], [-0.3, 2.0]], dtype=torch.float64)
    steps = [4, 8, 16, 32]
    errors = [
        (fm.integrate(field, x_0, n_steps=n, method=method).x - exact(x_0)).abs().max().item()
        for n in steps
    ]
    if max(errors) < 1e-13:  # exact for this polynomial (midpoint/RK4 on 3t^2)
        assert method != "euler"
        return
    slope = -np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.35, (errors, slope)


def test_midpoint_is_exact_for_a_quadratic_and_rk4_for_a_cubic_in_time():
    x_0 = torch.zeros(1, 1, dtype=torch.float64)
    assert_close(
        fm.integrate(lambda x, t: 2 * t * torch.ones_like(x), x_0, n_steps=1, method="midpoint").x,
        x_0 + 1,
    )
    assert_close(
        fm.integrate(lambda x, t: 4 * t**3 * torch.ones_like(x), x_0, n_steps=1, method="rk4").x,
        x_0 + 1,
    )


@pytest.mark.parametrize("method, per_step", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_nfe_counts_every_velocity_evaluation(method, per_step):
    sol = fm.integrate(rotation, torch.randn(3, 2), n_steps=5, method=method)
    assert sol.nfe == 5 * per_step == 5 * solvers.EVALS_PER_STEP[method]


def test_dopri5_is_accurate_and_reports_its_own_nfe():
    x_0 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    sol = fm.integrate(rotation, x_0, method="dopri5", rtol=1e-8, atol=1e-8)
    assert_close(sol.x, rotated(x_0, 1.0), rtol=0, atol=1e-6)
    assert sol.nfe > 6  # it chose several steps of 6 evaluations each, plus the first


def test_trajectory_holds_every_state_on_the_time_grid():
    x_0 = torch.randn(4, 2)
    sol = fm.integrate(constant, x_0, n_steps=10, return_trajectory=True)
    assert sol.trajectory.shape == (11, 4, 2)
    assert_close(sol.times, torch.linspace(0, 1, 11))
    assert_close(sol.trajectory[0], x_0)
    assert_close(sol.trajectory[-1], sol.x)
    assert_close(sol.trajectory[5], x_0 + 1.0, rtol=0, atol=1e-6)
    assert fm.integrate(constant, x_0, n_steps=10).trajectory is None


def test_dopri5_trajectory_on_an_even_grid():
    sol = fm.integrate(
        constant, torch.zeros(2, 2), n_steps=4, method="dopri5", return_trajectory=True
    )
    assert sol.trajectory.shape == (5, 2, 2)
    assert_close(sol.trajectory[2], torch.ones(2, 2))


def test_time_grid_uses_t_span():
    seen = []
    fm.integrate(
        lambda x, t: seen.append(t[0, 0].item()) or torch.zeros_like(x),
        torch.zeros(2, 2),
        n_steps=4,
        t_span=(1.0, 0.0),
    )
    assert seen == pytest.approx([1.0, 0.75, 0.5, 0.25])


def test_outputs_are_ordinary_tensors_that_can_feed_training():
    sol = fm.integrate(constant, torch.zeros(3, 2), n_steps=2, return_trajectory=True)
    assert not sol.x.is_inference() and not sol.trajectory.is_inference()
    w = torch.ones(2, requires_grad=True)
    (sol.x * w).sum().backward()  # would fail on an inference tensor saved for backward
    assert w.grad is not None


@pytest.mark.parametrize(
    "n_steps, error",
    [
        (0, ValueError),
        (-3, ValueError),
        (None, ValueError),
        (2.5, TypeError),
        (True, TypeError),
        ("8", TypeError),
    ],
)
def test_bad_step_counts_are_clear_errors(n_steps, error):
    with pytest.raises(error, match="n_steps must be a positive integer"):
        fm.integrate(constant, torch.zeros(2, 2), n_steps=n_steps)


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(
        ValueError,
        match="unknown solver method 'rk45'; choose one of: euler, midpoint, rk4, dopri5",
    ):
        fm.integrate(constant, torch.zeros(2, 2), n_steps=2, method="rk45")


def test_wrong_x0_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"x_0 must have shape \(n, dim\).*x\[None\]"):
        fm.integrate(constant, torch.zeros(2), n_steps=2)
    with pytest.raises(TypeError, match=r"x_0 must be a tensor.*fm.generate\(model, n\)"):
        fm.integrate(constant, 100, n_steps=2)


def test_generate_draws_from_the_base_and_accepts_given_points(gen):
    def drift(x, t):
        return torch.full_like(x, 10.0)

    samples = fm.generate(drift, 500, n_steps=2, generator=gen)
    assert samples.shape == (500, 2)
    assert abs(samples.mean() - 10.0) < 0.2  # a standard normal moved by 10
    x_0 = torch.zeros(3, 2)
    assert_close(fm.generate(drift, x_0, n_steps=4, method="rk4"), x_0 + 10)
    uniform = fm.generate(
        lambda x, t: torch.zeros_like(x), 2000, n_steps=1, base="uniform", generator=gen
    )
    assert uniform.abs().max() <= 3.5 and uniform.abs().max() > 3.3


def test_generate_draws_the_base_in_the_models_dimension(gen):
    model = fm.VelocityField(dim=64, hidden_dim=8)
    assert fm.generate(model, 5, n_steps=2, generator=gen).shape == (5, 64)


def test_a_velocity_of_shape_batch_by_one_is_refused_not_broadcast():
    with pytest.raises(
        ValueError, match=r"velocity returned shape \(3, 1\) for x of shape \(3, 2\)"
    ):
        fm.integrate(lambda x, t: x[:, :1], torch.zeros(3, 2), n_steps=2)
    with pytest.raises(ValueError, match="velocity returned shape"):
        fm.integrate(lambda x, t: x[:, :1], torch.zeros(3, 2), method="dopri5")


def test_solution_prints_shapes_not_numbers():
    sol = fm.integrate(constant, torch.zeros(1000, 2), n_steps=8, return_trajectory=True)
    assert repr(sol) == "Solution(x (1000, 2), 8 steps, nfe 8, trajectory (9, 1000, 2))"


def test_t_span_stays_in_the_unit_interval_and_can_run_backwards():
    x_0 = torch.zeros(2, 2)
    assert_close(fm.integrate(constant, x_0, n_steps=4, t_span=(1.0, 0.0)).x, x_0 - 2.0)
    with pytest.raises(ValueError, match=r"t_span\[0\] must be a number in \[0, 1\]"):
        fm.integrate(constant, x_0, n_steps=4, t_span=(-1.0, 1.0))


def test_generate_takes_start_points_as_an_array_and_draws_with_a_callable_base(gen):
    drift = lambda x, t: torch.ones_like(x)  # noqa: E731
    assert_close(
        fm.generate(drift, np.zeros((3, 2)), n_steps=2), torch.ones(3, 2, dtype=torch.float64)
    )
    ones = lambda n, generator=None: torch.ones(n, 2)  # noqa: E731
    assert_close(fm.generate(drift, 4, base=ones, n_steps=1), torch.full((4, 2), 2.0))
