"""Seeded, deterministic hold-out splits (stratified by label when possible)."""

import numpy as np

TEST_FRACTION = 0.2
"""Share of the data held out for test when a source has no official test split."""

TEST_SEED = 0
"""The carved test split uses a fixed seed so test scores compare across ``seed`` values."""


def hold_out(n: int, fraction: float, seed: int, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into (kept, held) sorted index arrays; ``held`` has round(fraction * n) items.

    The split is stratified by ``labels`` when given and every class can be
    represented on both sides; otherwise it is a plain random split.
    """
    from sklearn.model_selection import train_test_split  # here, not at import: keeps the CLI's start fast

    n_held = int(round(fraction * n))
    everything = np.arange(n)
    if n_held == 0:
        return everything, everything[:0]
    try:
        kept, held = train_test_split(everything, test_size=n_held, random_state=seed, stratify=labels)
    except ValueError:
        # scikit-learn refuses to stratify when a class has a single member or
        # a side is smaller than the number of classes: fall back to random.
        kept, held = train_test_split(everything, test_size=n_held, random_state=seed)
    return np.sort(kept), np.sort(held)
