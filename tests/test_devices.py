"""Tensors go where the model is.

Without a GPU the routing is checked two ways: a model on PyTorch's ``meta`` device (shapes
without data: a call that forgot to move a tensor fails with a device clash), and a velocity
that records the device and dtype it is called with (a float64 model, so float32 inputs must
be converted). On a machine with CUDA the same tests also run on the GPU.
"""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
import torch
from torch.testing import assert_close

import fmkit as fm
from fmkit import exact, likelihood, metrics, plot, widgets

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class Seen(Exception):
    """Raised by the recorder once it has seen a call, to stop where the data would be read."""


class Recorder(torch.nn.Module):
    """A velocity network that records how it is called and returns ``-x`` (or stops)."""

    def __init__(self, device="cpu", dtype=torch.float64, dim=2, stop=False, n_classes=None):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1, device=device, dtype=dtype))
        self.dim, self.stop, self.calls = dim, stop, []
        if n_classes is not None:
            self.n_classes = n_classes

    def forward(self, x, t, label=None):
        self.calls.append((x.device.type, x.dtype, t.device.type, t.dtype))
        assert x.device == self.weight.device and t.device == self.weight.device, (
            "a tensor was not moved"
        )
        if self.stop:
            raise Seen
        return -x + self.weight  # depends on x and on the weight


def _moved(recorder, device="meta", dtype=torch.float64):
    assert recorder.calls, "the model was never called"
    assert all(call == (device, dtype, device, dtype) for call in recorder.calls), recorder.calls


# ----------------------------------------------------------------------------- meta device


@pytest.fixture
def meta_model():
    return fm.VelocityField().to("meta")


def test_solvers_route_cpu_points_to_a_meta_model(meta_model, gen):
    start = fm.sample("gaussian", 5, generator=gen)  # a CPU tensor, as fm.sample gives
    for method in ("euler", "midpoint", "rk4"):
        assert fm.integrate(meta_model, start, n_steps=2, method=method).x.device.type == "meta"
    assert fm.generate(meta_model, 5, n_steps=2, generator=gen).device.type == "meta"
    x_0, x_1 = fm.reflow_pairs(meta_model, 5, n_steps=2, generator=gen)
    assert x_0.device.type == x_1.device.type == "meta"
    assert fm.euler_step(meta_model, start, 0.0, 0.5).device.type == "meta"


def test_losses_likelihoods_and_guidance_route_to_a_meta_model(meta_model):
    x = torch.zeros(4, 2)
    assert fm.flow_matching_loss(meta_model, x, x + 1, 0.5).device.type == "meta"
    assert fm.log_likelihood(meta_model, x, n_steps=2).device.type == "meta"
    assert likelihood.divergence(meta_model, x, 0.5, estimator="hutchinson").device.type == "meta"
    conditional = fm.ConditionalVelocityField(n_classes=3).to("meta")
    guided = fm.guided_velocity(conditional, 1, 2.0)
    assert fm.integrate(guided, x, n_steps=2).x.device.type == "meta"
    assert conditional(x, 0.5, label=torch.tensor([0, 1, 2, -1])).device.type == "meta"


def test_training_and_grids_route_to_a_meta_model():
    for call in (
        lambda m: fm.train_flow(m, fm.sample("ring", 20), n_steps=1, batch_size=4, progress=False),
        lambda m: fm.train_on_pairs(
            m, torch.zeros(8, 2), torch.ones(8, 2), n_steps=1, batch_size=4, progress=False
        ),
        lambda m: plot.field_on_grid(m, 0.5, n=3),
        lambda m: fm.log_likelihood(m, np.zeros((3, 2)), n_steps=1),
    ):
        recorder = Recorder("meta", stop=True)
        with pytest.raises(Seen):
            call(recorder)
        _moved(recorder)


def test_training_with_labels_routes_labels_too():
    recorder = Recorder("meta", stop=True, n_classes=3)
    with pytest.raises(Seen):
        fm.train_flow(
            recorder,
            torch.zeros(10, 2),
            labels=torch.arange(10) % 3,
            n_steps=1,
            batch_size=4,
            progress=False,
        )
    _moved(recorder)


def test_a_function_wrapping_a_model_gets_an_error_naming_both_devices(meta_model):
    wrapped = lambda x, t: meta_model(x, t)  # noqa: E731  fmkit cannot see the model inside
    with pytest.raises(
        ValueError, match=r"velocity returned a tensor on meta for x on cpu.*x_0.to\(device\)"
    ):
        fm.integrate(wrapped, torch.zeros(3, 2), n_steps=1)
    clash = lambda x, t: x + torch.zeros(1, device="meta")  # noqa: E731  a tensor of its own elsewhere
    with pytest.raises(ValueError, match=r"x on cpu, but it holds tensors on another device"):
        fm.integrate(clash, torch.zeros(3, 2), n_steps=1)
    assert (
        fm.integrate(wrapped, torch.zeros(3, 2, device="meta"), n_steps=1).x.device.type == "meta"
    )


# ----------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("device", DEVICES)
def test_float32_inputs_meet_a_float64_model_in_float64(device, gen):
    recorder = Recorder(device)
    start = fm.sample("gaussian", 6, generator=gen)  # float32, on the CPU
    sol = fm.integrate(recorder, start, n_steps=2, method="rk4", return_trajectory=True)
    _moved(recorder, device)
    assert sol.x.dtype == torch.float64
    assert metrics.straightness(sol) >= 0  # metrics bring it back to the CPU
    assert fm.generate(recorder, 4, n_steps=1, generator=gen).dtype == torch.float64
    X, Y, U, V = plot.field_on_grid(recorder, 0.5, n=4)
    assert isinstance(U, np.ndarray) and U.dtype == np.float64
    np.testing.assert_allclose(U, -X)
    assert fm.log_likelihood(recorder, start, n_steps=2).dtype == torch.float64
    _moved(recorder, device)


@pytest.mark.parametrize("device", DEVICES)
def test_training_runs_in_the_models_dtype(device, gen):
    model = fm.VelocityField(hidden_dim=16).to(device=device, dtype=torch.float64)
    history = fm.train_flow(
        model,
        fm.sample("ring", 50, generator=gen),
        n_steps=3,
        batch_size=8,
        generator=gen,
        progress=False,
    )
    assert history.n_steps == 3 and all(p.dtype == torch.float64 for p in model.parameters())


@pytest.mark.parametrize("device", DEVICES)
def test_plots_and_metrics_bring_results_back_to_the_cpu(device, gen):
    model = fm.VelocityField().to(device)
    samples = fm.generate(model, 50, n_steps=2, generator=gen)
    assert samples.device.type == device
    assert np.isfinite(metrics.mmd(samples, fm.sample("ring", 50, generator=gen)))
    fig, (ax,) = plot.figure()
    plot.cloud(ax, samples)
    plot.trajectories(ax, fm.integrate(model, samples, n_steps=2, return_trajectory=True))
    plot.quiver(ax, plot.field_on_grid(model, 0.3, n=5))
    grid = plot.log_density_on_grid(lambda pts: fm.log_likelihood(model, pts, n_steps=2), n=5)
    assert isinstance(grid[2], np.ndarray)
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("device", DEVICES)
def test_explorers_work_with_a_model_on_the_device(device, gen):
    model = fm.VelocityField(hidden_dim=16).to(device)
    explorer = widgets.sampling_explorer({"gaussian": model}, n=50, max_steps=2, generator=gen)
    explorer.refresh()
    assert "MMD²" in explorer.readout.value
    conditional = fm.ConditionalVelocityField(n_classes=8, hidden_dim=16).to(device)
    guidance = widgets.guidance_explorer(
        conditional, scales=(0.0, 1.0), n=40, n_steps=2, generator=gen
    )
    guidance.refresh()
    assert "reach mode 0" in guidance.readout.value
    widgets.field_explorer(
        {"learned": model, "exact": exact.ring_field()}, times=[0.0, 1.0]
    ).refresh()


def test_integer_and_numpy_inputs_are_converted_never_truncated():
    x = torch.tensor([[0, 0], [2, 4]])  # int64
    assert_close(fm.paths.as_time(0.5, x), torch.full((2, 1), 0.5))
    assert_close(fm.interpolate(x, x + 2, 0.5), x.float() + 1)
    assert_close(fm.integrate(lambda x, t: torch.ones_like(x), x, n_steps=2).x, x.float() + 1)
    assert_close(
        fm.integrate(lambda x, t: torch.ones_like(x), x.numpy(), n_steps=2).x, x.float() + 1
    )
    assert fm.integrate(lambda x, t: x, x.double(), n_steps=1).x.dtype == torch.float64
    model = fm.VelocityField()
    assert_close(model(x.numpy(), 0.5), model(x.float(), 0.5))
    assert_close(model(x.double(), 0.5), model(x.float(), 0.5))
    assert_close(
        fm.flow_matching_loss(model, x, x + 1, 0.5),
        fm.flow_matching_loss(model, x.float(), x.float() + 1, 0.5),
    )
