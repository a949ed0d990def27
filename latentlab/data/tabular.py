"""Tabular data: rows of D numeric features, an (N, D) array in a .npy file (or under ``x`` in an .npz).

What anomaly-detection users bring first. Such data trains the MLP autoencoders (``ae`` and ``vae``
with ``--arch mlp``, and so ``latentlab anomaly``); the models see each row as a (1, 1, D) "image",
the layout that marks tabular data throughout latentlab (``is_tabular``):

    x      (N, D) in the file          any integer, boolean or float dtype; NaN or infinite values are
                                       refused naming their row and column
    fit    mean_j, std_j of feature j  on the training split only (float64); a feature whose std is
                                       below 1e-8 * max(1, |mean_j|) (constant) gets std_j = 1, so it is
                                       centred but not blown up (as scikit-learn's StandardScaler does)
    apply  z_ij = (x_ij - mean_j) / std_j      -> (N, 1, 1, D) float32, every split with the same constants
    invert x_ij = z_ij * std_j + mean_j

The constants are saved with the run (config.json, ``data.standardization``), and
``run_folder.run_dataset`` re-applies them, so eval, anomaly scores and samples share the scale the
model was trained on. Models compute in standardised units (``model.sample`` returns standardised
rows); ``latentlab sample`` and ``latentlab reconstruct`` write rows in the data's own units.

Standardised features are not probabilities: on tabular data the AE's loss is the squared error
and the VAE's likelihood is Gaussian (both with an identity output, not a sigmoid); the models set
``recon="mse"`` / ``likelihood="gaussian"`` themselves and config.json records it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from latentlab.errors import DataError

MIN_STD = 1e-8  # relative to max(1, |mean|): below it a feature counts as constant (std taken as 1)


def is_tabular(shape: tuple[int, ...]) -> bool:
    """True for the layout of tabular data: one channel, one pixel tall, D wide (C, H, W) = (1, 1, D)."""
    return len(shape) == 3 and shape[0] == 1 and shape[1] == 1


def check_features(x: np.ndarray, source: str) -> np.ndarray:
    """(N, D) numeric and finite -> float64; the first NaN or infinite value is named by row and column."""
    if x.ndim != 2:
        raise DataError(f"{source}: tabular data must be 2-D (N rows, D features), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"{source}: the table is empty (shape {x.shape}); it needs at least one row and one feature.")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"{source}: the table has dtype {x.dtype}; features must be real numbers "
                        f"(e.g. x.astype('float32'); encode text columns as numbers first).")
    values = x.astype(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"{source}: {int(bad.sum())} NaN or infinite value(s); the first is {values[row, col]} in row {row}, "
                        f"column {col} (counting from 0). Drop or fill those rows before saving "
                        f"(e.g. x = x[np.isfinite(x).all(axis=1)]).")
    return values


def _rows(x: np.ndarray) -> np.ndarray:
    """(N, D) from (N, D) or (N, 1, 1, D), N = 0 included."""
    return x.reshape(x.shape[0], int(np.prod(x.shape[1:])))


@dataclass(frozen=True)
class Standardization:
    """Per-feature mean and std (float64, (D,) each), fitted on the training split."""

    mean: np.ndarray
    std: np.ndarray

    @property
    def features(self) -> int:
        return len(self.mean)

    @classmethod
    def fit(cls, x: np.ndarray | torch.Tensor) -> "Standardization":
        """The constants of rows ``x`` ((N, D), or (N, 1, 1, D)); a constant feature gets std 1."""
        x = _rows(np.asarray(x, dtype=np.float64))
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        std = np.where(std < MIN_STD * np.maximum(1.0, np.abs(mean)), 1.0, std)
        return cls(mean, std)

    def apply(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Rows in the data's units ((N, D) or (N, 1, 1, D)) -> standardised (N, 1, 1, D) float32."""
        x = _rows(np.asarray(x, dtype=np.float64))
        self._check(x.shape[1])
        z = (x - self.mean) / self.std
        return torch.from_numpy(z.astype(np.float32)).reshape(len(x), 1, 1, self.features)

    def invert(self, z: np.ndarray | torch.Tensor) -> np.ndarray:
        """Standardised rows ((N, 1, 1, D) or (N, D)) -> (N, D) float64 in the data's own units."""
        z = z.detach().cpu().numpy() if isinstance(z, torch.Tensor) else np.asarray(z)
        z = _rows(z.astype(np.float64))
        self._check(z.shape[1])
        return z * self.std + self.mean

    def _check(self, d: int) -> None:
        if d != self.features:
            raise DataError(f"these rows have {d} features but the standardisation was fitted on {self.features}")

    def to_dict(self) -> dict[str, list[float]]:
        """For config.json (floats written exactly, so a run re-applies the very same constants)."""
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, d: Any, source: str) -> "Standardization":
        """Read what ``to_dict`` wrote; anything else is a DataError naming ``source``."""
        try:
            mean = np.asarray(d["mean"], dtype=np.float64)
            std = np.asarray(d["std"], dtype=np.float64)
            if mean.ndim != 1 or mean.shape != std.shape or not len(mean):
                raise ValueError("mean and std must be lists of one number per feature")
            if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
                raise ValueError("mean must be finite and std finite and > 0")
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{source}: the saved standardisation of the tabular data is damaged ({e}); "
                            f"restore config.json from the original run") from None
        return cls(mean, std)
