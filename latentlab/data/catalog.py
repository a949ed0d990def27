"""The named datasets: their files, mirrors, checksums and class names.

This module is data only; ``locate``, ``download`` and ``named`` act on it.
"""

DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion-mnist")
"""Every dataset ``load_dataset`` knows by name (a path is accepted too)."""

IDX_DATASETS: tuple[str, ...] = ("mnist", "fashion-mnist")
"""The named datasets stored as four IDX files."""

IDX_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
"""File names without ``.gz``; either the raw or the gzipped file is accepted."""

COUNTS: dict[str, int] = {"train": 60000, "t10k": 10000}
"""Number of images in each IDX pair (keyed by the file-name prefix)."""

IMAGE_HW: tuple[int, int] = (28, 28)

MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
}
"""Base URLs tried in turn; each serves ``<file>.gz``. ``LATENTLAB_MIRRORS`` overrides."""

SHA256: dict[str, dict[str, str]] = {
    # sha256 of the *decompressed* IDX bytes, so a re-gzipped copy verifies too.
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

CLASSES: dict[str, list[str]] = {
    "digits": [str(i) for i in range(10)],
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
}

APT_PACKAGES: dict[str, str] = {"fashion-mnist": "dataset-fashion-mnist"}
"""Debian/Ubuntu packages that install a dataset under /usr/share/datasets."""
