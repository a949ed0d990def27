"""Download and verify the named IDX datasets (``latentlab data fetch``; ``data info`` is ``data.info``).

Each file is tried from each mirror in turn. The sha256 checked is the one of
the *decompressed* IDX bytes, so it does not depend on how a mirror gzipped
the file. Downloads go to a temporary file in the destination folder and are
moved into place with ``os.replace`` only once verified: the cache never holds
a partial or unverified file.
"""

import gzip
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from latentlab.data import catalog, idx, locate
from latentlab.errors import DataError

CHUNK = 1 << 20


class _MirrorFailed(Exception):
    """One mirror could not deliver a good copy of one file."""


def mirrors_for(name: str, mirrors: Sequence[str] | None = None) -> list[str]:
    """Base URLs to try: the argument, else ``$LATENTLAB_MIRRORS`` (space-separated), else the defaults."""
    if mirrors is None and os.environ.get("LATENTLAB_MIRRORS"):
        mirrors = os.environ["LATENTLAB_MIRRORS"].split()
    if mirrors is None:
        mirrors = catalog.MIRRORS[name]
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def content_sha256(path: Path) -> str:
    """sha256 of the file's content, decompressed first when it is gzipped."""
    opener = gzip.open if idx.is_gzip(path) else open
    with opener(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def check_name(name: str, action: str) -> None:
    if name in catalog.IDX_DATASETS:
        return
    if action == "describe":
        raise DataError(f"cannot describe {name!r}: no such file or folder, and not a named dataset; give one of "
                        f"{', '.join(catalog.DATASETS)}, or a path to a .npy/.npz file or a folder of PNG/JPEG images.")
    raise DataError(
        f"cannot {action} {name!r}: use one of {', '.join(catalog.IDX_DATASETS)} "
        f"('digits' ships with scikit-learn and needs no download)."
    )


def _make_writable(dest: Path) -> None:
    """Create ``dest`` and check that files can be written in it."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=dest).close()
    except OSError as e:
        raise DataError(
            f"cannot write to {dest} ({e}); choose another destination folder, or set XDG_CACHE_HOME "
            f"to a writable folder."
        ) from e


def _download(url: str, dest: Path, base: str, sha256: str, timeout: float) -> Path:
    """Fetch ``url`` into ``dest``, verify it, and move it into place; return its path."""
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{base}.", suffix=".part")
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                declared = response.headers.get("Content-Length")
                received = 0
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
            if declared is not None and received != int(declared):
                raise _MirrorFailed(f"transfer cut short: got {received} of {declared} bytes")
            digest = content_sha256(Path(tmp))
        except (OSError, http.client.HTTPException, EOFError, zlib.error) as e:
            # OSError covers URLError, HTTPError, timeouts and bad gzip data.
            raise _MirrorFailed(f"{type(e).__name__}: {e}") from e
        if digest != sha256:
            raise _MirrorFailed(f"sha256 mismatch: got {digest}, expected {sha256}")
        final = dest / (f"{base}.gz" if idx.is_gzip(Path(tmp)) else base)
        os.replace(tmp, final)
        return final
    finally:
        Path(tmp).unlink(missing_ok=True)


def _fetch_file(base: str, dest: Path, mirrors: list[str], sha256: str, timeout: float) -> Path:
    """Try each mirror for one file; raise DataError listing every failure."""
    failures = []
    for mirror in mirrors:
        url = f"{mirror}{base}.gz"
        print(f"  {url}", file=sys.stderr)
        try:
            return _download(url, dest, base, sha256, timeout)
        except _MirrorFailed as e:
            print(f"    failed ({e}); trying the next mirror", file=sys.stderr)
            failures.append(f"  {url}: {e}")
    raise DataError(
        f"could not download {base} into {dest} from any mirror:\n"
        + "\n".join(failures)
        + "\nCheck the network connection, set LATENTLAB_MIRRORS to other base URLs "
        "(space-separated), or download the files yourself and pass --data-dir DIR."
    )


def fetch(
    name: str,
    dest_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    *,
    checksums: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download the four IDX files of ``name`` into ``dest_dir`` (default: the user cache).

    Files already there with the right checksum are kept. ``checksums`` maps
    file names (without ``.gz``) to the sha256 of their decompressed content and
    defaults to ``catalog.SHA256[name]``. Returns the destination folder.
    """
    check_name(name, "download")
    dest = Path(dest_dir).expanduser() if dest_dir else locate.cache_dir(name)
    _make_writable(dest)
    checksums = catalog.SHA256[name] if checksums is None else checksums
    urls = mirrors_for(name, mirrors)
    print(f"latentlab: downloading {name} into {dest}", file=sys.stderr)
    for base in catalog.IDX_FILES:
        present = locate.files_in(dest).get(base)
        if present is not None:
            if content_sha256(present) == checksums[base]:
                continue
            print(f"  {present} fails its checksum; downloading it again", file=sys.stderr)
            present.unlink()
        _fetch_file(base, dest, urls, checksums[base], timeout)
    return dest
