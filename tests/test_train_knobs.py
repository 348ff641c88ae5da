"""The optimizer knobs of the shared training loop: each one changes what it should."""

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

import fmkit as fm
from fmkit import train


def _ring(n=200, seed=0):
    return fm.ring_of_gaussians(n, generator=torch.Generator().manual_seed(seed))


def _model(seed=0, **kwargs):
    torch.manual_seed(seed)
    return fm.VelocityField(hidden_dim=32, n_hidden=2, **kwargs)


def _train(model, n_steps=20, seed=3, **kwargs):
    return fm.train_flow(
        model,
        _ring(),
        n_steps=n_steps,
        batch_size=32,
        generator=torch.Generator().manual_seed(seed),
        progress=False,
        **kwargs,
    )


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _lrs(monkeypatch, cls=torch.optim.AdamW):
    seen = []
    original = cls.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "step", spy)
    return seen


def test_warm_up_ramps_the_learning_rate_linearly_then_decays(monkeypatch):
    lrs = _lrs(monkeypatch)
    _train(_model(), n_steps=10, lr=0.01, warmup_steps=4, lr_schedule="constant")
    assert lrs == pytest.approx([0.0025, 0.005, 0.0075, 0.01] + [0.01] * 6)
    lrs.clear()
    _train(_model(), n_steps=10, lr=0.01, warmup_steps=4)
    cosine = [0.01 * 0.5 * (1 + math.cos(math.pi * k / 10)) for k in range(10)]
    warm = [min(1, (k + 1) / 4) for k in range(10)]
    assert lrs == pytest.approx([c * w for c, w in zip(cosine, warm)])


def test_weight_decay_and_betas_reach_adamw():
    made = []
    original = torch.optim.AdamW.__init__

    def spy(self, params, **kwargs):
        made.append(kwargs)
        original(self, params, **kwargs)

    torch.optim.AdamW.__init__ = spy
    try:
        _train(_model(), n_steps=1, weight_decay=0.0, betas=(0.8, 0.95))
    finally:
        torch.optim.AdamW.__init__ = original
    assert made[0]["weight_decay"] == 0.0 and made[0]["betas"] == (0.8, 0.95)


def test_an_optimizer_factory_is_used_and_scheduled(monkeypatch):
    lrs = _lrs(monkeypatch, torch.optim.SGD)
    model = _model()
    before = _weights(model).clone()
    _train(model, n_steps=5, optimizer=lambda params: torch.optim.SGD(params, lr=0.1))
    assert len(lrs) == 5 and lrs[0] == pytest.approx(0.1) and lrs[-1] < 0.1
    assert not torch.equal(before, _weights(model))
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        _train(_model(), n_steps=1, optimizer=lambda params: "adam")


def test_gradient_clipping_caps_the_norm_the_optimizer_sees(monkeypatch):
    norms = []
    original = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    _train(_model(), n_steps=5, grad_clip=0.01)
    assert max(norms) <= 0.01 + 1e-6
    norms.clear()
    _train(_model(), n_steps=5)
    assert max(norms) > 0.1  # without clipping the gradients are far larger


def test_ema_leaves_the_model_holding_the_average_of_its_weights():
    trajectory = []
    model = _model()
    h = _train(model, n_steps=30, ema=0.9, callback=None)
    # Replay the same run without the average, recording the weights after every step.
    replay = _model()
    _train(
        replay,
        n_steps=30,
        callback=lambda step, m: trajectory.append(_weights(m).clone()),
        callback_every=1,
    )
    average = _weights(_model())  # the initial weights
    for k, w in enumerate(trajectory):
        average = average.lerp(w, 1 - min(0.9, (1 + k) / (10 + k)))
    assert_close(_weights(model), average, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(_weights(model), trajectory[-1])  # not the last raw weights
    assert h.state.raw is not None  # the raw weights are kept to resume from


def test_callbacks_run_every_k_steps_and_after_the_last_in_eval_mode():
    calls = []
    _train(
        _model(),
        n_steps=25,
        callback=lambda step, m: calls.append((step, m.training)),
        callback_every=10,
    )
    assert calls == [(10, False), (20, False), (25, False)]


def test_resumed_chunks_train_exactly_like_one_run():
    whole = _model()
    g = torch.Generator().manual_seed(5)
    d = _ring()
    kwargs = dict(batch_size=32, generator=g, progress=False, ema=0.95, warmup_steps=3)
    fm.train_flow(whole, d, n_steps=12, **kwargs)
    chunked = _model()
    g.manual_seed(5)
    h = fm.train_flow(chunked, d, n_steps=5, total_steps=12, **kwargs)
    h2 = fm.train_flow(chunked, d, n_steps=7, resume=h, **kwargs)
    assert h2 is h and h.n_steps == 12
    assert torch.equal(_weights(whole), _weights(chunked))


def test_resume_refuses_another_model_or_a_finished_cosine_plan():
    model = _model()
    h = _train(model, n_steps=5)
    with pytest.raises(ValueError, match="another model"):
        _train(_model(), n_steps=5, resume=h)
    with pytest.raises(ValueError, match="total_steps=10"):
        _train(model, n_steps=5, resume=h)
    with pytest.raises(TypeError, match="History"):
        _train(model, n_steps=5, resume="h")
    _train(model, n_steps=5, resume=_train(model, n_steps=5, lr_schedule="constant"))


def test_sigma_blurs_the_path_and_is_refused_on_other_schedules():
    blurred, plain = _model(), _model()
    _train(blurred, n_steps=5, sigma=0.5)
    _train(plain, n_steps=5)
    assert not torch.equal(_weights(blurred), _weights(plain))
    with pytest.raises(ValueError, match="sigma"):
        _train(_model(), n_steps=1, sigma=0.1, schedule="vp")
    with pytest.raises(ValueError, match="sigma"):
        _train(_model(), n_steps=1, sigma=-0.1)


def test_sigma_loss_matches_its_formula_with_the_same_draws(monkeypatch):
    model = _model()
    g = torch.Generator().manual_seed(0)
    losses = []
    monkeypatch.setattr(train, "_fit", lambda m, batch_loss, *rest: losses.append(batch_loss()))
    fm.train_flow(model, _ring(), n_steps=1, batch_size=16, sigma=0.3, generator=g, progress=False)
    g.manual_seed(0)
    d = _ring()
    rows = torch.randint(len(d), (16,), generator=g)
    x_1, x_0 = d[rows], torch.randn(16, 2, generator=g)
    t = torch.sigmoid(torch.randn(16, 1, generator=g))  # logit-normal times, the default
    noise = torch.randn(16, 2, generator=g)
    x_t = (1 - t) * x_0 + t * x_1 + 0.3 * noise
    with torch.no_grad():
        expected = torch.mean((model(x_t, t) - (x_1 - x_0)) ** 2)
    assert_close(losses[0].detach(), expected)


@pytest.mark.parametrize("sub_batch", [8, None])
def test_ot_sub_batch_reaches_the_pairing(monkeypatch, sub_batch):
    seen = []
    original = train.couple

    def spy(x_0, x_1, coupling, **kwargs):
        seen.append(kwargs)
        return original(x_0, x_1, coupling, **kwargs)

    monkeypatch.setattr(train, "couple", spy)
    _train(_model(), n_steps=2, coupling="ot", ot_sub_batch=sub_batch)
    assert seen and all(k == {"sub_batch": sub_batch} for k in seen)
    with pytest.raises(ValueError, match="ot_sub_batch"):
        _train(_model(), n_steps=1, coupling="ot", ot_sub_batch=0)


def test_fit_trains_any_loss_on_the_shared_loop():
    model = nn.Linear(2, 2)
    target = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    h = fm.fit(
        model,
        lambda: torch.mean((model(x) - x @ target.T) ** 2),
        n_steps=400,
        lr=0.05,
        weight_decay=0.0,
        progress=False,
    )
    assert h.final_loss(20) < 1e-3
    assert_close(model.weight.detach(), target, atol=0.02, rtol=0)
    with pytest.raises(TypeError, match="batch_loss"):
        fm.fit(model, "loss", n_steps=1)


class _Bare(nn.Module):
    """A network with forward(x, t) and no dim attribute."""

    def __init__(self, dim):
        super().__init__()
        self.net = nn.Linear(dim + 1, dim)

    def forward(self, x, t):
        return self.net(torch.cat([x, fm.paths.as_time(t, x)], dim=1))


def test_any_module_with_forward_x_t_trains_and_samples_in_its_data_dimension():
    model = _Bare(3)
    with pytest.raises(ValueError, match="dim"):
        fm.generate(model, 10)  # no dim yet: never guessed as 2-D
    d = torch.randn(100, 3, generator=torch.Generator().manual_seed(0))
    fm.train_flow(model, d, n_steps=3, batch_size=16, progress=False)
    assert model.dim == 3
    assert fm.generate(model, 10, n_steps=2).shape == (10, 3)


@pytest.mark.parametrize("activation", ["silu", "gelu", "elu", "tanh"])
def test_activations_are_used_between_layers(activation):
    model = fm.VelocityField(activation=activation)
    kinds = {type(m).__name__.lower() for m in model.net}
    assert activation in kinds and "relu" not in kinds
    with pytest.raises(ValueError, match="unknown activation"):
        fm.VelocityField(activation="swish")


def test_sinusoidal_time_features_tell_nearby_times_apart():
    features = fm.models.SinusoidalTime(16)
    t = torch.tensor([[0.0], [0.01], [1.0]])
    f = features(t)
    assert f.shape == (3, 16)
    assert_close(f[0], torch.cat([torch.zeros(8), torch.ones(8)]))
    assert (f[1] - f[0]).norm() > 0.5  # the high frequencies resolve 0.01
    model = fm.VelocityField(time_embedding="sinusoidal")
    assert model(torch.zeros(4, 2), torch.rand(4)).shape == (4, 2)
    with pytest.raises(ValueError, match="even"):
        fm.models.SinusoidalTime(5)
