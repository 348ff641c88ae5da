import pytest
import torch

import fmkit as fm
from fmkit import latent


@pytest.fixture(scope="module")
def digits():
    images = fm.data.digits()
    return images[:1500], images[1500:]


def test_pca_codes_are_standardised_and_decode_exactly_on_the_kept_slice(gen):
    x = torch.randn(300, 10, generator=gen) * torch.linspace(3, 0.1, 10)
    pca = latent.pca_codes(x, 4)
    codes = pca.encode(x)  # (300, 4)
    assert codes.shape == (300, 4) and pca.latent_dim == 4 and pca.dim == 10
    torch.testing.assert_close(codes.std(0), torch.ones(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(codes.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(pca.components @ pca.components.T, torch.eye(4), atol=1e-5, rtol=0)
    # Decoding then encoding is the identity on codes; all components keep everything.
    torch.testing.assert_close(pca.encode(pca.decode(codes)), codes, atol=1e-4, rtol=1e-4)
    full = latent.pca_codes(x, 10)
    assert full.explained == pytest.approx(1.0)
    torch.testing.assert_close(full.decode(full.encode(x)), x, atol=1e-4, rtol=1e-4)
    assert 0.5 < pca.explained < 1.0


def test_pca_codes_match_scikit_learn_up_to_sign(digits):
    from sklearn.decomposition import PCA

    train, test = digits
    ours = latent.pca_codes(train, 8)
    theirs = PCA(n_components=8).fit(train.numpy())
    reference = torch.tensor(theirs.transform(test.numpy()), dtype=torch.float32)
    signs = torch.sign((ours.encode(test) * reference).sum(0))
    torch.testing.assert_close(
        ours.encode(test) * ours.scale * signs, reference, atol=1e-3, rtol=1e-3
    )
    assert ours.explained == pytest.approx(theirs.explained_variance_ratio_.sum(), rel=1e-4)


def test_the_autoencoder_reconstructs_held_out_digits_far_better_than_the_mean_image(digits):
    train, test = digits
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    ae, history = latent.train_autoencoder(
        train, latent_dim=8, hidden_dim=64, n_steps=400, generator=g
    )
    assert history.n_steps == 400 and history.final_loss(50) < history.loss[0]
    codes = ae.encode(test)
    assert codes.shape == (len(test), 8) and ae.decode(codes).shape == test.shape
    error = ((ae.decode(codes) - test) ** 2).mean()
    baseline = ((train.mean(0) - test) ** 2).mean()  # every digit drawn as the mean image
    assert error < 0.5 * baseline, (error, baseline)
    # Standardised codes: the training codes have mean 0 and spread 1 per coordinate.
    train_codes = ae.encode(train)
    torch.testing.assert_close(train_codes.std(0), torch.ones(8), atol=1e-3, rtol=0)
    torch.testing.assert_close(train_codes.mean(0), torch.zeros(8), atol=1e-4, rtol=0)
    # ... and decode() undoes the standardisation that encode() applies.
    torch.testing.assert_close(ae.decode(codes), ae(test).detach(), atol=1e-5, rtol=1e-5)


def test_the_autoencoder_refuses_wrong_shapes():
    ae = latent.Autoencoder(dim=64, latent_dim=4)
    with pytest.raises(ValueError, match=r"\(n, 64\)"):
        ae.encode(torch.zeros(3, 8))
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        ae.decode(torch.zeros(3, 64))
    with pytest.raises(ValueError, match="batch_size"):
        latent.train_autoencoder(torch.zeros(10, 64), batch_size=0)
