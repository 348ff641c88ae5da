"""Bad input gets a clear error from fmkit: the argument, the rule and the fix; never a
traceback from deep inside torch, a hang, or an attempt to allocate gigabytes."""

import math

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
import torch

import fmkit as fm
from fmkit import _validate as check
from fmkit import data, exact, likelihood, metrics, paths, plot, widgets

NAN, INF = float("nan"), float("inf")
X = torch.zeros(4, 2)


def _identity(x, t):
    return torch.zeros_like(x)


# ----------------------------------------------------------------------------- the shared rules


@pytest.mark.parametrize("value, expected", [(3, 3), (np.int64(3), 3), (torch.tensor(3), 3)])
def test_count_accepts_integers_of_every_kind(value, expected):
    assert check.count(value, "n") == expected and type(check.count(value, "n")) is int


@pytest.mark.parametrize(
    "value, error, message",
    [
        (0, ValueError, "n must be a positive integer, got 0"),
        (-2, ValueError, "positive integer"),
        (True, TypeError, "got bool True"),
        (2.5, TypeError, "got float 2.5"),
        (1e3, TypeError, r"pass int\(1000.0\) = 1000"),
        ("10", TypeError, "got str '10'"),
        (None, TypeError, "got NoneType"),
        ([3], TypeError, "got list"),
        (torch.tensor(2.0), TypeError, "positive integer"),
    ],
)
def test_count_refuses_everything_else(value, error, message):
    with pytest.raises(error, match=message):
        check.count(value, "n")


def test_count_and_steps_have_an_upper_limit_with_a_reason():
    with pytest.raises(
        ValueError, match="n_steps = 10,000,000,000 is more than the 1,000,000 fmkit allows"
    ):
        check.steps(10**10)


@pytest.mark.parametrize(
    "value, error",
    [
        (NAN, ValueError),
        (INF, ValueError),
        (-1.0, ValueError),
        (0.0, ValueError),
        (True, TypeError),
        ("0.2", TypeError),
        ([0.2], TypeError),
    ],
)
def test_positive_refuses_non_finite_non_positive_and_non_numbers(value, error):
    with pytest.raises(error, match="std must be"):
        check.positive(value, "std")


def test_real_describes_its_interval():
    with pytest.raises(ValueError, match=r"label_dropout must be a number in \[0, 1\), got 1.0"):
        check.real(1.0, "label_dropout", low=0, high=1, high_open=True)
    assert check.real(np.float32(0.5), "x") == 0.5 and check.real(torch.tensor(0.5), "x") == 0.5


def test_choice_names_the_choices_and_refuses_lists():
    with pytest.raises(ValueError, match="unknown solver method 'rk45'; choose one of: euler, rk4"):
        check.choice("rk45", "solver method", ["euler", "rk4"])
    with pytest.raises(TypeError, match="must be a name.*pass one name, not a list"):
        check.choice(["euler"], "solver method", ["euler", "rk4"])


def test_labels_are_whole_numbers_never_truncated():
    assert check.class_labels(torch.tensor([0.0, 2.0]), "labels").dtype == torch.int64
    with pytest.raises(ValueError, match="whole class numbers.*truncated"):
        check.class_labels(torch.tensor([0.5, 2.0]), "labels")
    with pytest.raises(ValueError, match="whole class numbers"):
        check.class_labels(2.7, "label")
    with pytest.raises(TypeError, match="booleans"):
        check.class_labels(True, "label")
    with pytest.raises(
        ValueError, match=r"labels must be in 0..2, or -1 for no label; got values from 0 to 5"
    ):
        check.class_labels([0, 5], "labels", n_classes=3)


# ----------------------------------------------------------------------------- every public boundary

model = fm.VelocityField()
conditional = fm.ConditionalVelocityField(n_classes=3)
nan_points = torch.tensor([[0.0, 0.0], [NAN, 1.0], [1.0, 1.0], [2.0, 2.0]])

BAD_CALLS = {
    # data
    "sample: a list for a name": (
        lambda: fm.sample(["ring"], 10),
        TypeError,
        "distribution must be a name",
    ),
    "sample: bool count": (lambda: fm.sample("ring", True), TypeError, "number of samples n"),
    "sample: gigabytes": (
        lambda: fm.sample("gaussian", 10**10),
        ValueError,
        r"80.0 GB.*draw fewer points",
    ),
    "ring: NaN std": (
        lambda: fm.ring_of_gaussians(10, std=NAN),
        ValueError,
        "std must be a finite number ≥ 0",
    ),
    "ring: infinite radius": (lambda: fm.ring_of_gaussians(10, radius=INF), ValueError, "radius"),
    "ring: float n_modes": (lambda: fm.ring_of_gaussians(10, n_modes=8.5), TypeError, "n_modes"),
    "moons: negative noise": (
        lambda: data.moons(10, noise=-1),
        ValueError,
        "noise must be a finite number ≥ 0",
    ),
    "spirals: zero arms": (lambda: data.spirals(10, n_arms=0), ValueError, "n_arms"),
    "checkerboard: NaN width": (
        lambda: data.checkerboard(10, half_width=NAN),
        ValueError,
        "half_width",
    ),
    "circles: negative radius": (lambda: data.circles(10, radii=(1.0, -2.0)), ValueError, "radius"),
    "circles: no radii": (lambda: data.circles(10, radii=()), TypeError, "radii"),
    "logo: zero extent": (
        lambda: data.logo(10, extent=0),
        ValueError,
        "extent must be a finite number > 0",
    ),
    "logo: NaN extent": (lambda: data.logo(10, extent=NAN), ValueError, "extent"),
    "logo: no text": (lambda: data.logo(10, text=""), ValueError, "text"),
    "logo: a list of letters": (
        lambda: data.logo(10, text=["F", "M"]),
        TypeError,
        "text must be a string",
    ),
    "uniform: float dim": (
        lambda: data.uniform(10, dim=2.0),
        TypeError,
        r"dim must be.*int\(2.0\)",
    ),
    "names: unknown kind": (lambda: data.names("base"), ValueError, "unknown kind 'base'"),
    "generator: a seed": (
        lambda: fm.sample("ring", 3, generator=0),
        TypeError,
        "fm.seed_everything",
    ),
    "base sampler: 2-D base for 3-D": (
        lambda: data.base_sampler("logo", 3),
        ValueError,
        "base of the data's dimension",
    ),
    "make_loader: zero batch": (lambda: fm.make_loader(X, 0), ValueError, "batch_size"),
    # paths
    "interpolate: t above 1": (
        lambda: fm.interpolate(X, X, 1.5),
        ValueError,
        r"t must lie in \[0, 1\].*1.5",
    ),
    "interpolate: NaN t": (
        lambda: fm.interpolate(X, X, NAN),
        ValueError,
        "t must be a finite number",
    ),
    "interpolate: negative t tensor": (
        lambda: fm.interpolate(X, X, -torch.ones(4)),
        ValueError,
        r"\[0, 1\]",
    ),
    "interpolate: t a string": (
        lambda: fm.interpolate(X, X, "0.5"),
        TypeError,
        "t must be a float or a tensor",
    ),
    "interpolate: mismatched": (
        lambda: fm.interpolate(X, torch.zeros(3, 2), 0.5),
        ValueError,
        "same shape",
    ),
    "ot_pairing: NaN": (
        lambda: fm.ot_pairing(nan_points, X),
        ValueError,
        r"x_0 contains NaN.*row 1",
    ),
    "ot_pairing: zero sub_batch": (
        lambda: fm.ot_pairing(X, X, sub_batch=0),
        ValueError,
        "sub_batch",
    ),
    "ot_pairing: huge exact plan": (
        lambda: fm.ot_pairing(torch.zeros(6000, 2), torch.zeros(6000, 2), sub_batch=None),
        ValueError,
        "would take minutes.*sub_batch=128",
    ),
    "couple: a list": (lambda: paths.couple(X, X, ["ot"]), TypeError, "coupling must be a name"),
    "sample_time: zero": (lambda: paths.sample_time(0), ValueError, "positive integer"),
    # models
    "model: wrong dim": (
        lambda: model(torch.zeros(4, 3), 0.5),
        ValueError,
        r"x must have shape \(batch, 2\)",
    ),
    "model: float dim": (lambda: fm.VelocityField(dim=2.5), TypeError, "dim"),
    "model: t of the wrong length": (
        lambda: model(X, torch.zeros(3)),
        ValueError,
        r"t must be a float or have shape",
    ),
    "conditional: fractional labels": (
        lambda: conditional(X, 0.5, label=torch.tensor([0.5, 1, 2, 0])),
        ValueError,
        "whole class numbers",
    ),
    "conditional: too large a label": (
        lambda: conditional(X, 0.5, label=3),
        ValueError,
        r"labels must be in 0..2",
    ),
    "conditional: labels of the wrong length": (
        lambda: conditional(X, 0.5, label=torch.tensor([0, 1])),
        ValueError,
        "one class number or one per row",
    ),
    # train
    "train: NaN data": (
        lambda: fm.train_flow(model, nan_points, n_steps=1, progress=False),
        ValueError,
        r"data contains NaN or infinite values \(first at row 1 of 4\)",
    ),
    "train: wrong dim": (
        lambda: fm.train_flow(model, torch.zeros(5, 3), n_steps=1, progress=False),
        ValueError,
        "3 columns where 2 are expected",
    ),
    "train: negative lr": (
        lambda: fm.train_flow(model, X, lr=-1e-3, n_steps=1, progress=False),
        ValueError,
        "lr must be a finite number > 0",
    ),
    "train: NaN lr": (
        lambda: fm.train_flow(model, X, lr=NAN, n_steps=1, progress=False),
        ValueError,
        "lr must be",
    ),
    "train: bool batch": (
        lambda: fm.train_flow(model, X, batch_size=True, n_steps=1, progress=False),
        TypeError,
        "batch_size",
    ),
    "train: a function, not a model": (
        lambda: fm.train_flow(_identity, X, n_steps=1, progress=False),
        TypeError,
        "torch.nn.Module",
    ),
    "train: labels without label=": (
        lambda: fm.train_flow(model, X, labels=torch.zeros(4), n_steps=1, progress=False),
        TypeError,
        "takes no label=",
    ),
    "train: fractional labels": (
        lambda: fm.train_flow(
            conditional, X, labels=torch.tensor([0, 1.5, 2, 0]), n_steps=1, progress=False
        ),
        ValueError,
        "whole class numbers",
    ),
    "train: a list for the schedule": (
        lambda: fm.train_flow(model, X, lr_schedule=["cosine"], n_steps=1, progress=False),
        TypeError,
        "lr_schedule must be a name",
    ),
    "train: progress as a string": (
        lambda: fm.train_flow(model, X, progress="no", n_steps=1),
        TypeError,
        "progress",
    ),
    "train_on_pairs: NaN": (
        lambda: fm.train_on_pairs(model, nan_points, X, n_steps=1, progress=False),
        ValueError,
        "x_0 contains NaN",
    ),
    "loss: velocity of shape (batch, 1)": (
        lambda: fm.flow_matching_loss(lambda x, t: t, X, X, 0.5),
        ValueError,
        r"velocity returned shape \(4, 1\).*same shape as x",
    ),
    "loss: label= to a plain field": (
        lambda: fm.flow_matching_loss(model, X, X, 0.5, label=1),
        TypeError,
        "takes no label=",
    ),
    # solvers
    "integrate: NaN start": (
        lambda: fm.integrate(_identity, nan_points, n_steps=1),
        ValueError,
        "x_0 contains NaN.*diverged",
    ),
    "integrate: velocity of shape (batch, 1)": (
        lambda: fm.integrate(lambda x, t: x.sum(1, keepdim=True), X, n_steps=1),
        ValueError,
        r"shape \(4, 1\)",
    ),
    "integrate: velocity returns None": (
        lambda: fm.integrate(lambda x, t: None, X, n_steps=1),
        TypeError,
        "must return a tensor",
    ),
    "integrate: t_span beyond 1": (
        lambda: fm.integrate(_identity, X, n_steps=1, t_span=(0.0, 2.0)),
        ValueError,
        r"t_span\[1\] must be a number in \[0, 1\]",
    ),
    "integrate: t_span a number": (
        lambda: fm.integrate(_identity, X, n_steps=1, t_span=1.0),
        TypeError,
        "t_span",
    ),
    "integrate: a velocity that is not a function": (
        lambda: fm.integrate("model", X, n_steps=1),
        TypeError,
        "velocity must be a function",
    ),
    "integrate: 10^10 steps": (
        lambda: fm.integrate(_identity, X, n_steps=10**10),
        ValueError,
        "more than the",
    ),
    "integrate: gigabytes of trajectory": (
        lambda: fm.integrate(
            _identity, torch.zeros(100_000, 2), n_steps=10**5, return_trajectory=True
        ),
        ValueError,
        "GB of memory.*return_trajectory=False",
    ),
    "integrate: negative rtol": (
        lambda: fm.integrate(_identity, X, method="dopri5", rtol=-1),
        ValueError,
        "rtol",
    ),
    "generate: float count": (lambda: fm.generate(_identity, 2.5), TypeError, "n_or_x0"),
    "generate: model of another dimension": (
        lambda: fm.generate(fm.VelocityField(dim=3), X, n_steps=1),
        ValueError,
        r"x_0 must have shape \(n, 3\)",
    ),
    "reflow: unknown base": (
        lambda: fm.reflow_pairs(_identity, 4, base="gausian"),
        ValueError,
        "unknown distribution 'gausian'",
    ),
    # exact
    "mixture: zero std": (
        lambda: exact.mixture_field(torch.zeros(2, 2), 0.0),
        ValueError,
        "std must be finite and > 0",
    ),
    "mixture: bad weights": (
        lambda: exact.mixture_field(torch.zeros(2, 2), 0.2, weights=[1.0, -1.0]),
        ValueError,
        "weights must be 2 finite numbers",
    ),
    "mixture: NaN means": (
        lambda: exact.mixture_field(nan_points, 0.2),
        ValueError,
        "means contains NaN",
    ),
    "ring_log_prob: t above 1": (
        lambda: exact.ring_log_prob(t=2.0),
        ValueError,
        r"t must be a number in \[0, 1\]",
    ),
    "field: wrong dim": (
        lambda: exact.ring_field()(torch.zeros(3, 3), 0.5),
        ValueError,
        r"shape \(batch, 2\)",
    ),
    "empirical: NaN data": (
        lambda: exact.empirical_field(nan_points),
        ValueError,
        "data contains NaN",
    ),
    # likelihood
    "log_likelihood: NaN x": (
        lambda: fm.log_likelihood(_identity, nan_points),
        ValueError,
        "x contains NaN",
    ),
    "log_likelihood: t above 1": (
        lambda: fm.log_likelihood(_identity, X, t=1.5),
        ValueError,
        r"\[0, 1\]",
    ),
    "log_likelihood: zero probes": (
        lambda: fm.log_likelihood(_identity, X, estimator="hutchinson", n_probes=0),
        ValueError,
        "n_probes",
    ),
    "log_likelihood: a typo'd keyword": (
        lambda: fm.log_likelihood(_identity, X, estimater="exact"),
        TypeError,
        "unexpected keyword argument.*estimater",
    ),
    "log_likelihood: base_log_prob of the wrong shape": (
        lambda: fm.log_likelihood(_identity, X, base_log_prob=lambda x: x),
        ValueError,
        r"base_log_prob must return one log-density per row",
    ),
    "divergence: velocity of the wrong shape": (
        lambda: likelihood.divergence(lambda x, t: x[:, :1], X, 0.5),
        ValueError,
        "velocity returned shape",
    ),
    # guidance
    "guidance: infinite scale": (
        lambda: fm.guided_velocity(conditional, 1, INF),
        ValueError,
        "scale must be",
    ),
    "guidance: model without label=": (
        lambda: fm.guided_velocity(model, 1, 2.0),
        TypeError,
        "takes no label=.*ConditionalVelocityField",
    ),
    "guidance: fractional label": (
        lambda: fm.guided_velocity(conditional, 1.5, 2.0),
        ValueError,
        "whole class",
    ),
    "guidance: label out of range": (
        lambda: fm.guided_velocity(conditional, 3, 2.0),
        ValueError,
        r"0..2",
    ),
    # metrics
    "mmd: NaN": (lambda: metrics.mmd(nan_points, X), ValueError, "a contains NaN"),
    "mmd: zero bandwidth": (
        lambda: metrics.mmd(X, X, bandwidth=0),
        ValueError,
        "bandwidth must be",
    ),
    "mmd: 100,000 points": (
        lambda: metrics.mmd(torch.zeros(100_000, 2), torch.zeros(100_000, 2)),
        ValueError,
        r"1.0e\+10 pairs.*random subset of at most 20,000",
    ),
    "w2: too many points": (
        lambda: metrics.wasserstein2(torch.zeros(10_000, 2), torch.zeros(10_000, 2)),
        ValueError,
        "random subset",
    ),
    "null_band: zero repeats": (
        lambda: metrics.null_band(data.ring_of_gaussians, metrics.mmd, 10, n_repeats=0),
        ValueError,
        "n_repeats",
    ),
    "straightness: no trajectory": (
        lambda: metrics.straightness(fm.integrate(_identity, X, n_steps=1)),
        ValueError,
        "return_trajectory=True",
    ),
    "straightness: paths that never move": (
        lambda: metrics.straightness(torch.zeros(3, 4, 2)),
        ValueError,
        "end where they start",
    ),
    # plot
    "grid: 10^5 per side": (
        lambda: plot.field_on_grid(_identity, 0.5, n=10**5),
        ValueError,
        "n = 100,000 is more than the 1,000 fmkit allows; n is the number of points per side",
    ),
    "grid: t above 1": (lambda: plot.field_on_grid(_identity, 2.0), ValueError, r"\[0, 1\]"),
    "grid: zero limit": (lambda: plot.field_on_grid(_identity, 0.5, limit=0), ValueError, "limit"),
    "grid: velocity of the wrong shape": (
        lambda: plot.field_on_grid(lambda x, t: x[:, 0], 0.5),
        ValueError,
        "velocity returned shape",
    ),
    "density grid: wrong shape": (
        lambda: plot.log_density_on_grid(lambda x: x, n=5),
        ValueError,
        r"log_prob must return one log-density per point, shape \(25,\)",
    ),
    "pairs: t above 1": (
        lambda: plot.pairs(plot.figure()[1][0], X, X, t=1.5),
        ValueError,
        r"\[0, 1\]",
    ),
    "cloud: 3-D points": (
        lambda: plot.cloud(plot.figure()[1][0], torch.zeros(4, 3)),
        ValueError,
        "3 columns",
    ),
    "image_grid: wrong size": (
        lambda: plot.image_grid(plot.figure()[1][0], torch.zeros(2, 10)),
        ValueError,
        r"images must have shape \(n, 64\)",
    ),
    "loss_curve: NaN floor": (
        lambda: plot.loss_curve(plot.figure()[1][0], [1.0, 2.0], floor=NAN),
        ValueError,
        "floor",
    ),
    # widgets
    "explorer: not a dict": (
        lambda: widgets.field_explorer(model),
        TypeError,
        "fields must be a dict",
    ),
    "explorer: times above 1": (
        lambda: widgets.field_explorer({"m": model}, times=[0.5, 2.0]),
        ValueError,
        "times",
    ),
    "explorer: unknown target": (
        lambda: widgets.sampling_explorer({"gaussian": model}, target="rings"),
        ValueError,
        "unknown target 'rings'",
    ),
    "explorer: guidance without label=": (
        lambda: widgets.guidance_explorer(model),
        TypeError,
        "takes no label=",
    ),
    "explorer: NaN scale": (
        lambda: widgets.guidance_explorer(conditional, scales=(0.0, NAN)),
        ValueError,
        "scale",
    ),
    # utils
    "seed: negative": (lambda: fm.seed_everything(-1), ValueError, "seed"),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_input_gets_a_clear_error_from_fmkit(case):
    call, error, message = BAD_CALLS[case]
    with pytest.raises(error, match=message) as caught:
        call()
    # raised by fmkit itself, not from inside torch, numpy or matplotlib
    frames = [str(entry.path) for entry in caught.traceback]
    assert "fmkit" in frames[-1], f"{case}: raised in {frames[-1]}"
    matplotlib.pyplot.close("all")


def test_errors_stop_before_any_work():
    """A size error comes at once, not after minutes of work or a failed allocation."""
    import time

    start = time.perf_counter()
    for case in (
        "sample: gigabytes",
        "mmd: 100,000 points",
        "grid: 10^5 per side",
        "integrate: 10^10 steps",
    ):
        with pytest.raises(ValueError):
            BAD_CALLS[case][0]()
    assert time.perf_counter() - start < 2.0


def test_logo_of_blank_text_stops_instead_of_looping():
    with pytest.raises(ValueError, match="text must have visible characters"):
        data.logo(10, text="   ")


def test_a_velocity_of_the_wrong_shape_is_caught_in_every_step_function():
    for step in (fm.euler_step, fm.midpoint_step, fm.rk4_step):
        with pytest.raises(ValueError, match="velocity returned shape"):
            step(lambda x, t: t, X, 0.0, 0.1)


def test_the_guided_velocity_keeps_the_model_for_fmkit_to_find():
    guided = fm.guided_velocity(conditional, 2, 1.5)
    assert guided.model is conditional and guided.scale == 1.5 and guided.label == 2
    assert check.velocity_dim(guided) == 2 and check.placement(guided)[0].type == "cpu"
    assert "GuidedVelocity(label=2, scale=1.5)" == repr(guided)
    assert math.isfinite(float(fm.integrate(guided, X, n_steps=2).x.sum()))


def test_a_network_on_too_many_rows_at_once_is_stopped_before_it_runs():
    wide = fm.VelocityField(hidden_dim=1024)
    with pytest.raises(ValueError, match=r"training batch \(1,000,000 rows.*GB of memory.*batches"):
        fm.train_flow(wide, X, batch_size=1_000_000, n_steps=1, progress=False)
    with pytest.raises(ValueError, match=r"generating 2,000,000 samples.*GB of memory"):
        fm.generate(wide, 2_000_000)
    with pytest.raises(ValueError, match="grid.*GB of memory"):
        plot.field_on_grid(wide, 0.5, n=1000)
    guided = fm.guided_velocity(fm.ConditionalVelocityField(n_classes=3, hidden_dim=1024), 1, 2.0)
    with pytest.raises(ValueError, match="GB of memory"):
        fm.integrate(guided, torch.zeros(2_000_000, 2), n_steps=1)
