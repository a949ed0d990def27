"""Shared fixtures: tiny, fast training settings on the bundled digits."""
import pytest
import torch

# Small and quick: a few hundred 8x8 images per epoch on the CPU.
TINY = dict(dataset="digits", epochs=1, batch_size=64, latent_dim=4, hidden=32, progress=False)


@pytest.fixture
def tiny():
    return dict(TINY)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep every cache a test writes out of the user's home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Tiny models run fastest on one thread, and test processes side by side do not fight over cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
