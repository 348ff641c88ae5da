import pytest
import torch
from torch.testing import assert_close

import fmkit as fm
from fmkit import paths


def test_path_endpoints(gen):
    x_0, x_1 = torch.randn(10, 2, generator=gen), torch.randn(10, 2, generator=gen)
    assert_close(fm.interpolate(x_0, x_1, 0.0), x_0)
    assert_close(fm.interpolate(x_0, x_1, 1.0), x_1)
    assert_close(fm.interpolate(x_0, x_1, 0.5), (x_0 + x_1) / 2)


def test_time_broadcasts_from_every_accepted_shape(gen):
    x_0, x_1 = torch.randn(6, 2, generator=gen), torch.randn(6, 2, generator=gen)
    t = torch.rand(6, generator=gen)
    expected = (1 - t[:, None]) * x_0 + t[:, None] * x_1
    assert_close(fm.interpolate(x_0, x_1, t), expected)
    assert_close(fm.interpolate(x_0, x_1, t[:, None]), expected)
    assert_close(fm.interpolate(x_0, x_1, torch.tensor(0.3)), fm.interpolate(x_0, x_1, 0.3))


def test_target_velocity_is_the_time_derivative_of_the_path(gen):
    x_0, x_1 = torch.randn(8, 2, generator=gen), torch.randn(8, 2, generator=gen)
    t = torch.rand(8, 1, generator=gen, requires_grad=True)
    x_t = fm.interpolate(x_0, x_1, t)
    # d x_t / dt, one coordinate at a time (each row depends only on its own t)
    dxdt = torch.stack(
        [torch.autograd.grad(x_t[:, k].sum(), t, retain_graph=True)[0][:, 0] for k in range(2)],
        dim=1,
    )
    assert_close(dxdt, fm.target_velocity(x_0, x_1), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "shape_0, shape_1", [((5, 2), (4, 2)), ((5, 2), (5, 3)), ((5,), (5,)), ((2, 5, 2), (2, 5, 2))]
)
def test_wrong_shapes_are_a_clear_error(shape_0, shape_1):
    with pytest.raises(ValueError, match="x_0 and x_1"):
        fm.interpolate(torch.zeros(shape_0), torch.zeros(shape_1), 0.5)
    with pytest.raises(ValueError, match="x_0 and x_1"):
        fm.target_velocity(torch.zeros(shape_0), torch.zeros(shape_1))


def test_time_of_the_wrong_length_is_a_clear_error():
    with pytest.raises(ValueError, match="t must be"):
        fm.interpolate(torch.zeros(5, 2), torch.zeros(5, 2), torch.rand(4, 1))


def _total_cost(x_0, x_1):
    return ((x_0 - x_1) ** 2).sum().item()


def test_ot_permutation_matches_brute_force_on_a_tiny_problem(gen):
    import itertools

    x_0, x_1 = torch.randn(6, 2, generator=gen), torch.randn(6, 2, generator=gen)
    best = min(_total_cost(x_0[list(p)], x_1) for p in itertools.permutations(range(6)))
    perm = paths.ot_permutation(x_0, x_1)
    assert sorted(perm.tolist()) == list(range(6))
    assert _total_cost(x_0[perm], x_1) == pytest.approx(best)


def test_ot_permutation_agrees_with_pots_exact_solver(gen):
    import numpy as np
    import ot

    x_0, x_1 = torch.randn(40, 2, generator=gen), 3 * torch.randn(40, 2, generator=gen)
    w = np.full(40, 1 / 40)
    pot_cost = ot.emd2(w, w, ot.dist(x_1.double().numpy(), x_0.double().numpy())) * 40
    assert _total_cost(x_0[paths.ot_permutation(x_0, x_1)], x_1) == pytest.approx(
        pot_cost, rel=1e-6
    )


@pytest.mark.parametrize("sub_batch", [None, 50, 64])
def test_ot_pairing_keeps_the_points_and_shortens_the_pairs(sub_batch, gen):
    x_0 = torch.randn(1000, 2, generator=gen)
    x_1 = fm.sample("ring", 1000, generator=gen)
    paired_0, paired_1 = fm.ot_pairing(x_0, x_1, sub_batch=sub_batch)
    assert torch.equal(paired_1, x_1)
    # the same multiset of base points, only reordered
    assert torch.equal(paired_0[paired_0[:, 0].argsort()], x_0[x_0[:, 0].argsort()])
    assert _total_cost(paired_0, x_1) < 0.5 * _total_cost(x_0, x_1)


def test_full_batch_ot_is_at_least_as_short_as_sub_batches(gen):
    x_0, x_1 = torch.randn(300, 2, generator=gen), fm.sample("ring", 300, generator=gen)
    full = _total_cost(fm.ot_pairing(x_0, x_1, sub_batch=None)[0], x_1)
    chunked = _total_cost(fm.ot_pairing(x_0, x_1, sub_batch=50)[0], x_1)
    assert full <= chunked + 1e-6


def test_unknown_coupling_is_a_clear_error():
    with pytest.raises(
        ValueError, match="unknown coupling 'optimal'; choose one of: independent, ot"
    ):
        paths.couple(torch.zeros(3, 2), torch.zeros(3, 2), "optimal")
