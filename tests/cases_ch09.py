"""Chapter 9's checkers: for each exercise name, a reference answer and plausible wrong
answers (at least two) that the checker must reject with a hint."""

import math

import torch

import fmkit as fm
from fmkit.checks import ch09

# ------------------------------------------------------------------ the memorisation ratio


def ratio(x, train):
    d = torch.cdist(x, train).topk(2, dim=1, largest=False).values  # (batch, 2), nearest first
    return d[:, 0] / d[:, 1]


def ratio_squared(x, train):
    d = (torch.cdist(x, train) ** 2).topk(2, dim=1, largest=False).values
    return d[:, 0] / d[:, 1]


def ratio_upside_down(x, train):
    d = torch.cdist(x, train).topk(2, dim=1, largest=False).values
    return d[:, 1] / d[:, 0]


def ratio_skips_nearest(x, train):  # leave-one-out habits: drops the nearest as if it were x itself
    d = torch.cdist(x, train).topk(3, dim=1, largest=False).values
    return d[:, 1] / d[:, 2]


def ratio_largest(x, train):  # torch.topk without largest=False
    d = torch.cdist(x, train).topk(2, dim=1).values
    return d[:, 1] / d[:, 0]


def ratio_over_mean(x, train):
    d = torch.cdist(x, train)
    return d.min(1).values / d.mean(1)


def ratio_drops_zeros(x, train):  # treats a zero distance as "the sample itself"
    d = torch.cdist(x, train, compute_mode="donot_use_mm_for_euclid_dist")
    d = torch.where(d == 0, torch.inf, d)
    d = d.topk(2, dim=1, largest=False).values
    return d[:, 0] / d[:, 1]


def ratio_min_tuple(x, train):  # torch.min without .values
    return torch.cdist(x, train).min(1)


# ------------------------------------------------------------------------- the PCA encoder


def encode(x, mean, components, scale):
    return (x - mean) @ components.T / scale


def encode_uncentred(x, mean, components, scale):
    return x @ components.T / scale


def encode_unscaled(x, mean, components, scale):
    return (x - mean) @ components.T


def encode_times_scale(x, mean, components, scale):
    return (x - mean) @ components.T * scale


def encode_then_decode(x, mean, components, scale):
    return mean + ((x - mean) @ components.T) @ components


# ------------------------------------------------- a likelihood bound for quantized pixels


def _bits(delta, log_p=60.0, dim=64):
    return -(log_p + dim * math.log(delta)) / (dim * math.log(2))


def bits_per_pixel():
    return _bits(2 / 16)


# ------------------------------------------------------------- the capstone's evaluation

evaluate = ch09.evaluate_flow_reference


def evaluate_changed(**changes):
    def fn(velocity, sample_target, held_out, *, n=1000, n_steps=16, generator=None):
        report = evaluate(
            velocity, sample_target, held_out, n=n, n_steps=n_steps, generator=generator
        )
        report.update(
            {
                key: change(report, velocity, sample_target, held_out, n, n_steps, generator)
                for key, change in changes.items()
            }
        )
        return report

    return fn


evaluate_log_likelihood = evaluate_changed(nll=lambda r, *a: -r["nll"])
evaluate_bits = evaluate_changed(nll=lambda r, *a: r["nll"] / math.log(2))
evaluate_mmd = evaluate_changed(
    mmd2=lambda r, *a: math.sqrt(r["mmd2"])
)  # positive for the checker's seed
evaluate_band_object = evaluate_changed(
    null_band=lambda r, v, target, h, n, s, g: fm.metrics.null_band(
        target, fm.metrics.mmd, n, generator=g
    )
)
evaluate_band_small_n = evaluate_changed(
    null_band=lambda r, v, target, h, n, s, g: (lambda b: (b.p10, b.p90))(
        fm.metrics.null_band(target, fm.metrics.mmd, 50, generator=torch.Generator().manual_seed(1))
    )
)


def _end_points(r, velocity, target, held_out, n, n_steps, g):
    x_0 = fm.sample("gaussian", n, generator=g)
    x_1 = fm.integrate(velocity, x_0, n_steps=n_steps, method="midpoint").x
    return fm.metrics.straightness(torch.stack([x_0, x_1]))


evaluate_two_points = evaluate_changed(straightness=_end_points)


def _noise_mmd(r, velocity, target, held_out, n, n_steps, g):
    return fm.metrics.mmd(fm.sample("gaussian", n, generator=g), target(n, generator=g))


evaluate_noise_mmd = evaluate_changed(mmd2=_noise_mmd)


def evaluate_euler(velocity, sample_target, held_out, *, n=1000, n_steps=16, generator=None):
    report = evaluate(velocity, sample_target, held_out, n=n, n_steps=n_steps, generator=generator)
    x_0 = fm.sample("gaussian", n, generator=generator)
    path = fm.integrate(velocity, x_0, n_steps=n_steps, method="euler", return_trajectory=True)
    report["straightness"] = fm.metrics.straightness(path.trajectory)
    return report


def evaluate_sum(velocity, sample_target, held_out, **kw):
    report = evaluate(velocity, sample_target, held_out, **kw)
    report["nll"] *= len(held_out)
    return report


CASES = {
    "memorisation_ratio": (
        ratio,
        [
            ratio_squared,
            ratio_upside_down,
            ratio_skips_nearest,
            ratio_largest,
            ratio_over_mean,
            ratio_drops_zeros,
            ratio_min_tuple,
        ],
    ),
    "pca_encode": (
        encode,
        [encode_uncentred, encode_unscaled, encode_times_scale, encode_then_decode],
    ),
    "bits_per_pixel": (
        bits_per_pixel,
        [
            lambda: _bits(2 / 17),
            lambda: _bits(1.0),
            lambda: _bits(1 / 16),
            lambda: -bits_per_pixel(),
            lambda: bits_per_pixel() * math.log(2),
        ],
    ),
    "evaluate_flow": (evaluate, [evaluate_log_likelihood, evaluate_mmd, evaluate_two_points]),
}
