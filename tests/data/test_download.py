"""Downloads against a local HTTP server: verification, mirror fallback, atomic writes."""

import gzip

import pytest

from latentlab.data import catalog, download, info, load_dataset
from latentlab.errors import DataError

FILES = catalog.IDX_FILES


def serve_all(server, prefix, arrays, idx_bytes, status=200):
    for base, array in arrays.items():
        server.routes[f"{prefix}/{base}.gz"] = (status, gzip.compress(idx_bytes(array)), None)


def no_temp_files(directory):
    return not [p for p in directory.iterdir() if p.name.endswith(".part")]


def test_good_download(tmp_path, server, fake_arrays, fake_checksums, idx_bytes):
    serve_all(server, "/a", fake_arrays, idx_bytes)
    dest = download.fetch("mnist", tmp_path / "out", [server.url + "/a"], checksums=fake_checksums, timeout=5)
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{b}.gz" for b in FILES)
    assert all(download.content_sha256(dest / f"{b}.gz") == fake_checksums[b] for b in FILES)


def test_wrong_checksum_falls_back_then_fails(tmp_path, server, fake_arrays, fake_checksums, idx_bytes):
    serve_all(server, "/bad", {b: a + 1 for b, a in fake_arrays.items()}, idx_bytes)
    serve_all(server, "/good", fake_arrays, idx_bytes)
    dest = tmp_path / "out"
    with pytest.raises(DataError, match="sha256 mismatch") as e:
        download.fetch("mnist", dest, [server.url + "/bad"], checksums=fake_checksums, timeout=5)
    assert "LATENTLAB_MIRRORS" in str(e.value)
    assert list(dest.iterdir()) == []

    download.fetch("mnist", dest, [server.url + "/bad", server.url + "/good"], checksums=fake_checksums, timeout=5)
    assert len(list(dest.iterdir())) == 4 and no_temp_files(dest)


def test_truncated_transfer(tmp_path, server, fake_arrays, fake_checksums, idx_bytes):
    serve_all(server, "/good", fake_arrays, idx_bytes)
    body = gzip.compress(idx_bytes(fake_arrays[FILES[0]]))
    server.routes[f"/cut/{FILES[0]}.gz"] = (200, body[:100], len(body))
    dest = tmp_path / "out"
    with pytest.raises(DataError, match="cut short"):
        download.fetch("mnist", dest, [server.url + "/cut"], checksums=fake_checksums, timeout=5)
    assert list(dest.iterdir()) == []
    download.fetch("mnist", dest, [server.url + "/cut", server.url + "/good"], checksums=fake_checksums, timeout=5)
    assert len(list(dest.iterdir())) == 4 and no_temp_files(dest)


def test_server_error_tries_next_mirror(tmp_path, server, fake_arrays, fake_checksums, idx_bytes, capsys):
    serve_all(server, "/down", fake_arrays, idx_bytes, status=500)
    serve_all(server, "/good", fake_arrays, idx_bytes)
    dest = download.fetch("mnist", tmp_path / "out", [server.url + "/down", server.url + "/good"],
                          checksums=fake_checksums, timeout=5)
    assert len(list(dest.iterdir())) == 4
    assert "500" in capsys.readouterr().err


def test_existing_good_files_are_kept(tmp_path, fake_dir, fake_checksums):
    # No mirror can answer: every file is already present and verified.
    download.fetch("mnist", fake_dir, ["http://127.0.0.1:9/"], checksums=fake_checksums, timeout=5)


def test_load_downloads_into_cache(tmp_path, server, fake_arrays, fake_checksums, idx_bytes,
                                   small_counts, monkeypatch, capsys):
    serve_all(server, "/m", fake_arrays, idx_bytes)
    monkeypatch.setenv("LATENTLAB_MIRRORS", f"http://127.0.0.1:9/ {server.url}/m")
    monkeypatch.setitem(catalog.SHA256, "mnist", fake_checksums)
    with pytest.raises(DataError, match="latentlab data fetch mnist"):
        load_dataset("mnist", download=False)
    data = load_dataset("mnist", val_fraction=0.2)
    assert (len(data.train), len(data.val), len(data.test)) == (24, 6, 10)
    assert "downloading mnist" in capsys.readouterr().err
    assert len(list((tmp_path / "cache" / "latentlab" / "mnist").iterdir())) == 4


def test_info_reports_checksums(fake_dir, fake_checksums, monkeypatch):
    assert info.info("mnist", fake_dir)["sha256_ok"] is False
    monkeypatch.setitem(catalog.SHA256, "mnist", fake_checksums)
    report = info.info("mnist", fake_dir)
    assert report["sha256_ok"] and report["counts"] == {"train": 30, "test": 10}
    assert info.info("mnist", fake_dir / "missing")["found"] is False
