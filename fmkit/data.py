"""Two-dimensional targets and base distributions, one registry by name.

Every sampler takes the number of points first and an optional ``torch.Generator``
(nothing here seeds anything) and returns a float32 tensor of shape ``(n, 2)``.

>>> g = torch.Generator().manual_seed(0)
>>> sample("ring", 5, generator=g).shape
torch.Size([5, 2])
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

Sampler = Callable[..., torch.Tensor]

# The uniform base covers the same box as the source chapter: [-3.5, 3.5]^2.
UNIFORM_HALF_WIDTH = 3.5


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"the number of samples must be a positive integer, got {n!r}")
    return int(n)


def _randn(n: int, dim: int, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(n, dim, generator=generator)


def _rand(n: int, dim: int, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, dim, generator=generator)


# --------------------------------------------------------------------------- targets


def ring_means(n_modes: int = 8, radius: float = 3.0) -> torch.Tensor:
    """Centres of the ring's modes, evenly spaced on a circle: ``(n_modes, 2)``."""
    angles = 2 * math.pi * torch.arange(n_modes, dtype=torch.float32) / n_modes
    return radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def ring_of_gaussians(
    n: int,
    *,
    n_modes: int = 8,
    radius: float = 3.0,
    std: float = 0.2,
    generator: torch.Generator | None = None,
    return_labels: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Equal-weight Gaussian blobs on a circle.

    With ``return_labels=True`` also returns the mode index of every point, ``(n,)`` int64.
    The defaults (radius 3, std 0.2) put the best reachable flow-matching loss near 3.0,
    matching the numbers a reader sees when training the chapter's model.
    """
    n = _check_n(n)
    labels = torch.randint(n_modes, (n,), generator=generator)  # (n,)
    x = ring_means(n_modes, radius)[labels] + std * _randn(n, 2, generator)  # (n, 2)
    return (x, labels) if return_labels else x


def moons(n: int, *, noise: float = 0.08, generator: torch.Generator | None = None) -> torch.Tensor:
    """Two interleaved half circles, scaled and centred to span about [-3, 3]."""
    n = _check_n(n)
    upper = torch.rand(n, generator=generator) < 0.5  # (n,)
    angle = math.pi * torch.rand(n, generator=generator)  # (n,)
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    pts = torch.stack([x - 0.5, y - 0.25], dim=1) * 2.0  # (n, 2)
    return pts + noise * 2.0 * _randn(n, 2, generator)


def checkerboard(
    n: int, *, n_cells: int = 4, half_width: float = 3.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Uniform on the dark squares of an ``n_cells`` x ``n_cells`` board."""
    n = _check_n(n)
    cell = 2 * half_width / n_cells
    # Pick a column, then a row of matching parity, then a uniform point inside the cell.
    col = torch.randint(n_cells, (n,), generator=generator)
    row = 2 * torch.randint(n_cells // 2, (n,), generator=generator) + (col % 2)
    offset = _rand(n, 2, generator)  # (n, 2)
    cells = torch.stack([col, row], dim=1).float()  # (n, 2)
    return (cells + offset) * cell - half_width


def spirals(
    n: int, *, n_arms: int = 2, noise: float = 0.1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Interleaved spiral arms reaching a radius of about 3."""
    n = _check_n(n)
    arm = torch.randint(n_arms, (n,), generator=generator)  # (n,)
    s = torch.sqrt(torch.rand(n, generator=generator))  # (n,) more points further out
    angle = 3 * math.pi * s + 2 * math.pi * arm / n_arms
    r = 3.0 * s
    pts = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)
    return pts + noise * _randn(n, 2, generator)


def circles(
    n: int,
    *,
    radii: tuple[float, ...] = (1.2, 3.0),
    noise: float = 0.08,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Concentric rings; each point picks a ring in proportion to its circumference."""
    n = _check_n(n)
    r = torch.tensor(radii, dtype=torch.float32)
    ring = torch.multinomial(r / r.sum(), n, replacement=True, generator=generator)  # (n,)
    angle = 2 * math.pi * torch.rand(n, generator=generator)
    pts = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1) * r[ring, None]
    return pts + noise * _randn(n, 2, generator)


# --------------------------------------------------------------------------- bases


def gaussian(n: int, *, dim: int = 2, generator: torch.Generator | None = None) -> torch.Tensor:
    """The standard normal base, ``(n, dim)``."""
    return _randn(_check_n(n), dim, generator)


def uniform(
    n: int,
    *,
    dim: int = 2,
    half_width: float = UNIFORM_HALF_WIDTH,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Uniform on the box ``[-half_width, half_width]^dim``."""
    return (2 * _rand(_check_n(n), dim, generator) - 1) * half_width


@functools.lru_cache(maxsize=16)
def _glyph_polygons(text: str, extent: float) -> tuple[np.ndarray, ...]:
    """Outlines of ``text`` as closed polygons, centred and scaled to half-width ``extent``."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), text, size=1.0, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    polygons = [p for p in path.to_polygons(closed_only=True) if len(p) >= 3]
    if not polygons:
        raise ValueError(f"the text {text!r} has no visible glyphs to sample from")
    pts = np.concatenate(polygons)
    centre = (pts.max(0) + pts.min(0)) / 2
    scale = extent / (pts.max(0) - pts.min(0)).max() * 2
    return tuple((p - centre) * scale for p in polygons)


def _inside_glyphs(points: np.ndarray, polygons: tuple[np.ndarray, ...]) -> np.ndarray:
    """Even-odd rule over all outlines, so the holes of letters like 'A' or 'O' stay empty."""
    from matplotlib.path import Path

    inside = np.zeros(len(points), dtype=bool)
    for poly in polygons:
        inside ^= Path(poly).contains_points(points)
    return inside


def logo(
    n: int,
    *,
    text: str = "FM",
    extent: float = 3.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Points uniform inside the glyphs of ``text``, drawn with matplotlib's TextPath.

    Rejection sampling in the bounding box; nothing is downloaded. ``extent`` is the
    half-width of the longer side, so the default sits on the same scale as the ring.
    """
    n = _check_n(n)
    polygons = _glyph_polygons(text, float(extent))
    pts = np.concatenate(polygons)
    low = torch.tensor(pts.min(0), dtype=torch.float32)
    high = torch.tensor(pts.max(0), dtype=torch.float32)
    kept: list[torch.Tensor] = []
    n_kept = 0
    while n_kept < n:
        candidates = low + (high - low) * _rand(2 * n, 2, generator)  # (2n, 2)
        hits = candidates[torch.from_numpy(_inside_glyphs(candidates.numpy(), polygons))]
        kept.append(hits)
        n_kept += len(hits)
    return torch.cat(kept)[:n]


# --------------------------------------------------------------------------- registry

TARGETS: dict[str, Sampler] = {
    "ring": ring_of_gaussians,
    "moons": moons,
    "checkerboard": checkerboard,
    "spirals": spirals,
    "circles": circles,
}
BASES: dict[str, Sampler] = {
    "gaussian": gaussian,
    "uniform": uniform,
    "logo": logo,
}


def names(kind: str = "all") -> list[str]:
    """Registered distribution names: ``kind`` is ``"targets"``, ``"bases"`` or ``"all"``."""
    groups = {"targets": list(TARGETS), "bases": list(BASES), "all": [*TARGETS, *BASES]}
    if kind not in groups:
        raise ValueError(f"unknown kind {kind!r}; choose one of: {', '.join(groups)}")
    return groups[kind]


def get_sampler(name: str) -> Sampler:
    """The sampler registered under ``name``, with an error that lists the valid names."""
    registry = {**TARGETS, **BASES}
    if name not in registry:
        raise ValueError(
            f"unknown distribution {name!r}; choose one of: {', '.join(registry)}"
        )
    return registry[name]


ANY_DIMENSION = ("gaussian", "uniform")  # bases that come in any dimension


def base_sampler(name: str, dim: int = 2) -> Sampler:
    """The base called ``name`` as ``sampler(n, generator=None)``, drawing ``(n, dim)``
    points for the bases that come in any dimension (the others are 2-D)."""
    sampler = get_sampler(name)  # raises a ValueError listing the names
    if name in ANY_DIMENSION:
        return lambda n, generator=None: sampler(n, dim=dim, generator=generator)
    return sampler


def sample(name: str, n: int, *, generator: torch.Generator | None = None, **kwargs) -> torch.Tensor:
    """Draw ``n`` points from the target or base called ``name``: ``(n, 2)`` float32."""
    return get_sampler(name)(n, generator=generator, **kwargs)


def make_loader(data: torch.Tensor | np.ndarray, batch_size: int, shuffle: bool = True) -> DataLoader:
    """A DataLoader over the rows of ``data`` yielding 1-tuples, for the DataLoader style."""
    tensor = torch.as_tensor(data, dtype=torch.float32)
    return DataLoader(TensorDataset(tensor), batch_size=batch_size, shuffle=shuffle)


def digits(*, return_labels: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, shipped with the package,
    nothing downloaded), flattened to ``(1797, 64)`` and scaled from 0..16 to [-1, 1].
    With ``return_labels=True`` also the digit of each image, ``(1797,)`` int64."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32) / 8.0 - 1.0
    labels = torch.tensor(bunch.target, dtype=torch.long)
    return (x, labels) if return_labels else x
