"""ipywidgets explorers that respond without a kernel.

When an explorer's cell runs, it draws its picture (with :mod:`fmkit.plot`) and its readout
for every combination of its controls' values, a small grid of them, and stacks them in
``ipywidgets.Stack`` containers, one level per control. Front-end links (``jsdlink``) tie
each control's ``index`` to the ``selected_index`` of the stacks of its level, so moving a
control only switches which stored picture the browser shows: no Python runs. The same
output therefore responds in JupyterLab with a kernel (faster than a redraw would) and in a
static page that embeds the widget state (nbconvert's HTML, the Quarto book).

Every control is a choice among listed values (a dropdown, toggle buttons or a selection
slider): a free slider would need a kernel to draw the values nobody precomputed.

Pictures are PNGs at :data:`DPI`, at most :data:`MAX_PICTURE_WIDTH` pixels wide (the book's
text column), with their colours reduced to :data:`PICTURE_COLORS`, so a chapter's page stays
a few megabytes. A picture may be split into layers that depend on fewer controls and are
shown one over the other (the path explorer draws its pairs' lines and the moving cloud as
two layers), which keeps the number of pictures a sum instead of a product. Frames that
share a background (panels, ticks, the data) draw it once and only add what changes.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import torch
from ipywidgets.widgets.widget_string import HTMLStyle
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from . import _validate as check
from . import data as fm_data
from . import metrics, plot
from .onestep import map_sample
from .solvers import METHODS, integrate
from .utils import Velocity

DPI = 80  # explorer pictures: sharp enough on screen, small to store
MAX_PICTURE_WIDTH = 660  # pixels: the book's text column at a 1280 px window
PICTURE_COLORS = 128  # colours per stored picture (a palette PNG is a third of a full one)
FIELD_TIMES = tuple(np.linspace(0, 1, 21))  # the field explorer's slider positions
DENSITY_TIMES = tuple(np.linspace(0.1, 1.0, 10))  # the density explorer's (t = 0 is the base)
PATH_TIMES = tuple(np.linspace(0, 1, 11))  # the path explorer's
PAIR_COUNTS = (1, 5, 20, 50, 200)  # how many pairs the path explorer can draw as lines


# --------------------------------------------------------------------------- the machinery


@dataclass(frozen=True)
class Picture:
    """One layer of an explorer's picture, drawn once for every combination of ``keys``.

    ``dynamic(axes, **values of keys)`` draws what changes from frame to frame;
    ``static(axes, **values of static_keys)`` (first layer only, and required there) draws
    what frames with the same ``static_keys`` share: the panels, their limits, the data. ``static_keys`` come first in
    ``keys``, so that the frames sharing a background are drawn one after another. A later
    layer is drawn on a transparent canvas laid over the first."""

    keys: tuple[str, ...]
    dynamic: Callable[..., object]
    static: Callable[..., object] | None = None
    static_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Readout:
    """The line of text above the picture: ``text(**values of keys)`` returns HTML."""

    keys: tuple[str, ...]
    text: Callable[..., str]


def _choices(control: W.ValueWidget) -> list:
    """The values a control can take, in its order."""
    return [o[1] if isinstance(o, tuple) else o for o in control.options]


def _png(pixels: np.ndarray, transparent: bool) -> bytes:
    """RGBA pixels ``(height, width, 4)`` as a palette PNG of :data:`PICTURE_COLORS` colours."""
    image = Image.fromarray(pixels, "RGBA")
    if not transparent:
        image = image.convert("RGB")
    image = image.quantize(PICTURE_COLORS, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    image.save(buffer, format="png")
    return buffer.getvalue()


def _img(png: bytes, alt: str) -> str:
    """An ``<img>`` holding the PNG itself, shown at its own size."""
    width, height = Image.open(io.BytesIO(png)).size
    data = base64.b64encode(png).decode()
    return (
        f'<img class="fmkit-picture" src="data:image/png;base64,{data}" width="{width}" '
        f'height="{height}" alt="{html.escape(alt)}" style="display:block;max-width:none">'
    )


class _Canvas:
    """One Agg figure drawn many times over. The background (whatever ``static`` draws) is
    rendered once per key and kept as pixels; each frame restores it, draws only the artists
    that ``dynamic`` adds (and titles it changes), encodes the pixels and removes them again.
    A canvas laid ``over`` another is transparent and has its panels in the same places."""

    def __init__(self, ncols: int, figsize: tuple, *, over: _Canvas | None = None):
        self.transparent = over is not None
        self.fig = Figure(figsize=figsize, dpi=DPI, facecolor="none" if over else "white")
        FigureCanvasAgg(self.fig)
        self.axes = self.fig.subplots(1, ncols, squeeze=False).ravel()
        if over is not None:
            for ax, below in zip(self.axes, over.axes, strict=True):
                ax.set_position(below.get_position(original=True))
        self._key: object = object()  # no background yet
        self._background = None

    def lay_out(self, draw: Callable) -> None:
        """Fix the panels' places from one complete picture (titles, legends, tick labels)."""
        draw(self.axes)
        self.fig.tight_layout()
        for ax in self.axes:
            ax.clear()

    def frame(self, static: Callable | None, dynamic: Callable, key: tuple) -> bytes:
        canvas = self.fig.canvas
        if key != self._key:
            for ax in self.axes:
                ax.clear()
                if self.transparent:
                    plot.panel(ax)
                    ax.set_axis_off()
            if static is not None:
                static(self.axes)
            canvas.draw()
            self._background, self._key = canvas.copy_from_bbox(self.fig.bbox), key
        else:
            canvas.restore_region(self._background)
        titles = [ax.title.get_text() for ax in self.axes]
        before = [{id(a) for a in ax.get_children()} for ax in self.axes]
        dynamic(self.axes)
        added = [
            a
            for ax, old in zip(self.axes, before, strict=True)
            for a in ax.get_children()
            if id(a) not in old
        ]
        retitled = [
            ax.title for ax, t in zip(self.axes, titles, strict=True) if ax.title.get_text() != t
        ]
        for artist in sorted(added, key=lambda a: a.get_zorder()) + retitled:
            self.fig.draw_artist(artist)
        png = _png(np.asarray(canvas.buffer_rgba()), self.transparent)
        for artist in added:
            artist.remove()
        for ax, title in zip(self.axes, titles, strict=True):
            ax.set_title(title)
        return png


class Explorer:
    """Controls over precomputed pictures and readouts, switched in the browser.

    ``controls`` maps a name to a choice widget (dropdown, toggle buttons, selection slider);
    ``pictures`` are the picture's layers and ``readout`` the text above it, each drawn for
    every combination of the controls it depends on when the explorer is made.
    Panels are square, ``size`` inches (less if the row would not fit the text column),
    unless ``height`` says otherwise. ``explorer.widget`` is what a notebook shows;
    ``figure(**values)`` draws a fresh pyplot figure for any values (tests, and the static
    fallback); ``readout`` and ``picture`` give what the browser shows for the controls'
    current values. ``precompute_s`` is the time the pictures took, ``n_pictures`` how many
    were drawn and ``nbytes`` what they weigh as PNG.
    """

    def __init__(
        self,
        controls: dict[str, W.ValueWidget],
        pictures: Sequence[Picture],
        readout: Readout,
        *,
        ncols: int = 1,
        size: float = 4.2,
        height: float | None = None,
    ):
        start = time.perf_counter()
        if not pictures or pictures[0].static is None:
            raise ValueError("an explorer's first picture layer needs a static part: its panels")
        self.controls, self.pictures, self.readout_spec = controls, list(pictures), readout
        self.ncols = ncols
        self.size = min(size, MAX_PICTURE_WIDTH / DPI / ncols)
        self.figsize = (self.size * ncols, self.size if height is None else height)
        self._links: list[tuple[W.ValueWidget, W.Stack]] = []
        self._page_layout, self._stack_layout = W.Layout(), W.Layout()  # shared by every page
        self._html_style = HTMLStyle()
        self.n_pictures = self.nbytes = 0

        base = _Canvas(ncols, self.figsize)
        base.lay_out(lambda axes: self._draw(axes, self.values))
        layers, self._picture_pages = [], []
        for i, layer in enumerate(self.pictures):
            canvas = base if i == 0 else _Canvas(ncols, self.figsize, over=base)
            static = layer.static if i == 0 else None
            stack, pages = self._stacks(layer.keys, self._drawer(canvas, layer, static))
            stack.layout = W.Layout(grid_area="1 / 1")  # every layer in the same cell
            layers.append(stack)
            self._picture_pages.append(pages)
        text, self._readout_pages = self._stacks(readout.keys, readout.text)
        row = W.HBox(list(controls.values()), layout=W.Layout(flex_flow="row wrap"))
        pictures_box = W.GridBox(layers, layout=W.Layout(grid_template_columns="max-content"))
        self.widget = W.VBox([row, text, pictures_box])
        self.widget.add_class("fmkit-explorer")  # how tests (and a page's styles) find it
        self.precompute_s = time.perf_counter() - start

    # the pictures, the stacks and the links

    def _drawer(self, canvas: _Canvas, layer: Picture, static: Callable | None) -> Callable:
        def page(**values) -> str:
            key = tuple(values[k] for k in layer.static_keys)
            fixed = {k: values[k] for k in layer.static_keys}
            png = canvas.frame(
                None if static is None else lambda axes: static(axes, **fixed),
                lambda axes: layer.dynamic(axes, **values),
                key,
            )
            self.n_pictures += 1
            self.nbytes += len(png)
            return _img(png, f"{type(self).__name__} picture")

        return page

    def _stacks(self, keys: tuple[str, ...], render: Callable[..., str]):
        """Nested stacks over ``keys``, one level per control, each linked to its control;
        the leaves show ``render(**values)`` (identical pages are shared). Returns the top
        widget and the leaves by their values."""
        pages: dict[str, W.HTML] = {}
        leaves: dict[tuple, W.HTML] = {}

        def build(level: int, chosen: dict):
            if level == len(keys):
                text = render(**chosen)
                if text not in pages:
                    pages[text] = W.HTML(text, layout=self._page_layout, style=self._html_style)
                leaves[tuple(chosen[k] for k in keys)] = pages[text]
                return pages[text]
            control = self.controls[keys[level]]
            children = [
                build(level + 1, {**chosen, keys[level]: value}) for value in _choices(control)
            ]
            stack = W.Stack(children, selected_index=control.index, layout=self._stack_layout)
            W.jsdlink((control, "index"), (stack, "selected_index"))
            self._links.append((control, stack))
            return stack

        return build(0, {}), leaves

    # what is shown

    @property
    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def _pick(self, leaves: dict, keys: tuple[str, ...]) -> W.HTML:
        values = self.values
        return leaves[tuple(values[k] for k in keys)]

    @property
    def readout(self) -> W.HTML:
        """The readout shown for the controls' current values."""
        return self._pick(self._readout_pages, self.readout_spec.keys)

    @property
    def picture(self) -> str:
        """The picture shown for the controls' current values: its layers' HTML."""
        return "".join(
            self._pick(pages, layer.keys).value
            for layer, pages in zip(self.pictures, self._picture_pages, strict=True)
        )

    def refresh(self) -> None:
        """Point every stack at its control's value, as the browser's links do (for use from
        Python without a front end; in a notebook the links have done it already)."""
        for control, stack in self._links:
            stack.selected_index = control.index

    def _draw(self, axes, values: dict) -> None:
        """The whole picture for ``values``: the first layer's background, then every layer."""
        first = self.pictures[0]
        if first.static is not None:
            first.static(axes, **{k: values[k] for k in first.static_keys})
        for layer in self.pictures:
            layer.dynamic(axes, **{k: values[k] for k in layer.keys})

    def figure(self, **overrides) -> Figure:
        """A new pyplot figure of the current values (or ``overrides``)."""
        fig, axes = plt.subplots(1, self.ncols, figsize=self.figsize, squeeze=False)
        axes = axes.ravel()
        self._draw(axes, {**self.values, **overrides})
        fig.tight_layout()
        return fig

    def static_png(self) -> bytes:
        """The current picture as one PNG (not through pyplot: nothing is shown twice)."""
        fig = Figure(figsize=self.figsize, dpi=DPI)
        FigureCanvasAgg(fig)
        self._draw(fig.subplots(1, self.ncols, squeeze=False).ravel(), self.values)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        # For a viewer without widgets (and without stored widget state): the picture.
        bundle["image/png"] = base64.b64encode(self.static_png()).decode()
        bundle["text/plain"] = f"{type(self).__name__}({', '.join(self.controls)})"
        return bundle


def _slider(description: str, values: Sequence, value, fmt: str = "{:.2f}") -> W.SelectionSlider:
    """A slider over listed values, each labelled with ``fmt``."""
    return W.SelectionSlider(
        description=description,
        options=[(fmt.format(v), v) for v in values],
        value=value,
        continuous_update=True,
    )


def _dropdown(description: str, values: Sequence, value) -> W.Dropdown:
    return W.Dropdown(description=description, options=list(values), value=value)


def _toggles(description: str, values: Sequence, value) -> W.ToggleButtons:
    return W.ToggleButtons(
        description=description, options=list(values), value=value, style={"button_width": "96px"}
    )


def _nearest(values: Sequence, wanted):
    """The value in ``values`` closest to ``wanted`` (a default that may not be listed)."""
    return min(values, key=lambda v: abs(v - wanted))


def _step_counts(max_steps: int) -> list[int]:
    """Step counts to offer: the powers of two up to ``max_steps``, and ``max_steps``."""
    counts = [2**k for k in range(max_steps.bit_length()) if 2**k <= max_steps]
    return counts + ([max_steps] if counts[-1] != max_steps else [])


# --------------------------------------------------------------------------- chapter 1


def path_explorer(*, n: int = 600, generator: torch.Generator | None = None) -> Explorer:
    """Drag ``t`` to move the cloud of ``x_t`` along randomly drawn pairs; pick the base,
    the target and how many pairs to draw as lines."""
    n = check.count(n, "n")
    generator = check.generator(generator) or torch.Generator().manual_seed(0)
    # The default base and target come from ``generator``, in the order the picture has always
    # drawn them, so a chapter's later random numbers do not depend on this explorer; the
    # other choices come from a generator of their own, seeded from it without drawing.
    draws = {name: fm_data.sample(name, n, generator=generator) for name in ("gaussian", "ring")}
    others = torch.Generator().manual_seed(generator.initial_seed() + 1)
    for name in fm_data.names("all"):
        if name not in draws:
            draws[name] = fm_data.sample(name, n, generator=others)

    def background(axes, base, target):
        ax = plot.panel(axes[0], f"{base} → {target}")
        plot.cloud(ax, draws[base], color=plot.BASE_COLOR, label="base $x_0$", alpha=0.25)
        plot.cloud(ax, draws[target], color=plot.DATA_COLOR, label="data $x_1$", alpha=0.25)
        ax.scatter([], [], s=6, color=plot.FLOW_COLOR, label="$x_t$")  # the moving cloud's key
        ax.legend(loc="upper right", fontsize=7, markerscale=2)

    def lines(axes, base, target, n_pairs):
        plot.pair_lines(axes[0], draws[base], draws[target], n_lines=n_pairs)

    def moving(axes, base, target, t):
        x_t = (1 - t) * draws[base] + t * draws[target]  # (n, 2)
        plot.cloud(axes[0], x_t, color=plot.FLOW_COLOR, s=6, alpha=0.8)

    def text(t):
        return f"<b>t = {t:.2f}</b>: each green point sits {t:.0%} of the way along its line"

    counts = [k for k in PAIR_COUNTS if k <= n] or [n]
    controls = {
        "t": _slider("t", [round(float(t), 4) for t in PATH_TIMES], 0.5),
        "base": _dropdown("base", fm_data.names("bases"), "gaussian"),
        "target": _dropdown("target", fm_data.names("targets"), "ring"),
        "n_pairs": _slider("pairs", counts, _nearest(counts, 20), "{}"),
    }
    pictures = [
        Picture(("base", "target", "n_pairs"), lines, background, ("base", "target")),
        Picture(("base", "target", "t"), moving),
    ]
    return Explorer(controls, pictures, Readout(("t",), text), size=4.8)


# --------------------------------------------------------------------------- chapter 2


def _times(times) -> list[float]:
    """Slider positions: rounded times in [0, 1], at least one."""
    values = [round(check.real(t, "each time in times", low=0.0, high=1.0), 4) for t in times]
    if not values:
        raise ValueError("times must hold at least one time in [0, 1]")
    return values


def _fields(fields: dict[str, Velocity]) -> dict[str, Velocity]:
    if not isinstance(fields, dict) or not fields:
        raise TypeError(
            f"fields must be a dict of name -> velocity, such as {{'learned': model}}; got {type(fields).__name__}"
        )
    for name, velocity in fields.items():
        check.function(velocity, f"fields[{name!r}]", "a model, or fm.exact.ring_field()")
    return fields


def field_explorer(
    fields: dict[str, Velocity], *, data=None, times=FIELD_TIMES, scale: float = 8.0
) -> Explorer:
    """A time slider over several velocity fields side by side (e.g. learned and exact).

    Every field is evaluated once on a fixed grid at each time in ``times``."""
    fields, times = _fields(fields), _times(times)
    grids = {name: {t: plot.field_on_grid(f, t) for t in times} for name, f in fields.items()}

    def background(axes):
        for ax in axes:
            plot.panel(ax)
            if data is not None:
                plot.cloud(ax, data, alpha=0.12)

    def arrows(axes, t):
        for ax, (name, by_time) in zip(axes, grids.items(), strict=True):
            plot.panel(ax, f"{name}, t = {t:.2f}")
            plot.quiver(ax, by_time[t], scale=scale)

    controls = {"t": _slider("t", times, times[len(times) // 2])}
    return Explorer(
        controls,
        [Picture(("t",), arrows, background)],
        Readout(("t",), lambda t: f"<b>t = {t:.2f}</b>"),
        ncols=len(fields),
    )


# --------------------------------------------------------------------------- chapter 3


def _flow_explorer(
    models: dict[str, Velocity],
    starts: dict[str, torch.Tensor],
    *,
    choice: str,
    target: str,
    max_steps: int,
    generator: torch.Generator,
    widget: Callable = _dropdown,
    show_straightness: bool = False,
) -> Explorer:
    """Steps, solver and a choice of model: samples, trajectories and a quality readout.
    Every (model, solver, step count) is solved and scored once
    (:func:`fmkit.metrics.score_solve`); the explorer draws and formats the results."""
    n = len(next(iter(starts.values())))
    reference = fm_data.sample(target, n, generator=generator)
    band = metrics.null_band(
        fm_data.get_sampler(target), metrics.mmd, n, n_repeats=10, generator=generator
    )
    methods = [m for m in METHODS if m != "dopri5"]
    counts = _step_counts(max_steps)
    solved = {}
    for name, method, n_steps in itertools.product(models, methods, counts):
        sol = integrate(
            models[name], starts[name], n_steps=n_steps, method=method, return_trajectory=True
        )
        solved[name, method, n_steps] = (sol.trajectory, metrics.score_solve(sol, reference))

    def background(axes):
        plot.cloud(plot.panel(axes[0]), reference, alpha=0.12)

    def paths(axes, n_steps, method, **chosen):
        name = chosen[choice]
        trajectory, score = solved[name, method, n_steps]
        plot.panel(axes[0], f"{method}, {n_steps} step(s), {score.nfe} NFE, {choice} {name}")
        plot.trajectories(axes[0], trajectory)

    def text(n_steps, method, **chosen):
        _, score = solved[chosen[choice], method, n_steps]
        verdict = (
            "inside the null band: as good as the metric can tell"
            if band.covers(score.mmd2)
            else "above the null band"
        )
        extra = (
            f"; straightness {score.straightness:.3f} (0 = straight lines)"
            if show_straightness
            else ""
        )
        return (
            f"<b>MMD² to fresh data: {score.mmd2:.4f}</b>; the null band (two draws of the true {target}) "
            f"stays below {band.p90:.4f} nine times in ten: {verdict}{extra}"
        )

    controls = {
        "n_steps": _slider("steps", counts, _nearest(counts, 8), "{}"),
        "method": _dropdown("solver", methods, "euler"),
        choice: widget(choice, list(models), next(iter(models))),
    }
    keys = ("n_steps", "method", choice)
    return Explorer(controls, [Picture(keys, paths, background)], Readout(keys, text), size=4.8)


def _explorer_sizes(n: int, max_steps: int, generator) -> tuple[int, int, torch.Generator]:
    n, max_steps = check.count(n, "n", minimum=2), check.count(max_steps, "max_steps", maximum=1000)
    return n, max_steps, check.generator(generator) or torch.Generator().manual_seed(0)


def sampling_explorer(
    models: dict[str, Velocity],
    *,
    target: str = "ring",
    n: int = 500,
    max_steps: int = 32,
    generator: torch.Generator | None = None,
) -> Explorer:
    """Step count, solver and base: the samples and their trajectories, with the MMD² to
    fresh data beside the null band. ``models`` maps a base name to a velocity field trained
    from that base. Step counts are the powers of two up to ``max_steps``."""
    models, target = _fields(models), check.choice(target, "target", fm_data.names("targets"))
    n, max_steps, generator = _explorer_sizes(n, max_steps, generator)
    starts = {base: fm_data.sample(base, n, generator=generator) for base in models}
    return _flow_explorer(
        models, starts, choice="base", target=target, max_steps=max_steps, generator=generator
    )


# --------------------------------------------------------------------------- chapter 4


def coupling_explorer(
    models: dict[str, Velocity],
    *,
    target: str = "ring",
    n: int = 500,
    max_steps: int = 16,
    generator: torch.Generator | None = None,
) -> Explorer:
    """A coupling toggle and a step-count slider over trajectories from one set of noise
    points: ``models`` maps a coupling's name (e.g. independent, OT, reflow) to its field.
    The readout gives the MMD² beside the null band, and the paths' straightness."""
    models, target = _fields(models), check.choice(target, "target", fm_data.names("targets"))
    n, max_steps, generator = _explorer_sizes(n, max_steps, generator)
    x_0 = fm_data.sample("gaussian", n, generator=generator)
    return _flow_explorer(
        models,
        {name: x_0 for name in models},
        choice="coupling",
        target=target,
        max_steps=max_steps,
        generator=generator,
        widget=_toggles,
        show_straightness=True,
    )


# --------------------------------------------------------------------------- chapter 5


ONESTEP_NFES = (1, 2, 4)  # the one-step explorer's numbers of network evaluations


def flow_sampler(velocity: Velocity) -> Callable[[torch.Tensor, int], tuple[torch.Tensor, str]]:
    """A flow's sampler at ``nfe`` evaluations: ``nfe / 2`` midpoint steps at an even NFE,
    ``nfe`` Euler steps at an odd one (1 NFE: one Euler step). Returns the end points and
    how they were made."""

    def sample(x_0: torch.Tensor, nfe: int) -> tuple[torch.Tensor, str]:
        if nfe % 2:  # a midpoint step costs two evaluations: an odd budget takes Euler steps
            how = f"{nfe} Euler step{'s' if nfe > 1 else ''}"
            return integrate(velocity, x_0, n_steps=nfe, method="euler").x, how
        steps = nfe // 2
        how = f"{steps} midpoint step{'s' if steps > 1 else ''}"
        return integrate(velocity, x_0, n_steps=steps, method="midpoint").x, how

    return sample


def map_sampler(model: Callable) -> Callable[[torch.Tensor, int], tuple[torch.Tensor, str]]:
    """A flow map's sampler: ``nfe`` jumps of :func:`fmkit.onestep.map_sample`."""

    def sample(x_0: torch.Tensor, nfe: int) -> tuple[torch.Tensor, str]:
        jumps = f"{nfe} jump{'s' if nfe > 1 else ''} of the map"
        return map_sample(model, x_0, n_steps=nfe).x, jumps

    return sample


def onestep_explorer(
    samplers: dict[str, Callable[[torch.Tensor, int], tuple[torch.Tensor, str]]],
    *,
    target: str = "ring",
    n: int = 500,
    nfes: Sequence[int] = ONESTEP_NFES,
    n_arrows: int = 120,
    generator: torch.Generator | None = None,
) -> Explorer:
    """Method and NFE: the samples, the realised noise-to-sample map as arrows, and the MMD²
    to fresh data beside the null band. ``samplers`` maps a method's name to
    ``sample(x_0, nfe) -> (end points, description)`` (:func:`flow_sampler`,
    :func:`map_sampler`). Every method starts from the same ``n`` noise points; each
    (method, NFE) is sampled and scored once, when the explorer is made."""
    if not isinstance(samplers, dict) or not samplers:
        raise TypeError(
            "samplers must be a dict of name -> sample(x_0, nfe), such as "
            "{'MeanFlow': map_sampler(model)}"
        )
    target = check.choice(target, "target", fm_data.names("targets"))
    n = check.count(n, "n", minimum=2)
    nfes = [check.steps(k, "each NFE") for k in nfes]
    generator = check.generator(generator) or torch.Generator().manual_seed(0)
    x_0 = fm_data.sample("gaussian", n, generator=generator)  # (n, 2)
    reference = fm_data.sample(target, n, generator=generator)  # (n, 2)
    band = metrics.null_band(
        fm_data.get_sampler(target), metrics.mmd, n, n_repeats=10, generator=generator
    )
    solved = {}
    for name, nfe in itertools.product(samplers, nfes):
        with torch.no_grad():
            x_1, how = samplers[name](x_0, nfe)
        x_1 = x_1.detach().cpu()
        solved[name, nfe] = (x_1, how, metrics.mmd(x_1, reference))

    def background(axes):
        plot.cloud(plot.panel(axes[0]), reference, alpha=0.15)
        plot.panel(axes[1])

    def pictures(axes, method, nfe):
        x_1, how, _ = solved[method, nfe]
        plot.panel(axes[0], f"{method}: samples, {nfe} NFE")
        plot.cloud(axes[0], x_1, color=plot.FLOW_COLOR, s=5, alpha=0.8)
        plot.panel(axes[1], f"noise to sample ({how})")
        plot.map_arrows(axes[1], x_0, x_1, n_arrows=n_arrows)

    def text(method, nfe):
        _, how, score = solved[method, nfe]
        verdict = (
            "inside the null band: as good as the metric can tell at this size"
            if band.covers(score)
            else "above the null band"
        )
        return (
            f"<b>{method}, {nfe} NFE ({how}): MMD² to fresh data {score:.4f}</b>; the null band "
            f"(two draws of the true {target}, {n} points) runs from {band.p10:.4f} to "
            f"{band.p90:.4f}: {verdict}"
        )

    names = list(samplers)
    controls = {
        "method": W.ToggleButtons(
            description="method", options=names, value=names[0], style={"button_width": "110px"}
        ),
        "nfe": W.SelectionSlider(
            description="NFE", options=[(str(k), k) for k in nfes], value=nfes[0]
        ),
    }
    keys = ("method", "nfe")
    explorer = Explorer(
        controls, [Picture(keys, pictures, background)], Readout(keys, text), ncols=2, size=3.3
    )
    explorer.scores = {key: value[2] for key, value in solved.items()}  # for the chapter's text
    explorer.band = band
    return explorer


# --------------------------------------------------------------------------- chapter 7


def density_explorer(
    model: Velocity, *, times=DENSITY_TIMES, n_grid: int = 41, n_steps: int = 12
) -> Explorer:
    """A time slider over the model's log-density of ``p_t`` beside the true one (the ring's
    marginal path). Densities are computed once per time, on a fixed grid."""
    from .exact import ring_log_prob
    from .likelihood import log_likelihood

    check.function(model, "model", "a trained fm.VelocityField()")
    times, n_steps = _times(times), check.steps(n_steps)
    learned = {
        t: plot.log_density_on_grid(
            lambda x, t=t: log_likelihood(model, x, n_steps=n_steps, t=t), n=n_grid, model=model
        )
        for t in times
    }
    true = {t: plot.log_density_on_grid(ring_log_prob(t=t), n=n_grid) for t in times}

    def background(axes):
        for ax in axes:
            plot.panel(ax)

    def densities(axes, t):
        plot.density(plot.panel(axes[0], f"learned log p_t, t = {t:.2f}"), learned[t])
        plot.density(plot.panel(axes[1], f"true log p_t, t = {t:.2f}"), true[t])

    def text(t):
        return f"<b>t = {t:.2f}</b>: brighter is more likely (log-density, clipped at -8)"

    controls = {"t": _slider("t", times, times[-1])}
    return Explorer(
        controls, [Picture(("t",), densities, background)], Readout(("t",), text), ncols=2
    )


# --------------------------------------------------------------------------- chapter 8


def _scales(scales) -> list[float]:
    values = [check.real(s, "each guidance scale in scales") for s in scales]
    if not values:
        raise ValueError("scales must hold at least one guidance scale")
    return values


def _guided_samples(model, x_0: torch.Tensor, labels: Sequence[int], scale: float, n_steps: int):
    """Guided samples for every label from the same ``x_0`` ``(n, dim)``, in one batched solve:
    a list of ``(n, dim)`` tensors, one per label."""
    from .guidance import guided_velocity

    requested = torch.tensor(list(labels)).repeat_interleave(len(x_0))  # (labels * n,)
    x = integrate(
        guided_velocity(model, requested, scale),
        x_0.repeat(len(labels), 1),
        n_steps=n_steps,
        method="midpoint",
    ).x
    return list(x.split(len(x_0)))


def guidance_explorer(
    model: Velocity,
    *,
    n_classes: int = fm_data.RING.n_modes,
    std: float = fm_data.RING.std,
    scales=(0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0),
    n: int = 400,
    n_steps: int = 16,
    generator: torch.Generator | None = None,
) -> Explorer:
    """A guidance-scale slider and a class dropdown over samples of a conditional flow on the
    ring; the readout says how many samples reach the asked-for mode and how spread they are
    (:func:`fmkit.metrics.reach` and :func:`fmkit.metrics.spread`), beside the true blob's
    median distance to its centre (:attr:`fmkit.data.RingSpec.median_distance`)."""
    check.takes_label(model, "the guidance explorer")
    ring = fm_data.RingSpec(
        n_modes=check.count(n_classes, "n_classes"), std=check.positive(std, "std")
    )
    scales, n_steps = _scales(scales), check.steps(n_steps)
    n, generator = (
        check.count(n, "n", minimum=2),
        check.generator(generator) or torch.Generator().manual_seed(0),
    )
    x_0 = fm_data.sample("gaussian", n, generator=generator)
    means = ring.means()
    labels = list(range(ring.n_modes))
    samples = {}
    for scale in scales:
        for label, x in zip(
            labels, _guided_samples(model, x_0, labels, scale, n_steps), strict=True
        ):
            samples[scale, label] = x

    def background(axes):
        plot.cloud(plot.panel(axes[0]), means, color=plot.DATA_COLOR, s=60, alpha=0.4)

    def clouds(axes, scale, label):
        plot.panel(axes[0], f"class {label}, guidance scale {scale}")
        plot.cloud(axes[0], samples[scale, label], color=plot.FLOW_COLOR, s=5, alpha=0.7)

    def text(scale, label):
        x = samples[scale, label]
        hit, spread = metrics.reach(x, means, label), metrics.spread(x, means[label])
        return (
            f"<b>{hit:.0%}</b> of samples reach mode {label}; median distance to its centre "
            f"{spread:.3f} (the data's: {ring.median_distance:.3f})"
        )

    controls = {
        "scale": _slider("guidance", scales, 1.0 if 1.0 in scales else scales[0], "{:g}"),
        "label": _dropdown("class", labels, 0),
    }
    keys = ("scale", "label")
    return Explorer(controls, [Picture(keys, clouds, background)], Readout(keys, text), size=4.8)


# --------------------------------------------------------------------------- chapter 9


def digits_explorer(
    model: Velocity,
    *,
    scales=(0.0, 1.0, 2.0, 3.0, 5.0),
    n: int = 24,
    max_steps: int = 32,
    generator: torch.Generator | None = None,
) -> Explorer:
    """Class, guidance scale and step count over a grid of generated 8x8 digits. Step
    counts are the powers of two up to ``max_steps``."""
    check.takes_label(model, "the digits explorer")
    scales = _scales(scales)
    n, max_steps, generator = _explorer_sizes(n, max_steps, generator)
    x_0 = fm_data.base_sampler("gaussian", check.velocity_dim(model, 64))(
        n, generator=generator
    )  # (n, 64)
    digits, counts = list(range(10)), _step_counts(max_steps)
    samples = {}
    for scale, n_steps in itertools.product(scales, counts):
        for digit, x in zip(
            digits, _guided_samples(model, x_0, digits, scale, n_steps), strict=True
        ):
            samples[digit, scale, n_steps] = x.clamp(-1, 1)

    def grid(axes, digit, scale, n_steps):
        plot.image_grid(axes[0], samples[digit, scale, n_steps], n_cols=8)

    n_rows = -(-n // 8)  # the grid's shape (frames between images), as plot.image_grid tiles it

    def background(axes):  # the grid's limits and aspect, so that each frame only adds its image
        axes[0].set_xlim(-0.5, 8 * 9 + 0.5)
        axes[0].set_ylim(n_rows * 9 + 0.5, -0.5)
        axes[0].set_aspect("equal")
        axes[0].set_axis_off()

    def text(digit, scale, n_steps):
        return (
            f"<b>digit {digit}</b>, guidance scale {scale:g}, midpoint with {n_steps} step(s) "
            f"({2 * n_steps} NFE)"
        )

    controls = {
        "digit": _dropdown("digit", digits, 3),
        "scale": _slider("guidance", scales, 2.0 if 2.0 in scales else scales[0], "{:g}"),
        "n_steps": _slider("steps", counts, _nearest(counts, 8), "{}"),
    }
    keys = ("digit", "scale", "n_steps")
    size = 5.0  # inches wide; as tall as the grid needs
    return Explorer(
        controls,
        [Picture(keys, grid, background)],
        Readout(keys, text),
        size=size,
        height=size * (n_rows * 9 + 1) / (8 * 9 + 1) + 0.1,
    )


# --------------------------------------------------------------------------- chapter 6: Gaussian paths

SDE_NOISES = (0.0, 0.5, 1.0, 2.0)  # the SDE explorer's noise levels
SDE_STEPS = (4, 8, 16, 32, 64)  # and its step counts


def schedule_explorer(x_0: torch.Tensor, x_1: torch.Tensor, *, times=PATH_TIMES) -> Explorer:
    """A schedule dropdown and a time slider over the cloud ``alpha_t x_1 + sigma_t x_0`` of
    the given pairs (base ``x_0``, data ``x_1``, both ``(n, 2)``)."""
    from .paths import SCHEDULES, get_schedule, interpolate

    x_0 = check.points(x_0, "x_0", dim=2).cpu()
    x_1 = check.points(x_1, "x_1", dim=2).cpu()
    times = _times(times)

    def background(axes):
        plot.cloud(plot.panel(axes[0]), x_1, alpha=0.15, label="data $x_1$")
        axes[0].legend(loc="upper right", fontsize=7, markerscale=2)

    def moving(axes, schedule, t):
        plot.cloud(axes[0], interpolate(x_0, x_1, t, schedule=schedule), color=plot.FLOW_COLOR, s=4)

    def text(schedule, t):
        path, t_ = get_schedule(schedule), torch.tensor(float(t))
        alpha, sigma = float(path.alpha(t_)), float(path.sigma(t_))
        return f"<b>{schedule}, t = {t:.2f}</b>: x_t = {alpha:.3f} x_1 + {sigma:.3f} x_0"

    controls = {
        "schedule": _dropdown("schedule", SCHEDULES, "linear"),
        "t": _slider("t", times, _nearest(times, 0.5)),
    }
    keys = ("schedule", "t")
    return Explorer(controls, [Picture(keys, moving, background)], Readout(keys, text), size=4.2)


def sde_explorer(
    x_0: torch.Tensor,
    data: torch.Tensor,
    *,
    noises=SDE_NOISES,
    steps=SDE_STEPS,
    generator: torch.Generator | None = None,
) -> Explorer:
    """Sample the ring's exact field under each schedule with ``fm.sample_sde`` from the
    start points ``x_0`` ``(n, 2)``, at each noise level and step count, with MMD² to
    ``data`` in the readout."""
    from .exact import ring_field
    from .paths import SCHEDULES
    from .solvers import sample_sde

    x_0 = check.points(x_0, "x_0", dim=2).cpu()
    data = check.points(data, "data", dim=2).cpu()
    noises = [float(v) for v in noises]
    steps = [check.steps(n, "steps") for n in steps]
    seed = (check.generator(generator) or torch.Generator().manual_seed(0)).initial_seed()
    ends, scores = {}, {}
    for schedule in SCHEDULES:
        field = ring_field(schedule=schedule)
        for noise in noises:
            for n_steps in steps:
                g = torch.Generator().manual_seed(seed)  # the same noise path for every setting
                x = sample_sde(
                    field, x_0, n_steps=n_steps, noise=noise, schedule=schedule, generator=g
                ).x
                ends[schedule, noise, n_steps] = x
                scores[schedule, noise, n_steps] = metrics.mmd(x, data)

    def background(axes):
        plot.cloud(plot.panel(axes[0]), data, alpha=0.15, label="data")
        axes[0].legend(loc="upper right", fontsize=7, markerscale=2)

    def samples(axes, schedule, noise, n_steps):
        plot.cloud(axes[0], ends[schedule, noise, n_steps], color=plot.FLOW_COLOR, s=4)

    def text(schedule, noise, n_steps):
        return (
            f"<b>{schedule}, noise {noise:g}, {n_steps} Euler-Maruyama steps</b>: "
            f"MMD² to the data {scores[schedule, noise, n_steps]:.4f}"
        )

    controls = {
        "schedule": _dropdown("schedule", SCHEDULES, "linear"),
        "noise": _slider("noise", noises, _nearest(noises, 1.0), "{:g}"),
        "n_steps": _slider("steps", steps, _nearest(steps, 16), "{}"),
    }
    keys = ("schedule", "noise", "n_steps")
    return Explorer(controls, [Picture(keys, samples, background)], Readout(keys, text), size=4.2)
