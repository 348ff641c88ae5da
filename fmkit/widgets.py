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
from typing import Callable

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from . import data as fm_data
from . import metrics, plot
from .solvers import METHODS, integrate


DPI = 80  # explorer pictures: sharp enough on screen, cheap to redraw


class Explorer:
    """Controls plus a picture: ``render(axes, **values)`` draws the current state and
    returns a line of text for the readout.

    The explorer owns one figure and redraws it in place; the PNG goes into an
    ``ipywidgets.Image``, so a control move costs one draw and one PNG encode.
    ``figure(**values)`` draws a fresh, independent figure for any values (the static
    fallback in a notebook, and tests). ``last_redraw_ms`` records the latest redraw.
    """

    def __init__(self, controls: dict[str, W.ValueWidget], render: Callable, *, ncols: int = 1, size: float = 4.2):
        self.controls, self.render, self.ncols, self.size = controls, render, ncols, size
        self._fig = Figure(figsize=(size * ncols, size))  # not managed by pyplot: never shown by accident
        self._axes = self._fig.subplots(1, ncols, squeeze=False).ravel()
        self._laid_out = False
        self.image = W.Image(format="png", width=int(size * ncols * DPI))  # shown at its own size
        self.readout = W.HTML()
        self.last_redraw_ms = float("nan")
        for control in controls.values():
            control.observe(lambda change: self.refresh(), names="value")
        self.widget = W.VBox([W.HBox(list(controls.values())), self.readout, self.image])

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
    return W.FloatSlider(description=description, continuous_update=True, readout_format=".2f", **kwargs)


# --------------------------------------------------------------------------- chapter 1


def path_explorer(*, n: int = 600, generator: torch.Generator | None = None) -> Explorer:
    """Drag ``t`` to move the cloud of ``x_t`` along randomly drawn pairs; pick the base,
    the target and how many pairs to draw as lines."""
    generator = generator or torch.Generator().manual_seed(0)
    cache: dict[str, torch.Tensor] = {}

    def draws(name: str) -> torch.Tensor:
        if name not in cache:
            cache[name] = fm_data.sample(name, n, generator=generator)
        return cache[name]

    def render(axes, t, base, target, n_pairs):
        plot.pairs(plot.panel(axes[0], f"{base} → {target}"), draws(base), draws(target), t=t, n_lines=n_pairs)
        return f"<b>t = {t:.2f}</b>: each green point sits {t:.0%} of the way along its line"

    controls = {
        "t": _slider("t", min=0.0, max=1.0, step=0.05, value=0.5),
        "base": W.Dropdown(description="base", options=fm_data.names("bases"), value="gaussian"),
        "target": W.Dropdown(description="target", options=fm_data.names("targets"), value="ring"),
        "n_pairs": W.IntSlider(description="pairs", min=1, max=200, value=20),
    }
    return Explorer(controls, render, size=4.8)


# --------------------------------------------------------------------------- chapter 2


def field_explorer(fields: dict[str, Callable], *, data=None, times=np.linspace(0, 1, 21), scale: float = 8.0) -> Explorer:
    """A time slider over several velocity fields side by side (e.g. learned and exact).

    Every field is evaluated once on a fixed grid at each time in ``times``."""
    times = [round(float(t), 4) for t in times]
    grids = {name: {t: plot.field_on_grid(f, t) for t in times} for name, f in fields.items()}

    def render(axes, t):
        for ax, (name, by_time) in zip(axes, grids.items()):
            plot.panel(ax, f"{name}, t = {t:.2f}")
            if data is not None:
                plot.cloud(ax, data, alpha=0.12)
            plot.quiver(ax, by_time[t], scale=scale)
        return f"<b>t = {t:.2f}</b>"

    controls = {"t": W.SelectionSlider(description="t", options=times, value=times[len(times) // 2])}
    return Explorer(controls, render, ncols=len(fields))


# --------------------------------------------------------------------------- chapter 3


def sampling_explorer(models: dict[str, Callable], *, target: str = "ring", n: int = 500,
                      max_steps: int = 32, generator: torch.Generator | None = None) -> Explorer:
    """Step count, solver and base: redraw the samples and their trajectories, with the MMD
    to fresh data beside the noise floor. ``models`` maps a base name to a velocity field
    trained from that base. Trajectories are computed once per (base, solver, steps)."""
    generator = generator or torch.Generator().manual_seed(0)
    starts = {base: fm_data.sample(base, n, generator=generator) for base in models}
    reference = fm_data.sample(target, n, generator=generator)
    floor = metrics.noise_floor(fm_data.get_sampler(target), metrics.mmd, n, n_repeats=10, generator=generator)
    cache: dict[tuple, tuple[torch.Tensor, int, float]] = {}

    def solve(base, method, n_steps):
        key = (base, method, n_steps)
        if key not in cache:
            sol = integrate(models[base], starts[base], n_steps=n_steps, method=method, return_trajectory=True)
            cache[key] = (sol.trajectory, sol.nfe, metrics.mmd(sol.x, reference))
        return cache[key]

    def render(axes, n_steps, method, base):
        trajectory, nfe, score = solve(base, method, n_steps)
        ax = plot.panel(axes[0], f"{method}, {n_steps} step(s), {nfe} NFE, from {base}")
        plot.cloud(ax, reference, alpha=0.12)
        plot.trajectories(ax, trajectory)
        verdict = "as good as the metric can tell" if score <= floor.p90 else "not yet at the noise floor"
        return (f"<b>MMD to fresh data: {score:.4f}</b>; two draws of the true {target} score below "
                f"{floor.p90:.4f} nine times in ten: {verdict}")

    controls = {
        "n_steps": W.IntSlider(description="steps", min=1, max=max_steps, value=8),
        "method": W.Dropdown(description="solver", options=[m for m in METHODS if m != "dopri5"], value="euler"),
        "base": W.Dropdown(description="base", options=list(models), value=next(iter(models))),
    }
    return Explorer(controls, render, size=4.8)
