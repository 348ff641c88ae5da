import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import fmkit as fm
from fmkit import plot


@pytest.fixture
def ax():
    fig, (ax,) = plot.figure()
    yield ax
    plt.close(fig)


def test_panel_sets_the_shared_look(ax):
    assert plot.panel(ax, "hello") is ax
    assert ax.get_xlim() == (-plot.LIMIT, plot.LIMIT) and ax.get_ylim() == (-plot.LIMIT, plot.LIMIT)
    assert ax.get_title() == "hello"


def test_cloud_draws_every_point(ax, gen):
    x = fm.sample("ring", 123, generator=gen)
    assert plot.cloud(ax, x) is ax
    (collection,) = ax.collections
    np.testing.assert_allclose(collection.get_offsets(), x.numpy())


def test_map_arrows_point_from_each_start_to_its_end_to_scale(ax, gen):
    x_0, x_1 = fm.sample("gaussian", 30, generator=gen), fm.sample("ring", 30, generator=gen)
    assert plot.map_arrows(ax, x_0, x_1, n_arrows=12) is ax
    arrows, starts, ends = ax.collections
    np.testing.assert_allclose(arrows.get_offsets(), x_0[:12].numpy())
    np.testing.assert_allclose(
        np.stack([arrows.U, arrows.V], 1), (x_1 - x_0)[:12].numpy(), rtol=1e-6
    )
    np.testing.assert_allclose(starts.get_offsets(), x_0[:12].numpy())
    np.testing.assert_allclose(ends.get_offsets(), x_1[:12].numpy())


def test_pairs_draws_lines_for_the_first_pairs_and_the_cloud_at_t(ax, gen):
    x_0, x_1 = torch.zeros(50, 2), fm.sample("ring", 50, generator=gen)
    plot.pairs(ax, x_0, x_1, t=0.5, n_lines=7)
    lines = [c for c in ax.collections if isinstance(c, matplotlib.collections.LineCollection)]
    assert len(lines[0].get_segments()) == 7
    x_t = ax.collections[-1].get_offsets()
    np.testing.assert_allclose(x_t, 0.5 * x_1.numpy(), atol=1e-6)


def test_field_on_grid_evaluates_the_velocity_at_the_grid_points():
    X, Y, U, V = plot.field_on_grid(lambda x, t: x * t, 0.5, limit=2, n=5)
    assert X.shape == Y.shape == U.shape == V.shape == (5, 5)
    np.testing.assert_allclose(U, 0.5 * X)
    np.testing.assert_allclose(V, 0.5 * Y)


def test_quiver_uses_a_fixed_scale_when_given(ax):
    grid = plot.field_on_grid(lambda x, t: torch.ones_like(x), 0.0, n=4)
    plot.quiver(ax, grid, scale=8)
    (q,) = ax.collections
    assert q.scale == 8 and q.N == 16


def test_trajectories_draw_paths_and_end_points(ax):
    traj = torch.linspace(0, 1, 11)[:, None, None] * torch.ones(11, 30, 2)  # (11, 30, 2)
    plot.trajectories(ax, traj, n_lines=5)
    paths = ax.collections[0].get_segments()
    assert len(paths) == 5 and paths[0].shape == (11, 2)
    np.testing.assert_allclose(ax.collections[-1].get_offsets(), 1.0)


def test_loss_curve_shows_the_floor(ax):
    plot.loss_curve(ax, np.linspace(5, 3, 200), floor=2.75, window=20)
    assert len(ax.lines) == 3  # per step, running mean, floor
    assert ax.lines[-1].get_ydata()[0] == pytest.approx(2.75)


def test_quality_vs_nfe_draws_one_line_per_solver(ax):
    plot.quality_vs_nfe(
        ax, {"euler": ([1, 2, 4], [1.0, 0.1, 0.01]), "rk4": ([4], [0.001])}, floor=(0.0, 0.001)
    )
    assert [line.get_label() for line in ax.lines] == ["euler", "rk4"]
    assert ax.get_xscale() == "log"


def test_animations_have_one_frame_per_state_and_embed_them(gen):
    traj = torch.randn(6, 40, 2, generator=gen)
    anim = plot.animate_cloud(traj, every=2)
    html = plot.animation_html(anim).data
    assert html.count("frames[") >= 3 and "data:image/png;base64" in html
    field_anim = plot.animate_field(lambda x, t: -x, times=[0.0, 0.5, 1.0])
    assert plot.animation_html(field_anim).data.count("frames[") >= 3


def test_plotting_does_not_change_global_style(gen):
    before = dict(matplotlib.rcParams)
    fig, (ax,) = plot.figure()
    plot.pairs(
        plot.panel(ax),
        fm.sample("gaussian", 10, generator=gen),
        fm.sample("ring", 10, generator=gen),
    )
    plt.close(fig)
    assert dict(matplotlib.rcParams) == before


def test_natural_objects_are_accepted(ax, gen):
    sol = fm.integrate(
        fm.exact.ring_field(),
        fm.sample("gaussian", 30, generator=gen),
        n_steps=5,
        return_trajectory=True,
    )
    plot.trajectories(ax, sol, n_lines=4)
    assert len(ax.collections[0].get_segments()) == 4
    with pytest.raises(ValueError, match="return_trajectory=True"):
        plot.trajectories(ax, fm.integrate(fm.exact.ring_field(), sol.x, n_steps=2))
    history = fm.History(loss=[3.0, 2.0, 1.0], wall_time=[0.1, 0.2, 0.3])
    plot.loss_curve(ax, history, window=2)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [3.0, 2.0, 1.0])
    with pytest.raises(TypeError, match=r"pass its .x"):
        plot.cloud(ax, sol)


def test_time_comes_as_a_float_or_one_per_row(ax, gen):
    grid = plot.field_on_grid(lambda x, t: x * t, torch.tensor(0.5), limit=2, n=5)
    np.testing.assert_allclose(grid[2], 0.5 * grid[0])
    x_0, x_1 = torch.zeros(4, 2), torch.ones(4, 2)
    plot.pairs(ax, x_0, x_1, t=torch.tensor([0.0, 0.25, 0.5, 1.0]))
    np.testing.assert_allclose(ax.collections[-1].get_offsets()[:, 0], [0.0, 0.25, 0.5, 1.0])


def test_quality_plot_speaks_of_mmd_squared_and_the_null_band(ax):
    plot.quality_vs_nfe(ax, {"euler": ([1, 2], [0.1, 0.01])}, floor=(0.0, 0.001))
    assert ax.get_ylabel() == "MMD² to fresh data"
    assert "null band" in [t.get_text() for t in ax.get_legend().get_texts()][-1]


def test_non_finite_points_are_drawn_as_gaps_not_refused(ax):
    x = torch.tensor([[0.0, 0.0], [float("nan"), 1.0], [1.0, 1.0]])
    plot.cloud(ax, x)
    assert len(ax.collections[0].get_offsets()) == 3


@pytest.mark.parametrize("ncols, size", [(1, 4.0), (2, 4.0), (5, 2.6), (4, 3.0)])
def test_figures_fit_the_text_column(ncols, size):
    fig, axes = plot.figure(ncols, size=size, nrows=2)
    width, height = fig.get_size_inches()
    assert len(axes) == 2 * ncols
    assert width <= plot.MAX_WIDTH + 1e-9 and width == pytest.approx(
        min(size * ncols, plot.MAX_WIDTH)
    )
    assert height == pytest.approx(2 * width / ncols), "panels stay square"
    plt.close(fig)


def test_pair_lines_draw_the_first_pairs(ax):
    plot.pair_lines(ax, torch.zeros(9, 2), torch.ones(9, 2), n_lines=4)
    (lines,) = ax.collections
    assert len(lines.get_segments()) == 4
    np.testing.assert_allclose(lines.get_segments()[0], [[0, 0], [1, 1]])


def test_density_grid_is_built_where_the_model_lives():
    model = fm.VelocityField(hidden_dim=8).double()
    seen = []

    def log_prob(x):
        seen.append((x.device, x.dtype))
        return -(x**2).sum(-1)

    X, Y, L = plot.log_density_on_grid(log_prob, n=5, model=model)
    assert seen == [(torch.device("cpu"), torch.float64)]
    np.testing.assert_allclose(L, -(X**2 + Y**2))
    plot.log_density_on_grid(log_prob, n=5)  # a plain function: the CPU in float32
    assert seen[-1] == (torch.device("cpu"), torch.float32)


def test_density_grid_follows_a_model_on_another_device():
    class Seen(Exception):
        pass

    def log_prob(x):
        raise Seen(x.device.type)

    model = fm.VelocityField(hidden_dim=8).to("meta")  # shapes without data: a device clash shows
    with pytest.raises(Seen, match="meta"):
        plot.log_density_on_grid(log_prob, n=5, model=model)
