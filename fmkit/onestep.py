"""Sampling in one step (or a few) with a learned flow map.

A velocity field ``v(x, t)`` needs an ODE solver and many evaluations; the *flow map*
``X(x, r, t)`` says directly where the point at ``x`` at time ``r`` is at time ``t``. Written
as ``X(x, r, t) = x + (t - r) u(x, r, t)``, ``u`` is the *average velocity* of that path over
``[r, t]``; at ``r = t`` it is the velocity itself. A network for ``u``
(:class:`TwoTimeField`) lets :func:`map_sample` jump from noise to data in ``n_steps`` jumps,
exactly if ``u`` is exact, whatever the number of jumps (Boffi, Albergo and Vanden-Eijnden,
2024, "Flow map matching"). Three ways to train it, each a loss on :func:`fmkit.train.fit`:

* :func:`train_distillation`: regress ``u`` onto the displacements of a teacher's ODE
  solutions (Luhman and Luhman, 2021; Liu et al., 2023, rectified flow's distillation);
* :func:`train_shortcut`: flow matching at ``r = t`` plus self-consistency, one jump of
  size ``2d`` equals two of size ``d`` (Frans, Hafner, Levine and Abbeel, 2024, "One Step
  Diffusion via Shortcut Models");
* :func:`train_meanflow`: the MeanFlow identity, ``u`` equals ``v`` plus a Jacobian-vector
  product of ``u`` (Geng, Deng, Bai, Kolter and He, 2025, "Mean Flows for One-step
  Generative Modeling"); see :func:`meanflow_target`.

Time runs from noise at 0 to data at 1, as everywhere in the course, and ``u(x, r, t)``
takes the point ``x`` at the *start* ``r`` of the jump, so sampling reads
``x <- x + (t - r) u(x, r, t)``.

>>> drift = lambda x, r, t: torch.ones_like(x)  # every path moves at speed 1 along both axes
>>> map_sample(drift, torch.zeros(3, 2), n_steps=2).x[0].tolist()
[1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from . import _validate as check
from . import data as fm_data
from .models import _inputs, _sizes, _time_embedding, mlp
from .paths import COUPLINGS, DEFAULT_OT_SUB_BATCH, TIME_SAMPLINGS, as_time, couple, sample_time
from .solvers import STEPS, Solution, integrate
from .train import History, _give_dim, _model, _rows, _training_points, fit
from .utils import Velocity

# ``u(x, r, t)``: the average velocity over ``[r, t]`` of the path through ``x`` at time ``r``.
AverageVelocity = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _times(r, t, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``r`` and ``t`` as ``(batch, 1)`` in [0, 1] with ``r <= t`` in every row."""
    r = check.in_unit_interval(as_time(r, x), "r")  # (batch, 1)
    t = check.in_unit_interval(as_time(t, x), "t")  # (batch, 1)
    backwards = r > t
    if backwards.any():
        row = int(backwards.reshape(-1).nonzero()[0])
        raise ValueError(
            f"r must not exceed t: the map jumps forward in time, from r to t; got "
            f"r = {float(r[row]):.4g} > t = {float(t[row]):.4g} (row {row}). Swap them, or "
            "sort the two times with torch.minimum / torch.maximum"
        )
    return r, t


# --------------------------------------------------------------------------- the network


class TwoTimeField(nn.Module):
    """An MLP for the average velocity ``u(x, r, t)`` over ``[r, t]`` of the path that is at
    ``x`` at time ``r``; ``x + (t - r) u(x, r, t)`` is where that path is at ``t``.

    :class:`fmkit.VelocityField` with a second time: the start ``r`` and the jump's length
    ``t - r`` each get an embedding (``time_embedding="mlp"`` or ``"sinusoidal"``, as there)
    and join ``x`` at the input of the main MLP. ``r`` and ``t`` may be floats, ``(batch,)``
    or ``(batch, 1)``, with ``0 <= r <= t <= 1``. At ``r = t`` the network is a velocity
    field: :class:`at_diagonal` hands it to the course's solvers.

    >>> u = TwoTimeField()
    >>> u(torch.zeros(5, 2), 0.25, 0.75).shape
    torch.Size([5, 2])
    """

    def __init__(
        self,
        dim: int = 2,
        time_emb_dim: int = 16,
        hidden_dim: int = 128,
        n_hidden: int = 4,
        *,
        activation: str = "relu",
        time_embedding: str = "mlp",
    ):
        super().__init__()
        dim, time_emb_dim, hidden_dim, n_hidden = _sizes(dim, time_emb_dim, hidden_dim, n_hidden)
        self.dim = dim
        self.time_mlp = _time_embedding(time_embedding, time_emb_dim, activation)  # start r
        self.gap_mlp = _time_embedding(time_embedding, time_emb_dim, activation)  # length t - r
        self.net = mlp([dim + 2 * time_emb_dim] + [hidden_dim] * n_hidden + [dim], activation)

    def forward(
        self, x: torch.Tensor, r: float | torch.Tensor, t: float | torch.Tensor
    ) -> torch.Tensor:
        x = _inputs(self, x, self.dim)  # (batch, dim)
        r, t = _times(r, t, x)  # (batch, 1) each
        h = torch.cat([x, self.time_mlp(r), self.gap_mlp(t - r)], dim=-1)
        return self.net(h)  # (batch, dim)


class at_diagonal:  # noqa: N801  (used like a function, as fmkit.paths.as_velocity)
    """The velocity ``v(x, t) = u(x, t, t)`` of a two-time model, with the course's ``v(x, t)``
    signature, so that ``fm.generate``, ``fm.integrate`` and the plots take it.

    >>> v = at_diagonal(lambda x, r, t: x * (1 + t - r))
    >>> v(torch.ones(2, 2), 0.5).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """

    def __init__(self, model: AverageVelocity):
        self.model = check.function(model, "model", "fm.onestep.TwoTimeField()")
        dim = check.velocity_dim(model)
        if dim is not None:
            self.dim = dim

    def __call__(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        return self.model(x, t, t)

    def __repr__(self) -> str:
        return f"at_diagonal({type(self.model).__name__})"


# --------------------------------------------------------------------------- sampling


def flow_map(
    model: AverageVelocity, x: torch.Tensor, r: float | torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """One jump of the map: ``x + (t - r) u(x, r, t)``, ``(batch, dim)``: where the point at
    ``x`` at time ``r`` is at time ``t``. Keeps gradients (training uses it too)."""
    r, t = _times(r, t, x)  # (batch, 1) each
    u = check.evaluate(lambda x_, t_: model(x_, r, t_), x, t)  # (batch, dim), shape checked
    return x + (t - r) * u


def _start_points(model, n_or_x0, base, generator) -> torch.Tensor:
    """The given start points ``(n, dim)``, checked for the model, or ``n`` fresh base draws."""
    if isinstance(n_or_x0, (np.ndarray, list)) or (
        isinstance(n_or_x0, torch.Tensor) and n_or_x0.ndim > 0
    ):
        return check.for_velocity(
            n_or_x0, model, "x_0", fix="start from finite points (a diverged model makes NaN)"
        )
    n = check.count(n_or_x0, "n_or_x0 (the number of samples, or the start points)")
    dim = check.velocity_dim(model)
    if dim is None:
        raise ValueError(
            f"{type(model).__name__} does not say its dimension (no .dim attribute), so the "
            "base points cannot be drawn; pass the start points themselves, "
            "map_sample(model, x_0), or use fm.onestep.TwoTimeField(dim=...)"
        )
    device, dtype = check.placement(model) or (None, None)
    draw = fm_data.base_sampler(base, dim, device=device, dtype=dtype)
    return draw(n, generator=check.generator(generator))  # (n, dim)


def map_sample(
    model: AverageVelocity,
    n_or_x0: int | torch.Tensor,
    *,
    n_steps: int = 1,
    base: str | fm_data.Sampler = "gaussian",
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
) -> Solution:
    """Sample with a flow map: ``n_steps`` jumps ``x <- x + (t' - t) u(x, t, t')`` over the
    even grid from ``t = 0`` to ``1``, from ``n`` fresh base points (the model must have a
    ``dim``) or from the start points given. Returns the course's :class:`fmkit.Solution`:
    end points ``x``, the grid ``times`` ``(n_steps + 1,)``, the states at those times when
    ``return_trajectory`` (``(n_steps + 1, n, dim)``), and ``nfe = n_steps`` (one network
    evaluation per jump). Runs under ``torch.inference_mode``."""
    check.function(model, "model", "fm.onestep.TwoTimeField()")
    n_steps = check.steps(n_steps)
    x = _start_points(model, n_or_x0, base, generator)  # (n, dim)
    check.network_memory(model, len(x), "sampling from these points")
    if check.flag(return_trajectory, "return_trajectory"):
        check.memory(
            (n_steps + 1) * x.numel() * x.element_size(),
            f"keeping {n_steps} steps of {len(x):,} points",
            "pass return_trajectory=False, or use fewer steps or points",
        )
    times = torch.linspace(0.0, 1.0, n_steps + 1)
    states = [x] if return_trajectory else []
    with torch.inference_mode():
        for i in range(n_steps):
            x = flow_map(model, x, i / n_steps, (i + 1) / n_steps)  # times from the grid
            if return_trajectory:
                states.append(x)
    trajectory = torch.stack(states).clone() if return_trajectory else None
    return Solution(x=x.clone(), times=times, trajectory=trajectory, nfe=n_steps)


# --------------------------------------------------------------------------- shared pieces


def _student(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """A trainable two-time network that says its dimension; its device and dtype."""
    place = _model(model)
    if check.velocity_dim(model) is None:
        raise ValueError(
            f"{type(model).__name__} does not say its dimension (no .dim attribute); "
            "use fm.onestep.TwoTimeField(dim=...)"
        )
    return place


def _data_pairs(
    model: nn.Module, data, base, coupling: str, ot_sub_batch, generator
) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
    """``draw(batch) -> (x_0, x_1)``: base points and data rows, coupled as asked."""
    place = _model(model)
    data = _training_points(data, "data", model, place)  # (n, dim)
    draw_base = fm_data.base_sampler(base, data.shape[1], device=place[0], dtype=place[1])
    coupling = check.choice(coupling, "coupling", COUPLINGS)
    if ot_sub_batch is not None:
        ot_sub_batch = check.count(ot_sub_batch, "ot_sub_batch", fix="or None for one exact plan")
    _give_dim(model, data.shape[1])

    def draw(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        x_1 = data[_rows(len(data), batch, generator).to(data.device)]  # (batch, dim)
        x_0 = draw_base(batch, generator=generator)  # (batch, dim)
        return couple(x_0, x_1, coupling, sub_batch=ot_sub_batch)

    return draw


def _levels(values: Sequence[int], name: str) -> list[int]:
    """A non-empty list of positive step counts, such as ``(1, 2, 4)``."""
    if isinstance(values, (int, np.integer)):
        values = [values]
    if not isinstance(values, (list, tuple)) or not values:
        raise TypeError(f"{name} must be a list of step counts such as (1, 2, 4); got {values!r}")
    return [check.steps(v, f"each of {name}") for v in values]


# --------------------------------------------------------------------------- distillation


def teacher_solution(
    teacher: Velocity,
    n: int,
    *,
    dim: int,
    teacher_steps: int = 32,
    method: str = "midpoint",
    base: str | fm_data.Sampler = "gaussian",
    generator: torch.Generator | None = None,
) -> Solution:
    """``n`` base points and the teacher's ODE paths from them, kept at every grid time:
    ``trajectory`` ``(teacher_steps + 1, n, dim)``; row ``i`` of its first and last states
    is a (noise, sample) pair, the pairing that reflow trains on too."""
    n, dim = check.count(n, "n"), check.count(dim, "dim")
    check.network_memory(teacher, n, f"making {n:,} pairs")
    device, dtype = check.placement(teacher) or (None, None)
    x_0 = fm_data.base_sampler(base, dim, device=device, dtype=dtype)(
        n, generator=check.generator(generator)
    )  # (n, dim)
    method = check.choice(method, "solver method", tuple(STEPS))  # a fixed grid: not dopri5
    return integrate(teacher, x_0, n_steps=teacher_steps, method=method, return_trajectory=True)


def train_distillation(
    student: nn.Module,
    teacher: Velocity,
    *,
    n_pairs: int = 10_000,
    teacher_steps: int = 32,
    method: str = "midpoint",
    map_steps: Sequence[int] = (1,),
    base: str | fm_data.Sampler = "gaussian",
    n_steps: int = 2000,
    batch_size: int = 1000,
    lr: float = 1e-3,
    generator: torch.Generator | None = None,
    progress: bool = True,
    **optimizer_settings,
) -> History:
    """Distil a teacher's ODE into a flow map (Luhman and Luhman, 2021, "Knowledge
    Distillation in Iterative Generative Models for Improved Sampling Speed").

    The teacher (a trained flow, or an exact field such as ``fm.exact.ring_field()``) is
    solved once, up front, from ``n_pairs`` base points with ``teacher_steps`` steps of
    ``method`` (:func:`teacher_solution`). Each training row then picks a step count ``k``
    from ``map_steps`` and one of its ``k`` jumps ``[r, t]`` on the even grid, and regresses
    ``u(x_r, r, t)`` onto the teacher's displacement ``(x_t - x_r) / (t - r)``. With the
    default ``map_steps=(1,)`` that is the pair (noise, sample) of reflow, used to learn the
    jump itself rather than a velocity; ``(1, 2, 4)`` trains a map that also serves 2 and 4
    jumps. Every ``k`` must divide ``teacher_steps``. ``optimizer_settings`` are
    :func:`fmkit.fit`'s (``ema=``, ``lr_schedule=``, ...).
    """
    place = _student(student)
    check.function(teacher, "teacher", "a trained fm.VelocityField, or fm.exact.ring_field()")
    teacher_steps = check.steps(teacher_steps, "teacher_steps")
    levels = _levels(map_steps, "map_steps")
    if any(teacher_steps % k for k in levels):
        raise ValueError(
            f"every entry of map_steps must divide teacher_steps = {teacher_steps}, so that "
            f"each jump starts and ends on the teacher's grid; got map_steps={tuple(levels)}"
        )
    batch_size = check.count(batch_size, "batch_size")
    check.network_memory(student, batch_size, "a training batch", backward=True)
    generator = check.generator(generator)
    solution = teacher_solution(
        teacher,
        n_pairs,
        dim=student.dim,
        teacher_steps=teacher_steps,
        method=method,
        base=base,
        generator=generator,
    )
    paths = solution.trajectory.to(*place)  # (teacher_steps + 1, n_pairs, dim)
    ks = torch.tensor(levels)  # (n_levels,)

    def batch_loss() -> torch.Tensor:
        rows = _rows(paths.shape[1], batch_size, generator)  # (batch,)
        k = ks[torch.randint(len(ks), (batch_size,), generator=generator)]  # (batch,) jumps
        jump = (torch.rand(batch_size, generator=generator) * k).long()  # (batch,) which one
        start, end = jump * teacher_steps // k, (jump + 1) * teacher_steps // k  # grid indices
        x_r, x_t = paths[start, rows], paths[end, rows]  # (batch, dim) each
        r = (start / teacher_steps).to(*place)[:, None]  # (batch, 1)
        t = (end / teacher_steps).to(*place)[:, None]  # (batch, 1)
        u = check.evaluate(lambda x_, t_: student(x_, r, t_), x_r, t)  # (batch, dim)
        return torch.mean((u - (x_t - x_r) / (t - r)) ** 2)

    return fit(student, batch_loss, n_steps=n_steps, lr=lr, progress=progress, **optimizer_settings)


# --------------------------------------------------------------------------- shortcut models


def shortcut_target(
    model: AverageVelocity, x: torch.Tensor, r: torch.Tensor, d: torch.Tensor, *, smallest: float
) -> torch.Tensor:
    """The self-consistency target for one jump of size ``2d`` from ``x`` at time ``r``: the
    average velocity of two jumps of size ``d``, ``(u(x, r, r + d) + u(x', r + d, r + 2d)) / 2``
    with ``x' = x + d u(x, r, r + d)``, without gradient. Jumps of size ``smallest`` are
    taken as Euler steps of the velocity ``u(x, r, r)`` instead: the bottom of the ladder is
    the flow-matching field. ``r`` and ``d`` are ``(batch, 1)``; returns ``(batch, dim)``."""
    with torch.no_grad():
        euler = d <= smallest  # (batch, 1): these rows' half jumps are velocity steps
        first = model(x, r, torch.where(euler, r, r + d))  # (batch, dim)
        x_mid = x + d * first
        mid = r + d
        second = model(x_mid, mid, torch.where(euler, mid, (mid + d).clamp(max=1.0)))
        return (first + second) / 2


def train_shortcut(
    model: nn.Module,
    data: torch.Tensor,
    *,
    n_levels: int = 6,
    bootstrap_fraction: float = 0.25,
    coupling: str = "independent",
    ot_sub_batch: int | None = DEFAULT_OT_SUB_BATCH,
    base: str | fm_data.Sampler = "gaussian",
    n_steps: int = 2000,
    batch_size: int = 1000,
    lr: float = 1e-3,
    generator: torch.Generator | None = None,
    progress: bool = True,
    **optimizer_settings,
) -> History:
    """Train a shortcut model (Frans, Hafner, Levine and Abbeel, 2024, "One Step Diffusion
    via Shortcut Models"): one network that serves 1, 2, 4, ... jumps.

    Most rows of a batch are plain flow matching at ``r = t``: ``u(x_t, t, t)`` regresses
    ``x_1 - x_0``, so the diagonal learns the velocity. The other ``bootstrap_fraction`` pick
    a jump size ``2d = 2^-j`` for ``j`` in ``0 .. n_levels - 1`` and a start ``r`` on that
    jump's grid, and regress ``u(x_r, r, r + 2d)`` onto two jumps of size ``d`` made by the
    model itself (:func:`shortcut_target`, stop-gradient); the smallest jumps,
    ``2^-n_levels``, are Euler steps of the learned velocity. So each size learns from the
    one below it, down to the field. ``coupling="ot"`` pairs each batch by minibatch OT
    (:func:`fmkit.paths.ot_pairing`). ``optimizer_settings`` are :func:`fmkit.fit`'s.
    """
    place = _model(model)
    batch_size = check.count(batch_size, "batch_size")
    n_levels = check.count(n_levels, "n_levels", maximum=20)
    fraction = check.real(bootstrap_fraction, "bootstrap_fraction", low=0.0, high=1.0)
    check.network_memory(model, batch_size, "a training batch", backward=True)
    generator = check.generator(generator)
    draw = _data_pairs(model, data, base, coupling, ot_sub_batch, generator)
    n_boot = round(fraction * batch_size)
    smallest = 2.0**-n_levels

    def batch_loss() -> torch.Tensor:
        x_0, x_1 = draw(batch_size)  # (batch, dim) each
        level = torch.randint(n_levels, (n_boot, 1), generator=generator)  # (n_boot, 1)
        jump = 0.5 ** level.double()  # (n_boot, 1): 1, 1/2, 1/4, ...
        start = (torch.rand(n_boot, 1, generator=generator) * 2.0**level).floor()  # grid index
        r_boot, d = (start * jump).to(*place), (jump / 2).to(*place)  # (n_boot, 1) each
        r_flow = torch.rand(batch_size - n_boot, 1, generator=generator).to(*place)
        r = torch.cat([r_boot, r_flow])  # (batch, 1)
        t = torch.cat([r_boot + 2 * d, r_flow])  # (batch, 1), t = r on the flow rows
        x_r = (1 - r) * x_0 + r * x_1  # (batch, dim), on each pair's line
        target = torch.cat(
            [
                shortcut_target(model, x_r[:n_boot], r_boot, d, smallest=smallest),
                (x_1 - x_0)[n_boot:],
            ]
        )  # (batch, dim)
        u = check.evaluate(lambda x_, t_: model(x_, r, t_), x_r, t.clamp(max=1.0))
        return torch.mean((u - target) ** 2)

    return fit(model, batch_loss, n_steps=n_steps, lr=lr, progress=progress, **optimizer_settings)


# --------------------------------------------------------------------------- MeanFlow


def meanflow_target(
    u: AverageVelocity,
    x: torch.Tensor,
    r: float | torch.Tensor,
    t: float | torch.Tensor,
    v: torch.Tensor,
) -> torch.Tensor:
    """The MeanFlow regression target (Geng, Deng, Bai, Kolter and He, 2025), without
    gradient: ``u_tgt = v + (t - r) d/dr u(x, r, t)``, ``(batch, dim)``.

    Why: ``(t - r) u(x_r, r, t) = x_t - x_r`` along a path of the flow. Move the start ``r``
    along the path (``x_r`` moves with velocity ``v``) and differentiate both sides:
    ``-u + (t - r) du/dr = -v``. The total derivative ``du/dr = v . grad_x u + partial_r u``
    is one Jacobian-vector product, with tangents ``(v, 1, 0)`` for ``(x, r, t)``, which
    ``torch.func.jvp`` computes in one forward pass. (The paper runs time the other way,
    data at 0 and noise at 1, with the point at the later time, so its target reads
    ``v - (t - r) du/dt``; with the course's direction the point sits at the start ``r`` and
    the sign flips.) ``x`` and ``v`` are ``(batch, dim)``; ``r``, ``t`` floats or ``(batch,)``
    or ``(batch, 1)`` with ``r <= t``.
    """
    check.function(u, "u", "fm.onestep.TwoTimeField()")
    x = check.for_velocity(x, u, "x")
    v = check.floating(v, "v", x.dtype).to(x.device)
    if v.shape != x.shape:
        raise ValueError(
            f"v (the velocity at x) must have x's shape {tuple(x.shape)}; got {tuple(v.shape)}"
        )
    r, t = (s.contiguous() for s in _times(r, t, x))  # (batch, 1) each, one number per row
    with torch.no_grad():
        _, du_dr = torch.func.jvp(
            lambda x_, r_, t_: u(x_, r_, t_),
            (x, r, t),
            (v, torch.ones_like(r), torch.zeros_like(t)),
        )  # (batch, dim): v . grad_x u + partial_r u
    return (v + (t - r) * du_dr).detach()


def _meanflow_times(
    batch: int, equal_fraction: float, time_sampling: str, generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(r, t)``, each ``(batch, 1)``: two training times sorted so ``r <= t``, with
    ``t = r`` on a share ``equal_fraction`` of the rows (plain flow matching there)."""
    a = sample_time(batch, generator=generator, time_sampling=time_sampling)  # (batch, 1)
    b = sample_time(batch, generator=generator, time_sampling=time_sampling)  # (batch, 1)
    r, t = torch.minimum(a, b), torch.maximum(a, b)
    equal = torch.rand(batch, 1, generator=generator) < equal_fraction  # (batch, 1)
    return r, torch.where(equal, r, t)


def train_meanflow(
    model: nn.Module,
    data: torch.Tensor,
    *,
    equal_fraction: float = 0.25,
    time_sampling: str = "uniform",
    loss_power: float = 1.0,
    coupling: str = "independent",
    ot_sub_batch: int | None = DEFAULT_OT_SUB_BATCH,
    base: str | fm_data.Sampler = "gaussian",
    n_steps: int = 2000,
    batch_size: int = 1000,
    lr: float = 1e-3,
    generator: torch.Generator | None = None,
    progress: bool = True,
    **optimizer_settings,
) -> History:
    """Train a MeanFlow model (Geng, Deng, Bai, Kolter and He, 2025, "Mean Flows for
    One-step Generative Modeling").

    Each row draws a pair ``(x_0, x_1)`` and two times ``r <= t`` (equal on a share
    ``equal_fraction`` of the rows; ``time_sampling`` is ``"uniform"`` or
    ``"logit-normal"``), puts ``x_r`` on the pair's straight line with its velocity
    ``v = x_1 - x_0``, and regresses ``u(x_r, r, t)`` onto :func:`meanflow_target`, held
    fixed (stop-gradient). At ``r = t`` the target is ``v`` itself: flow matching. No
    teacher and no ODE solve are needed; the price is one Jacobian-vector product per step.
    ``loss_power = p > 0`` weighs each row's squared error ``e`` by ``1 / (e + 10^-3)^p``,
    held fixed (the paper's adaptive weighting; ``p = 1`` is its choice, ``0`` the plain
    mean squared error); it keeps the rows with large, noisy errors from drowning the rest.
    With it the recorded loss is a weighted one: each row's term ``e / (e + 10^-3)`` (at
    ``p = 1``) stays just below 1 while its error is well above ``10^-3``, and the mean is
    divided by the number of coordinates, so on 2-D data the loss sits just below 0.5
    however much the fit improves: watch samples, not the loss.
    The paper takes ``r = t`` on 75% of the rows; on the course's 2-D targets 25% trained
    better in a short run (``benchmarks/onestep.py``). ``coupling="ot"`` pairs each batch by
    minibatch OT. Keep the network's default ``time_embedding="mlp"``: sinusoidal features
    of up to 64 cycles make ``du/dr`` huge, and on the ring such a model did not train.
    ``optimizer_settings`` are :func:`fmkit.fit`'s (``ema=``, ...).
    """
    place = _model(model)
    batch_size = check.count(batch_size, "batch_size")
    fraction = check.real(equal_fraction, "equal_fraction", low=0.0, high=1.0)
    check.choice(time_sampling, "time sampling", TIME_SAMPLINGS)
    loss_power = check.nonnegative(loss_power, "loss_power", fix="0 is the plain squared error")
    check.network_memory(model, batch_size, "a training batch", backward=True)
    generator = check.generator(generator)
    draw = _data_pairs(model, data, base, coupling, ot_sub_batch, generator)

    def batch_loss() -> torch.Tensor:
        x_0, x_1 = draw(batch_size)  # (batch, dim) each
        r, t = (
            s.to(*place) for s in _meanflow_times(batch_size, fraction, time_sampling, generator)
        )
        x_r = (1 - r) * x_0 + r * x_1  # (batch, dim), on each pair's line
        v = x_1 - x_0  # (batch, dim)
        target = v.clone()  # (batch, dim): at r = t the target is the velocity itself
        apart = (t > r)[:, 0]  # (batch,): only these rows need the Jacobian-vector product
        if apart.any():
            target[apart] = meanflow_target(model, x_r[apart], r[apart], t[apart], v[apart])
        u = check.evaluate(lambda x_, t_: model(x_, r, t_), x_r, t)  # (batch, dim)
        error = ((u - target) ** 2).sum(1)  # (batch,)
        if loss_power > 0:  # adaptive weights 1 / (error + c)^p, held fixed
            error = error / (error.detach() + 1e-3) ** loss_power
        return error.mean() / x_r.shape[1]  # a mean over rows and coordinates

    return fit(model, batch_loss, n_steps=n_steps, lr=lr, progress=progress, **optimizer_settings)
