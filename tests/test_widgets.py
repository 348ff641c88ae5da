"""The explorers as Python objects: every control changes the picture, and the static
fallback is there. (tests/test_browser.py drives them in a real JupyterLab.)"""

import base64

import matplotlib

matplotlib.use("Agg")
import pytest
import torch

import fmkit as fm
from fmkit import exact, widgets


def _moves(control):
    """Values to move a control through: every dropdown option, a few slider positions."""
    if hasattr(control, "options"):
        return [
            v
            for v in (o[1] if isinstance(o, tuple) else o for o in control.options)
            if v != control.value
        ]
    if hasattr(control, "min"):
        span = control.max - control.min
        return [control.min, control.min + span * 0.75 // (control.step or 1) * (control.step or 1)]
    raise AssertionError(control)


def _every_control_changes_the_picture(explorer):
    explorer.refresh()
    for name, control in explorer.controls.items():
        original = control.value
        for value in _moves(control):
            before = explorer.image.value
            control.value = value
            assert explorer.image.value != before, (
                f"moving {name} to {value!r} did not change the picture"
            )
            assert explorer.last_redraw_ms > 0
        control.value = original


def test_path_explorer_reacts_to_every_control(gen):
    explorer = widgets.path_explorer(n=200, generator=gen)
    assert set(explorer.controls) == {"t", "base", "target", "n_pairs"}
    assert list(explorer.controls["base"].options) == ["gaussian", "uniform", "logo"]
    _every_control_changes_the_picture(explorer)


@pytest.fixture(scope="module")
def tiny_model():
    g = torch.Generator().manual_seed(0)
    model = fm.VelocityField()
    fm.train_flow(
        model,
        fm.ring_of_gaussians(500, generator=g),
        n_steps=60,
        batch_size=256,
        generator=g,
        progress=False,
    )
    return model


def test_field_explorer_shows_each_field_side_by_side(tiny_model):
    explorer = widgets.field_explorer(
        {"learned": tiny_model, "exact": exact.ring_field()}, times=[0.0, 0.5, 1.0]
    )
    fig = explorer.figure()
    assert [ax.get_title() for ax in fig.axes] == ["learned, t = 0.50", "exact, t = 0.50"]
    _every_control_changes_the_picture(explorer)


def test_sampling_explorer_reports_quality_and_caches_trajectories(tiny_model, gen):
    models = {"gaussian": tiny_model, "uniform": exact.ring_field()}
    explorer = widgets.sampling_explorer(models, n=200, max_steps=8, generator=gen)
    explorer.refresh()
    assert "MMD² to fresh data" in explorer.readout.value and "null band" in explorer.readout.value
    _every_control_changes_the_picture(explorer)
    explorer.controls["n_steps"].value = 3
    explorer.controls["n_steps"].value = 4
    cached = explorer.readout.value
    explorer.controls["n_steps"].value = 3
    explorer.controls["n_steps"].value = 4
    assert explorer.readout.value == cached  # same numbers from the cache, not a new draw


def test_static_fallback_is_the_current_picture(gen):
    explorer = widgets.path_explorer(n=100, generator=gen)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    png = base64.b64decode(bundle["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == explorer.image.value


def test_coupling_explorer_toggles_couplings_and_reports_straightness(tiny_model, gen):
    models = {"independent": tiny_model, "exact": exact.ring_field()}
    explorer = widgets.coupling_explorer(models, n=150, max_steps=4, generator=gen)
    assert type(explorer.controls["coupling"]).__name__ == "ToggleButtons"
    explorer.refresh()
    assert "straightness" in explorer.readout.value
    _every_control_changes_the_picture(explorer)


def test_density_explorer_shows_learned_and_true_densities(gen):
    explorer = widgets.density_explorer(exact.ring_field(), times=[0.5, 1.0], n_grid=15, n_steps=4)
    assert [ax.get_title() for ax in explorer.figure().axes][:2] == [
        "learned log p_t, t = 1.00",
        "true log p_t, t = 1.00",
    ]
    _every_control_changes_the_picture(explorer)


def test_guidance_explorer_reports_reach_and_spread(gen):
    def ring_model(x, t, label):  # ignores the label: guidance has no effect
        return exact.ring_field()(x, t)

    explorer = widgets.guidance_explorer(
        ring_model, scales=(0.0, 1.0), n=100, n_steps=2, generator=gen
    )
    explorer.refresh()
    assert (
        "of samples reach mode 0" in explorer.readout.value
        and "the data's: 0.235" in explorer.readout.value
    )
    explorer.controls["label"].value = 5
    assert "reach mode 5" in explorer.readout.value


def test_digits_explorer_draws_a_grid_for_each_choice(gen):
    model = fm.ConditionalVelocityField(n_classes=10, dim=64, hidden_dim=16)
    explorer = widgets.digits_explorer(model, scales=(0.0, 2.0), n=8, max_steps=3, generator=gen)
    _every_control_changes_the_picture(explorer)
    assert explorer.figure().axes[0].images  # an image grid, not a scatter


def test_readouts_say_mmd_squared_and_refer_to_the_null_band(tiny_model, gen):
    explorer = widgets.coupling_explorer(
        {"independent": tiny_model}, n=100, max_steps=2, generator=gen
    )
    explorer.refresh()
    text = explorer.readout.value
    assert "MMD²" in text and "null band" in text and "noise floor" not in text
    assert "MMD " not in text.replace("MMD²", "")  # no bare MMD left


def test_explorers_score_through_metrics(tiny_model, gen, monkeypatch):
    seen = []
    original = fm.metrics.score_solve
    monkeypatch.setattr(
        fm.metrics, "score_solve", lambda *a, **k: seen.append(1) or original(*a, **k)
    )
    explorer = widgets.sampling_explorer(
        {"gaussian": tiny_model}, n=100, max_steps=2, generator=gen
    )
    explorer.refresh()
    assert seen  # the explorer formats what metrics computes
