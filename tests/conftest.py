"""Shared fixtures: tiny, fast training settings on the bundled digits."""
import pytest

# Small and quick: a few hundred 8x8 images per epoch on the CPU.
TINY = dict(dataset="digits", epochs=1, batch_size=64, latent_dim=4, hidden=32, progress=False)


@pytest.fixture
def tiny():
    return dict(TINY)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep every cache a test writes out of the user's home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
