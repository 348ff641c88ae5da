import pytest
import torch

import fmkit as fm
from fmkit import data


def test_training_reduces_the_loss_and_records_history(trained_ring):
    _, history, _ = trained_ring
    assert history.n_steps == 1500
    assert len(history.wall_time) == 1500
    assert all(b >= a for a, b in zip(history.wall_time, history.wall_time[1:]))
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
        h = fm.train_flow(fm.VelocityField(), d, n_steps=5, batch_size=64, generator=torch.Generator().manual_seed(3), progress=False)
        runs.append(h.loss)
    assert runs[0] == runs[1]


def test_ot_coupling_trains_too(gen):
    d = fm.ring_of_gaussians(500, generator=gen)
    h = fm.train_flow(fm.VelocityField(), d, n_steps=40, batch_size=200, coupling="ot", generator=gen, progress=False)
    assert h.n_steps == 40 and all(torch.isfinite(torch.tensor(h.loss)))


def test_a_callable_base_works(gen):
    d = fm.ring_of_gaussians(100, generator=gen)
    base = lambda n, generator=None: torch.zeros(n, 2)
    h = fm.train_flow(fm.VelocityField(), d, base=base, n_steps=3, batch_size=10, generator=gen, progress=False)
    assert h.n_steps == 3


def test_divergence_is_a_clear_error_not_nan_samples(gen):
    d = fm.ring_of_gaussians(100, generator=gen) * 1e18
    with pytest.raises(FloatingPointError, match="training diverged.*smaller learning rate"):
        fm.train_flow(fm.VelocityField(), d, n_steps=50, batch_size=10, lr=1e6, generator=gen, progress=False)


def test_bad_inputs_are_clear_errors(gen):
    model, good = fm.VelocityField(), fm.ring_of_gaussians(10, generator=gen)
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        fm.train_flow(model, good, n_steps=0, progress=False)
    bad = good.clone()
    bad[3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        fm.train_flow(model, bad, n_steps=1, progress=False)
    with pytest.raises(ValueError, match=r"shape \(n, dim\)"):
        fm.train_flow(model, torch.zeros(10), n_steps=1, progress=False)
    with pytest.raises(ValueError, match="unknown distribution 'noise'"):
        fm.train_flow(model, good, base="noise", n_steps=1, progress=False)
    with pytest.raises(ValueError, match="unknown coupling"):
        fm.train_flow(model, good, coupling="best", n_steps=1, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="pick a base of the data's dimension"):
        fm.train_flow(fm.VelocityField(dim=3), torch.zeros(10, 3), base="logo", n_steps=1, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="labels must have one entry per data row"):
        fm.train_flow(model, good, labels=torch.zeros(3), n_steps=1, progress=False)
    with pytest.raises(ValueError, match="label_dropout"):
        fm.train_flow(model, good, labels=torch.zeros(10), label_dropout=1.0, n_steps=1, progress=False)


def test_loss_matches_the_written_out_formula(gen):
    model = fm.VelocityField()
    x_0, x_1, t = torch.randn(32, 2, generator=gen), torch.randn(32, 2, generator=gen), torch.rand(32, 1, generator=gen)
    by_hand = torch.nn.functional.mse_loss(model((1 - t) * x_0 + t * x_1, t), x_1 - x_0)
    assert torch.allclose(fm.flow_matching_loss(model, x_0, x_1, t), by_hand)


def test_unknown_lr_schedule_is_a_clear_error(gen):
    with pytest.raises(ValueError, match="unknown lr_schedule 'linear'; choose one of: cosine, constant"):
        fm.train_flow(fm.VelocityField(), torch.zeros(10, 2), n_steps=1, lr_schedule="linear", progress=False)


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
        fm.train_flow(fm.VelocityField(), d, n_steps=10, batch_size=8, lr=0.01, lr_schedule=schedule, generator=gen, progress=False)
        (lrs,) = seen.values()
        assert lrs[0] == pytest.approx(0.01)
        if schedule == "cosine":
            assert all(b < a for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 0.001
        else:
            assert lrs == [0.01] * 10


def test_gaussian_and_uniform_bases_follow_the_data_dimension(gen):
    d = torch.randn(50, 5, generator=gen)
    for base in ("gaussian", "uniform"):
        h = fm.train_flow(fm.VelocityField(dim=5, hidden_dim=16), d, base=base, n_steps=3, batch_size=8, generator=gen, progress=False)
        assert h.n_steps == 3


def test_train_on_pairs_learns_the_given_pairing(gen):
    # Pairs that all move by the same vector: the field must learn that constant velocity.
    x_0 = torch.randn(500, 2, generator=gen)
    x_1 = x_0 + torch.tensor([2.0, -1.0])
    model = fm.VelocityField(hidden_dim=32)
    fm.train_on_pairs(model, x_0, x_1, n_steps=300, batch_size=200, lr=3e-3, generator=gen, progress=False)
    with torch.no_grad():
        v = model(torch.randn(100, 2, generator=gen), 0.5)
    assert torch.allclose(v.mean(0), torch.tensor([2.0, -1.0]), atol=0.1)
    with pytest.raises(ValueError, match="same shape"):
        fm.train_on_pairs(model, x_0, x_1[:10], n_steps=1, progress=False)
