import pytest
import torch
from torch.testing import assert_close

import fmkit as fm
from fmkit import data


def test_training_reduces_the_loss_and_records_history(trained_ring):
    _, history, _ = trained_ring
    assert history.n_steps == 1500
    assert len(history.wall_time) == 1500
    assert all(b >= a for a, b in zip(history.wall_time, history.wall_time[1:], strict=False))
    first = sum(history.loss[:50]) / 50
    assert history.final_loss() < 0.75 * first
    assert history.steps_per_second > 0


def test_trained_samples_land_near_every_mode(trained_ring, gen):
    model, _, _ = trained_ring
    samples = fm.generate(model, 2000, n_steps=16, method="midpoint", generator=gen)
    means = data.ring_means(8, 3.0)
    dist, nearest = torch.cdist(samples, means).min(1)
    assert (dist < 3 * 0.2).float().mean() > 0.7  # most samples within 3 std of a centre
    counts = torch.bincount(nearest[dist < 0.6], minlength=8)
    assert counts.min() > 0.5 * 2000 / 8 * 0.7  # every mode populated, none starved


def test_same_generator_same_training():
    d = fm.ring_of_gaussians(200, generator=torch.Generator().manual_seed(0))
    runs = []
    for _ in range(2):
        torch.manual_seed(0)  # the network's initial weights
        h = fm.train_flow(
            fm.VelocityField(),
            d,
            n_steps=5,
            batch_size=64,
            generator=torch.Generator().manual_seed(3),
            progress=False,
        )
        runs.append(h.loss)
    assert runs[0] == runs[1]


def test_ot_coupling_trains_too(gen):
    d = fm.ring_of_gaussians(500, generator=gen)
    h = fm.train_flow(
        fm.VelocityField(),
        d,
        n_steps=40,
        batch_size=200,
        coupling="ot",
        generator=gen,
        progress=False,
    )
    assert h.n_steps == 40 and all(torch.isfinite(torch.tensor(h.loss)))


def test_a_callable_base_works(gen):
    d = fm.ring_of_gaussians(100, generator=gen)

    def base(n, generator=None):
        return torch.zeros(n, 2)

    h = fm.train_flow(
        fm.VelocityField(), d, base=base, n_steps=3, batch_size=10, generator=gen, progress=False
    )
    assert h.n_steps == 3


def test_divergence_is_a_clear_error_not_nan_samples(gen):
    d = fm.ring_of_gaussians(100, generator=gen) * 1e18
    with pytest.raises(FloatingPointError, match="training diverged.*smaller learning rate"):
        fm.train_flow(
            fm.VelocityField(), d, n_steps=50, batch_size=10, lr=1e6, generator=gen, progress=False
        )


def test_bad_inputs_are_clear_errors(gen):
    model, good = fm.VelocityField(), fm.ring_of_gaussians(10, generator=gen)
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        fm.train_flow(model, good, n_steps=0, progress=False)
    bad = good.clone()
    bad[3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        fm.train_flow(model, bad, n_steps=1, progress=False)
    with pytest.raises(ValueError, match=r"data must have shape \(n, 2\)"):
        fm.train_flow(model, torch.zeros(10), n_steps=1, progress=False)
    with pytest.raises(ValueError, match="unknown distribution 'noise'"):
        fm.train_flow(model, good, base="noise", n_steps=1, progress=False)
    with pytest.raises(ValueError, match="unknown coupling"):
        fm.train_flow(model, good, coupling="best", n_steps=1, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="pick a base of the data's dimension"):
        fm.train_flow(
            fm.VelocityField(dim=3),
            torch.zeros(10, 3),
            base="logo",
            n_steps=1,
            batch_size=4,
            progress=False,
        )
    conditional = fm.ConditionalVelocityField(n_classes=3)
    with pytest.raises(ValueError, match="labels must have one entry per data row"):
        fm.train_flow(conditional, good, labels=torch.zeros(3), n_steps=1, progress=False)
    with pytest.raises(ValueError, match="label_dropout"):
        fm.train_flow(
            conditional, good, labels=torch.zeros(10), label_dropout=1.0, n_steps=1, progress=False
        )
    with pytest.raises(TypeError, match="takes no label=.*ConditionalVelocityField"):
        fm.train_flow(model, good, labels=torch.zeros(10), n_steps=1, progress=False)


def test_loss_matches_the_written_out_formula(gen):
    model = fm.VelocityField()
    x_0, x_1, t = (
        torch.randn(32, 2, generator=gen),
        torch.randn(32, 2, generator=gen),
        torch.rand(32, 1, generator=gen),
    )
    by_hand = torch.nn.functional.mse_loss(model((1 - t) * x_0 + t * x_1, t), x_1 - x_0)
    assert_close(fm.flow_matching_loss(model, x_0, x_1, t), by_hand)


def test_unknown_lr_schedule_is_a_clear_error(gen):
    with pytest.raises(
        ValueError, match="unknown lr_schedule 'linear'; choose one of: cosine, constant"
    ):
        fm.train_flow(
            fm.VelocityField(), torch.zeros(10, 2), n_steps=1, lr_schedule="linear", progress=False
        )


def test_cosine_schedule_anneals_and_constant_does_not(gen, monkeypatch):
    seen = {}
    original = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        seen.setdefault(id(self), []).append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    d = fm.ring_of_gaussians(50, generator=gen)
    for schedule in ("cosine", "constant"):
        seen.clear()
        fm.train_flow(
            fm.VelocityField(),
            d,
            n_steps=10,
            batch_size=8,
            lr=0.01,
            lr_schedule=schedule,
            generator=gen,
            progress=False,
        )
        (lrs,) = seen.values()
        assert lrs[0] == pytest.approx(0.01)
        if schedule == "cosine":
            assert all(b < a for a, b in zip(lrs, lrs[1:], strict=False)) and lrs[-1] < 0.001
        else:
            assert lrs == [0.01] * 10


def test_gaussian_and_uniform_bases_follow_the_data_dimension(gen):
    d = torch.randn(50, 5, generator=gen)
    for base in ("gaussian", "uniform"):
        h = fm.train_flow(
            fm.VelocityField(dim=5, hidden_dim=16),
            d,
            base=base,
            n_steps=3,
            batch_size=8,
            generator=gen,
            progress=False,
        )
        assert h.n_steps == 3


def test_train_on_pairs_learns_the_given_pairing(gen):
    # Pairs that all move by the same vector: the field must learn that constant velocity.
    x_0 = torch.randn(500, 2, generator=gen)
    x_1 = x_0 + torch.tensor([2.0, -1.0])
    model = fm.VelocityField(hidden_dim=32)
    fm.train_on_pairs(
        model, x_0, x_1, n_steps=300, batch_size=200, lr=3e-3, generator=gen, progress=False
    )
    with torch.no_grad():
        v = model(torch.randn(100, 2, generator=gen), 0.5)
    assert_close(v.mean(0), torch.tensor([2.0, -1.0]), rtol=0, atol=0.1)
    with pytest.raises(ValueError, match="same shape"):
        fm.train_on_pairs(model, x_0, x_1[:10], n_steps=1, progress=False)


def test_a_diverging_run_leaves_the_last_finite_weights_so_retraining_works(gen):
    d = fm.ring_of_gaussians(200, generator=gen)
    torch.manual_seed(0)
    model = fm.VelocityField(hidden_dim=32)
    with pytest.raises(
        FloatingPointError, match="training diverged.*keeps its .*weights.*smaller learning rate"
    ):
        fm.train_flow(model, d, n_steps=50, batch_size=32, lr=1e6, generator=gen, progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    history = fm.train_flow(
        model, d, n_steps=30, batch_size=64, lr=1e-3, generator=gen, progress=False
    )
    assert all(torch.isfinite(torch.tensor(history.loss)))


def test_a_base_that_returns_nan_gets_its_own_message_not_a_learning_rate_hint(gen):
    broken = lambda n, generator=None: torch.full((n, 2), float("nan"))  # noqa: E731
    with pytest.raises(ValueError, match="base sampler is broken, not the learning rate") as caught:
        fm.train_flow(
            fm.VelocityField(),
            torch.zeros(10, 2),
            base=broken,
            n_steps=2,
            batch_size=4,
            progress=False,
        )
    assert "smaller learning rate" not in str(caught.value)


def test_history_prints_a_one_line_summary():
    h = fm.History(
        loss=[3.0] * 1900 + [2.77] * 100, wall_time=[i * 10.9 / 1999 for i in range(2000)]
    )
    assert repr(h) == "History(2000 steps, 10.9 s, final loss 2.77)"
    assert repr(fm.History()) == "History(0 steps)"


def test_loss_refuses_a_velocity_of_shape_batch_by_one():
    x_0, x_1 = torch.zeros(8, 2), torch.ones(8, 2)
    with pytest.raises(
        ValueError, match=r"velocity returned shape \(8, 1\) for x of shape \(8, 2\)"
    ):
        fm.flow_matching_loss(lambda x, t: x.sum(1, keepdim=True), x_0, x_1, 0.5)


def test_loss_takes_time_as_a_float_or_one_per_row(gen):
    model = fm.VelocityField()
    x_0, x_1 = torch.randn(6, 2, generator=gen), torch.randn(6, 2, generator=gen)
    expected = fm.flow_matching_loss(model, x_0, x_1, torch.full((6, 1), 0.3))
    for t in (0.3, torch.tensor(0.3), torch.full((6,), 0.3)):
        assert_close(fm.flow_matching_loss(model, x_0, x_1, t), expected)


def test_data_of_any_dtype_or_a_numpy_array_trains(gen):
    d = fm.ring_of_gaussians(100, generator=gen)
    for data_in in (d.double(), d.numpy(), (10 * d).long()):
        h = fm.train_flow(
            fm.VelocityField(hidden_dim=16),
            data_in,
            n_steps=2,
            batch_size=8,
            generator=gen,
            progress=False,
        )
        assert h.n_steps == 2


def test_whole_number_float_labels_train_and_fractional_ones_are_refused(gen):
    d, labels = fm.ring_of_gaussians(100, generator=gen, return_labels=True)
    model = fm.ConditionalVelocityField(n_classes=8, hidden_dim=16)
    fm.train_flow(
        model, d, labels=labels.float(), n_steps=2, batch_size=8, generator=gen, progress=False
    )
    with pytest.raises(ValueError, match="whole class numbers"):
        fm.train_flow(
            model, d, labels=labels.float() + 0.5, n_steps=2, batch_size=8, progress=False
        )


def test_arguments_are_checked_before_the_first_step(gen, monkeypatch):
    calls = []
    monkeypatch.setattr(fm.VelocityField, "forward", lambda self, x, t: calls.append(1) or x)
    with pytest.raises(ValueError, match="unknown coupling"):
        fm.train_flow(
            fm.VelocityField(), torch.zeros(10, 2), coupling="best", n_steps=5, progress=False
        )
    assert calls == []  # nothing ran: the bad argument was found up front
