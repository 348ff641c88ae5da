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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from . import _validate as check

Sampler = Callable[..., torch.Tensor]

# The uniform base covers the same box as the source chapter: [-3.5, 3.5]^2.
UNIFORM_HALF_WIDTH = 3.5


def _check_n(n: int, dim: int = 2) -> int:
    """A sample count: a positive integer whose ``(n, dim)`` float32 draw fits in memory."""
    n = check.count(n, "the number of samples n")
    check.memory(
        4.0 * n * dim,
        f"drawing {n:,} points of dimension {dim}",
        "draw fewer points, or draw them in batches",
    )
    return n


def _randn(n: int, dim: int, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(n, dim, generator=check.generator(generator))


def _rand(n: int, dim: int, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, dim, generator=check.generator(generator))


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class RingSpec:
    """The ring of Gaussians the course keeps returning to: ``n_modes`` equal-weight blobs of
    standard deviation ``std`` evenly spaced on a circle of ``radius``. The sampler
    (:func:`ring_of_gaussians`), the exact field and density (:mod:`fmkit.exact`) and the
    explorers all take their defaults from :data:`RING`, so the oracle and the data agree.

    With these values the best reachable flow-matching loss (the exact field's, averaged
    over the two coordinates as :func:`fmkit.flow_matching_loss` does) is about 2.75, that
    is 5.5 summed over the coordinates: the floor a trained model's loss settles above.
    """

    n_modes: int = 8
    radius: float = 3.0
    std: float = 0.2

    def means(self) -> torch.Tensor:
        """The blobs' centres, ``(n_modes, 2)``."""
        return ring_means(self.n_modes, self.radius)

    @property
    def median_distance(self) -> float:
        """The median distance of a sample to its blob's centre: ``std * sqrt(2 ln 2)`` in 2-D."""
        return self.std * math.sqrt(2 * math.log(2))


RING = RingSpec()


def ring_means(n_modes: int = RING.n_modes, radius: float = RING.radius) -> torch.Tensor:
    """Centres of the ring's modes, evenly spaced on a circle: ``(n_modes, 2)``."""
    n_modes, radius = check.count(n_modes, "n_modes"), check.nonnegative(radius, "radius")
    angles = 2 * math.pi * torch.arange(n_modes, dtype=torch.float32) / n_modes
    return radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def ring_of_gaussians(
    n: int,
    *,
    n_modes: int = RING.n_modes,
    radius: float = RING.radius,
    std: float = RING.std,
    generator: torch.Generator | None = None,
    return_labels: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Equal-weight Gaussian blobs on a circle (by default the course's :data:`RING`).

    With ``return_labels=True`` also returns the mode index of every point, ``(n,)`` int64.
    The defaults put the best reachable flow-matching loss near 2.75 (see :class:`RingSpec`),
    the floor a reader sees the chapter's model settle above.
    """
    n = _check_n(n)
    means = ring_means(n_modes, radius)  # (n_modes, 2)
    std = check.nonnegative(std, "std")
    labels = torch.randint(len(means), (n,), generator=check.generator(generator))  # (n,)
    x = means[labels] + std * _randn(n, 2, generator)  # (n, 2)
    return (x, labels) if check.flag(return_labels, "return_labels") else x


def moons(n: int, *, noise: float = 0.08, generator: torch.Generator | None = None) -> torch.Tensor:
    """Two interleaved half circles, scaled and centred to span about [-3, 3]."""
    n, noise = _check_n(n), check.nonnegative(noise, "noise")
    upper = torch.rand(n, generator=check.generator(generator)) < 0.5  # (n,)
    angle = math.pi * torch.rand(n, generator=generator)  # (n,)
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    pts = torch.stack([x - 0.5, y - 0.25], dim=1) * 2.0  # (n, 2)
    return pts + noise * 2.0 * _randn(n, 2, generator)


def checkerboard(
    n: int, *, n_cells: int = 4, half_width: float = 3.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Uniform on the dark squares of an ``n_cells`` x ``n_cells`` board (those whose
    column and row add up to an even number, the bottom-left one included)."""
    n, n_cells = _check_n(n), check.count(n_cells, "n_cells")
    half_width = check.positive(half_width, "half_width")
    cell = 2 * half_width / n_cells
    # Every dark square as (column, row), then one uniform pick per point: right for odd
    # boards too, where columns hold different numbers of dark squares.
    col, row = torch.meshgrid(torch.arange(n_cells), torch.arange(n_cells), indexing="ij")
    dark = torch.stack([col.flatten(), row.flatten()], dim=1)[
        (col + row).flatten() % 2 == 0
    ]  # (k, 2)
    cells = dark[
        torch.randint(len(dark), (n,), generator=check.generator(generator))
    ].float()  # (n, 2)
    offset = _rand(n, 2, generator)  # (n, 2)
    return (cells + offset) * cell - half_width


def spirals(
    n: int, *, n_arms: int = 2, noise: float = 0.1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Interleaved spiral arms reaching a radius of about 3."""
    n, n_arms, noise = _check_n(n), check.count(n_arms, "n_arms"), check.nonnegative(noise, "noise")
    arm = torch.randint(n_arms, (n,), generator=check.generator(generator))  # (n,)
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
    n, noise = _check_n(n), check.nonnegative(noise, "noise")
    if isinstance(radii, (str, bytes)) or not hasattr(radii, "__len__") or len(radii) == 0:
        raise TypeError(
            f"radii must be a non-empty sequence of numbers such as (1.2, 3.0), got {radii!r}"
        )
    r = torch.tensor(
        [check.positive(v, "each radius in radii") for v in radii], dtype=torch.float32
    )
    ring = torch.multinomial(
        r / r.sum(), n, replacement=True, generator=check.generator(generator)
    )  # (n,)
    angle = 2 * math.pi * torch.rand(n, generator=generator)
    pts = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1) * r[ring, None]
    return pts + noise * _randn(n, 2, generator)


# --------------------------------------------------------------------------- bases


def gaussian(n: int, *, dim: int = 2, generator: torch.Generator | None = None) -> torch.Tensor:
    """The standard normal base, ``(n, dim)``."""
    dim = check.count(dim, "dim")
    return _randn(_check_n(n, dim), dim, generator)


def uniform(
    n: int,
    *,
    dim: int = 2,
    half_width: float = UNIFORM_HALF_WIDTH,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Uniform on the box ``[-half_width, half_width]^dim``."""
    dim, half_width = check.count(dim, "dim"), check.positive(half_width, "half_width")
    return (2 * _rand(_check_n(n, dim), dim, generator) - 1) * half_width


@functools.lru_cache(maxsize=16)
def _glyph_polygons(text: str, extent: float) -> tuple[np.ndarray, ...]:
    """Outlines of ``text`` as closed polygons, centred and scaled to half-width ``extent``."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    path = TextPath(
        (0, 0), text, size=1.0, prop=FontProperties(family="DejaVu Sans", weight="bold")
    )
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


# Rejection rounds of 2n candidates each; glyphs fill a good share of their box, so a round
# that keeps nothing this many times in a row means there is nothing to hit.
_MAX_EMPTY_ROUNDS = 50


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
    if not isinstance(text, str):
        raise TypeError(f"text must be a string such as 'FM', got {type(text).__name__} {text!r}")
    if not text.strip():
        raise ValueError(
            f"text must have visible characters to sample inside, such as 'FM'; got {text!r}"
        )
    polygons = _glyph_polygons(
        text, check.positive(extent, "extent", fix="it is the half-width of the text")
    )
    pts = np.concatenate(polygons)
    low = torch.tensor(pts.min(0), dtype=torch.float32)
    high = torch.tensor(pts.max(0), dtype=torch.float32)
    kept: list[torch.Tensor] = []
    n_kept, empty_rounds = 0, 0
    while n_kept < n:
        candidates = low + (high - low) * _rand(2 * n, 2, generator)  # (2n, 2)
        hits = candidates[torch.from_numpy(_inside_glyphs(candidates.numpy(), polygons))]
        kept.append(hits)
        n_kept += len(hits)
        empty_rounds = 0 if len(hits) else empty_rounds + 1
        if empty_rounds >= _MAX_EMPTY_ROUNDS:
            raise ValueError(f"the glyphs of {text!r} cover no area to sample from; use other text")
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
KINDS = ("targets", "bases", "all")


def names(kind: str = "all") -> list[str]:
    """Registered distribution names: ``kind`` is ``"targets"``, ``"bases"`` or ``"all"``."""
    groups = {"targets": list(TARGETS), "bases": list(BASES), "all": [*TARGETS, *BASES]}
    return groups[check.choice(kind, "kind", KINDS)]


def get_sampler(name: str) -> Sampler:
    """The sampler registered under ``name``, with an error that lists the valid names."""
    registry = {**TARGETS, **BASES}
    return registry[check.choice(name, "distribution", list(registry))]


ANY_DIMENSION = ("gaussian", "uniform")  # bases that come in any dimension


def base_sampler(
    base: str | Sampler,
    dim: int = 2,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Sampler:
    """The one home of "draw base points for this model": returns ``sampler(n,
    generator=None)`` that draws ``(n, dim)`` points from ``base`` and puts them on
    ``device`` in ``dtype`` (both default to where the draw lands: the CPU, float32).

    ``base`` is a registered name (the Gaussian and uniform bases come in any dimension,
    the others are 2-D) or a function ``base(n, generator=None)``. Random numbers come from
    ``generator`` on the CPU, so a run is the same on every device. Training, ``generate``
    and ``reflow_pairs`` all draw through here; each draw is checked for its shape and for
    NaN, which gets its own message.
    """
    dim = check.count(dim, "dim")
    if callable(base):
        draw, label = base, f"the base function {getattr(base, '__name__', type(base).__name__)}"
    else:
        draw, label = get_sampler(base), f"the base {base!r}"  # a ValueError listing the names
        if base not in ANY_DIMENSION and dim != 2:
            raise ValueError(
                f"the base {base!r} draws 2-D points but the model and data have dimension {dim}; "
                f"pick a base of the data's dimension: {', '.join(ANY_DIMENSION)}"
            )
        if base in ANY_DIMENSION:
            draw = functools.partial(draw, dim=dim)

    def sample_base(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        x = check.floating(draw(n, generator=generator), f"the points from {label}")
        if x.ndim != 2 or x.shape[1:] != (dim,) or len(x) != n:
            raise ValueError(
                f"{label} drew points of shape {tuple(x.shape)}, but ({n}, {dim}) are needed; "
                "pick a base of the data's dimension"
            )
        if callable(base):  # fmkit's own bases draw finite numbers; a caller's may not
            check.finite(
                x,
                f"the draw from {label}",
                "the base sampler is broken, not the learning rate: fix or replace base=",
            )
        return x.to(device=device, dtype=dtype)  # (n, dim)

    return sample_base


def sample(
    name: str, n: int, *, generator: torch.Generator | None = None, **kwargs
) -> torch.Tensor:
    """Draw ``n`` points from the target or base called ``name``: ``(n, 2)`` float32."""
    return get_sampler(name)(n, generator=generator, **kwargs)


def make_loader(
    data: torch.Tensor | np.ndarray, batch_size: int, shuffle: bool = True
) -> DataLoader:
    """A DataLoader over the rows of ``data`` yielding 1-tuples, for the DataLoader style."""
    tensor = check.points(data, "data", dtype=torch.float32)
    batch_size = check.count(batch_size, "batch_size")
    return DataLoader(
        TensorDataset(tensor), batch_size=batch_size, shuffle=check.flag(shuffle, "shuffle")
    )


def digits(*, return_labels: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, shipped with the package,
    nothing downloaded), flattened to ``(1797, 64)`` and scaled from 0..16 to [-1, 1].
    With ``return_labels=True`` also the digit of each image, ``(1797,)`` int64."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32) / 8.0 - 1.0
    labels = torch.tensor(bunch.target, dtype=torch.long)
    return (x, labels) if check.flag(return_labels, "return_labels") else x
