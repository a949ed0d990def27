"""Shared fixtures: an isolated environment, tiny IDX files and a local HTTP server."""

import gzip
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from latentlab.data import catalog, locate


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Never see the real cache, /usr/share/datasets or the user's settings."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(locate, "DEBIAN_ROOT", tmp_path / "debian")
    for var in ("LATENTLAB_DATA", "LATENTLAB_MIRRORS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


def _idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file of unsigned bytes holding ``array``."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 + array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def _write_idx(path: Path, array: np.ndarray, gz: bool = False, magic: int | None = None) -> Path:
    data = _idx_bytes(array, magic)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _fake_idx_files(n_train: int = 30, n_test: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Small random arrays for the four MNIST-style files."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }


@pytest.fixture
def write_idx():
    """``write_idx(path, array, gz=False, magic=None)`` writes an IDX file."""
    return _write_idx


@pytest.fixture
def idx_bytes():
    """``idx_bytes(array, magic=None)`` returns the bytes of an IDX file."""
    return _idx_bytes


@pytest.fixture
def fake_arrays():
    """The arrays of the four fake MNIST-style files, keyed by file name."""
    return _fake_idx_files()


@pytest.fixture
def small_counts(monkeypatch):
    """Let the named loaders accept the 30/10-image fakes."""
    monkeypatch.setattr(catalog, "COUNTS", {"train": 30, "t10k": 10})


@pytest.fixture
def fake_dir(tmp_path):
    """A folder holding the four fake files (gzipped)."""
    directory = tmp_path / "fake"
    directory.mkdir()
    for base, array in _fake_idx_files().items():
        _write_idx(directory / f"{base}.gz", array, gz=True)
    return directory


@pytest.fixture
def fake_checksums():
    return {base: hashlib.sha256(_idx_bytes(a)).hexdigest() for base, a in _fake_idx_files().items()}


class Handler(BaseHTTPRequestHandler):
    """Serves ``server.routes``: path -> (status, body, declared length or None)."""

    def do_GET(self):
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        status, body, declared = route
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) if declared is None else declared))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A local HTTP server; set ``server.routes`` and use ``server.url``."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.routes = {}
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()
