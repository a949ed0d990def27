"""What a dataset is and where it was found (``latentlab data info``): files, counts, shapes, checksums."""

import hashlib
import os
from pathlib import Path

from latentlab.data import catalog, idx, locate
from latentlab.data.download import check_name
from latentlab.data.load import load_dataset
from latentlab.errors import DataError


def _file_info(path: Path, sha256: str, name: str | None = None) -> dict:
    """Size, checksum and IDX shape of one file; an ``error`` entry if it cannot be read."""
    entry: dict = {"path": str(path), "bytes": path.stat().st_size}
    try:
        data = idx.read_bytes(path, name)
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        entry["sha256_ok"] = entry["sha256"] == sha256
        entry["shape"] = list(idx.parse(data, path, name).shape)
    except DataError as e:
        entry["sha256_ok"] = False
        entry["error"] = str(e)
    return entry


def _path_info(path: Path) -> dict:
    """Describe an array file or image folder: what training would see (the default splits)."""
    data = load_dataset(str(path))
    result = {"name": data.name, "found": True, "source": str(path.resolve()),
              "kind": "tabular (rows of features, standardised per feature on the training split)" if data.tabular
              else "images",
              "counts": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
              "classes": data.classes}
    if data.tabular:
        result["features"] = data.shape[-1]
    else:
        result["image_shape"] = list(data.shape)
    return result


def _first_dim(entry: dict) -> int | None:
    return entry["shape"][0] if "shape" in entry else None


def info(name: str, data_dir: str | os.PathLike | None = None) -> dict:
    """Describe a named dataset: where it was found, its files, counts, shapes and checksums."""
    if name == "digits":
        return {
            "name": name,
            "found": True,
            "source": "scikit-learn load_digits() (bundled, no download)",
            "counts": {"all": 1797},
            "image_shape": [1, 8, 8],
            "classes": catalog.CLASSES[name],
        }
    if name not in catalog.DATASETS and Path(name).expanduser().exists():
        return _path_info(Path(name).expanduser())
    check_name(name, "describe")
    result: dict = {
        "name": name,
        "searched": [str(d) for d in locate.search_dirs(name, data_dir)],
        "classes": catalog.CLASSES[name],
    }
    files = locate.locate(name, data_dir)
    if files is None:
        return {**result, "found": False, "hint": locate.not_found_message(name, data_dir)}
    entries = {base: _file_info(path, catalog.SHA256[name][base], name) for base, path in files.items()}
    return {
        **result,
        "found": True,
        "directory": str(files[catalog.IDX_FILES[0]].parent),
        "files": entries,
        "counts": {
            "train": _first_dim(entries["train-labels-idx1-ubyte"]),
            "test": _first_dim(entries["t10k-labels-idx1-ubyte"]),
        },
        "image_shape": [1, *entries["train-images-idx3-ubyte"].get("shape", [None, None, None])[1:]],
        "sha256_ok": all(e["sha256_ok"] for e in entries.values()),
    }
