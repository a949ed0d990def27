"""An animated GIF of how a generator's samples evolve over training.

After each epoch a training callback (``latentlab.training.callbacks``) saves one frame,
the generator's grid of its fixed code batch, as a small PNG in ``RUN/frames/epoch_XXX.png``
(so the animation survives --resume), and the GIF is rebuilt from every frame: ``RUN/training.gif``
(by the training loop as often as keeps it cheap, and when training ends).
"""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageDraw

from latentlab.viz.plots import grid
from latentlab.files import atomic_write

FRAMES = "frames"


def save_frame(images: torch.Tensor, run_dir: str | Path, epoch: int, nrow: int | None = None) -> Path:
    """One frame: the (N, C, H, W) grid at its natural size (upscaled only in the GIF)."""
    tiles = grid(images, nrow)  # (rows, cols, C) uint8
    img = Image.fromarray(tiles[..., 0] if tiles.shape[2] == 1 else tiles)
    folder = Path(run_dir) / FRAMES
    folder.mkdir(exist_ok=True)
    path = folder / f"epoch_{epoch:03d}.png"
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))
    return path


def write_gif(run_dir: str | Path, name: str = "training.gif", ms_per_frame: int = 400, size: int = 320) -> Path | None:
    """Rebuild RUN/name from RUN/frames/epoch_*.png, each frame captioned with its epoch."""
    run_dir = Path(run_dir)
    paths = sorted((run_dir / FRAMES).glob("epoch_*.png"))
    if not paths:
        return None
    frames = []
    for p in paths:
        with Image.open(p) as png:
            img = png.convert("L" if png.mode == "L" else "RGB")
        scale = max(1, size // max(img.size))
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        canvas = Image.new(img.mode, (img.width, img.height + 14), 255 if img.mode == "L" else (255, 255, 255))
        canvas.paste(img, (0, 14))
        ImageDraw.Draw(canvas).text((2, 1), f"epoch {int(p.stem.split('_')[1])}", fill=0 if img.mode == "L" else (0, 0, 0))
        frames.append(canvas)
    durations = [ms_per_frame] * (len(frames) - 1) + [4 * ms_per_frame]  # linger on the last epoch
    path = run_dir / name
    atomic_write(path, lambda tmp: frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                                                  duration=durations if len(frames) > 1 else ms_per_frame, loop=0))
    return path
