"""Chapter 9's checkers name each plausible mistake with its own hint, and their references
agree with scikit-learn, the data and fmkit's exact ring."""

import math

import cases_ch09 as cases
import pytest
import torch
from verdicts import wrong_message as _message

import fmkit as fm
from fmkit import checks
from fmkit.checks import ch09


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (cases.ratio_squared, "squared distances"),
        (cases.ratio_upside_down, "upside down"),
        (cases.ratio_skips_nearest, "skipped the nearest"),
        (cases.ratio_largest, "largest=False"),
        (cases.ratio_over_mean, "second-nearest"),
        (cases.ratio_drops_zeros, "do not drop zero distances"),
        (cases.ratio_min_tuple, ".values"),
        (lambda x, train: cases.ratio(x, train).numpy(), "NumPy"),
    ],
)
def test_memorisation_ratio_names_the_mistake(fn, words):
    assert words in _message(checks.check_memorisation_ratio, fn)


def test_memorisation_ratio_of_a_copy_is_zero_and_of_a_new_point_below_one():
    train = torch.randn(50, 64, generator=torch.Generator().manual_seed(0))
    x = torch.cat([train[:2], torch.randn(5, 64, generator=torch.Generator().manual_seed(1))])
    r = ch09.memorisation_ratio_reference(x, train)
    assert torch.all(r[:2] == 0) and torch.all((r[2:] > 0) & (r[2:] <= 1))
    torch.testing.assert_close(r, cases.ratio(x, train), atol=2e-3, rtol=1e-4)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (cases.encode_uncentred, "Centre first"),
        (cases.encode_unscaled, "raw PCA coordinates"),
        (cases.encode_times_scale, "do not multiply"),
        (cases.encode_then_decode, "reconstruction"),
        (lambda x, mean, components, scale: (x - mean) @ components / scale, "raised RuntimeError"),
    ],
)
def test_pca_encode_names_the_mistake(fn, words):
    assert words in _message(checks.check_pca_encode, fn)


def test_pca_encode_reference_is_scikit_learns_transform():
    from sklearn.decomposition import PCA

    images = fm.data.digits()[:400]
    pca = PCA(n_components=8).fit(images.numpy())
    codes = torch.tensor(pca.transform(images.numpy()), dtype=torch.float64)
    scale = codes.std(0)
    ours = ch09.pca_encode_reference(
        images.double(),
        torch.tensor(pca.mean_).double(),
        torch.tensor(pca.components_).double(),
        scale,
    )
    torch.testing.assert_close(ours, codes / scale, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (cases._bits(2 / 17), "16 gaps"),
        (cases._bits(1.0), "impossible"),
        (cases._bits(1 / 16), "spacing on [0, 1]"),
        (-cases.bits_per_pixel(), "sign"),
        (cases.bits_per_pixel() * math.log(2), "nats per pixel"),
        (cases.bits_per_pixel() * 64, "bits per image"),
        (cases.bits_per_pixel() * 64 * math.log(2), "nats per image"),
    ],
)
def test_bits_per_pixel_names_the_mistake(value, words):
    assert words in _message(checks.check_bits_per_pixel, lambda: value)


def test_bits_per_pixel_reads_the_grid_from_the_data():
    assert ch09.digits_grid() == (64, 0.125)
    assert checks.check_bits_per_pixel(lambda: 1.6475, quiet=True)  # (64 log 8 - 60) / (64 log 2)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (cases.evaluate_log_likelihood, "log-likelihood"),
        (cases.evaluate_bits, "bits"),
        (cases.evaluate_sum, "sum"),
        (cases.evaluate_mmd, "square root"),
        (cases.evaluate_noise_mmd, "end"),
        (cases.evaluate_band_object, "NullBand"),
        (cases.evaluate_band_small_n, "same sample size"),
        (cases.evaluate_two_points, "one step"),
        (cases.evaluate_euler, "midpoint method"),
        (lambda *a, **k: list(cases.evaluate(*a, **k).values()), "dict"),
        (
            lambda *a, **k: {key: v for key, v in cases.evaluate(*a, **k).items() if key != "nll"},
            "lacks the key(s) nll",
        ),
    ],
)
def test_evaluate_flow_names_the_mistake(fn, words):
    assert words in _message(checks.check_evaluate_flow, fn)


def test_evaluate_flow_reference_on_the_exact_ring_matches_the_truth():
    g = torch.Generator().manual_seed(0)
    held_out = fm.sample("ring", 300, generator=g)
    report = ch09.evaluate_flow_reference(
        fm.exact.ring_field(),
        lambda n, generator=None: fm.sample("ring", n, generator=generator),
        held_out,
        n=500,
        n_steps=8,
        generator=g,
    )
    assert report["nll"] == pytest.approx(
        float(-fm.exact.ring_log_prob()(held_out).mean()), abs=0.01
    )
    low, high = report["null_band"]
    assert low < high and abs(report["mmd2"]) < 0.01 and 0.4 < report["straightness"] < 0.9
