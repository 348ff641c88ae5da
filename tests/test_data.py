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
    with pytest.raises(ValueError, match="unknown distribution 'gausian'; choose one of: .*gaussian.*logo"):
        fm.sample("gausian", 10)


def test_bad_sample_count_is_a_clear_error():
    with pytest.raises(ValueError, match="positive integer"):
        fm.sample("ring", 0)
    with pytest.raises(ValueError, match="positive integer"):
        fm.sample("gaussian", 2.5)


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
