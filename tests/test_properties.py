"""Property-based tests of the shape contracts (hypothesis draws the sizes and values)."""

import pytest
import torch
from torch.testing import assert_close

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fmkit as fm  # noqa: E402
from fmkit import paths  # noqa: E402

# Small, quick examples; no deadline, since the test machines are shared and their timing noisy.
FAST = settings(max_examples=60, deadline=None)

batches = st.integers(min_value=1, max_value=40)
dims = st.integers(min_value=1, max_value=5)
times = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
dtypes = st.sampled_from([torch.float32, torch.float64, torch.int64])


def _points(batch: int, dim: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    x = torch.randn(batch, dim, generator=torch.Generator().manual_seed(seed)) * 3
    return x.to(dtype)


@FAST
@given(
    batch=batches,
    t=times,
    dtype=dtypes,
    form=st.sampled_from(["float", "0-d", "(batch,)", "(batch, 1)"]),
)
def test_as_time_always_gives_batch_by_one_in_a_floating_dtype(batch, t, dtype, form):
    x = torch.zeros(batch, 2, dtype=dtype)
    given_t = {
        "float": t,
        "0-d": torch.tensor(t),
        "(batch,)": torch.full((batch,), t),
        "(batch, 1)": torch.full((batch, 1), t),
    }[form]
    out = paths.as_time(given_t, x)
    assert out.shape == (batch, 1)
    assert out.dtype == (dtype if dtype.is_floating_point else torch.get_default_dtype())
    assert_close(out, torch.full((batch, 1), t, dtype=out.dtype))  # never truncated to 0 or 1


@FAST
@given(batch=batches, wrong=st.integers(min_value=2, max_value=41))
def test_as_time_refuses_a_time_per_row_of_another_batch(batch, wrong):
    if wrong == batch:
        wrong += 1
    with pytest.raises(ValueError, match="t must be a float or have shape"):
        paths.as_time(torch.zeros(wrong), torch.zeros(batch, 2))


@FAST
@given(batch=batches, dim=dims, t=times, dtype=dtypes, seed=st.integers(0, 2**16))
def test_interpolate_keeps_the_shape_and_moves_along_the_line(batch, dim, t, dtype, seed):
    x_0, x_1 = _points(batch, dim, dtype, seed), _points(batch, dim, dtype, seed + 1)
    x_t = fm.interpolate(x_0, x_1, t)
    assert x_t.shape == (batch, dim) and x_t.is_floating_point()
    a, b = x_0.to(x_t.dtype), x_1.to(x_t.dtype)
    assert_close(x_t - a, t * (b - a), rtol=1e-5, atol=1e-5)  # the fraction t of the way
    assert_close(fm.interpolate(x_0, x_1, torch.full((batch,), t, dtype=torch.float64)), x_t)


@FAST
@given(
    batch=st.integers(min_value=1, max_value=130),
    sub_batch=st.integers(min_value=1, max_value=60),
    seed=st.integers(0, 2**16),
)
def test_ot_pairing_reorders_within_chunks_whatever_the_sizes(batch, sub_batch, seed):
    g = torch.Generator().manual_seed(seed)
    x_0, x_1 = torch.randn(batch, 2, generator=g), torch.randn(batch, 2, generator=g) + 2
    x_0[:, 0] += torch.arange(batch) * 1e-3  # distinct points, so a row identifies a point
    paired_0, paired_1 = fm.ot_pairing(x_0, x_1, sub_batch=sub_batch)
    assert paired_0.shape == x_0.shape and paired_1 is x_1
    # every base point used exactly once, and moved only within its own chunk of sub_batch rows
    source = torch.cdist(paired_0, x_0).argmin(1)  # (batch,) the original row of each paired point
    assert sorted(source.tolist()) == list(range(batch))
    size = min(sub_batch, batch)
    assert (source // size == torch.arange(batch) // size).all()
    # never worse than keeping the random order
    assert ((paired_0 - x_1) ** 2).sum() <= ((x_0 - x_1) ** 2).sum() + 1e-4
