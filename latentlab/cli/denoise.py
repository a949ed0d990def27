"""latentlab denoise RUN: corrupt test images, reconstruct them, and measure what was removed.

The picture is the lecture notes' three rows: original, corrupted, reconstructed.
Printed (and merged into RUN/eval_denoise.json under the noise spec): MSE and PSNR
on [0, 1] pixels of the corrupted test images and of the model's output, over the
whole test split, with noise drawn from --seed. Works on any autoencoder run: a
denoising one (trained with --noise) uses its own noise unless --noise is given.
The picture is named after the request (RUN/denoised-gaussian-0.4.png), so that
another noise never replaces it; a line on stderr says when a file is replaced.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from latentlab.errors import LatentlabError

if TYPE_CHECKING:
    from latentlab.data.noise import Noise


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("denoise", help=help, description="Corrupt test images, reconstruct them; picture of original / corrupted / "
                                   "reconstructed rows and MSE/PSNR of the corrupted input and of the output.")
    p.add_argument("run", metavar="RUN", help="run folder of an autoencoder")
    p.add_argument("--noise", default=None, help="gaussian:SIGMA, mask:P or saltpepper:P (default: the run's training noise)")
    p.add_argument("--n", type=int, default=16, help="test images in the picture (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    p.add_argument("-o", "--output", default=None,
                   help="FILE.png (default RUN/denoised-NOISE.png, e.g. denoised-gaussian-0.4.png; "
                        "-seedS is added for a seed other than 0)")
    p.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to load")
    p.add_argument("--data-dir", default=None, help="where the run's dataset lives, if it moved")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentlab.data.noise import corrupt, denoising_scores, parse_noise
    from latentlab.viz.plots import save_grid, write_report
    from latentlab.models.ae import AE
    from latentlab.models.base import ConditionalEncoder, Encoder
    from latentlab.training.run_folder import load, note, read_metrics, run_dataset, write_json
    if args.n < 1:
        raise LatentlabError(f"--n must be at least 1, got {args.n}")
    if args.output and Path(args.output).suffix != ".png":
        raise LatentlabError(f"output {args.output} must end in .png")
    noise = parse_noise(args.noise) if args.noise is not None else None
    model = load(args.run, args.which)
    if not isinstance(model, Encoder) or isinstance(model, ConditionalEncoder):
        raise LatentlabError(f"a '{model.name}' model has no encoder of images alone, so it cannot denoise: use an autoencoder run")
    if noise is None:
        noise = model.noise if isinstance(model, AE) else None  # a denoising AE's training corruption
        if noise is None:
            raise LatentlabError(f"{args.run} was trained without noise: say which corruption to apply, e.g. --noise gaussian:0.4")
    out = Path(args.output) if args.output else Path(args.run) / picture_name(noise, args.seed)
    test = run_dataset(args.run, args.data_dir).test
    if not len(test):
        raise LatentlabError(f"the dataset of {args.run} has no test images to corrupt")
    note(f"corrupting ({noise}, seed {args.seed}) and reconstructing {len(test):,} test images...")
    scores = denoising_scores(model, test.x, noise, seed=args.seed)
    x = test.x[: args.n]
    noisy = corrupt(x, noise, seed=args.seed)
    rec = model.reconstruct(noisy.to(model.device)).cpu()
    if out.exists():
        note(f"replacing {out} (an earlier picture of the same name)")
    save_grid(torch.cat([x, noisy, rec]), out, nrow=len(x))  # rows: original, corrupted, reconstructed

    path = Path(args.run) / "eval_denoise.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    write_json(path, {**previous, str(noise): {k: v for k, v in scores.items() if k != "noise"}})
    write_report(Path(args.run), read_metrics(args.run))
    print(f"{out}  (rows: original, corrupted {noise}, reconstructed)")
    print(f"{'':<12}{'MSE':>10}{'PSNR dB':>10}")
    print(f"{'corrupted':<12}{scores['mse_corrupted']:>10.5f}{scores['psnr_corrupted']:>10.2f}")
    print(f"{'output':<12}{scores['mse_output']:>10.5f}{scores['psnr_output']:>10.2f}")
    print(f"({scores['images']} test images, noise seed {args.seed})")
    return 0


def picture_name(noise: Noise, seed: int = 0) -> str:
    """denoised-KIND-LEVEL.png (denoised-gaussian-0.4.png), with -seedS for a noise seed other than 0."""
    return f"denoised-{noise.kind}-{noise.level:g}" + (f"-seed{seed}" if seed else "") + ".png"
