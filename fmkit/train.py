"""Training a velocity field by regression onto the straight-path velocity."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from tqdm.auto import tqdm

from . import data as fm_data
from .paths import COUPLINGS, couple, interpolate, sample_time, target_velocity

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def flow_matching_loss(
    velocity: Velocity, x_0: torch.Tensor, x_1: torch.Tensor, t: torch.Tensor, **condition
) -> torch.Tensor:
    """Mean squared error between ``velocity(x_t, t)`` and the pair's velocity ``x_1 - x_0``.

    Averaged over the batch and the coordinates (like ``F.mse_loss``). Works for a network
    or for any exact field with the same ``(x, t)`` signature; keyword arguments (such as
    ``label=`` for a conditional network) are passed on to ``velocity``.
    """
    x_t = interpolate(x_0, x_1, t)  # (batch, dim)
    return torch.mean((velocity(x_t, t, **condition) - target_velocity(x_0, x_1)) ** 2)


@dataclass
class History:
    """What happened during training: one loss and one wall-clock time per step."""

    loss: list[float] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)  # seconds since the start, per step

    @property
    def n_steps(self) -> int:
        return len(self.loss)

    @property
    def seconds(self) -> float:
        return self.wall_time[-1] if self.wall_time else 0.0

    @property
    def steps_per_second(self) -> float:
        return self.n_steps / self.seconds if self.seconds > 0 else float("nan")

    def final_loss(self, window: int = 100) -> float:
        """Mean loss over the last ``window`` steps: one batch's loss is noisy."""
        tail = self.loss[-window:]
        return sum(tail) / len(tail)


def _base_sampler(base, dim: int) -> Callable[..., torch.Tensor]:
    return base if callable(base) else fm_data.base_sampler(base, dim)


def _check_data(data: torch.Tensor) -> torch.Tensor:
    data = torch.as_tensor(data, dtype=torch.float32)
    if data.ndim != 2 or data.shape[0] == 0:
        raise ValueError(f"data must be a non-empty tensor of shape (n, dim); got {tuple(data.shape)}")
    if not torch.isfinite(data).all():
        raise ValueError("data contains NaN or infinite values; clean or drop those rows first")
    return data


LR_SCHEDULES = ("cosine", "constant")


def _scheduler(optimizer: torch.optim.Optimizer, name: str, n_steps: int):
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_steps)
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise ValueError(f"unknown lr_schedule {name!r}; choose one of: {', '.join(LR_SCHEDULES)}")


def _check_sizes(n_steps: int, batch_size: int) -> None:
    if n_steps <= 0:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")


def _fit(model, draw, *, n_steps: int, lr: float, lr_schedule: str, generator, progress: bool) -> History:
    """The training loop shared by every recipe: ``draw()`` returns one batch of pairs
    ``(x_0, x_1, condition)``; each step adds times, takes the loss and an AdamW step."""
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, fused=device.type in ("cpu", "cuda"))
    scheduler = _scheduler(optimizer, lr_schedule, n_steps)
    history = History()
    model.train()
    start = time.perf_counter()
    for step in tqdm(range(n_steps), desc="training", disable=not progress, mininterval=0.5):
        x_0, x_1, condition = draw()
        t = sample_time(len(x_0), generator=generator)  # (batch, 1)
        condition = {k: v.to(device) for k, v in condition.items()}
        loss = flow_matching_loss(model, x_0.to(device), x_1.to(device), t.to(device), **condition)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(
                f"the loss became {value} at step {step}: training diverged. "
                f"Try a smaller learning rate (lr={lr} now) or check the data's scale."
            )
        history.loss.append(value)
        history.wall_time.append(time.perf_counter() - start)
    model.eval()
    return history


def train_flow(
    model: torch.nn.Module,
    data: torch.Tensor,
    *,
    base: str | Callable[..., torch.Tensor] = "gaussian",
    n_steps: int = 2000,
    batch_size: int = 1000,
    lr: float = 1e-3,
    coupling: str = "independent",
    lr_schedule: str = "cosine",
    labels: torch.Tensor | None = None,
    label_dropout: float = 0.0,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> History:
    """Fit ``model(x, t)`` to the straight-path velocity of random (or OT) pairs.

    Each step draws ``batch_size`` rows of ``data`` (with replacement, by indexing: no
    DataLoader in the hot loop), as many base samples, and a uniform time per pair, then
    takes one AdamW step on :func:`flow_matching_loss`. ``lr_schedule="cosine"`` (the
    default) anneals the learning rate from ``lr`` to zero over the run, which lets the
    model settle instead of jittering with each batch: on the ring it takes the sample
    quality from about 0.003 to about 0.0005 in MMD at the same cost; ``"constant"`` keeps
    ``lr`` throughout, as the simplest loops do. ``coupling="ot"`` pairs each batch by
    minibatch optimal transport (:func:`fmkit.paths.ot_pairing`).

    With ``labels`` (one integer class per data row) the model is called as
    ``model(x, t, label=...)``; each label is replaced by ``-1`` ("no label") with
    probability ``label_dropout``, so one network learns both the conditional and the
    unconditional field, as classifier-free guidance needs.

    Training happens on the model's device; random draws come from ``generator`` on the
    CPU. Raises ``FloatingPointError`` if the loss stops being finite, rather than
    returning a model that samples NaNs.
    """
    _check_sizes(n_steps, batch_size)
    data = _check_data(data)
    sample_base = _base_sampler(base, data.shape[1])
    if labels is not None:
        labels = torch.as_tensor(labels, dtype=torch.long)
        if labels.shape != (len(data),):
            raise ValueError(f"labels must have one entry per data row, shape ({len(data)},); got {tuple(labels.shape)}")
    if not 0.0 <= label_dropout < 1.0:
        raise ValueError(f"label_dropout must be in [0, 1), got {label_dropout}")

    def draw():
        idx = torch.randint(len(data), (batch_size,), generator=generator)
        x_1 = data[idx]  # (batch, dim)
        x_0 = sample_base(batch_size, generator=generator)  # (batch, dim)
        if x_0.shape != x_1.shape:
            raise ValueError(
                f"the base draws points of shape {tuple(x_0.shape[1:])} but the data has "
                f"{tuple(x_1.shape[1:])}; pick a base of the data's dimension"
            )
        if labels is None:
            x_0, x_1 = couple(x_0, x_1, coupling)
            return x_0, x_1, {}
        label = labels[idx].clone()  # (batch,)
        label[torch.rand(batch_size, generator=generator) < label_dropout] = -1
        return x_0, x_1, {"label": label}

    if labels is not None and coupling != "independent":
        raise ValueError("coupling='ot' would re-pair points across labels; use it without labels")
    if coupling not in COUPLINGS:
        raise ValueError(f"unknown coupling {coupling!r}; choose one of: {', '.join(COUPLINGS)}")
    return _fit(model, draw, n_steps=n_steps, lr=lr, lr_schedule=lr_schedule, generator=generator, progress=progress)


def train_on_pairs(
    model: torch.nn.Module,
    x_0: torch.Tensor,
    x_1: torch.Tensor,
    *,
    n_steps: int = 2000,
    batch_size: int = 1000,
    lr: float = 1e-3,
    lr_schedule: str = "cosine",
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> History:
    """Fit ``model`` to fixed pairs: row ``i`` of ``x_0`` travels to row ``i`` of ``x_1``.

    This is the second stage of rectified flow ("reflow"): with pairs made by a trained
    flow (:func:`fmkit.reflow.reflow_pairs`) the straight lines no longer cross, so the
    new field is straighter and needs fewer solver steps.
    """
    _check_sizes(n_steps, batch_size)
    x_0, x_1 = _check_data(x_0), _check_data(x_1)
    if x_0.shape != x_1.shape:
        raise ValueError(f"x_0 and x_1 must have the same shape; got {tuple(x_0.shape)} and {tuple(x_1.shape)}")

    def draw():
        idx = torch.randint(len(x_0), (batch_size,), generator=generator)
        return x_0[idx], x_1[idx], {}

    return _fit(model, draw, n_steps=n_steps, lr=lr, lr_schedule=lr_schedule, generator=generator, progress=progress)
