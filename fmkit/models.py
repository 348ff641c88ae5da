"""The time-conditioned velocity network ``v_theta(x, t)``."""

from __future__ import annotations

import math

import torch
from torch import nn

from . import _validate as check
from .paths import as_time


def _inputs(module: nn.Module, x, dim: int) -> torch.Tensor:
    """``x`` as ``(batch, dim)`` in the module's dtype and on its device (NumPy arrays,
    integer and float64 tensors included)."""
    weight = module.net[0].weight
    x = check.floating(x, "x", weight.dtype).to(weight.device)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"x must have shape (batch, {dim}); got {tuple(x.shape)}")
    return x


def _sizes(dim, time_emb_dim, hidden_dim, n_hidden) -> tuple[int, int, int, int]:
    """A network's widths, checked: ``dim``, ``time_emb_dim`` and ``hidden_dim`` positive
    counts, ``n_hidden`` a count that may be 0 (a single linear layer)."""
    dim, time_emb_dim, hidden_dim = (
        check.count(v, k)
        for k, v in [("dim", dim), ("time_emb_dim", time_emb_dim), ("hidden_dim", hidden_dim)]
    )
    return dim, time_emb_dim, hidden_dim, check.count(n_hidden, "n_hidden", minimum=0)


ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU, "elu": nn.ELU, "tanh": nn.Tanh}
TIME_EMBEDDINGS = ("mlp", "sinusoidal")


def mlp(sizes: list[int], activation: str = "relu") -> nn.Sequential:
    """Linear layers of the given widths with ``activation`` between them (none after the last)."""
    act = ACTIVATIONS[check.choice(activation, "activation", tuple(ACTIVATIONS))]
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class SinusoidalTime(nn.Module):
    """Fixed sine and cosine features of ``t``: ``(batch, 1) -> (batch, n_features)``.

    Half the features are ``sin(2 pi f t)`` and half ``cos(2 pi f t)``, with frequencies ``f``
    spaced geometrically from ``1 / 2`` to ``max_frequency`` cycles over [0, 1]: low ones tell
    early from late, high ones resolve small differences in ``t`` that a network fed the bare
    number would have to build up layer by layer.
    """

    def __init__(self, n_features: int = 16, max_frequency: float = 64.0):
        super().__init__()
        n_features = check.count(n_features, "n_features", minimum=2)
        if n_features % 2:
            raise ValueError(f"n_features must be even (sines and cosines); got {n_features}")
        max_frequency = check.real(max_frequency, "max_frequency", low=0.5)
        freqs = torch.logspace(math.log10(0.5), math.log10(max_frequency), n_features // 2)
        self.register_buffer("freqs", 2 * math.pi * freqs)  # (n_features / 2,), radians per unit t

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t * self.freqs  # (batch, 1) * (n_features / 2,) -> (batch, n_features / 2)
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def _time_embedding(kind: str, width: int, activation: str = "relu") -> nn.Module:
    """``t`` ``(batch, 1)`` to a ``(batch, width)`` embedding: a small MLP on the number
    itself (``"mlp"``, the source chapter's), or on its sinusoidal features (``"sinusoidal"``)."""
    if check.choice(kind, "time embedding", TIME_EMBEDDINGS) == "mlp":
        return mlp([1, width, width, width], activation)
    return nn.Sequential(SinusoidalTime(width), mlp([width, width, width], activation))


class VelocityField(nn.Module):
    """An MLP that predicts the velocity at position ``x`` and time ``t``.

    Time is a continuous input, lifted to a ``time_emb_dim`` embedding by a small MLP
    (``time_embedding="mlp"``) or by sinusoidal features and an MLP (``"sinusoidal"``; see
    :func:`time_embedding`); the main MLP reads ``[x, embedding]`` through ``n_hidden``
    layers of width ``hidden_dim`` with ``activation`` (``"silu"``, the default, ``"relu"``,
    ``"gelu"``, ``"elu"``, ``"tanh"``) between them and outputs a vector of size ``dim``.
    SiLU became the default when the course's recipe was measured (benchmarks/README.md,
    "The default recipe: ablation"); ``activation="relu"`` gives the source chapter's network.

    >>> v = VelocityField()
    >>> v(torch.zeros(5, 2), 0.5).shape
    torch.Size([5, 2])
    """

    def __init__(
        self,
        dim: int = 2,
        time_emb_dim: int = 16,
        hidden_dim: int = 128,
        n_hidden: int = 4,
        *,
        activation: str = "silu",
        time_embedding: str = "mlp",
    ):
        super().__init__()
        dim, time_emb_dim, hidden_dim, n_hidden = _sizes(dim, time_emb_dim, hidden_dim, n_hidden)
        self.dim = dim
        self.time_mlp = _time_embedding(time_embedding, time_emb_dim, activation)
        self.net = mlp([dim + time_emb_dim] + [hidden_dim] * n_hidden + [dim], activation)

    def forward(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        x = _inputs(self, x, self.dim)  # (batch, dim)
        t_emb = self.time_mlp(as_time(t, x))  # (batch, time_emb_dim)
        return self.net(torch.cat([x, t_emb], dim=-1))  # (batch, dim)


class ConditionalVelocityField(nn.Module):
    """A velocity field that also reads a class label: ``model(x, t, label=...)``.

    Each of the ``n_classes`` labels, plus one extra "no label" entry (label ``-1``), gets
    a learned embedding that joins ``x`` and the time embedding at the input of the main
    MLP; ``activation`` and ``time_embedding`` are as in :class:`VelocityField`. Trained with label dropout (``train_flow(..., labels=..., label_dropout=0.2)``),
    the one network gives both the conditional field and the unconditional one, which is
    what classifier-free guidance (:mod:`fmkit.guidance`) combines.

    >>> v = ConditionalVelocityField(n_classes=8)
    >>> v(torch.zeros(3, 2), 0.5, label=torch.tensor([0, 7, -1])).shape
    torch.Size([3, 2])
    """

    def __init__(
        self,
        n_classes: int,
        dim: int = 2,
        time_emb_dim: int = 16,
        label_emb_dim: int = 16,
        hidden_dim: int = 128,
        n_hidden: int = 4,
        *,
        activation: str = "silu",
        time_embedding: str = "mlp",
    ):
        super().__init__()
        n_classes = check.count(n_classes, "n_classes")
        dim, time_emb_dim, hidden_dim, n_hidden = _sizes(dim, time_emb_dim, hidden_dim, n_hidden)
        label_emb_dim = check.count(label_emb_dim, "label_emb_dim")
        self.dim, self.n_classes = dim, n_classes
        self.time_mlp = _time_embedding(time_embedding, time_emb_dim, activation)
        self.label_emb = nn.Embedding(n_classes + 1, label_emb_dim)  # the last row is "no label"
        self.net = mlp(
            [dim + time_emb_dim + label_emb_dim] + [hidden_dim] * n_hidden + [dim], activation
        )

    def forward(
        self, x: torch.Tensor, t: float | torch.Tensor, label: torch.Tensor | int | None = None
    ) -> torch.Tensor:
        x = _inputs(self, x, self.dim)  # (batch, dim)
        label = self._labels(-1 if label is None else label, len(x))  # (batch,)
        label = torch.where(label < 0, self.n_classes, label)  # -1 -> the "no label" row
        h = torch.cat([x, self.time_mlp(as_time(t, x)), self.label_emb(label)], dim=-1)
        return self.net(h)  # (batch, dim)

    def _labels(self, label, batch: int) -> torch.Tensor:
        """One class number per row, ``(batch,)``, from one label, ``(batch,)`` or ``(batch, 1)``."""
        label = check.class_labels(label, "labels", n_classes=self.n_classes).to(
            self.label_emb.weight.device
        )
        if label.numel() == 1:
            return label.reshape(()).expand(batch)
        if label.shape in ((batch,), (batch, 1)):
            return label.reshape(batch)
        raise ValueError(
            f"label must be one class number or one per row, shape ({batch},); got {tuple(label.shape)}"
        )
