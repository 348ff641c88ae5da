"""The input rules every public fmkit function shares, in one place.

Each helper checks one kind of argument (a count, a real number, a name, a cloud of points,
a class label, a velocity's output, a memory budget) and either returns it in the form fmkit
works with or raises a ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind,
wrong value) whose message names the argument, the rule and the fix. Nothing here is part
of the course's API; the public functions call these at their boundaries.

It is also the one home of *placement*: where a velocity lives (device and dtype), so that
tensors can be moved to it before it is called.
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

# A single request may use at most this much memory; beyond it fmkit stops with the size
# and a way out instead of letting the machine swap or the process die.
MEMORY_LIMIT_BYTES = 1_000_000_000  # 1 GB
# No solver or training run in the course needs more steps than this.
MAX_STEPS = 1_000_000


# --------------------------------------------------------------------------- numbers


def _kind(value: Any) -> str:
    """``'float 2.5'``: what a value is, for error messages."""
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def count(
    value: Any, name: str, *, minimum: int = 1, maximum: int | None = None, fix: str = ""
) -> int:
    """``value`` as an ``int`` that is at least ``minimum`` (and at most ``maximum``).

    Accepts Python and NumPy integers and integer 0-d tensors; refuses bools, floats
    (``1e4`` too: pass ``int(1e4)``), strings and everything else.
    """
    if (
        isinstance(value, torch.Tensor)
        and value.ndim == 0
        and not value.is_floating_point()
        and value.dtype != torch.bool
    ):
        value = int(value.item())
    rule = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        hint = ""
        if (
            isinstance(value, (float, np.floating))
            and math.isfinite(value)
            and float(value).is_integer()
        ):
            hint = f"; pass int({value!r}) = {int(value)}"
        raise TypeError(f"{name} must be {rule}, got {_kind(value)}{hint}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be {rule}, got {value}" + (f"; {fix}" if fix else ""))
    if maximum is not None and value > maximum:
        raise ValueError(
            f"{name} = {value:,} is more than the {maximum:,} fmkit allows"
            + (f"; {fix}" if fix else "")
        )
    return value


def steps(value: Any, name: str = "n_steps") -> int:
    """A step count: a positive integer, at most :data:`MAX_STEPS`."""
    return count(
        value,
        name,
        maximum=MAX_STEPS,
        fix="no solver or training run here needs that many; a few hundred to a few thousand is typical",
    )


def real(
    value: Any,
    name: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    fix: str = "",
) -> float:
    """``value`` as a finite ``float`` inside the interval from ``low`` to ``high``
    (``low_open``/``high_open`` exclude the end). Accepts Python and NumPy numbers and
    one-element tensors; refuses bools, strings and sequences."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name} must be a number, got {_kind(value)}")
    value = float(value)
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if not math.isfinite(value) or below or above:
        raise ValueError(
            f"{name} must be {_interval(low, high, low_open, high_open)}, got {value}"
            + (f"; {fix}" if fix else "")
        )
    return value


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    if low == -math.inf and high == math.inf:
        return "a finite number"
    if high == math.inf:
        return f"a finite number {'>' if low_open else '≥'} {low:g}"
    if low == -math.inf:
        return f"a finite number {'<' if high_open else '≤'} {high:g}"
    return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def positive(value: Any, name: str, fix: str = "") -> float:
    """A finite number > 0 (a width, a radius, a learning rate)."""
    return real(value, name, low=0.0, low_open=True, fix=fix)


def nonnegative(value: Any, name: str, fix: str = "") -> float:
    """A finite number ≥ 0 (a noise level, a standard deviation that may be zero)."""
    return real(value, name, low=0.0, fix=fix)


def flag(value: Any, name: str) -> bool:
    """A ``True``/``False`` switch."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_kind(value)}")
    return bool(value)


# --------------------------------------------------------------------------- names and objects


def choice(value: Any, what: str, choices: Sequence[str]) -> str:
    """One name out of ``choices``: ``what`` says what it names (``"solver method"``)."""
    listed = ", ".join(choices)
    if not isinstance(value, str):
        extra = "; pass one name, not a list" if isinstance(value, (list, tuple, set)) else ""
        raise TypeError(
            f"the {what} must be a name (a string), one of: {listed}; got {_kind(value)}{extra}"
        )
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of: {listed}")
    return value


def generator(value: Any) -> torch.Generator | None:
    """``None`` or a ``torch.Generator`` (a seed number is a common slip)."""
    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {_kind(value)}; "
            "make one with g = fm.seed_everything(0) (or torch.Generator().manual_seed(0))"
        )
    return value


def function(value: Any, name: str, example: str) -> Callable:
    """Something callable, such as a velocity or a sampler."""
    if not callable(value):
        raise TypeError(f"{name} must be a function, for example {example}; got {_kind(value)}")
    return value


def takes_label(model: Any, purpose: str) -> None:
    """Check that ``model`` can be called as ``model(x, t, label=...)``."""
    target = model.forward if isinstance(model, torch.nn.Module) else model
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        return
    if any(p.name == "label" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    raise TypeError(
        f"{purpose} needs a model called as model(x, t, label=...), but "
        f"{type(model).__name__} takes no label=; use fm.ConditionalVelocityField(n_classes=...)"
    )


# --------------------------------------------------------------------------- tensors


def memory(n_bytes: float, what: str, fix: str) -> None:
    """Stop before a request that would need more than :data:`MEMORY_LIMIT_BYTES`."""
    if n_bytes > MEMORY_LIMIT_BYTES:
        raise ValueError(
            f"{what} would need about {n_bytes / 1e9:,.1f} GB of memory, more than the "
            f"{MEMORY_LIMIT_BYTES / 1e9:.1f} GB fmkit allows for one request; {fix}"
        )


def network_memory(velocity: Any, rows: int, what: str, *, backward: bool = False) -> None:
    """Stop before running a network on so many rows at once that its layers would need more
    than :data:`MEMORY_LIMIT_BYTES`: estimated from its linear layers' widths (all of them
    kept for a backward pass, about two at a time without one). Plain functions pass."""
    network = (
        velocity if isinstance(velocity, torch.nn.Module) else getattr(velocity, "model", None)
    )
    if not isinstance(network, torch.nn.Module):
        return
    widths = [m.out_features for m in network.modules() if isinstance(m, torch.nn.Linear)]
    if not widths:
        return
    place = placement(network)
    itemsize = torch.finfo(place[1]).bits // 8 if place is not None else 4
    per_row = 2 * sum(widths) if backward else 2 * max(widths)
    memory(
        rows * per_row * itemsize,
        f"{what} ({rows:,} rows through the network at once)",
        "use fewer points, or split them into batches of about 10,000 and join the results",
    )


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (np.ndarray, list, tuple)) or np.isscalar(x):
        try:
            return torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"{name} must be a tensor or an array of numbers; converting it failed ({err})"
            ) from None
    for attribute, meaning in (("x", "the end points"), ("trajectory", "the states over time")):
        if hasattr(x, attribute):
            raise TypeError(
                f"{name} must be a tensor, got a {type(x).__name__}; pass its .{attribute} ({meaning})"
            )
    raise TypeError(f"{name} must be a tensor or a NumPy array, got {_kind(x)}")


def floating(x: Any, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``x`` as a floating-point tensor: ``dtype`` if given, else its own floating dtype or
    the default one (float32) for integers, so that nothing is truncated later."""
    x = _as_tensor(x, name)
    if x.is_complex():
        raise TypeError(f"{name} must hold real numbers, got a complex tensor")
    if dtype is None:
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
    return x.to(dtype)


def finite(x: torch.Tensor, name: str, fix: str) -> torch.Tensor:
    """Refuse NaN or infinite entries, naming the first bad row. (Meta tensors hold no
    values and pass.)"""
    if x.device.type == "meta" or x.numel() == 0:
        return x
    bad = ~torch.isfinite(x)
    if bad.any():
        rows = bad.reshape(len(x), -1).any(1).nonzero()[:, 0] if x.ndim > 0 else torch.zeros(1)
        where = f" (first at row {int(rows[0])} of {len(x)})" if x.ndim > 0 else ""
        raise ValueError(f"{name} contains NaN or infinite values{where}; {fix}")
    return x


def points(
    x: Any,
    name: str,
    *,
    dim: int | None = None,
    min_rows: int = 1,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    fix: str | None = "clean or drop those rows first",
) -> torch.Tensor:
    """A cloud of points ``(n, dim)``: converted to floating point (``dtype`` if given),
    checked for shape and (unless ``fix`` is None) finite values, then moved to ``device``.
    ``fix`` ends the message about NaN: what the caller should do."""
    x = floating(x, name, dtype)
    want = f"(n, {dim})" if dim is not None else "(n, dim)"
    if x.ndim != 2 or len(x) < min_rows or (dim is not None and x.shape[1] != dim):
        hint = ""
        if x.ndim == 1 and (dim is None or len(x) == dim):
            hint = f"; for a single point use x[None], shape (1, {len(x)})"
        elif x.ndim == 2 and dim is not None and x.shape[1] != dim:
            hint = f": it has {x.shape[1]} columns where {dim} are expected"
        elif x.ndim == 2 and len(x) < min_rows:
            hint = f": at least {min_rows} rows are needed"
        raise ValueError(
            f"{name} must have shape {want}, one row per point; got {tuple(x.shape)}{hint}"
        )
    if fix is not None:
        finite(x, name, fix)
    return x if device is None else x.to(device)


def trajectory(value: Any, name: str = "trajectory") -> torch.Tensor:
    """States over time ``(steps + 1, n, dim)`` from a tensor, an array, or a Solution
    (whose ``.trajectory`` must have been kept)."""
    if hasattr(value, "trajectory") and not isinstance(value, (torch.Tensor, np.ndarray)):
        if value.trajectory is None:
            raise ValueError(
                f"this solution kept no {name}; solve with fm.integrate(..., return_trajectory=True)"
            )
        value = value.trajectory
    states = floating(value, name).detach()
    if states.ndim != 3 or len(states) < 2:
        raise ValueError(
            f"{name} must have shape (steps + 1, n, dim) with steps >= 1; got {tuple(states.shape)}"
        )
    return states


def in_unit_interval(t: torch.Tensor, name: str = "t") -> torch.Tensor:
    """Times must lie in [0, 1]: noise at 0, data at 1."""
    if t.device.type != "meta" and t.numel() and not ((t >= 0) & (t <= 1)).all():
        bad = t[~((t >= 0) & (t <= 1))].flatten()[0].item()
        raise ValueError(f"{name} must lie in [0, 1] (noise at 0, data at 1), got {bad}")
    return t


def class_labels(
    label: Any, name: str, *, n_classes: int | None = None, allow_none: bool = True
) -> torch.Tensor:
    """Class labels as an int64 tensor (a 0-d one for a single label). Whole-number floats
    are accepted; fractional ones, which would be truncated, are refused. ``-1`` means
    "no label" where ``allow_none``."""
    if isinstance(label, (bool, np.bool_)) or (
        isinstance(label, torch.Tensor) and label.dtype == torch.bool
    ):
        raise TypeError(f"{name} must be class numbers (integers), got booleans")
    tensor = _as_tensor(label, name)
    if tensor.is_floating_point():
        if (
            tensor.device.type != "meta"
            and not (torch.isfinite(tensor) & (tensor == tensor.round())).all()
        ):
            raise ValueError(
                f"{name} must be whole class numbers (0, 1, ...); got fractional or non-finite "
                "values, which would be truncated; pass integer labels"
            )
    elif tensor.is_complex():
        raise TypeError(f"{name} must be class numbers (integers), got complex values")
    tensor = tensor.long()
    lowest = -1 if allow_none else 0
    if tensor.device.type != "meta" and tensor.numel():
        too_low = (tensor < lowest).any()
        too_high = n_classes is not None and (tensor >= n_classes).any()
        if too_low or too_high:
            top = f"0..{n_classes - 1}" if n_classes is not None else "0, 1, ..."
            extra = ", or -1 for no label" if allow_none else ""
            raise ValueError(
                f"{name} must be in {top}{extra}; got values from "
                f"{int(tensor.min())} to {int(tensor.max())}"
            )
    return tensor


# --------------------------------------------------------------------------- velocities


def placement(velocity: Any) -> tuple[torch.device, torch.dtype] | None:
    """The device and dtype of a velocity's weights: an ``nn.Module``'s first floating
    parameter (or buffer); a wrapper's model (``.model``, a ``functools.partial``'s
    ``.func``, a bound method's ``__self__``); ``None`` for a plain function."""
    if isinstance(velocity, torch.nn.Module):
        for tensor in itertools.chain(
            velocity.parameters(), velocity.buffers()
        ):  # lazily: the first will do
            if tensor.is_floating_point():
                return tensor.device, tensor.dtype
        return None
    for attribute in ("model", "func", "__self__"):
        inner = getattr(velocity, attribute, None)
        if (
            inner is not None
            and inner is not velocity
            and (isinstance(inner, torch.nn.Module) or callable(inner))
        ):
            found = placement(inner)
            if found is not None:
                return found
    return None


def velocity_dim(velocity: Any, default: int | None = None) -> int | None:
    """The dimension a velocity works in, when it says (``model.dim``), else ``default``."""
    for candidate in (velocity, getattr(velocity, "model", None), getattr(velocity, "func", None)):
        dim = getattr(candidate, "dim", None)
        if isinstance(dim, int) and not isinstance(dim, bool):
            return dim
    return default


def sampling_dim(velocity: Any) -> int:
    """The dimension to draw base points in for ``velocity``: its ``dim``. A network without
    one is refused rather than guessed; a plain function (a toy field) works in the plane."""
    dim = velocity_dim(velocity)
    if dim is not None:
        return dim
    if placement(velocity) is not None:  # a network, or a wrapper around one
        raise ValueError(
            f"{type(velocity).__name__} has no dim attribute, so fmkit cannot tell how many "
            "coordinates its samples have; train it with fm.train_flow (which records the "
            "data's dimension), set model.dim = d, or pass start points x_0 of shape (n, d)"
        )
    return 2


def for_velocity(
    x: Any, velocity: Any, name: str, *, fix: str = "clean or drop those rows first"
) -> torch.Tensor:
    """Points ``(n, dim)`` ready for ``velocity``: on its device, in its dtype, in its
    dimension when it has one."""
    place = placement(velocity)
    device, dtype = place if place is not None else (None, None)
    return points(x, name, dim=velocity_dim(velocity), dtype=dtype, device=device, fix=fix)


# How PyTorch words a device clash, across its versions and code paths.
_DEVICE_CLASHES = ("same device", "Expected all tensors", "expected device", "on the wrong device")


def evaluate(velocity: Callable, x: torch.Tensor, t: torch.Tensor, **condition) -> torch.Tensor:
    """``velocity(x, t, **condition)``, checked: it must return a tensor of ``x``'s shape
    (a ``(batch, 1)`` result would broadcast silently), and a device clash inside it is
    reported with both devices and the fix."""
    try:
        v = velocity(x, t, **condition)
    except RuntimeError as err:
        if any(clue in str(err) for clue in _DEVICE_CLASHES):
            raise ValueError(
                f"the velocity was called with x on {x.device}, but it holds tensors on another device "
                f"(torch says: {str(err).splitlines()[0]}). fmkit moves inputs to a model's device when "
                "it is given the model itself; for a function that wraps a model, move its inputs "
                "yourself, e.g. x_0.to(device), or pass the model"
            ) from err
        raise
    if not isinstance(v, torch.Tensor):
        raise TypeError(
            f"the velocity must return a tensor of shape {tuple(x.shape)}, got {_kind(v)}"
        )
    if v.device != x.device:
        raise ValueError(
            f"the velocity returned a tensor on {v.device} for x on {x.device}; fmkit moves inputs "
            "to a model's device when it is given the model itself; for a function that wraps a "
            "model, move its inputs yourself, e.g. x_0.to(device), or pass the model"
        )
    if v.shape != x.shape:
        hint = ""
        if v.ndim == 2 and v.shape == (x.shape[0], 1):
            hint = " (one number per row: did it sum over the coordinates, or return t?)"
        raise ValueError(
            f"the velocity returned shape {tuple(v.shape)} for x of shape {tuple(x.shape)}{hint}; "
            "a velocity gives one vector per point, of the same shape as x"
        )
    return v
