"""Loading folders of PNG/JPEG images."""

import numpy as np
import pytest
from PIL import Image

from latentlab.data import load_dataset
from latentlab.errors import DataError


def save(path, size=(6, 4), mode="L", value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value,) * 3).save(path)


def test_class_subfolders(tmp_path):
    for i in range(5):
        save(tmp_path / "cats" / f"{i}.png", value=10)
        save(tmp_path / "dogs" / "nested" / f"{i}.PNG", value=200)
    save(tmp_path / ".hidden" / "x.png", size=(9, 9))
    data = load_dataset(str(tmp_path), val_fraction=0)
    assert data.classes == ["cats", "dogs"] and data.shape == (1, 4, 6)
    assert len(data.train) == 8 and len(data.test) == 2
    x, y = data.train.x, data.train.y
    assert np.allclose(x[y == 0], 10 / 255) and np.allclose(x[y == 1], 200 / 255)


def test_mixed_modes_and_resize(tmp_path):
    save(tmp_path / "a.png")
    save(tmp_path / "b.jpg", size=(10, 12), mode="RGB")
    save(tmp_path / "c.jpeg", size=(10, 12))
    with pytest.raises(DataError, match="--image-size"):
        load_dataset(str(tmp_path))
    data = load_dataset(str(tmp_path), image_size=8, val_fraction=0)
    assert data.shape == (3, 8, 8) and data.classes is None and data.train.y is None


def test_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match="no PNG or JPEG images"):
        load_dataset(str(tmp_path))


def test_unreadable_image(tmp_path):
    save(tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png: cannot read"):
        load_dataset(str(tmp_path))
