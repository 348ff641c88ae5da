import pytest
import torch

import fmkit as fm
from fmkit import latent, recipes


@pytest.fixture(scope="module")
def digits():
    images, labels = fm.data.digits(return_labels=True)
    return images[:1500], labels[:1500], images[1500:], labels[1500:]


@pytest.fixture(scope="module")
def judge(digits):
    train, train_labels, _, _ = digits
    torch.manual_seed(0)
    model, history = recipes.digits_classifier(
        train, train_labels, generator=torch.Generator().manual_seed(0), n_steps=400
    )
    return model, history


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Each pixel replaced by the mean of its 3x3 neighbourhood, (n, 64)."""
    square = torch.nn.functional.pad(x.reshape(-1, 1, 8, 8), (1, 1, 1, 1), mode="replicate")
    return torch.nn.functional.avg_pool2d(square, 3, stride=1).reshape(-1, 64)


def test_the_classifier_learns_the_digits_and_exposes_its_features(digits, judge):
    _, _, test, test_labels = digits
    model, history = judge
    assert history.n_steps == 400
    assert (model.predict(test) == test_labels).float().mean() > 0.85
    proba = model.predict_proba(test)  # (297, 10)
    torch.testing.assert_close(proba.sum(1), torch.ones(len(test)))
    assert model.features(test).shape == (len(test), 128)


def test_feature_mmd_on_digits_reads_real_inside_the_band_and_noise_or_blur_above(digits, judge):
    train, _, test, _ = digits
    features = judge[0].features
    g = torch.Generator().manual_seed(3)
    order = torch.randperm(len(test), generator=g)  # the data set cycles through the digits,
    half, other = test[order[:148]], test[order[148:]]  # so split it at random, not [::2]

    def score(x):
        return fm.metrics.feature_mmd(
            x, other, features, n=70, generator=torch.Generator().manual_seed(1)
        )

    real = score(half)
    assert real.covered, real
    noise = score(torch.rand(300, 64, generator=g) * 2 - 1)
    blurred = score(_blur(train[:300]))
    for wrong in (noise, blurred):
        assert wrong.score > 5 * real.band.p90 and not wrong.covered, wrong
    assert noise.score > blurred.score  # noise is further from digits than blurred digits


def test_the_digits_recipes_return_trained_models_that_sample_digits(digits):
    train, train_labels, _, _ = digits
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    flow, history = recipes.digits_flow(train, generator=g, n_steps=5, batch_size=32)
    assert isinstance(flow, fm.VelocityField) and history.n_steps == 5 and flow.dim == 64
    x = recipes.sample_digits(flow, 7, generator=g, scale=recipes.DIGITS_SCALE, n_steps=2)
    assert x.shape == (7, 64) and x.abs().max() <= 1

    conditional, history = recipes.digits_conditional_flow(
        train, train_labels, generator=g, n_steps=5, batch_size=32
    )
    assert conditional.n_classes == 10 and history.n_steps == 5
    guided = fm.guided_velocity(conditional, torch.arange(4), 2.0)
    assert recipes.sample_digits(guided, 4, generator=g, n_steps=2).shape == (4, 64)

    pca = recipes.digits_pca(train)
    assert isinstance(pca, latent.PCACodes) and pca.latent_dim == 16
    autoencoder, history = recipes.digits_autoencoder(train, generator=g, n_steps=5)
    assert history.n_steps == 5 and autoencoder.latent_dim == 8
    for compressor in (pca, autoencoder):
        flow, history = recipes.digits_latent_flow(
            compressor.encode(train), generator=g, n_steps=5, batch_size=32
        )
        assert flow.dim == compressor.latent_dim and history.n_steps == 5
        x = recipes.sample_digits(flow, 3, generator=g, decode=compressor.decode, n_steps=2)
        assert x.shape == (3, 64) and x.abs().max() <= 1


def test_a_recipe_passes_training_settings_on_and_is_reproducible(digits):
    train = digits[0]
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        flow, history = recipes.digits_flow(
            train, generator=torch.Generator().manual_seed(0), n_steps=6, batch_size=16, ema=0.9
        )
        assert history.state.ema == 0.9
        weights.append(torch.cat([p.detach().flatten() for p in flow.parameters()]))
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)


def test_recipes_refuse_what_they_cannot_use(digits):
    train, train_labels, _, _ = digits
    with pytest.raises(ValueError, match="scale"):
        recipes.digits_flow(train, scale=0.0, n_steps=1)
    with pytest.raises(ValueError, match="one class per row"):
        recipes.digits_classifier(train, train_labels[:10], n_steps=1)
    with pytest.raises(ValueError, match="scale"):
        recipes.sample_digits(lambda x, t: x, 2, scale=-1.0)


def test_sample_digits_undoes_the_training_scale_then_decodes_then_clamps(gen):
    still = lambda x, t: torch.zeros_like(x)  # a field that leaves every point where it is
    x_0 = torch.randn(6, 64, generator=gen) * 4
    torch.testing.assert_close(recipes.sample_digits(still, x_0, scale=3.0), (x_0 / 3).clamp(-1, 1))
    codes = torch.randn(5, 2, generator=gen)
    decode = lambda z: z.repeat(1, 32) * 10  # (5, 2) -> (5, 64), mostly past the pixel range
    out = recipes.sample_digits(still, codes, decode=decode)
    torch.testing.assert_close(out, decode(codes).clamp(-1, 1))
