"""The explorers as Python objects: every control is a choice among precomputed pictures, each
choice shows a different one, the stacks the browser switches lead to exactly those pictures,
and the static fallback is there. (tests/test_browser.py drives them in a real JupyterLab,
tests/test_static_book.py in the static book.)"""

import base64
import re

import ipywidgets as W
import matplotlib

matplotlib.use("Agg")
import pytest
import torch

import fmkit as fm
from fmkit import exact, widgets


def _moves(control):
    """Every value a control can take other than its current one."""
    return [v for v in widgets._choices(control) if v != control.value]


def _shown(widget) -> str:
    """What a browser shows: walk the boxes, following each stack's selected child, and
    collect the pictures."""
    if isinstance(widget, W.Stack):
        return _shown(widget.children[widget.selected_index])
    if isinstance(widget, W.Box):
        return "".join(_shown(child) for child in widget.children)
    if isinstance(widget, W.HTML) and "fmkit-picture" in widget.value:
        return widget.value
    return ""


def _links_lead_to_the_picture(explorer):
    explorer.refresh()  # what the browser's links do
    assert _shown(explorer.widget) == explorer.picture


def _every_control_changes_the_picture(explorer):
    for name, control in explorer.controls.items():
        assert hasattr(control, "index"), f"{name} is a choice the browser can link"
        original = control.value
        for value in _moves(control):
            before = explorer.picture
            control.value = value
            assert explorer.picture != before, (
                f"moving {name} to {value!r} did not change the picture"
            )
            _links_lead_to_the_picture(explorer)
        control.value = original


def _every_stack_is_linked_to_a_control(explorer):
    stacks, pending = [], [explorer.widget]
    while pending:
        widget = pending.pop()
        if isinstance(widget, W.Stack):
            stacks.append(widget)
        pending += list(getattr(widget, "children", []))
    linked = {id(stack) for _, stack in explorer._links}
    assert stacks and all(id(s) in linked for s in stacks), "a stack nothing switches"


def _widths(explorer) -> list[int]:
    return [int(w) for w in re.findall(r'width="(\d+)"', explorer.picture)]


def test_path_explorer_reacts_to_every_control(gen):
    explorer = widgets.path_explorer(n=200, generator=gen)
    assert set(explorer.controls) == {"t", "base", "target", "n_pairs"}
    assert list(explorer.controls["base"].options) == ["gaussian", "uniform", "logo"]
    assert widgets._choices(explorer.controls["n_pairs"]) == [1, 5, 20, 50, 200]
    _every_control_changes_the_picture(explorer)
    _every_stack_is_linked_to_a_control(explorer)
    # layers: the lines depend on the pairs, the moving cloud on t, and never the other way
    assert explorer.n_pictures == 3 * 5 * (5 + 11)


def test_path_explorer_draws_from_the_generator_what_its_default_picture_needs():
    g, h = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    widgets.path_explorer(n=50, generator=g)
    fm.sample("gaussian", 50, generator=h), fm.sample("ring", 50, generator=h)
    assert torch.equal(g.get_state(), h.get_state()), "a chapter's later numbers would change"


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
    assert explorer.n_pictures == 3
    assert max(_widths(explorer)) <= widgets.MAX_PICTURE_WIDTH


def test_sampling_explorer_reports_quality_for_every_choice(tiny_model, gen):
    models = {"gaussian": tiny_model, "uniform": exact.ring_field()}
    explorer = widgets.sampling_explorer(models, n=200, max_steps=8, generator=gen)
    assert widgets._choices(explorer.controls["n_steps"]) == [1, 2, 4, 8]
    assert "MMD² to fresh data" in explorer.readout.value and "null band" in explorer.readout.value
    _every_control_changes_the_picture(explorer)
    readouts = set()
    for steps in widgets._choices(explorer.controls["n_steps"]):
        explorer.controls["n_steps"].value = steps
        readouts.add(explorer.readout.value)
    assert len(readouts) == 4, "each step count has its own score"


def test_sampling_explorer_draws_from_the_generator_as_it_always_has(tiny_model):
    g, h = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    widgets.sampling_explorer({"gaussian": tiny_model}, n=60, max_steps=4, generator=g)
    fm.sample("gaussian", 60, generator=h), fm.sample("ring", 60, generator=h)
    fm.metrics.null_band(fm.data.get_sampler("ring"), fm.metrics.mmd, 60, n_repeats=10, generator=h)
    assert torch.equal(g.get_state(), h.get_state())


def test_step_counts_are_powers_of_two_and_the_maximum():
    assert widgets._step_counts(1) == [1]
    assert widgets._step_counts(32) == [1, 2, 4, 8, 16, 32]
    assert widgets._step_counts(12) == [1, 2, 4, 8, 12]


def test_static_fallback_is_the_current_picture(gen):
    explorer = widgets.path_explorer(n=100, generator=gen)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    png = base64.b64decode(bundle["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert bundle["text/plain"] == "Explorer(t, base, target, n_pairs)"


def test_every_control_is_a_choice_and_every_picture_fits_the_column(gen):
    explorer = widgets.path_explorer(n=100, generator=gen)
    for control in explorer.controls.values():
        assert isinstance(control, (W.Dropdown, W.ToggleButtons, W.SelectionSlider))
    assert _widths(explorer) and max(_widths(explorer)) <= widgets.MAX_PICTURE_WIDTH
    assert "fmkit-explorer" in explorer.widget._dom_classes


def test_coupling_explorer_toggles_couplings_and_reports_straightness(tiny_model, gen):
    models = {"independent": tiny_model, "exact": exact.ring_field()}
    explorer = widgets.coupling_explorer(models, n=150, max_steps=4, generator=gen)
    assert type(explorer.controls["coupling"]).__name__ == "ToggleButtons"
    assert "straightness" in explorer.readout.value
    _every_control_changes_the_picture(explorer)
    _every_stack_is_linked_to_a_control(explorer)


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
    assert (
        "of samples reach mode 0" in explorer.readout.value
        and "the data's: 0.235" in explorer.readout.value
    )
    explorer.controls["label"].value = 5
    assert "reach mode 5" in explorer.readout.value


def test_guidance_explorer_batches_classes_without_changing_the_samples(gen):
    model = fm.ConditionalVelocityField(n_classes=8, hidden_dim=16)
    x_0 = fm.sample("gaussian", 30, generator=gen)
    batched = widgets._guided_samples(model, x_0, [2, 5], 1.5, 3)
    for label, x in zip([2, 5], batched, strict=True):
        alone = fm.integrate(
            fm.guided_velocity(model, label, 1.5), x_0, n_steps=3, method="midpoint"
        ).x
        torch.testing.assert_close(x, alone)


def _digits_field(x, t, label):
    """A 64-D conditional field whose solution depends on the step count and the label (an
    untrained network's barely does, and its clamped pictures would not change)."""
    label = torch.as_tensor(label, dtype=x.dtype).reshape(-1, 1)  # (batch, 1) or (1, 1)
    return torch.cos(8 * t) * (label / 5 - x)


def test_digits_explorer_draws_a_grid_for_each_choice(gen):
    explorer = widgets.digits_explorer(
        _digits_field, scales=(0.0, 2.0), n=8, max_steps=3, generator=gen
    )
    assert widgets._choices(explorer.controls["n_steps"]) == [1, 2, 3]
    _every_control_changes_the_picture(explorer)
    assert explorer.figure().axes[0].images  # an image grid, not a scatter
    assert "6 NFE" in explorer.readout.value  # 3 midpoint steps


def test_readouts_say_mmd_squared_and_refer_to_the_null_band(tiny_model, gen):
    explorer = widgets.coupling_explorer(
        {"independent": tiny_model}, n=100, max_steps=2, generator=gen
    )
    text = explorer.readout.value
    assert "MMD²" in text and "null band" in text and "noise floor" not in text
    assert "MMD " not in text.replace("MMD²", "")  # no bare MMD left


def test_explorers_score_through_metrics(tiny_model, gen, monkeypatch):
    seen = []
    original = fm.metrics.score_solve
    monkeypatch.setattr(
        fm.metrics, "score_solve", lambda *a, **k: seen.append(1) or original(*a, **k)
    )
    widgets.sampling_explorer({"gaussian": tiny_model}, n=100, max_steps=2, generator=gen)
    assert len(seen) == 3 * 2  # every solver at every step count, scored by metrics


def test_identical_pages_are_stored_once():
    explorer = widgets.field_explorer({"still": lambda x, t: -x}, times=[0.2, 0.4])
    assert len({id(leaf) for leaf in explorer._readout_pages.values()}) == 2  # "t = 0.20", ...
    same = widgets.Explorer(
        explorer.controls, explorer.pictures, widgets.Readout(("t",), lambda t: "the same words")
    )
    assert len({id(leaf) for leaf in same._readout_pages.values()}) == 1


def test_schedule_explorer_moves_the_cloud_along_each_schedule(gen):
    x_0, x_1 = torch.randn(200, 2, generator=gen), fm.sample("ring", 200, generator=gen)
    explorer = widgets.schedule_explorer(x_0, x_1)
    assert set(explorer.controls) == {"schedule", "t"}
    assert list(explorer.controls["schedule"].options) == ["linear", "cosine", "vp"]
    _every_control_changes_the_picture(explorer)
    _every_stack_is_linked_to_a_control(explorer)
    explorer.controls["schedule"].value, explorer.controls["t"].value = "cosine", 0.5
    explorer.refresh()
    assert "0.707 x_1 + 0.707 x_0" in explorer.readout.value  # sin and cos of pi/4


def test_sde_explorer_scores_every_setting_and_noise_zero_is_the_euler_ode(gen):
    x_0, data = torch.randn(150, 2, generator=gen), fm.sample("ring", 300, generator=gen)
    explorer = widgets.sde_explorer(x_0, data, noises=(0.0, 1.0), steps=(4, 32), generator=gen)
    assert set(explorer.controls) == {"schedule", "noise", "n_steps"}
    _every_control_changes_the_picture(explorer)
    _every_stack_is_linked_to_a_control(explorer)
    explorer.controls["noise"].value, explorer.controls["n_steps"].value = 0.0, 32
    explorer.controls["schedule"].value = "linear"
    explorer.refresh()
    euler = fm.integrate(exact.ring_field(), x_0, n_steps=32, method="euler").x
    expected = fm.metrics.mmd(euler, data)
    assert f"MMD² to the data {expected:.4f}" in explorer.readout.value


def test_onestep_explorer_scores_every_method_and_nfe_and_draws_the_arrows():
    torch.manual_seed(0)
    tiny_map = fm.onestep.TwoTimeField(hidden_dim=16, n_hidden=1)  # untrained: any map will do
    ring = exact.ring_field()
    samplers = {"flow": widgets.flow_sampler(ring), "map": widgets.map_sampler(tiny_map)}
    g = torch.Generator().manual_seed(5)
    explorer = widgets.onestep_explorer(samplers, n=120, nfes=(1, 2, 3), n_arrows=30, generator=g)
    assert set(explorer.scores) == {(m, k) for m in ("flow", "map") for k in (1, 2, 3)}
    # the same draws, in the same order, give the same noise points, data and scores
    h = torch.Generator().manual_seed(5)
    x_0, reference = fm.sample("gaussian", 120, generator=h), fm.sample("ring", 120, generator=h)
    midpoint = fm.integrate(ring, x_0, n_steps=1, method="midpoint").x  # 2 NFE
    three_euler = fm.integrate(ring, x_0, n_steps=3, method="euler").x  # 3 NFE, not 1 midpoint
    jumps = fm.onestep.map_sample(tiny_map, x_0, n_steps=3).x
    assert explorer.scores["flow", 2] == pytest.approx(fm.metrics.mmd(midpoint, reference))
    assert explorer.scores["flow", 3] == pytest.approx(fm.metrics.mmd(three_euler, reference))
    assert explorer.scores["map", 3] == pytest.approx(fm.metrics.mmd(jumps, reference))
    assert explorer.scores["flow", 1] > explorer.band.p90  # one Euler step collapses
    _every_control_changes_the_picture(explorer)
    _every_stack_is_linked_to_a_control(explorer)
    explorer.controls["method"].value, explorer.controls["nfe"].value = "flow", 3
    explorer.refresh()
    assert "3 Euler steps" in explorer.readout.value and "null band" in explorer.readout.value
    assert f"{explorer.scores['flow', 3]:.4f}" in explorer.readout.value
    fig = explorer.figure(method="map", nfe=1)
    assert fig.axes[0].get_title() == "map: samples, 1 NFE"
    assert len(fig.axes[1].collections[0].get_offsets()) == 30  # one arrow per noise point shown
