"""Training a velocity field by regression onto the straight-path velocity."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from . import _validate as check
from . import data as fm_data
from .paths import (
    COUPLINGS,
    DEFAULT_OT_SUB_BATCH,
    PREDICTIONS,
    SCHEDULES,
    TIME_SAMPLINGS,
    as_time,
    couple,
    get_schedule,
    regression_target,
    sample_time,
)
from .utils import Velocity


@dataclass(frozen=True)
class _Objective:
    """What is regressed: the path's ``schedule``, the network's ``prediction`` target, and
    the density of training times. The default is the course's straight-line velocity."""

    schedule: str = "linear"
    prediction: str = "velocity"
    time_sampling: str = "uniform"

    def __post_init__(self) -> None:
        check.choice(self.schedule, "schedule", SCHEDULES)
        check.choice(self.prediction, "prediction", PREDICTIONS)
        check.choice(self.time_sampling, "time sampling", TIME_SAMPLINGS)

    @property
    def straight(self) -> bool:
        return self.schedule == "linear" and self.prediction == "velocity"


STRAIGHT = _Objective()


def _loss(
    velocity: Velocity,
    x_0: torch.Tensor,
    x_1: torch.Tensor,
    t: torch.Tensor,
    objective: _Objective = STRAIGHT,
    **condition,
) -> torch.Tensor:
    """The regression itself, on checked inputs: ``t`` is ``(batch, 1)``."""
    if not objective.straight:
        path = get_schedule(objective.schedule)
        x_t = path.alpha(t) * x_1 + path.sigma(t) * x_0  # (batch, dim)
        target = regression_target(x_0, x_1, t, path, objective.prediction)  # (batch, dim)
        out = check.evaluate(velocity, x_t, t, **condition)  # (batch, dim)
        return torch.mean((out - target) ** 2)
    x_t = (1 - t) * x_0 + t * x_1  # (batch, dim), the point on each pair's line
    v = check.evaluate(velocity, x_t, t, **condition)  # (batch, dim)
    return torch.mean((v - (x_1 - x_0)) ** 2)


def flow_matching_loss(
    velocity: Velocity, x_0: torch.Tensor, x_1: torch.Tensor, t: float | torch.Tensor, **condition
) -> torch.Tensor:
    """Mean squared error between ``velocity(x_t, t)`` and the pair's velocity ``x_1 - x_0``.

    Averaged over the batch and the coordinates (like ``F.mse_loss``). Works for a network
    or for any exact field with the same ``(x, t)`` signature; keyword arguments (such as
    ``label=`` for a conditional network) are passed on to ``velocity``. The inputs go to
    the network's device and dtype; ``t`` may be a float, ``(batch,)`` or ``(batch, 1)``.
    """
    x_0 = check.for_velocity(x_0, velocity, "x_0")
    x_1 = check.for_velocity(x_1, velocity, "x_1")
    if x_0.shape != x_1.shape:
        raise ValueError(
            f"x_0 and x_1 must have the same shape to be paired; got {tuple(x_0.shape)} "
            f"and {tuple(x_1.shape)}"
        )
    if "label" in condition:
        check.takes_label(velocity, "a loss with label=")
    t = check.in_unit_interval(as_time(t, x_0))  # (batch, 1)
    return _loss(velocity, x_0, x_1, t, **condition)


# --------------------------------------------------------------------------- settings, checked once

LR_SCHEDULES = ("cosine", "constant")
# AdamW's own defaults, kept so that the course's runs are what torch.optim.AdamW gives.
DEFAULT_WEIGHT_DECAY = 0.01
DEFAULT_BETAS = (0.9, 0.999)

Optimizer = Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]
Callback = Callable[[int, torch.nn.Module], None]


@dataclass(frozen=True)
class _Settings:
    """How the weights are updated, shared by every recipe, checked once when made."""

    n_steps: int
    lr: float = 1e-3
    lr_schedule: str = "cosine"
    warmup_steps: int = 0
    weight_decay: float = DEFAULT_WEIGHT_DECAY
    betas: tuple[float, float] = DEFAULT_BETAS
    grad_clip: float | None = None
    ema: float | None = None
    optimizer: Optimizer | None = None
    total_steps: int | None = None
    callback: Callback | None = None
    callback_every: int = 100
    progress: bool = True

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "n_steps", check.steps(self.n_steps))
        put(self, "lr", check.positive(self.lr, "lr", fix="1e-3 is the course's default"))
        check.choice(self.lr_schedule, "lr_schedule", LR_SCHEDULES)
        put(self, "warmup_steps", check.count(self.warmup_steps, "warmup_steps", minimum=0))
        put(self, "weight_decay", check.nonnegative(self.weight_decay, "weight_decay"))
        if not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2:
            raise TypeError(f"betas must be two numbers, such as (0.9, 0.999); got {self.betas!r}")
        put(
            self,
            "betas",
            tuple(
                check.real(b, "each of betas", low=0.0, high=1.0, high_open=True)
                for b in self.betas
            ),
        )
        if self.grad_clip is not None:
            put(self, "grad_clip", check.positive(self.grad_clip, "grad_clip", fix="or None"))
        if self.ema is not None:
            put(
                self,
                "ema",
                check.real(
                    self.ema,
                    "ema",
                    low=0.0,
                    high=1.0,
                    low_open=True,
                    high_open=True,
                    fix="a decay such as 0.999, or None for no average",
                ),
            )
        if self.optimizer is not None:
            check.function(
                self.optimizer, "optimizer", "lambda params: torch.optim.SGD(params, lr=0.01)"
            )
        if self.total_steps is not None:
            put(self, "total_steps", check.steps(self.total_steps, "total_steps"))
        if self.callback is not None:
            check.function(self.callback, "callback", "lambda step, model: None")
        put(self, "callback_every", check.count(self.callback_every, "callback_every"))
        check.flag(self.progress, "progress")


def _lr_factor(step: int, warmup: int, schedule: str, horizon: int) -> float:
    """The learning rate at ``step`` (counted from 0) as a fraction of ``lr``: a linear
    warm-up over ``warmup`` steps, times the cosine decay to zero at ``horizon``."""
    warm = min(1.0, (step + 1) / warmup) if warmup else 1.0
    if schedule == "constant":
        return warm
    return warm * 0.5 * (1.0 + math.cos(math.pi * min(step, horizon) / horizon))


@dataclass(repr=False)
class TrainState:
    """What a run needs to continue where it stopped: the optimizer (its moment estimates
    and step count), the weights' moving average and the raw weights behind it, the
    learning-rate plan. Kept in :attr:`History.state`; pass the history as ``resume=``."""

    model_id: int
    optimizer: torch.optim.Optimizer
    horizon: int
    lr_schedule: str
    warmup_steps: int
    ema: float | None
    average: list[torch.Tensor] | None  # the moving average of the weights, when ema is set
    raw: list[torch.Tensor] | None  # the trained weights while the model holds the average


@dataclass(repr=False)
class History:
    """What happened during training: one loss and one wall-clock time per step, and the
    state a later call can resume from (``train_flow(..., resume=history)``)."""

    loss: list[float] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)  # seconds since the start, per step
    state: TrainState | None = None

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
        tail = self.loss[-check.count(window, "window") :]
        return sum(tail) / len(tail) if tail else float("nan")

    def __repr__(self) -> str:  # the default would print every loss
        if not self.loss:
            return "History(0 steps)"
        return f"History({self.n_steps} steps, {self.seconds:.1f} s, final loss {self.final_loss():.3g})"


def _model(model: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    """The device and dtype training happens in: the model's."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module with weights to train, such as fm.VelocityField(); "
            f"got {type(model).__name__}"
        )
    place = check.placement(model)
    if place is None:
        raise ValueError("the model has no floating-point parameters to train")
    return place


def _training_points(x, name: str, model: torch.nn.Module, place) -> torch.Tensor:
    """Rows to train on, on the model's device and in its dtype, in its dimension."""
    device, dtype = place
    dim = check.velocity_dim(model)
    return check.points(
        x,
        name,
        dim=dim,
        dtype=dtype,
        device=device,
        fix="clean or drop those rows first (torch.isfinite(x).all(1) finds the good ones)",
    )


def _labels(labels, model: torch.nn.Module, n_rows: int, device) -> torch.Tensor:
    """One class number per data row, on the model's device; the model must take them."""
    check.takes_label(model, "training with labels=")
    labels = check.class_labels(
        labels, "labels", n_classes=getattr(model, "n_classes", None), allow_none=False
    )
    if labels.shape != (n_rows,):
        raise ValueError(
            f"labels must have one entry per data row, shape ({n_rows},); got {tuple(labels.shape)}"
        )
    return labels.to(device)


# --------------------------------------------------------------------------- batches from named pieces


def _rows(n_rows: int, batch_size: int, generator) -> torch.Tensor:
    """Which data rows a batch uses: uniform, with replacement. ``(batch,)`` on the CPU."""
    return torch.randint(n_rows, (batch_size,), generator=generator)


def _drop_labels(label: torch.Tensor, p: float, generator) -> torch.Tensor:
    """Replace each label by -1 ("no label") with probability ``p``: label dropout."""
    dropped = (torch.rand(len(label), generator=generator) < p).to(label.device)  # (batch,)
    return torch.where(dropped, torch.full_like(label, -1), label)


# --------------------------------------------------------------------------- the loop


def _diverged(value: float, step: int, lr: float) -> FloatingPointError:
    kept = (
        "its initial weights"
        if step == 0
        else f"its weights from step {step - 1}, the last with a finite loss"
    )
    return FloatingPointError(
        f"the loss became {value} at step {step}: training diverged. The model keeps {kept}. "
        f"Try a smaller learning rate (lr={lr:g} now, e.g. lr={lr / 10:g}) or check the data's scale."
    )


def _copy(targets: list[torch.Tensor], sources: list[torch.Tensor]) -> None:
    with torch.no_grad():
        torch._foreach_copy_(targets, sources)  # one call for every tensor


def _clone(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    return [p.detach().clone() for p in tensors]


def _start(
    model: torch.nn.Module, params, settings: _Settings, resume
) -> tuple[History, TrainState]:
    """A fresh history and optimizer, or the ones of the run being resumed."""
    if resume is None:
        device = params[0].device
        if settings.optimizer is not None:
            optimizer = settings.optimizer(params)
            if not isinstance(optimizer, torch.optim.Optimizer):
                raise TypeError(
                    "optimizer must be a function that takes the parameters and returns a "
                    f"torch.optim.Optimizer; it returned {type(optimizer).__name__}"
                )
        else:
            optimizer = torch.optim.AdamW(
                params,
                lr=settings.lr,
                betas=settings.betas,
                weight_decay=settings.weight_decay,
                fused=device.type in ("cpu", "cuda"),
            )
        for group in optimizer.param_groups:
            group.setdefault("base_lr", group["lr"])
        state = TrainState(
            model_id=id(model),
            optimizer=optimizer,
            horizon=settings.total_steps or settings.n_steps,
            lr_schedule=settings.lr_schedule,
            warmup_steps=settings.warmup_steps,
            ema=settings.ema,
            average=_clone(params) if settings.ema is not None else None,
            raw=None,
        )
        return History(state=state), state
    if not isinstance(resume, History) or resume.state is None:
        raise TypeError(
            "resume must be the History a previous training call returned; "
            f"got {type(resume).__name__}"
        )
    state = resume.state
    if state.model_id != id(model):
        raise ValueError("resume= holds the state of another model; pass the history of this one")
    if settings.optimizer is not None or settings.total_steps is not None:
        raise ValueError(
            "a resumed run keeps its optimizer and learning-rate plan; drop optimizer= and "
            "total_steps= when passing resume="
        )
    done = resume.n_steps
    if state.lr_schedule == "cosine" and done + settings.n_steps > state.horizon:
        raise ValueError(
            f"the run being resumed planned its cosine learning rate over {state.horizon} steps "
            f"and has taken {done}, so {settings.n_steps} more would train at zero learning "
            f"rate; start the run with total_steps={done + settings.n_steps} (or more)"
        )
    if state.raw is not None:  # the model holds the average: put the trained weights back
        _copy(params, state.raw)
        state.raw = None
    return resume, state


@contextmanager
def _averaged(params: list[torch.Tensor], state: TrainState):
    """The model holds the weights' moving average (when there is one) inside the block."""
    if state.average is None:
        yield
        return
    raw = _clone(params)
    _copy(params, state.average)
    try:
        yield
    finally:
        _copy(params, raw)


def _fit(
    model: torch.nn.Module,
    batch_loss: Callable[[], torch.Tensor],
    settings: _Settings,
    resume: History | None = None,
) -> History:
    """The training loop every recipe shares: ``batch_loss()`` draws one batch and returns
    its scalar loss; each step takes an optimizer step on it. The weights that gave the
    latest finite loss are kept aside, so a diverging run leaves the model usable."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no parameters that require gradients")
    history, state = _start(model, params, settings, resume)
    optimizer, done = state.optimizer, history.n_steps
    last_good = _clone(params)
    start = time.perf_counter() - history.seconds
    model.train()
    try:
        for step in tqdm(
            range(done, done + settings.n_steps),
            desc="training",
            disable=not settings.progress,
            mininterval=0.5,
        ):
            loss = batch_loss()
            value = loss.item()
            if not math.isfinite(value):
                _copy(params, last_good)
                raise _diverged(value, step, optimizer.param_groups[0]["base_lr"])
            _copy(last_good, params)  # these weights gave a finite loss
            factor = _lr_factor(step, state.warmup_steps, state.lr_schedule, state.horizon)
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if settings.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
            optimizer.step()
            if state.average is not None:  # a short run warms the average up (1 + k) / (10 + k)
                weight = 1.0 - min(state.ema, (1 + step) / (10 + step))
                with torch.no_grad():
                    torch._foreach_lerp_(state.average, params, weight)
            history.loss.append(value)
            history.wall_time.append(time.perf_counter() - start)
            taken = step + 1
            if settings.callback is not None and (
                taken % settings.callback_every == 0 or taken == done + settings.n_steps
            ):
                with _averaged(params, state):
                    model.eval()
                    settings.callback(taken, model)
                    model.train()
        if not all(torch.isfinite(p).all() for p in params):  # the very last step blew up
            _copy(params, last_good)
            raise _diverged(
                float("nan"), done + settings.n_steps, optimizer.param_groups[0]["base_lr"]
            )
    finally:
        model.eval()
    if state.average is not None:  # sample with the average; keep the trained weights to resume
        state.raw = _clone(params)
        _copy(params, state.average)
    return history


def fit(
    model: torch.nn.Module,
    batch_loss: Callable[[], torch.Tensor],
    *,
    n_steps: int = 2000,
    lr: float = 1e-3,
    lr_schedule: str = "cosine",
    warmup_steps: int = 0,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    betas: tuple[float, float] = DEFAULT_BETAS,
    grad_clip: float | None = None,
    ema: float | None = None,
    optimizer: Optimizer | None = None,
    total_steps: int | None = None,
    callback: Callback | None = None,
    callback_every: int = 100,
    resume: History | None = None,
    progress: bool = True,
) -> History:
    """The course's one training loop, for any loss: ``n_steps`` optimizer steps on
    ``batch_loss()``, a function that draws a fresh batch and returns its scalar loss.
    :func:`train_flow`, :func:`train_on_pairs` and the one-step trainers are this loop
    with a loss of their own; the keyword arguments are described in :func:`train_flow`.
    """
    _model(model)  # a module with weights to train
    check.function(batch_loss, "batch_loss", "lambda: fm.flow_matching_loss(model, x_0, x_1, t)")
    settings = _Settings(
        n_steps,
        lr,
        lr_schedule,
        warmup_steps,
        weight_decay,
        betas,
        grad_clip,
        ema,
        optimizer,
        total_steps,
        callback,
        callback_every,
        progress,
    )
    return _fit(model, batch_loss, settings, resume)


_TRAIN_DOC = """
    Every optimizer setting below is shared by all of fmkit's trainers (:func:`fit`):

    * ``lr``, ``weight_decay``, ``betas``: AdamW's (its defaults except ``lr``); or pass
      ``optimizer``, a function from the parameter list to any ``torch.optim`` optimizer,
      whose own settings are then used (``lr``, ``weight_decay`` and ``betas`` are not).
    * ``lr_schedule``: ``"cosine"`` anneals the learning rate to zero at the last step
      (``total_steps``, by default ``n_steps``); ``"constant"`` keeps it. ``warmup_steps``
      ramps it up linearly first. ``grad_clip`` caps the gradient's norm.
    * ``ema``: a decay such as ``0.999`` keeps an exponential moving average of the weights
      (warmed up as ``min(ema, (1 + k) / (10 + k))`` at step ``k``); after training the model
      holds the average, which is what you sample with, and callbacks see it too.
    * ``callback(step, model)`` is called every ``callback_every`` steps and after the last,
      with the model in eval mode (holding the average when ``ema`` is set): record
      snapshots there. Do not train the model inside it.
    * ``resume``: the :class:`History` of an earlier call on the same model. The run goes on
      for ``n_steps`` more steps with the same optimizer state, moving average and
      learning-rate plan, as if it had never stopped (give the first call ``total_steps``
      for the whole run when the schedule is cosine); the same history is extended and
      returned.
"""


def train_flow(
    model: torch.nn.Module,
    data: torch.Tensor,
    *,
    base: str | Callable[..., torch.Tensor] = "gaussian",
    n_steps: int = 2000,
    batch_size: int = 1000,
    lr: float = 3e-3,
    coupling: str = "independent",
    ot_sub_batch: int | None = DEFAULT_OT_SUB_BATCH,
    sigma: float = 0.0,
    lr_schedule: str = "cosine",
    labels: torch.Tensor | None = None,
    label_dropout: float = 0.0,
    generator: torch.Generator | None = None,
    progress: bool = True,
    schedule: str = "linear",
    prediction: str = "velocity",
    time_sampling: str = "logit-normal",
    warmup_steps: int = 0,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    betas: tuple[float, float] = DEFAULT_BETAS,
    grad_clip: float | None = None,
    ema: float | None = None,
    optimizer: Optimizer | None = None,
    total_steps: int | None = None,
    callback: Callback | None = None,
    callback_every: int = 100,
    resume: History | None = None,
) -> History:
    """Fit ``model(x, t)`` to the straight-path velocity of random (or OT) pairs.

    Each step draws ``batch_size`` rows of ``data`` (with replacement, by indexing: no
    DataLoader in the hot loop), as many base samples, and a time per pair, then
    takes one optimizer step on :func:`flow_matching_loss`. ``lr_schedule="cosine"`` (the
    default) anneals the learning rate from ``lr`` to zero over the run, which lets the
    model settle instead of jittering with each batch. ``coupling="ot"`` pairs each batch
    by minibatch optimal transport (:func:`fmkit.paths.ot_pairing`) within chunks of
    ``ot_sub_batch`` points (``None``: one exact plan for the whole batch). ``sigma > 0``
    blurs every path point by ``N(0, sigma^2 I)`` while keeping the target ``x_1 - x_0``
    (the ``sigma_min`` of Tong et al. and TorchCFM).

    With ``labels`` (one integer class per data row) the model is called as
    ``model(x, t, label=...)``; each label is replaced by ``-1`` ("no label") with
    probability ``label_dropout``, so one network learns both the conditional and the
    unconditional field, as classifier-free guidance needs.

    Any ``nn.Module`` called as ``model(x, t)`` can be trained; one without a ``dim``
    attribute is given the data's dimension as ``model.dim``, so that samplers draw base
    points of the right size. Every argument is checked before the first step. Training
    happens on the model's device and in its dtype (``data`` may be a tensor of any dtype
    or a NumPy array); random draws come from ``generator`` on the CPU. Raises
    ``FloatingPointError`` if the loss stops being finite, leaving the model with its
    last finite weights, rather than returning a model that samples NaNs.

    The same loop trains for any affine Gaussian path: ``schedule`` (``"linear"``,
    ``"cosine"``, ``"vp"``; :func:`fmkit.paths.get_schedule`) sets ``x_t = alpha_t x_1 +
    sigma_t x_0``, ``prediction`` (``"velocity"``, ``"epsilon"``, ``"x1"``, ``"score"``) what the
    network regresses (wrap it with :func:`fmkit.paths.as_velocity` to sample), and
    ``time_sampling`` (``"logit-normal"``, the default, or ``"uniform"``) the training times.
    The defaults give the straight-line flow matching of the earlier chapters.

    The default recipe (``lr=3e-3`` with the cosine schedule, logit-normal times, and
    :class:`fmkit.VelocityField`'s SiLU) was chosen by measurement: on the ring it reaches
    the MMD² null band at 8 network evaluations at 0.9-0.95x the training time of the
    source chapter's recipe (``lr=1e-3``, uniform times, ReLU), which stops above it
    (benchmarks/README.md, "The default recipe: ablation").
    """
    objective = _Objective(schedule, prediction, time_sampling)
    settings = _Settings(
        n_steps,
        lr,
        lr_schedule,
        warmup_steps,
        weight_decay,
        betas,
        grad_clip,
        ema,
        optimizer,
        total_steps,
        callback,
        callback_every,
        progress,
    )
    batch_size = check.count(batch_size, "batch_size")
    place = _model(model)
    check.network_memory(model, batch_size, "a training batch", backward=True)
    data = _training_points(data, "data", model, place)  # (n, dim)
    device, dtype = place
    draw_base = fm_data.base_sampler(base, data.shape[1], device=device, dtype=dtype)
    coupling = check.choice(coupling, "coupling", COUPLINGS)
    if ot_sub_batch is not None:
        ot_sub_batch = check.count(ot_sub_batch, "ot_sub_batch", fix="or None for one exact plan")
    sigma = check.nonnegative(sigma, "sigma", fix="0 gives the plain straight path")
    if sigma > 0 and not objective.straight:
        raise ValueError(
            "sigma blurs the straight path; it cannot be combined with another schedule= or "
            "prediction= (a Gaussian path already has noise of its own)"
        )
    generator = check.generator(generator)
    label_dropout = check.real(label_dropout, "label_dropout", low=0.0, high=1.0, high_open=True)
    if labels is not None:
        labels = _labels(labels, model, len(data), device)
        if coupling != "independent":
            raise ValueError(
                "coupling='ot' would re-pair points across labels; use it without labels"
            )
    _give_dim(model, data.shape[1])

    def batch_loss() -> torch.Tensor:
        rows = _rows(len(data), batch_size, generator)
        x_1 = data[rows.to(data.device)]  # (batch, dim)
        x_0 = draw_base(batch_size, generator=generator)  # (batch, dim)
        condition = {}
        if labels is None:
            x_0, x_1 = couple(x_0, x_1, coupling, sub_batch=ot_sub_batch)
        else:
            condition["label"] = _drop_labels(
                labels[rows.to(labels.device)], label_dropout, generator
            )
        t = sample_time(batch_size, generator=generator, time_sampling=objective.time_sampling)
        t = t.to(device=device, dtype=dtype)  # (batch, 1)
        if sigma > 0:  # a blurred straight path: x_t + sigma * noise, same target
            x_t = (1 - t) * x_0 + t * x_1  # (batch, dim)
            noise = torch.randn(x_t.shape, generator=generator).to(device=device, dtype=dtype)
            v = check.evaluate(model, x_t + sigma * noise, t, **condition)  # (batch, dim)
            return torch.mean((v - (x_1 - x_0)) ** 2)
        return _loss(model, x_0, x_1, t, objective, **condition)

    return _fit(model, batch_loss, settings, resume)


train_flow.__doc__ += _TRAIN_DOC


def _give_dim(model: torch.nn.Module, dim: int) -> None:
    """A model without ``dim`` learns it from its data, so samplers never guess 2-D."""
    if check.velocity_dim(model) is None:
        model.dim = dim


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
    **optimizer_settings,
) -> History:
    """Fit ``model`` to fixed pairs: row ``i`` of ``x_0`` travels to row ``i`` of ``x_1``.

    This is the second stage of rectified flow ("reflow"): pairs made by a trained flow
    (:func:`fmkit.reflow.reflow_pairs`) join each noise point to where the flow carried it.
    The flow's own paths never cross, but these pairs' straight chords still can, only far
    less than independent pairs; so the new field is straighter and needs fewer solver
    steps, and reflow can be repeated to straighten it further. ``optimizer_settings`` are
    :func:`fit`'s (``ema=``, ``warmup_steps=``, ``resume=`` ...).
    """
    batch_size = check.count(batch_size, "batch_size")
    place = _model(model)
    check.network_memory(model, batch_size, "a training batch", backward=True)
    x_0, x_1 = (
        _training_points(x_0, "x_0", model, place),
        _training_points(x_1, "x_1", model, place),
    )
    if x_0.shape != x_1.shape:
        raise ValueError(
            f"x_0 and x_1 must have the same shape; got {tuple(x_0.shape)} and {tuple(x_1.shape)}"
        )
    generator = check.generator(generator)
    _give_dim(model, x_0.shape[1])

    def batch_loss() -> torch.Tensor:
        rows = _rows(len(x_0), batch_size, generator).to(x_0.device)
        t = sample_time(batch_size, generator=generator).to(device=place[0], dtype=place[1])
        return _loss(model, x_0[rows], x_1[rows], t)

    return fit(
        model,
        batch_loss,
        n_steps=n_steps,
        lr=lr,
        lr_schedule=lr_schedule,
        progress=progress,
        **optimizer_settings,
    )
