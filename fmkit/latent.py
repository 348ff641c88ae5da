"""Latent spaces: short codes for images, where a flow has less to learn.

A latent flow model compresses the data first, learns its flow on the codes, and decodes
the flow's samples. Two compressors, with one interface (``encode``: images ``(batch, dim)``
to codes ``(batch, latent_dim)``; ``decode``: codes back to images):

* :class:`PCACodes` (made by :func:`pca_codes`): a linear map. Centre, project onto the top
  principal directions, rescale each coordinate to unit spread. Decoding undoes it exactly
  on the slice of directions it keeps.
* :class:`Autoencoder` (trained by :func:`train_autoencoder` on the shared loop
  :func:`fmkit.train.fit`): a small non-linear encoder and decoder, which keep more of each
  image in the same number of codes.

Both hand the flow *standardised* codes (each coordinate of the training codes has mean 0
and spread 1), the scale of the flow's Gaussian base. A density of codes is not a density of
pixels: the decoder maps ``latent_dim`` numbers to ``dim``, so decoded images lie on a thin
slice of pixel space and have no pixel density at all.

>>> x = torch.randn(100, 6, generator=torch.Generator().manual_seed(0))
>>> pca = pca_codes(x, 2)
>>> pca.encode(x).shape, pca.decode(pca.encode(x)).shape
(torch.Size([100, 2]), torch.Size([100, 6]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import _validate as check
from .models import ACTIVATIONS, mlp
from .train import History, fit


def _images(x, name: str, dim: int | None = None, like: torch.Tensor | None = None) -> torch.Tensor:
    """Rows ``(n, dim)`` as floats, in ``like``'s dtype and on its device when given."""
    dtype = like.dtype if like is not None else None
    x = check.points(x, name, dim=dim, dtype=dtype, fix="clean or drop those rows first")
    return x if like is None else x.to(like.device)


# --------------------------------------------------------------------------- PCA


@dataclass(frozen=True)
class PCACodes:
    """A linear encoder and its decoder: ``encode(x) = (x - mean) @ components.T / scale``.

    ``components`` holds orthonormal rows, one per principal direction (largest variance
    first); ``scale`` the spread of each training code, so that encoded training images have
    unit spread per coordinate. ``explained`` is the share of the training variance kept.
    """

    mean: torch.Tensor  # (dim,)
    components: torch.Tensor  # (latent_dim, dim), orthonormal rows
    scale: torch.Tensor  # (latent_dim,)
    explained: float

    @property
    def latent_dim(self) -> int:
        return len(self.components)

    @property
    def dim(self) -> int:
        return self.components.shape[1]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(batch, dim)`` to standardised codes ``(batch, latent_dim)``."""
        x = _images(x, "x", self.dim, self.mean)
        return (x - self.mean) @ self.components.T / self.scale

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised codes ``(batch, latent_dim)`` to images ``(batch, dim)``: the mean
        plus a combination of the kept directions (what PCA dropped stays dropped)."""
        z = _images(z, "z", self.latent_dim, self.mean)
        return (z * self.scale) @ self.components + self.mean


def pca_codes(data: torch.Tensor, n_components: int) -> PCACodes:
    """Principal component analysis of ``data`` ``(n, dim)``, keeping ``n_components``
    directions, by a singular value decomposition of the centred data (scikit-learn's
    ``PCA`` finds the same directions, up to the sign of each)."""
    data = _images(data, "data")
    n_components = check.count(
        n_components, "n_components", maximum=min(data.shape), fix="at most min(n, dim)"
    )
    if len(data) < 2:
        raise ValueError("data must have at least 2 rows to have a variance")
    mean = data.mean(0)  # (dim,)
    _, singular, rows = torch.linalg.svd(data - mean, full_matrices=False)  # rows: (r, dim)
    components = rows[:n_components]  # (latent_dim, dim)
    codes = (data - mean) @ components.T  # (n, latent_dim)
    scale = codes.std(0).clamp_min(torch.finfo(data.dtype).eps)  # (latent_dim,)
    variance = singular**2
    return PCACodes(mean, components, scale, float(variance[:n_components].sum() / variance.sum()))


# --------------------------------------------------------------------------- autoencoder


class Autoencoder(nn.Module):
    """An MLP encoder ``dim -> hidden_dim -> ... -> latent_dim`` and a mirrored decoder.

    ``model(x)`` reconstructs ``x`` (with gradients, for training). :meth:`encode` and
    :meth:`decode` are the maps a latent flow uses, without gradients, in *standardised*
    codes: after training, :meth:`standardise` records the mean and spread of the training
    codes, and ``encode`` divides them out (``decode`` puts them back).

    >>> ae = Autoencoder(dim=64, latent_dim=4)
    >>> ae(torch.zeros(3, 64)).shape, ae.encode(torch.zeros(3, 64)).shape
    (torch.Size([3, 64]), torch.Size([3, 4]))
    """

    def __init__(
        self,
        dim: int = 64,
        latent_dim: int = 8,
        hidden_dim: int = 128,
        n_hidden: int = 2,
        *,
        activation: str = "silu",
    ):
        super().__init__()
        dim, latent_dim, hidden_dim = (
            check.count(v, k)
            for k, v in [("dim", dim), ("latent_dim", latent_dim), ("hidden_dim", hidden_dim)]
        )
        n_hidden = check.count(n_hidden, "n_hidden")
        check.choice(activation, "activation", tuple(ACTIVATIONS))
        self.dim, self.latent_dim = dim, latent_dim
        self.encoder = mlp([dim] + [hidden_dim] * n_hidden + [latent_dim], activation)
        self.decoder = mlp([latent_dim] + [hidden_dim] * n_hidden + [dim], activation)
        self.register_buffer("code_mean", torch.zeros(latent_dim))  # set by standardise()
        self.register_buffer("code_scale", torch.ones(latent_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))  # (batch, dim)

    @torch.no_grad()
    def standardise(self, data: torch.Tensor) -> Autoencoder:
        """Record the mean and spread of the codes of ``data`` ``(n, dim)``, so that
        :meth:`encode` gives it unit spread per coordinate. Returns the autoencoder."""
        raw = self.encoder(_images(data, "data", self.dim, self.code_mean))  # (n, latent_dim)
        self.code_mean.copy_(raw.mean(0))
        self.code_scale.copy_(raw.std(0).clamp_min(1e-6))
        return self

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(batch, dim)`` to standardised codes ``(batch, latent_dim)``."""
        raw = self.encoder(_images(x, "x", self.dim, self.code_mean))
        return (raw - self.code_mean) / self.code_scale

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised codes ``(batch, latent_dim)`` to images ``(batch, dim)``."""
        z = _images(z, "z", self.latent_dim, self.code_mean)
        return self.decoder(z * self.code_scale + self.code_mean)


def train_autoencoder(
    data: torch.Tensor,
    *,
    latent_dim: int = 8,
    hidden_dim: int = 128,
    n_hidden: int = 2,
    activation: str = "silu",
    n_steps: int = 1000,
    batch_size: int = 256,
    lr: float = 2e-3,
    generator: torch.Generator | None = None,
    progress: bool = False,
    **fit_settings,
) -> tuple[Autoencoder, History]:
    """Train an :class:`Autoencoder` on ``data`` ``(n, dim)`` to reconstruct its rows
    (mean squared error), with :func:`fmkit.train.fit`, then standardise its codes.

    ``fit_settings`` go to :func:`fmkit.train.fit`
    (``ema=``, ``warmup_steps=``, ...). Initialise with ``torch.manual_seed`` for
    reproducible weights; batches come from ``generator``.
    """
    data = _images(data, "data")
    batch_size = check.count(batch_size, "batch_size")
    generator = check.generator(generator)
    model = Autoencoder(data.shape[1], latent_dim, hidden_dim, n_hidden, activation=activation)

    def batch_loss() -> torch.Tensor:
        x = data[torch.randint(len(data), (batch_size,), generator=generator)]  # (batch, dim)
        return torch.mean((model(x) - x) ** 2)

    history = fit(model, batch_loss, n_steps=n_steps, lr=lr, progress=progress, **fit_settings)
    return model.standardise(data), history
