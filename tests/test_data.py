import pytest
import torch

import fmkit as fm
from fmkit import data


@pytest.mark.parametrize("name", data.names())
def test_every_registry_name_samples_float32_points(name, gen):
    x = fm.sample(name, 300, generator=gen)
    assert x.shape == (300, 2)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert x.std(0).min() > 0.1  # a real cloud, not a point


@pytest.mark.parametrize("name", data.names())
def test_same_generator_same_samples(name):
    a = fm.sample(name, 50, generator=torch.Generator().manual_seed(7))
    b = fm.sample(name, 50, generator=torch.Generator().manual_seed(7))
    c = fm.sample(name, 50, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_names_split_into_targets_and_bases():
    assert set(data.names("targets")) >= {"ring", "moons", "checkerboard", "spirals", "circles"}
    assert data.names("bases") == ["gaussian", "uniform", "logo"]
    assert data.names() == data.names("targets") + data.names("bases")


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(
        ValueError, match="unknown distribution 'gausian'; choose one of: .*gaussian.*logo"
    ):
        fm.sample("gausian", 10)


def test_bad_sample_count_is_a_clear_error():
    with pytest.raises(ValueError, match="positive integer"):
        fm.sample("ring", 0)
    with pytest.raises(TypeError, match="positive integer"):
        fm.sample("gaussian", 2.5)
    with pytest.raises(TypeError, match=r"pass int\(10000.0\) = 10000"):
        fm.sample("gaussian", 1e4)
    with pytest.raises(TypeError, match="positive integer, got bool True"):
        fm.sample("ring", True)
    assert fm.sample("ring", torch.tensor(3)).shape == (3, 2)  # an integer tensor is a count too


def test_ring_labels_match_the_nearest_mode(gen):
    x, labels = fm.ring_of_gaussians(2000, generator=gen, return_labels=True)
    means = data.ring_means(8, 3.0)
    nearest = torch.cdist(x, means).argmin(1)
    assert labels.shape == (2000,) and labels.dtype == torch.int64
    assert (nearest == labels).float().mean() > 0.99
    assert torch.bincount(labels, minlength=8).min() > 150  # every mode populated


def test_ring_geometry_follows_its_arguments(gen):
    x = fm.ring_of_gaussians(4000, radius=5.0, std=0.1, n_modes=4, generator=gen)
    r = x.norm(dim=1)
    assert abs(r.mean() - 5.0) < 0.05
    assert r.std() < 0.15


def test_uniform_base_fills_the_source_box(gen):
    x = fm.sample("uniform", 5000, generator=gen)
    assert x.min() >= -3.5 and x.max() <= 3.5
    assert x.min() < -3.4 and x.max() > 3.4


def test_logo_points_lie_inside_the_glyphs_and_span_the_ring_scale(gen):
    x = data.logo(2000, generator=gen)
    polygons = data._glyph_polygons("FM", 3.0)
    assert data._inside_glyphs(x.numpy(), polygons).all()
    extent = (x.max(0).values - x.min(0).values).max()
    assert 5.0 < extent <= 6.01  # about the ring's diameter of 6
    # The two letters are separate: the gap in the middle of "FM" holds no points.
    assert (x[:, 0] < -0.5).any() and (x[:, 0] > 0.5).any()


def test_logo_respects_holes_in_letters(gen):
    x = data.logo(3000, text="O", generator=gen)
    assert x.norm(dim=1).min() > 0.8  # the inside of the O stays empty


def test_make_loader_yields_batches_of_the_data():
    d = torch.arange(20.0).reshape(10, 2)
    loader = fm.make_loader(d, batch_size=4, shuffle=False)
    batches = [b for (b,) in loader]
    assert [len(b) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat(batches), d)


@pytest.mark.parametrize("n_cells", [1, 2, 3, 4, 5])
def test_checkerboard_samples_exactly_the_dark_squares_uniformly(n_cells, gen):
    x = data.checkerboard(20_000, n_cells=n_cells, half_width=3.0, generator=gen)
    cell = (
        torch.floor((x + 3.0) / (6.0 / n_cells)).long().clamp(max=n_cells - 1)
    )  # (n, 2) column, row
    assert ((cell[:, 0] + cell[:, 1]) % 2 == 0).all()  # only dark squares, even on odd boards
    counts = torch.bincount(cell[:, 0] * n_cells + cell[:, 1], minlength=n_cells**2)
    dark = counts[counts > 0]
    assert len(dark) == (n_cells**2 + 1) // 2  # every dark square is used
    share = dark.float() / len(x)
    torch.testing.assert_close(share, torch.full_like(share, 1 / len(dark)), rtol=0, atol=0.015)


def test_the_ring_spec_is_the_one_source_of_the_rings_numbers(gen):
    from fmkit import exact

    ring = data.RING
    assert (ring.n_modes, ring.radius, ring.std) == (8, 3.0, 0.2)
    torch.testing.assert_close(ring.means(), data.ring_means())
    x, labels = fm.ring_of_gaussians(20_000, generator=gen, return_labels=True)
    torch.testing.assert_close(
        exact.ring_log_prob()(x), exact.mixture_log_prob(ring.means(), ring.std)(x)
    )
    distance = (x - ring.means()[labels]).norm(dim=1).median().item()
    assert distance == pytest.approx(ring.median_distance, rel=0.05)  # std * sqrt(2 ln 2)


def test_base_sampler_draws_in_the_asked_dimension_device_and_dtype(gen):
    draw = data.base_sampler("gaussian", 5, dtype=torch.float64)
    x = draw(7, generator=gen)
    assert x.shape == (7, 5) and x.dtype == torch.float64
    assert data.base_sampler("logo")(4, generator=gen).shape == (4, 2)
    assert data.base_sampler(lambda n, generator=None: torch.ones(n, 3), 3)(2).shape == (2, 3)
    with pytest.raises(ValueError, match=r"drew points of shape \(2, 2\), but \(2, 3\) are needed"):
        data.base_sampler(lambda n, generator=None: torch.ones(n, 2), 3)(2)
    with pytest.raises(
        ValueError, match="NaN or infinite.*base sampler is broken, not the learning rate"
    ):
        data.base_sampler(lambda n, generator=None: torch.full((n, 2), float("nan")))(2)


def test_logo_extent_scales_the_letters(gen):
    x = data.logo(2000, extent=1.0, generator=gen)
    assert (x.max(0).values - x.min(0).values).max() <= 2.0 + 1e-5
