"""Chapter 8's checkers name each plausible mistake with its own hint."""

import cases_ch08 as cases
import pytest
import torch

import fmkit as fm
from fmkit import checks
from fmkit.checks import ch08


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (cases.drop_with_one_minus_p, "that is 1 - p"),
        (cases.drop_in_place, "changed its input `labels` in place"),
        (cases.drop_to_zero, "dropped labels became 0"),
        (cases.drop_with_global_rng, "generator you are given"),
        (cases.drop_mask, "mask of dropped labels"),
        (lambda labels, p, g: labels.float(), "keep them integers"),
        (
            lambda labels, p, g: torch.where(
                torch.rand(labels.shape, generator=g) < 0.5, -1, labels
            ),
            "about 30%",
        ),
        (lambda labels, p, g: None, "forget the `return`"),
    ],
)
def test_drop_labels_hints(wrong, hint):
    result = checks.check_drop_labels(wrong, quiet=True)
    assert result.status == "wrong" and hint in result.message, result.message


def test_drop_labels_accepts_an_exact_count():
    def drop_exactly(labels, p, generator):
        order = torch.randperm(len(labels), generator=generator)[: round(p * len(labels))]
        out = labels.clone()
        out[order] = -1
        return out

    assert checks.check_drop_labels(drop_exactly, quiet=True)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (cases.scheduled_reversed, "diffusion convention"),
        (cases.scheduled_at_start, "schedule(0.0) at every time"),
        (cases.scheduled_swapped, "roles are swapped"),
        (lambda m, c, s: 2.0, "return a velocity function"),
    ],
)
def test_scheduled_guidance_hints(wrong, hint):
    result = checks.check_scheduled_guidance(wrong, quiet=True)
    assert result.status == "wrong" and hint in result.message, result.message


def test_scheduled_guidance_with_a_constant_schedule_is_fmkits_guidance():
    x, t = torch.randn(5, 2), torch.rand(5, 1)
    field = cases.scheduled_guidance(ch08.toy_conditional, 3, lambda t: 2.5)
    torch.testing.assert_close(field(x, t), fm.guided_velocity(ch08.toy_conditional, 3, 2.5)(x, t))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (cases.posterior_fixed_centres, "t * m_k"),
        (cases.posterior_data_std, "(1 - t)^2 + t^2 std^2"),
        (cases.posterior_over_batch, "normalise over the classes"),
        (cases.log_posterior, "log-probabilities"),
        (lambda x, t, m, s: cases.class_posterior(x, t, m, s).T, "transposed"),
    ],
)
def test_class_posterior_hints(wrong, hint):
    result = checks.check_class_posterior(wrong, quiet=True)
    assert result.status == "wrong" and hint in result.message, result.message


def test_class_posterior_reference_matches_the_exact_field():
    """The posterior the checker expects is the one the exact mixture field weighs with:
    sum_k p_t(k | x) u_k(x, t) is fm.exact.ring_field."""
    means, std, t = fm.data.ring_means(), 0.2, 0.4
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0)) * 2
    post = cases.class_posterior(x, t, means, std)  # (64, 8)
    u_k = torch.stack(
        [fm.exact.mixture_field(means[k : k + 1], std)(x, t) for k in range(8)], dim=1
    )  # (64, 8, 2)
    torch.testing.assert_close(
        (post[:, :, None] * u_k).sum(1), fm.exact.ring_field()(x, t), atol=1e-5, rtol=1e-4
    )


@pytest.mark.parametrize(
    "answer, hint",
    [
        ((2.0, -2.0), "scale 1"),
        ((11.0, -2.0), "Ho and Salimans"),
        ((-7.0, -2.0), "roles are swapped"),
        ((9.0, 0.0), "keep the -x"),
        ((6.0, -6.0), "not 0"),
        ((1.0, 1.0), "Combine them with scale 3"),
    ],
)
def test_guided_at_t0_hints(answer, hint):
    result = checks.check_guided_at_t0(lambda: answer, quiet=True)
    assert result.status == "wrong" and hint in result.message, result.message


def test_guided_at_t0_accepts_a_tensor_and_a_list():
    assert checks.check_guided_at_t0(lambda: torch.tensor([8.0, -2.0]), quiet=True)
    assert checks.check_guided_at_t0(lambda: [8, -2], quiet=True)


def test_exact_conditional_ring_guidance_at_t0_is_a_shift():
    """At t = 0 the exactly guided velocity is -x + w m_c for every x."""
    model, means = ch08.exact_conditional_ring(), fm.data.ring_means()
    x = torch.randn(10, 2, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(
        fm.guided_velocity(model, 5, 2.0)(x, 0.0), -x + 2.0 * means[5], atol=1e-5, rtol=1e-5
    )
