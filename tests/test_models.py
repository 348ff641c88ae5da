import pytest
import torch
from torch.testing import assert_close

import fmkit as fm


def test_default_architecture_follows_the_chapter():
    model = fm.VelocityField()
    linears = [m for m in model.net if isinstance(m, torch.nn.Linear)]
    silus = [m for m in model.net if isinstance(m, torch.nn.SiLU)]
    assert [layer.in_features for layer in linears] == [2 + 16, 128, 128, 128, 128]
    assert linears[-1].out_features == 2
    assert len(silus) == 4  # four hidden SiLU layers of width 128 (the measured default)
    relu = fm.VelocityField(activation="relu")  # the source chapter's network
    assert sum(isinstance(m, torch.nn.ReLU) for m in relu.net) == 4
    assert model.time_mlp[0].in_features == 1 and model.time_mlp[-1].out_features == 16


@pytest.mark.parametrize(
    "t", [0.3, torch.tensor(0.3), torch.full((7,), 0.3), torch.full((7, 1), 0.3)]
)
def test_every_time_shape_gives_the_same_velocity(t):
    torch.manual_seed(0)
    model = fm.VelocityField()
    x = torch.randn(7, 2)
    out = model(x, t)
    assert out.shape == (7, 2)
    assert_close(out, model(x, torch.full((7, 1), 0.3)))


def test_velocity_depends_on_time():
    torch.manual_seed(0)
    model = fm.VelocityField()
    x = torch.randn(7, 2)
    assert not torch.allclose(model(x, 0.0), model(x, 1.0))


def test_higher_dimensions_work():
    model = fm.VelocityField(dim=64, hidden_dim=32)
    assert model(torch.randn(3, 64), 0.5).shape == (3, 64)


def test_wrong_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 2\)"):
        fm.VelocityField()(torch.zeros(4, 3), 0.5)
