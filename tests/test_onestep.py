"""fmkit.onestep: the two-time network, the map sampler, and the three one-step trainers,
checked against flows whose maps are known in closed form."""

import pytest
import torch
from torch.testing import assert_close

import fmkit as fm
from fmkit import onestep

# A spiral v(x) = A x with A = a I + w J (J the quarter turn): its flow map over a time h
# is exp(A h) x = e^{a h} (cos(w h) x + sin(w h) J x), so the average velocity over [r, t]
# of the path at x at time r is (exp(A h) x - x) / h, h = t - r, in closed form.
A_RATE, W_RATE = -0.4, 2.0


def quarter_turn(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([-x[:, 1], x[:, 0]], dim=1)  # J x, (batch, 2)


def spiral_velocity(x: torch.Tensor) -> torch.Tensor:
    return A_RATE * x + W_RATE * quarter_turn(x)


def spiral_map(x: torch.Tensor, h) -> torch.Tensor:
    h = torch.as_tensor(h, dtype=x.dtype)
    grow = torch.exp(A_RATE * h)
    return grow * (torch.cos(W_RATE * h) * x + torch.sin(W_RATE * h) * quarter_turn(x))


def spiral_average(x: torch.Tensor, r, t) -> torch.Tensor:
    """The exact u(x, r, t) of the spiral (for t > r)."""
    h = torch.as_tensor(t, dtype=x.dtype) - torch.as_tensor(r, dtype=x.dtype)
    return (spiral_map(x, h) - x) / h


spiral_average.dim = 2


# --------------------------------------------------------------------------- the network


@pytest.mark.parametrize(
    "r, t",
    [
        (0.25, 0.75),
        (torch.tensor(0.25), torch.tensor(0.75)),
        (torch.full((7,), 0.25), torch.full((7,), 0.75)),
        (torch.full((7, 1), 0.25), 0.75),
    ],
)
def test_every_time_shape_gives_the_same_average_velocity(r, t):
    torch.manual_seed(0)
    u = onestep.TwoTimeField()
    x = torch.randn(7, 2)
    assert_close(u(x, r, t), u(x, torch.full((7, 1), 0.25), torch.full((7, 1), 0.75)))


def test_the_network_depends_on_both_times():
    torch.manual_seed(0)
    u = onestep.TwoTimeField(dim=3, time_embedding="sinusoidal", activation="silu")
    x = torch.randn(5, 3)
    assert u(x, 0.2, 0.6).shape == (5, 3)
    assert not torch.allclose(u(x, 0.2, 0.6), u(x, 0.3, 0.6))
    assert not torch.allclose(u(x, 0.2, 0.6), u(x, 0.2, 0.7))


def test_at_the_diagonal_the_network_is_a_velocity_for_the_course_solvers():
    torch.manual_seed(0)
    u = onestep.TwoTimeField(dim=3, hidden_dim=16, n_hidden=2)
    v = onestep.at_diagonal(u)
    assert v.dim == 3 and v.model is u
    x_0 = torch.randn(6, 3)
    by_hand = x_0.clone()
    with torch.no_grad():
        for i in range(4):  # four Euler steps of u(x, t, t)
            by_hand = by_hand + 0.25 * u(by_hand, i / 4, i / 4)
    solution = fm.integrate(v, x_0, n_steps=4)
    assert_close(solution.x, by_hand)
    assert solution.nfe == 4
    samples = fm.generate(v, 5, n_steps=2, method="midpoint")
    assert samples.shape == (5, 3)  # the base is drawn in the model's dimension


# --------------------------------------------------------------------------- the MeanFlow target


def test_meanflow_target_is_the_finite_difference_derivative_along_the_flow():
    torch.manual_seed(0)
    u = onestep.TwoTimeField(hidden_dim=32, n_hidden=2, activation="silu").double()
    x, v = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    r = torch.rand(8, 1, dtype=torch.float64) * 0.5 + 0.1
    t = r + torch.rand(8, 1, dtype=torch.float64) * 0.3
    h = 1e-5  # move the start r, and x with it at velocity v; t stays
    with torch.no_grad():
        du_dr = (u(x + h * v, r + h, t) - u(x - h * v, r - h, t)) / (2 * h)
    assert_close(onestep.meanflow_target(u, x, r, t, v), v + (t - r) * du_dr)


def test_the_exact_average_velocity_is_its_own_meanflow_target():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 2, generator=g, dtype=torch.float64)
    r = 0.5 * torch.rand(10, 1, generator=g, dtype=torch.float64)
    t = r + 0.1 + 0.4 * torch.rand(10, 1, generator=g, dtype=torch.float64)
    target = onestep.meanflow_target(spiral_average, x, r, t, spiral_velocity(x))
    assert_close(target, spiral_average(x, r, t))

    # The sign matters: the average velocity of the path that *ends* at x (the paper's
    # convention, with time running the other way) is not a fixed point here.
    def ending_at_x(x_, r_, t_):
        return (x_ - spiral_map(x_, -(t_ - r_))) / (t_ - r_)

    wrong = onestep.meanflow_target(ending_at_x, x, r, t, spiral_velocity(x))
    assert (wrong - ending_at_x(x, r, t)).abs().max() > 0.1


def test_at_r_equal_t_the_meanflow_target_is_the_velocity():
    torch.manual_seed(0)
    u = onestep.TwoTimeField(hidden_dim=16, n_hidden=1)
    x, v = torch.randn(4, 2), torch.randn(4, 2)
    assert_close(onestep.meanflow_target(u, x, 0.3, 0.3, v), v)


# --------------------------------------------------------------------------- the sampler


@pytest.mark.parametrize("n_steps", [1, 2, 4])
def test_map_sample_with_an_exact_map_lands_on_the_flow_for_any_number_of_jumps(n_steps):
    x_0 = torch.randn(9, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    solution = onestep.map_sample(spiral_average, x_0, n_steps=n_steps, return_trajectory=True)
    assert isinstance(solution, fm.Solution)
    assert solution.nfe == n_steps
    assert_close(solution.times, torch.linspace(0, 1, n_steps + 1))
    assert solution.trajectory.shape == (n_steps + 1, 9, 2)
    for k, time in enumerate(solution.times.tolist()):
        assert_close(solution.trajectory[k], spiral_map(x_0, time))
    assert_close(solution.x, spiral_map(x_0, 1.0))


def test_map_sample_draws_base_points_in_the_model_dimension_with_the_generator():
    u = onestep.TwoTimeField(dim=3, hidden_dim=8, n_hidden=1)
    a = onestep.map_sample(u, 5, n_steps=2, generator=torch.Generator().manual_seed(3))
    b = onestep.map_sample(u, 5, n_steps=2, generator=torch.Generator().manual_seed(3))
    assert a.x.shape == (5, 3) and a.trajectory is None
    assert_close(a.x, b.x)
    in_float64 = onestep.TwoTimeField(hidden_dim=8, n_hidden=1).double()
    assert onestep.map_sample(in_float64, torch.zeros(4, 2)).x.dtype == torch.float64


def test_flow_map_is_one_jump():
    x = torch.randn(4, 2, dtype=torch.float64)
    assert_close(onestep.flow_map(spiral_average, x, 0.2, 0.7), spiral_map(x, 0.5))


# --------------------------------------------------------------------------- trainers


def test_shortcut_target_of_an_exact_map_is_the_jump_of_twice_the_size():
    x = torch.randn(6, 2, dtype=torch.float64)
    r = torch.tensor([[0.0], [0.5], [0.25], [0.75], [0.0], [0.5]], dtype=torch.float64)
    d = torch.tensor([[0.5], [0.25], [0.125], [0.125], [0.25], [0.25]], dtype=torch.float64)
    target = onestep.shortcut_target(spiral_average, x, r, d, smallest=1e-3)
    assert_close(target, spiral_average(x, r, r + 2 * d))
    # At the smallest size the two halves are Euler steps of the velocity u(x, r, r).
    euler = onestep.shortcut_target(lambda x_, r_, t_: x_ * (1 + r_), x, r, d, smallest=0.5)
    x_mid = x + d * x * (1 + r)
    assert_close(euler, (x * (1 + r) + x_mid * (1 + r + d)) / 2)


M_GAUSS, S_GAUSS = torch.tensor([2.0, -1.0]), 0.5


@pytest.mark.parametrize("trainer", ["meanflow", "shortcut"])
def test_one_step_map_of_a_gaussian_is_close_to_the_exact_affine_map(trainer):
    """Data N(m, s^2 I) from N(0, I): the flow's map is affine, x_0 -> m + s x_0 (while one
    Euler step of the flow sends every point to m)."""
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    data = M_GAUSS + S_GAUSS * torch.randn(2000, 2, generator=g)
    model = onestep.TwoTimeField(hidden_dim=64, n_hidden=2, activation="silu")
    train = onestep.train_meanflow if trainer == "meanflow" else onestep.train_shortcut
    history = train(model, data, n_steps=300, batch_size=256, lr=1e-2, generator=g, progress=False)
    assert history.n_steps == 300
    x_0 = torch.randn(4000, 2, generator=torch.Generator().manual_seed(9))
    x_1 = onestep.map_sample(model, x_0).x
    error = (x_1 - (M_GAUSS + S_GAUSS * x_0)).pow(2).sum(1).mean().sqrt()
    # Measured over three seeds at this small budget: MeanFlow 0.23 to 0.25, shortcut 0.12
    # to 0.15. Broken trainers land far off: MeanFlow without the Jacobian-vector product
    # (target v) 0.82 to 0.86, with its sign flipped 3.9 to 6.8; shortcut without
    # self-consistency (bootstrap_fraction=0) 0.92 to 1.11.
    assert error < 0.4


def _distil_ring(pairs: str, g: torch.Generator) -> float:
    """Train a small one-step student on the exact ring field's pairs (``"matched"``) or
    on the same end points shuffled (``"shuffled"``); its MMD² to fresh ring points."""
    torch.manual_seed(0)
    student = onestep.TwoTimeField(hidden_dim=64, n_hidden=3)
    if pairs == "matched":
        onestep.train_distillation(
            student,
            fm.exact.ring_field(),
            n_pairs=4000,
            teacher_steps=16,
            n_steps=400,
            batch_size=500,
            lr=1e-2,
            generator=g,
            progress=False,
        )
    else:  # the broken recipe: every noise point paired with someone else's sample
        solved = onestep.teacher_solution(
            fm.exact.ring_field(), 4000, dim=2, teacher_steps=16, generator=g
        )
        x_0, x_1 = solved.trajectory[0], solved.x[torch.randperm(4000, generator=g)]

        def batch_loss():
            rows = torch.randint(4000, (500,), generator=g)
            u = student(x_0[rows], 0.0, 1.0)
            return torch.mean((u - (x_1[rows] - x_0[rows])) ** 2)

        fm.fit(student, batch_loss, n_steps=400, lr=1e-2, progress=False)
    samples = onestep.map_sample(student, 1000, generator=g).x
    return fm.metrics.mmd(samples, fm.ring_of_gaussians(1000, generator=g))


# Measured over four seeds: matched pairs -0.0001 to 0.0012 (the null band at 1000 points
# is about -0.0006 to 0.0002), shuffled pairs 0.93 to 1.04 (every point is sent near the
# ring's centre, the mean of the targets): the bound separates them.
DISTILLED_RING_MMD2 = 0.005


def test_distilling_the_exact_ring_field_gives_one_step_samples_on_the_ring():
    g = torch.Generator().manual_seed(0)
    assert _distil_ring("matched", g) < DISTILLED_RING_MMD2
    assert _distil_ring("shuffled", g) > 10 * DISTILLED_RING_MMD2


def test_distillation_over_several_jump_counts_serves_each_of_them():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    student = onestep.TwoTimeField(hidden_dim=16, n_hidden=2)
    seen = []
    original = student.forward

    def spy(x, r, t):
        seen.append(torch.cat([fm.paths.as_time(r, x), fm.paths.as_time(t, x)], dim=1))
        return original(x, r, t)

    student.forward = spy
    onestep.train_distillation(
        student,
        fm.exact.ring_field(),
        n_pairs=64,
        teacher_steps=8,
        map_steps=(1, 2, 4),
        n_steps=3,
        batch_size=64,
        generator=g,
        progress=False,
    )
    jumps = {tuple(row) for row in torch.cat(seen).tolist()}
    expected = {(0.0, 1.0), (0.0, 0.5), (0.5, 1.0), (0.0, 0.25), (0.25, 0.5)}
    assert expected <= jumps
    assert jumps <= expected | {(0.5, 0.75), (0.75, 1.0)}


# --------------------------------------------------------------------------- errors


def test_r_after_t_is_a_clear_error():
    u = onestep.TwoTimeField()
    with pytest.raises(ValueError, match="r must not exceed t"):
        u(torch.zeros(3, 2), 0.8, 0.2)
    with pytest.raises(ValueError, match="r must not exceed t"):
        onestep.meanflow_target(u, torch.zeros(3, 2), 0.8, 0.2, torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"r must lie in \[0, 1\]"):
        u(torch.zeros(3, 2), -0.1, 0.2)


def test_wrong_shapes_are_clear_errors():
    u = onestep.TwoTimeField()
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 2\)"):
        u(torch.zeros(4, 3), 0.1, 0.2)
    with pytest.raises(ValueError, match=r"t must be a float or have shape \(4,\)"):
        u(torch.zeros(4, 2), 0.1, torch.zeros(3))
    with pytest.raises(ValueError, match="v .* must have x's shape"):
        onestep.meanflow_target(u, torch.zeros(4, 2), 0.1, 0.2, torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"x_0 must have shape \(n, 2\)"):
        onestep.map_sample(u, torch.zeros(4, 3))
    with pytest.raises(ValueError, match="returned shape"):
        onestep.map_sample(lambda x, r, t: x[:, :1], torch.zeros(4, 2))


def test_a_model_without_a_dimension_cannot_draw_its_own_base_points():
    with pytest.raises(ValueError, match="does not say its dimension"):
        onestep.map_sample(lambda x, r, t: x, 10)
    assert onestep.map_sample(lambda x, r, t: x, torch.zeros(3, 5)).x.shape == (3, 5)


def test_distillation_settings_are_checked_before_the_teacher_runs():
    student = onestep.TwoTimeField(hidden_dim=8, n_hidden=1)
    field = fm.exact.ring_field()
    with pytest.raises(ValueError, match="must divide teacher_steps = 32"):
        onestep.train_distillation(student, field, map_steps=(1, 3), progress=False)
    with pytest.raises(TypeError, match="map_steps must be a list"):
        onestep.train_distillation(student, field, map_steps=(), progress=False)
    with pytest.raises(ValueError, match="unknown solver method"):
        onestep.train_distillation(student, field, method="dopri5", n_steps=1, progress=False)
    with pytest.raises(TypeError, match="teacher must be a function"):
        onestep.train_distillation(student, "ring", progress=False)


def test_trainer_settings_are_checked():
    model, data = onestep.TwoTimeField(hidden_dim=8, n_hidden=1), torch.randn(10, 2)
    with pytest.raises(ValueError, match="equal_fraction must be a number in"):
        onestep.train_meanflow(model, data, equal_fraction=1.5, progress=False)
    with pytest.raises(ValueError, match="unknown coupling"):
        onestep.train_shortcut(model, data, coupling="optimal", progress=False)
    with pytest.raises(ValueError, match=r"data must have shape \(n, 2\)"):
        onestep.train_meanflow(model, torch.randn(10, 3), progress=False)


def test_the_module_is_exported():
    assert fm.onestep is onestep and "onestep" in fm.__all__
