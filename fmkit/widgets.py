"""ipywidgets explorers: thin wrappers that redraw a :mod:`fmkit.plot` figure when a
control moves.

Each explorer precomputes or caches the expensive part (samples, trajectories per solver
and step count, fields on a fixed grid), so a redraw is only drawing. Displayed in
JupyterLab it is a live widget; in a static render (nbconvert, Quarto) without a kernel
the same output falls back to a PNG of its current figure, so a reader still sees it.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable

import ipywidgets as W
import numpy as np
import torch
from matplotlib.figure import Figure

from . import _validate as check
from . import data as fm_data
from . import metrics, plot
from .solvers import METHODS, integrate
from .utils import Velocity

DPI = 80  # explorer pictures: sharp enough on screen, cheap to redraw
FIELD_TIMES = tuple(np.linspace(0, 1, 21))  # the field explorer's slider positions
DENSITY_TIMES = tuple(np.linspace(0.1, 1.0, 10))  # the density explorer's (t = 0 is the base)


class Explorer:
    """Controls plus a picture: ``render(axes, **values)`` draws the current state and
    returns a line of text for the readout.

    The explorer owns one figure and redraws it in place; the PNG goes into an
    ``ipywidgets.Image``, so a control move costs one draw and one PNG encode.
    ``figure(**values)`` draws a fresh, independent figure for any values (the static
    fallback in a notebook, and tests). ``last_redraw_ms`` records the latest redraw.
    """

    def __init__(
        self,
        controls: dict[str, W.ValueWidget],
        render: Callable,
        *,
        ncols: int = 1,
        size: float = 4.2,
    ):
        self.controls, self.render, self.ncols, self.size = controls, render, ncols, size
        self._fig = Figure(
            figsize=(size * ncols, size)
        )  # not managed by pyplot: never shown by accident
        self._axes = self._fig.subplots(1, ncols, squeeze=False).ravel()
        self._laid_out = False
        self.image = W.Image(format="png", width=int(size * ncols * DPI))  # shown at its own size
        self.readout = W.HTML()
        self.last_redraw_ms = float("nan")
        for control in controls.values():
            control.observe(lambda change: self.refresh(), names="value")
        row = W.HBox(list(controls.values()), layout=W.Layout(flex_flow="row wrap"))
        self.widget = W.VBox([row, self.readout, self.image])

    @property
    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def draw(self, **overrides) -> tuple[bytes, str]:
        """Redraw the explorer's own figure for the current values (or ``overrides``):
        returns the PNG bytes and the readout text."""
        for ax in self._axes:
            ax.clear()
        text = self.render(self._axes, **{**self.values, **overrides})
        if not self._laid_out:  # the layout is fixed after the first draw
            self._fig.tight_layout()
            self._laid_out = True
        buffer = io.BytesIO()
        self._fig.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue(), text or ""

    def figure(self, **overrides) -> Figure:
        """A new pyplot figure of the current values (or ``overrides``)."""
        fig, axes = plot.figure(self.ncols, size=self.size)
        self.render(axes, **{**self.values, **overrides})
        fig.tight_layout()
        return fig

    def refresh(self) -> None:
        start = time.perf_counter()
        self.image.value, self.readout.value = self.draw()
        self.last_redraw_ms = 1000 * (time.perf_counter() - start)

    def _repr_mimebundle_(self, **kwargs):
        self.refresh()
        bundle = self.widget._repr_mimebundle_(**kwargs)
        # Without a kernel (nbconvert, Quarto) the widget cannot draw: show its picture.
        bundle["image/png"] = base64.b64encode(self.image.value).decode()
        bundle["text/plain"] = f"{type(self).__name__}({', '.join(self.controls)})"
        return bundle


def _slider(description: str, **kwargs) -> W.FloatSlider:
    return W.FloatSlider(
        description=description, continuous_update=True, readout_format=".2f", **kwargs
    )


# --------------------------------------------------------------------------- chapter 1


def path_explorer(*, n: int = 600, generator: torch.Generator | None = None) -> Explorer:
    """Drag ``t`` to move the cloud of ``x_t`` along randomly drawn pairs; pick the base,
    the target and how many pairs to draw as lines."""
    n = check.count(n, "n")
    generator = check.generator(generator) or torch.Generator().manual_seed(0)
    cache: dict[str, torch.Tensor] = {}

    def draws(name: str) -> torch.Tensor:
        if name not in cache:
            cache[name] = fm_data.sample(name, n, generator=generator)
        return cache[name]

    def render(axes, t, base, target, n_pairs):
        plot.pairs(
            plot.panel(axes[0], f"{base} → {target}"),
            draws(base),
            draws(target),
            t=t,
            n_lines=n_pairs,
        )
        return f"<b>t = {t:.2f}</b>: each green point sits {t:.0%} of the way along its line"

    controls = {
        "t": _slider("t", min=0.0, max=1.0, step=0.05, value=0.5),
        "base": W.Dropdown(description="base", options=fm_data.names("bases"), value="gaussian"),
        "target": W.Dropdown(description="target", options=fm_data.names("targets"), value="ring"),
        "n_pairs": W.IntSlider(description="pairs", min=1, max=200, value=20),
    }
    return Explorer(controls, render, size=4.8)


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

    def render(axes, t):
        for ax, (name, by_time) in zip(axes, grids.items(), strict=True):
            plot.panel(ax, f"{name}, t = {t:.2f}")
            if data is not None:
                plot.cloud(ax, data, alpha=0.12)
            plot.quiver(ax, by_time[t], scale=scale)
        return f"<b>t = {t:.2f}</b>"

    controls = {
        "t": W.SelectionSlider(description="t", options=times, value=times[len(times) // 2])
    }
    return Explorer(controls, render, ncols=len(fields))


# --------------------------------------------------------------------------- chapter 3


def _flow_explorer(
    models: dict[str, Velocity],
    starts: dict[str, torch.Tensor],
    *,
    choice: str,
    target: str,
    max_steps: int,
    generator: torch.Generator,
    widget: type = W.Dropdown,
    show_straightness: bool = False,
) -> Explorer:
    """Steps, solver and a choice of model: samples, trajectories and a quality readout.
    Solves and their scores (:func:`fmkit.metrics.score_solve`) are computed once per
    (model, solver, steps); the explorer only caches and formats them."""
    n = len(next(iter(starts.values())))
    reference = fm_data.sample(target, n, generator=generator)
    band = metrics.null_band(
        fm_data.get_sampler(target), metrics.mmd, n, n_repeats=10, generator=generator
    )
    cache: dict[tuple, tuple] = {}

    def solve(name, method, n_steps):
        key = (name, method, n_steps)
        if key not in cache:
            sol = integrate(
                models[name], starts[name], n_steps=n_steps, method=method, return_trajectory=True
            )
            cache[key] = (sol.trajectory, metrics.score_solve(sol, reference))
        return cache[key]

    def render(axes, n_steps, method, **chosen):
        name = chosen[choice]
        trajectory, score = solve(name, method, n_steps)
        ax = plot.panel(axes[0], f"{method}, {n_steps} step(s), {score.nfe} NFE, {choice} {name}")
        plot.cloud(ax, reference, alpha=0.12)
        plot.trajectories(ax, trajectory)
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
        "n_steps": W.IntSlider(description="steps", min=1, max=max_steps, value=min(8, max_steps)),
        "method": W.Dropdown(
            description="solver", options=[m for m in METHODS if m != "dopri5"], value="euler"
        ),
        choice: widget(description=choice, options=list(models), value=next(iter(models))),
    }
    return Explorer(controls, render, size=4.8)


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
    """Step count, solver and base: redraw the samples and their trajectories, with the MMD²
    to fresh data beside the null band. ``models`` maps a base name to a velocity field
    trained from that base."""
    models, target = _fields(models), check.choice(target, "target", fm_data.names("targets"))
    n, max_steps, generator = _explorer_sizes(n, max_steps, generator)
    starts = {base: fm_data.sample(base, n, generator=generator) for base in models}
    return _flow_explorer(
        models, starts, choice="base", target=target, max_steps=max_steps, generator=generator
    )


# --------------------------------------------------------------------------- chapter 4


def _toggle(**kwargs) -> W.ToggleButtons:
    return W.ToggleButtons(style={"button_width": "96px"}, **kwargs)


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
        widget=_toggle,
        show_straightness=True,
    )


# --------------------------------------------------------------------------- chapter 5


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
            lambda x, t=t: log_likelihood(model, x, n_steps=n_steps, t=t), n=n_grid
        )
        for t in times
    }
    true = {t: plot.log_density_on_grid(ring_log_prob(t=t), n=n_grid) for t in times}

    def render(axes, t):
        plot.density(plot.panel(axes[0], f"learned log p_t, t = {t:.2f}"), learned[t])
        plot.density(plot.panel(axes[1], f"true log p_t, t = {t:.2f}"), true[t])
        return f"<b>t = {t:.2f}</b>: brighter is more likely (log-density, clipped at -8)"

    controls = {"t": W.SelectionSlider(description="t", options=times, value=times[-1])}
    return Explorer(controls, render, ncols=2)


# --------------------------------------------------------------------------- chapter 6


def _scales(scales) -> list[float]:
    values = [check.real(s, "each guidance scale in scales") for s in scales]
    if not values:
        raise ValueError("scales must hold at least one guidance scale")
    return values


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
    from .guidance import guided_velocity

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
    cache: dict[tuple, torch.Tensor] = {}

    def samples(label, scale):
        if (label, scale) not in cache:
            cache[(label, scale)] = integrate(
                guided_velocity(model, label, scale), x_0, n_steps=n_steps, method="midpoint"
            ).x
        return cache[(label, scale)]

    def render(axes, scale, label):
        x = samples(label, scale)
        ax = plot.panel(axes[0], f"class {label}, guidance scale {scale}")
        plot.cloud(ax, means, color=plot.DATA_COLOR, s=60, alpha=0.4)
        plot.cloud(ax, x, color=plot.FLOW_COLOR, s=5, alpha=0.7)
        hit, spread = metrics.reach(x, means, label), metrics.spread(x, means[label])
        return (
            f"<b>{hit:.0%}</b> of samples reach mode {label}; median distance to its centre "
            f"{spread:.3f} (the data's: {ring.median_distance:.3f})"
        )

    controls = {
        "scale": W.SelectionSlider(
            description="guidance", options=scales, value=1.0 if 1.0 in scales else scales[0]
        ),
        "label": W.Dropdown(description="class", options=list(range(ring.n_modes)), value=0),
    }
    return Explorer(controls, render, size=4.8)


# --------------------------------------------------------------------------- chapter 7


def digits_explorer(
    model: Velocity,
    *,
    scales=(0.0, 1.0, 2.0, 3.0, 5.0),
    n: int = 24,
    max_steps: int = 32,
    generator: torch.Generator | None = None,
) -> Explorer:
    """Class, guidance scale and step count over a grid of generated 8x8 digits."""
    from .guidance import guided_velocity

    check.takes_label(model, "the digits explorer")
    scales = _scales(scales)
    n, max_steps, generator = _explorer_sizes(n, max_steps, generator)
    x_0 = fm_data.base_sampler("gaussian", check.velocity_dim(model, 64))(
        n, generator=generator
    )  # (n, 64)
    cache: dict[tuple, torch.Tensor] = {}

    def render(axes, digit, scale, n_steps):
        key = (digit, scale, n_steps)
        if key not in cache:
            cache[key] = integrate(
                guided_velocity(model, digit, scale), x_0, n_steps=n_steps, method="midpoint"
            ).x
        plot.image_grid(axes[0], cache[key].clamp(-1, 1), n_cols=8)
        axes[0].set_title(f"digit {digit}, guidance {scale}, {2 * n_steps} NFE", fontsize=10)
        return f"<b>digit {digit}</b>, guidance scale {scale}, midpoint with {n_steps} steps"

    controls = {
        "digit": W.Dropdown(description="digit", options=list(range(10)), value=3),
        "scale": W.SelectionSlider(
            description="guidance", options=scales, value=2.0 if 2.0 in scales else scales[0]
        ),
        "n_steps": W.IntSlider(description="steps", min=1, max=max_steps, value=8),
    }
    return Explorer(controls, render, size=5.0)
