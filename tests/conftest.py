import os

import pytest
import torch

# Thread count fixed for speed and bit-reproducibility on small CPUs (CI sets it too).
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture(scope="session")
def trained_ring():
    """One small model trained on the ring, shared by the tests that need a trained flow."""
    import fmkit as fm

    g = torch.Generator().manual_seed(0)
    data = fm.ring_of_gaussians(2000, generator=g)
    torch.manual_seed(0)  # the initial weights: the same whichever test asks first
    model = fm.VelocityField()
    history = fm.train_flow(model, data, n_steps=1500, batch_size=1000, generator=g, progress=False)
    return model, history, data
