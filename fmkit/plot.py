"""Pure plotting functions: each draws onto the ``ax`` it is given and returns it.

Nothing here changes matplotlib's global style; the look comes from the few constants
below, so every chapter's figures match. Inputs are tensors or arrays of shape
``(n, 2)``; velocity fields are evaluated once with :func:`field_on_grid` and drawn with
:func:`quiver`, so an explorer can cache the grid and redraw instantly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import _validate as check
from .paths import as_time
from .utils import Velocity

# One palette for the whole course (seaborn's "muted" hues, written out).
BASE_COLOR = "#4878d0"  # x_0, the base samples
DATA_COLOR = "#ee854a"  # x_1, the data
FLOW_COLOR = "#6acc64"  # x_t and generated samples
FIELD_COLOR = "#3b3b3b"  # arrows
PAIR_COLOR = "#8c8c8c"  # coupling lines
LIMIT = 4.5  # every 2-D panel shows [-LIMIT, LIMIT]^2
# A grid side past this many points is far beyond what a figure shows (and a network
# evaluated on its n^2 points would need gigabytes).
MAX_GRID_SIDE = 1000
# The widest figure, in inches, that fits the book's text column: about 660 px at a 1280 px
# window, and notebooks and Quarto draw figures at 96-100 px per inch.
MAX_WIDTH = 6.6
NARROW_PANEL = 1.2  # inches (before layout): four or more panels in a row are narrow


def _np(x) -> np.ndarray:
    """A tensor on any device, or an array, as a NumPy array on the CPU."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _cloud2d(x: Any, name: str) -> np.ndarray:
    """Points to draw: ``(n, 2)`` as a CPU array (tensors on any device, arrays, integers).
    Non-finite points are allowed: matplotlib leaves them out, as a diverged solve's should."""
    x = check.floating(x, name).detach()
    return check.points(x if x.device.type == "cpu" else x.cpu(), name, dim=2, fix=None).numpy()


def panel(ax: Axes, title: str | None = None, *, limit: float = LIMIT) -> Axes:
    """The shared look of a 2-D panel: square, fixed limits, a light grid. A narrow panel
    (five in a row fit the text column) gets fewer ticks and a smaller title."""
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal", adjustable="box")
    ax.grid(True, alpha=0.2)
    narrow = ax.get_position().width * ax.figure.get_figwidth() < NARROW_PANEL
    if narrow:  # three short labels: -4, 0, 4
        ticks = [-float(np.floor(limit)), 0.0, float(np.floor(limit))]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.tick_params(labelsize=7 if narrow else 8)
    if title:
        ax.set_title(title, fontsize=9 if narrow else 10)
    return ax


def fitted_size(size: float, ncols: int = 1) -> float:
    """The side of a square panel: ``size`` inches, or less, so that ``ncols`` panels side by
    side fit the text column (:data:`MAX_WIDTH`)."""
    return min(
        check.positive(size, "size", fix="it is the side of one panel, in inches"),
        MAX_WIDTH / check.count(ncols, "ncols"),
    )


def figure(ncols: int = 1, *, size: float = 4.0, nrows: int = 1) -> tuple[Figure, np.ndarray]:
    """A figure of square panels, ``size`` inches each, shrunk if need be so that the row
    fits the text column (:data:`MAX_WIDTH`); ``axes`` is always a flat array."""
    size = fitted_size(size, ncols)
    nrows = check.count(nrows, "nrows")
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    return fig, axes.ravel()


def cloud(
    ax: Axes,
    x,
    *,
    color: str = DATA_COLOR,
    label: str | None = None,
    s: float = 4,
    alpha: float = 0.5,
) -> Axes:
    """A scatter of points ``(n, 2)``."""
    x = _cloud2d(x, "x")
    ax.scatter(x[:, 0], x[:, 1], s=s, color=color, alpha=alpha, label=label, linewidths=0)
    return ax


def pairs(ax: Axes, x_0, x_1, *, t: float | torch.Tensor | None = None, n_lines: int = 20) -> Axes:
    """Base and data clouds, the straight lines of the first ``n_lines`` pairs, and (with
    ``t``: a float, ``(n,)`` or ``(n, 1)``) where every pair is at time ``t``."""
    x_0, x_1 = _cloud2d(x_0, "x_0"), _cloud2d(x_1, "x_1")
    if x_0.shape != x_1.shape:
        raise ValueError(
            f"x_0 and x_1 must have the same shape to be paired; got {x_0.shape} and {x_1.shape}"
        )
    n_lines = check.count(n_lines, "n_lines", minimum=0)
    cloud(ax, x_0, color=BASE_COLOR, label="base $x_0$", alpha=0.25)
    cloud(ax, x_1, color=DATA_COLOR, label="data $x_1$", alpha=0.25)
    pair_lines(ax, x_0, x_1, n_lines=n_lines)
    if t is not None:
        times = check.in_unit_interval(as_time(t, torch.from_numpy(x_0))).numpy()  # (n, 1)
        x_t = (1 - times) * x_0 + times * x_1
        label = f"$x_t$, t={float(times[0, 0]):.2f}" if np.all(times == times[0, 0]) else "$x_t$"
        cloud(ax, x_t, color=FLOW_COLOR, label=label, s=6, alpha=0.8)
    ax.legend(loc="upper right", fontsize=7, markerscale=2)
    return ax


def pair_lines(ax: Axes, x_0, x_1, *, n_lines: int = 20) -> Axes:
    """The straight lines from ``x_0[i]`` to ``x_1[i]`` for the first ``n_lines`` pairs."""
    x_0, x_1 = _cloud2d(x_0, "x_0"), _cloud2d(x_1, "x_1")
    k = min(check.count(n_lines, "n_lines", minimum=0), len(x_0), len(x_1))
    segments = np.stack([x_0[:k], x_1[:k]], axis=1)  # (k, 2 ends, 2)
    from matplotlib.collections import LineCollection

    ax.add_collection(LineCollection(segments, colors=PAIR_COLOR, linewidths=0.8, alpha=0.8))
    return ax


def _grid(limit: float, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An ``n`` x ``n`` grid over ``[-limit, limit]^2``: ``X``, ``Y`` and the points ``(n*n, 2)``."""
    limit = check.positive(limit, "limit", fix="it is the half-width of the square shown")
    n = check.count(
        n,
        "n",
        minimum=2,
        maximum=MAX_GRID_SIDE,
        fix="n is the number of points per side: 15-41 for arrows, up to a few hundred for a density",
    )
    axis = torch.linspace(-limit, limit, n)
    X, Y = torch.meshgrid(axis, axis, indexing="xy")
    return X, Y, torch.stack([X.ravel(), Y.ravel()], dim=1)


def field_on_grid(
    velocity: Velocity, t: float | torch.Tensor, *, limit: float = LIMIT, n: int = 21
) -> tuple[np.ndarray, ...]:
    """Evaluate ``velocity(x, t)`` on an ``n`` x ``n`` grid: returns ``(X, Y, U, V)``, NumPy
    arrays on the CPU. The grid is built on a network's device and in its dtype; ``t`` is
    a float (or a one-element tensor, or one time per grid point)."""
    check.function(velocity, "velocity", "a model, or lambda x, t: -x")
    X, Y, points = _grid(limit, n)  # points: (n*n, 2)
    check.network_memory(velocity, len(points), f"a {n} x {n} grid")
    device, dtype = check.placement(velocity) or (None, None)
    points = points.to(device=device, dtype=dtype)
    times = check.in_unit_interval(as_time(t, points))  # (n*n, 1)
    with torch.inference_mode():
        v = _np(check.evaluate(velocity, points, times))  # (n*n, 2), back on the CPU
    return _np(X), _np(Y), v[:, 0].reshape(n, n), v[:, 1].reshape(n, n)


def quiver(
    ax: Axes, grid: tuple[np.ndarray, ...], *, color: str = FIELD_COLOR, scale: float | None = None
) -> Axes:
    """Arrows of a field evaluated by :func:`field_on_grid`. Pass a fixed ``scale`` to
    compare panels: arrow lengths are then in the same units everywhere."""
    X, Y, U, V = grid
    ax.quiver(
        X, Y, U, V, color=color, angles="xy", scale_units="xy", scale=scale, width=0.004, alpha=0.85
    )
    return ax


def map_arrows(ax: Axes, x_0, x_1, *, n_arrows: int = 120) -> Axes:
    """A map drawn as arrows, to scale, from ``x_0[i]`` to ``x_1[i]`` for the first
    ``n_arrows`` rows, with the start points (base colour) and end points (flow colour)."""
    x_0, x_1 = _cloud2d(x_0, "x_0"), _cloud2d(x_1, "x_1")
    k = min(check.count(n_arrows, "n_arrows"), len(x_0), len(x_1))
    a, b = x_0[:k], x_1[:k]  # (k, 2) each
    ax.quiver(
        a[:, 0],
        a[:, 1],
        b[:, 0] - a[:, 0],
        b[:, 1] - a[:, 1],
        angles="xy",
        scale_units="xy",
        scale=1.0,
        width=0.004,
        color=FIELD_COLOR,
        alpha=0.55,
    )
    cloud(ax, a, color=BASE_COLOR, s=5, alpha=0.6)
    cloud(ax, b, color=FLOW_COLOR, s=6, alpha=0.9)
    return ax


def trajectories(ax: Axes, trajectory, *, n_lines: int = 60, show_points: bool = True) -> Axes:
    """Paths of ``trajectory`` ``(steps + 1, n, 2)`` (or of a Solution solved with
    ``return_trajectory=True``): lines for the first ``n_lines``, base points at the start
    and the final samples at the end."""
    traj = _np(check.trajectory(trajectory))  # (steps + 1, n, dim)
    if traj.shape[2] != 2:
        raise ValueError(
            f"trajectories draws 2-D paths; this trajectory has dimension {traj.shape[2]}"
        )
    n_lines = check.count(n_lines, "n_lines", minimum=0)
    from matplotlib.collections import LineCollection

    k = min(n_lines, traj.shape[1])
    ax.add_collection(
        LineCollection(traj[:, :k].transpose(1, 0, 2), colors=PAIR_COLOR, linewidths=0.7, alpha=0.7)
    )
    if show_points:
        cloud(ax, traj[0], color=BASE_COLOR, label="start $x_0$", alpha=0.25)
        cloud(ax, traj[-1], color=FLOW_COLOR, label="end $x_1$", s=5, alpha=0.8)
        ax.legend(loc="upper right", fontsize=7, markerscale=2)
    return ax


def log_density_on_grid(
    log_prob: Callable, *, limit: float = LIMIT, n: int = 61, model: Any = None
) -> tuple[np.ndarray, ...]:
    """Evaluate ``log_prob(points) -> (n*n,)`` on a grid: returns ``(X, Y, L)``, NumPy
    arrays on the CPU (``log_prob`` may answer on any device).

    As in :func:`field_on_grid`, the grid is built on a network's device and in its dtype:
    ``model``'s when given (the network that ``log_prob`` wraps, as in
    ``lambda x: fm.log_likelihood(model, x)``), else ``log_prob``'s own when it is a network
    or wraps one visibly (a module, a bound method, a ``functools.partial``)."""
    check.function(log_prob, "log_prob", "fm.exact.ring_log_prob()")
    X, Y, points = _grid(limit, n)
    device, dtype = check.placement(log_prob if model is None else model) or (None, None)
    values = log_prob(points.to(device=device, dtype=dtype))
    if not isinstance(values, (torch.Tensor, np.ndarray)) or values.shape not in (
        (n * n,),
        (n * n, 1),
    ):
        shape = tuple(values.shape) if hasattr(values, "shape") else type(values).__name__
        raise ValueError(
            f"log_prob must return one log-density per point, shape ({n * n},); got {shape}"
        )
    return _np(X), _np(Y), _np(values).reshape(n, n)


def density(
    ax: Axes, grid: tuple[np.ndarray, ...], *, vmin: float = -8.0, vmax: float | None = None
) -> Axes:
    """A log-density from :func:`log_density_on_grid` as a colour map (clipped at ``vmin``)."""
    X, Y, L = grid
    ax.pcolormesh(X, Y, np.clip(L, vmin, vmax), cmap="magma", shading="auto", vmin=vmin, vmax=vmax)
    return ax


def image_grid(ax: Axes, images, *, n_cols: int = 8, side: int = 8) -> Axes:
    """Flattened square images ``(n, side * side)`` in [-1, 1], tiled ``n_cols`` to a row."""
    n_cols, side = check.count(n_cols, "n_cols"), check.count(side, "side")
    images = _np(images)
    if images.ndim != 2 or images.shape[1] != side * side:
        raise ValueError(
            f"images must have shape (n, {side * side}), one flattened {side}x{side} image per row; "
            f"got {images.shape}"
        )
    images = images.reshape(-1, side, side)
    n_rows = int(np.ceil(len(images) / n_cols))
    canvas = np.ones(
        (n_rows * (side + 1) + 1, n_cols * (side + 1) + 1)
    )  # dark frames between images
    for k, img in enumerate(images):
        r, c = divmod(k, n_cols)
        canvas[
            1 + r * (side + 1) : 1 + r * (side + 1) + side,
            1 + c * (side + 1) : 1 + c * (side + 1) + side,
        ] = img
    ax.imshow(-canvas, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")  # dark ink on white
    ax.set_axis_off()
    return ax


def loss_curve(
    ax: Axes, losses: Sequence[float], *, floor: float | None = None, window: int = 50
) -> Axes:
    """Per-step training loss (a list, or the History that ``train_flow`` returns) with a
    running mean, and (optionally) the loss of the exact field: the floor no model can go
    below."""
    if hasattr(losses, "loss") and not isinstance(losses, (np.ndarray, torch.Tensor, list, tuple)):
        losses = losses.loss  # a History
    losses = np.asarray(_np(losses) if isinstance(losses, torch.Tensor) else losses, dtype=float)
    if losses.ndim != 1:
        raise ValueError(
            f"losses must be one loss per step (a list or 1-D array), got shape {losses.shape}"
        )
    window = check.count(window, "window")
    if floor is not None:
        floor = check.real(floor, "floor")
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, color=BASE_COLOR, alpha=0.3, lw=0.8, label="loss per step")
    if len(losses) >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(
            steps[window - 1 :], smooth, color=BASE_COLOR, lw=2, label=f"running mean ({window})"
        )
    if floor is not None:
        ax.axhline(floor, color=DATA_COLOR, ls="--", label=f"exact field: {floor:.2f}")
    ax.set_xlabel("training step")
    ax.set_ylabel("MSE loss")
    ax.grid(True, alpha=0.2)
    ax.legend(fontsize=8)
    return ax


def quality_vs_nfe(
    ax: Axes,
    curves: dict[str, tuple[Sequence[int], Sequence[float]]],
    *,
    floor: tuple[float, float] | None = None,
    ylabel: str = "MMD² to fresh data",
) -> Axes:
    """One line per solver (or model): ``curves[label] = (nfes, scores)``; ``floor`` is the
    (low, high) null band: what two true draws score against each other (for example
    ``(band.p10, band.p90)`` from :func:`fmkit.metrics.null_band`)."""
    for label, (nfes, scores) in curves.items():
        ax.plot(nfes, scores, marker="o", label=label)
    if floor is not None:
        ax.axhspan(*floor, color=PAIR_COLOR, alpha=0.3, label="null band (true vs true)")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("NFE (velocity evaluations)")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.2, which="both")
    ax.legend(fontsize=8)
    return ax


def animate_cloud(
    trajectory,
    *,
    data=None,
    times: Sequence[float] | None = None,
    every: int = 1,
    size: float = 4.0,
) -> FuncAnimation:
    """An animation of a cloud moving along ``trajectory`` ``(steps + 1, n, 2)`` (or a
    Solution's), over the data."""
    every = check.count(every, "every")
    states = _np(check.trajectory(trajectory))  # (steps + 1, n, dim)
    if times is not None and len(times) != len(states):
        raise ValueError(f"times must give one time per state: {len(states)}, got {len(times)}")
    traj = states[::every]
    times = np.linspace(0, 1, len(states))[::every] if times is None else np.asarray(times)[::every]
    fig, (ax,) = figure(size=size)
    panel(ax)
    if data is not None:
        cloud(ax, data, color=DATA_COLOR, alpha=0.15)
    points = ax.scatter(traj[0][:, 0], traj[0][:, 1], s=5, color=FLOW_COLOR, linewidths=0)
    title = ax.set_title("", fontsize=10)

    def update(i):
        points.set_offsets(traj[i])
        title.set_text(f"t = {times[i]:.2f}")
        return points, title

    anim = FuncAnimation(fig, update, frames=len(traj), interval=80, blit=False)
    plt.close(fig)
    return anim


def animate_field(
    velocity: Callable,
    *,
    times: Sequence[float] = tuple(np.linspace(0, 1, 21)),
    data=None,
    size: float = 4.0,
    scale: float | None = 8.0,
) -> FuncAnimation:
    """An animation of the field ``velocity(x, t)`` as ``t`` runs through ``times``."""
    grids = [field_on_grid(velocity, t) for t in times]
    fig, (ax,) = figure(size=size)

    def update(i):
        ax.clear()
        panel(ax, f"velocity field, t = {times[i]:.2f}")
        if data is not None:
            cloud(ax, data, color=DATA_COLOR, alpha=0.15)
        quiver(ax, grids[i], scale=scale)
        return ()

    anim = FuncAnimation(fig, update, frames=len(times), interval=120, blit=False)
    plt.close(fig)
    return anim


def animation_html(anim: FuncAnimation):
    """The animation as a self-contained JavaScript player, for notebooks and the book."""
    from IPython.display import HTML

    return HTML(anim.to_jshtml(default_mode="once"))
