"""latentlab export RUN --onnx FILE.onnx: a trained model's decoder or generator (and its encoder) as ONNX.

What each file computes (float32 inputs and outputs, labels int64; the batch size, axis 0, is free):

    model                  FILE.onnx (decoder / generator)                    FILE.encoder.onnx
    ae, aae                z (B, latent) -> images (B, C, H, W) in [0, 1]     images -> z
                           (the decoder after its sigmoid; arch linear: its output as is)
    vae                    z -> images: the mean of p(x|z)                    images -> mu, logvar of q(z|x)
    cvae                   z, labels (B,) -> images                           images, labels -> mu, logvar
    gan, dcgan, wgan-gp,   z (B, in) -> images, z being what the model's      (bigan: images -> z)
    infogan, bigan         noise() gives (infogan: [z, one_hot(c_cat), c_cont])
    cgan, acgan            z (B, latent), labels (B,) -> images (the one-hot is built inside)
    calo-wgan, calo-vae    z (B, latent), energy (B,) GeV [, cell_noise (B, cells) ~ N(0, 1): calo-vae's
                           cell fluctuations] [, total_noise (B,) ~ N(0, 1): the calibrated total, when the
                           run calibrates] -> cells (B, cells) in MeV: ``generate`` with its draws as inputs

The exporter is PyTorch's own (``torch.onnx.export(..., dynamo=True)``, which needs onnxscript); the
file is self-contained (weights inside) and its model properties say what it is. When ONNX Runtime is
installed the export is checked: both functions run at two batch sizes and the largest difference is
printed. Models with nothing to export (the density models gaussian and kde) are refused (exit 2).
"""
from __future__ import annotations

import argparse
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from latentlab.errors import LatentlabError
from latentlab.models.base import ConditionalEncoder, ConditionalSampler, Encoder, GenerativeModel, LatentGenerator, LikelihoodModel

PARTS = ("all", "decoder", "encoder")
CHECK_BATCHES = (2, 3)
# Largest |ONNX Runtime - PyTorch| / max(1, |PyTorch|) accepted: images agree to ~1e-7; shower cells in MeV to
# ~1e-5 (exp(log_scale * v) magnifies float32 rounding in v); a broken export is off by far more.
TOLERANCE = 1e-4


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("export", help=help, description="Export a run's decoder or generator (and its encoder, where it "
                       "has one) as ONNX files with a free batch size: FILE.onnx and FILE.encoder.onnx. Shower models "
                       "export their generator with the incident energy as an input.")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("--onnx", required=True, metavar="FILE.onnx", help="the decoder / generator file; the encoder goes beside "
                   "it as FILE.encoder.onnx (with --part encoder, to FILE.onnx itself)")
    p.add_argument("--part", choices=PARTS, default="all",
                   help="all (default): the decoder / generator and, where there is one, the encoder; or only one of them")
    p.add_argument("--which", choices=("last", "best"), default="last", help="checkpoint to export")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset version (default: the exporter's)")
    p.set_defaults(func=run)


# --- the functions a user wants, as modules the exporter can trace ------------------------------
@dataclass
class Part:
    """One exportable function: a module, example inputs by name, output names, and what it is."""

    name: str  # "decoder", "generator" or "encoder"
    module: nn.Module
    inputs: dict[str, torch.Tensor]
    outputs: list[str]
    doc: str


def one_hot(labels: torch.Tensor, k: int) -> torch.Tensor:
    """(B,) int64 -> (B, K) float, built from a comparison (exports to any opset, no OneHot op)."""
    return (labels.unsqueeze(1) == torch.arange(k, device=labels.device)).float()


class Decode(nn.Module):
    """z [, labels] -> images in [0, 1]: the VAE family's mean image, or an autoencoder's decode."""

    def __init__(self, model: GenerativeModel):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        from latentlab.models.vae import VariationalModel
        if isinstance(self.model, VariationalModel):  # decode() checks label values: not traceable
            return torch.sigmoid(self.model.decoder_logits(z, labels))
        return self.model.decode(z)


class Encode(nn.Module):
    """images [, labels] -> (mu, logvar) of a LikelihoodModel, or the code z of any other Encoder."""

    def __init__(self, model: GenerativeModel):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        if isinstance(self.model, LikelihoodModel):
            return self.model.posterior(images, labels)
        return self.model.latent(images)


class Generate(nn.Module):
    """z [, labels] -> images in [0, 1] of a LatentGenerator (labels become the one-hot the noise carries)."""

    def __init__(self, model: GenerativeModel):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:
            z = torch.cat([z, one_hot(labels, self.model.num_classes)], 1)  # (B, latent + K): cGAN's [z, one_hot(y)]
        return self.model.generate(z)


class GenerateShowers(nn.Module):
    """``CaloModel.generate`` with its draws as inputs: (z, energy [, cell_noise] [, total_noise]) -> MeV cells."""

    def __init__(self, model: GenerativeModel):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, energy: torch.Tensor, cell_noise: torch.Tensor | None = None,
                total_noise: torch.Tensor | None = None) -> torch.Tensor:
        from latentlab.calo.vae import CaloVAE
        m = self.model
        c = m.condition(energy)  # (B, 1)
        if isinstance(m, CaloVAE):  # censored Gaussian: v = max(0, h + sigma_k eps)
            v = torch.relu(m.decode(z, c) + m.log_sigma.exp() * cell_noise)
        else:  # calo-wgan: v = ReLU(G([z, c]))
            v = torch.relu(m.generator(torch.cat([z, c], dim=1)))
        cells = m.to_mev(v)  # (B, cells) MeV
        if total_noise is None:
            return cells
        # calibrate_total with its N(0, 1) draw given: rescale to a total from N(<E_dep>(E), (sigma(E) <E_dep>)^2)
        e = energy.reshape(-1).float()
        expected = m.expected_deposit(e)
        rel = torch.sqrt(m.cfg.response_stochastic ** 2 / e + m.cfg.response_constant ** 2)
        target = torch.maximum(expected * (1 + rel * total_noise), 0.05 * expected)
        total = cells.sum(1)
        scale = torch.where(total > 0, target / total.clamp(min=1e-6), torch.ones_like(total))
        return cells * scale.unsqueeze(1)


def calibrates(model: GenerativeModel) -> bool:
    """Whether a shower model's generate() rescales totals (and so draws one more number per shower)."""
    cfg = model.cfg
    return bool(cfg.calibrate and (cfg.response_stochastic > 0 or cfg.response_constant > 0))


def parts(model: GenerativeModel, batch: int = 2) -> dict[str, Part]:
    """The exportable functions of a model, by interface; example inputs of ``batch`` rows (seeded)."""
    from latentlab.calo.modelbase import CaloModel
    from latentlab.calo.vae import CaloVAE
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(batch) % (model.num_classes or 1)  # (B,) int64
    out: dict[str, Part] = {}
    if isinstance(model, CaloModel):
        inputs = {"z": torch.randn(batch, model.cfg.latent_dim, generator=gen),
                  "energy": torch.linspace(model.cfg.e_min, model.cfg.e_max, batch)}
        if isinstance(model, CaloVAE):
            inputs["cell_noise"] = torch.randn(batch, model.cfg.n_cells, generator=gen)
        if calibrates(model):
            inputs["total_noise"] = torch.randn(batch, generator=gen)
        doc = ("showers in MeV (B, cells) from z ~ N(0, I), the incident energy in GeV"
               + (", cell_noise ~ N(0, 1) (B, cells)" if "cell_noise" in inputs else "")
               + (", total_noise ~ N(0, 1) (B,)" if "total_noise" in inputs else "") + ": generate() with its draws as inputs")
        out["generator"] = Part("generator", GenerateShowers(model), inputs, ["cells"], doc)
        return out
    if isinstance(model, LatentGenerator):
        conditional = isinstance(model, ConditionalSampler)
        codes = model.noise(batch, labels if conditional else None, generator=gen)  # (B, in_dim)
        if conditional:
            z = codes[:, :codes.shape[1] - model.num_classes]
            out["generator"] = Part("generator", Generate(model), {"z": z, "labels": labels}, ["images"],
                                    "images (B, C, H, W) in [0, 1] from z ~ N(0, I) (B, latent) and class labels (B,) int64")
        else:
            layout = (type(model).noise.__doc__ or "").strip().splitlines()[0]
            out["generator"] = Part("generator", Generate(model), {"z": codes}, ["images"],
                                    f"images (B, C, H, W) in [0, 1] from the generator's input z: {layout}")
    elif isinstance(model, Encoder):  # autoencoders and the VAE family decode codes
        size = model.latent(torch.zeros(1, *model.shape), labels[:1] if isinstance(model, ConditionalEncoder) else None).shape[1]
        z = torch.randn(batch, size, generator=gen)
        inputs = {"z": z, "labels": labels} if isinstance(model, ConditionalEncoder) else {"z": z}
        what = "the mean image of p(x|z)" if isinstance(model, LikelihoodModel) else "the decoder's output"
        out["decoder"] = Part("decoder", Decode(model), inputs, ["images"],
                              f"images (B, C, H, W) from codes z (B, {size}){' and labels (B,) int64' if 'labels' in inputs else ''}: {what}")
    if isinstance(model, Encoder) and not isinstance(model, CaloModel):
        images = torch.rand(batch, *model.shape, generator=gen)
        inputs = {"images": images, "labels": labels} if isinstance(model, ConditionalEncoder) else {"images": images}
        if isinstance(model, LikelihoodModel):
            out["encoder"] = Part("encoder", Encode(model), inputs, ["mu", "logvar"],
                                  "mean and log-variance of q(z|x) (B, latent) each, from images (B, C, H, W) in [0, 1]")
        else:
            out["encoder"] = Part("encoder", Encode(model), inputs, ["z"], "codes z (B, latent) from images (B, C, H, W) in [0, 1]")
    if not out:
        raise LatentlabError(f"a '{model.name}' model has no decoder, generator or encoder to export "
                             f"(export serves autoencoders, VAEs, GANs and shower models)")
    return out


# --- export and check ------------------------------------------------------------------------
def export_part(part: Part, path: str | Path, opset: int | None = None, meta: dict[str, str] | None = None) -> Path:
    """Write ``part`` as a self-contained ONNX file with a free batch size (axis 0 of every input and output)."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError as e:
        raise LatentlabError(f"ONNX export needs the onnx and onnxscript packages ({e.name} is missing): "
                             "pip install 'latentlab[export]'") from e
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = part.module.eval()
    batch = torch.export.Dim.DYNAMIC
    with warnings.catch_warnings(), _quiet_exporter():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(module, (), kwargs=dict(part.inputs), dynamo=True, input_names=list(part.inputs), output_names=part.outputs,
                                        dynamic_shapes={k: {0: batch} for k in part.inputs}, opset_version=opset,
                                        verbose=False)
        except Exception as e:  # the exporter's own failures: an op without an ONNX form, a graph it cannot trace
            raise LatentlabError(f"the {part.name} could not be exported to ONNX: {type(e).__name__}: "
                                 f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}") from e
    proto = program.model_proto
    for value in [*proto.graph.input, *proto.graph.output]:  # name the free axis "batch" in every signature
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = "batch"
    onnx.helper.set_model_props(proto, {"part": part.name, "description": part.doc, **(meta or {})})
    proto.doc_string = part.doc
    onnx.save(proto, str(path))
    return path


class _quiet_exporter:
    """Keep the exporter's progress lines and INFO/WARNING logs (e.g. 'torchvision is not installed') off the terminal."""

    def __enter__(self):
        import contextlib
        import io
        self._loggers = [(logging.getLogger(n), logging.getLogger(n).level) for n in ("torch.onnx", "torch._dynamo", "torch.export")]
        for logger, _ in self._loggers:
            logger.setLevel(logging.ERROR)
        self._out = contextlib.redirect_stdout(io.StringIO())
        self._out.__enter__()
        return self

    def __exit__(self, *exc):
        self._out.__exit__(*exc)
        for logger, level in self._loggers:
            logger.setLevel(level)


@torch.no_grad()
def max_difference(part: Part, path: str | Path, batches: tuple[int, ...] = CHECK_BATCHES) -> float | None:
    """Largest |ONNX Runtime - PyTorch| / max(1, |PyTorch|) over the outputs at each batch size (the absolute
    difference for images in [0, 1], the relative one for showers of thousands of MeV); None without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for b in batches:
        feeds = {k: resize(v, b) for k, v in part.inputs.items()}
        ours = part.module(**feeds)
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = session.run(part.outputs, {k: v.numpy() for k, v in feeds.items()})
        for a, t in zip(ours, theirs):
            worst = max(worst, float(((a - torch.from_numpy(t)).abs() / a.abs().clamp(min=1)).max()))
    return worst


def resize(x: torch.Tensor, b: int) -> torch.Tensor:
    """An example input with b rows: the rows repeated, then perturbed so they differ (labels cycled)."""
    rows = x.repeat(math.ceil(b / len(x)), *[1] * (x.dim() - 1))[:b]
    if x.dtype == torch.long:
        return torch.arange(b) % max(int(x.max()) + 1, 1)
    return rows * (1 + 0.1 * torch.arange(b).view(-1, *[1] * (x.dim() - 1)))


def run(args: argparse.Namespace) -> int:
    from latentlab import __version__
    from latentlab.training.run_folder import load, read_run
    out = Path(args.onnx)
    if out.suffix != ".onnx":
        raise LatentlabError(f"--onnx {out} must end in .onnx")
    info = read_run(args.run)
    model = load(args.run, which=args.which)
    available = parts(model)
    decoder = next((n for n in ("generator", "decoder") if n in available), None)
    if args.part == "encoder" and "encoder" not in available:
        raise LatentlabError(f"a '{model.name}' model has no encoder to export; drop --part encoder "
                             f"(it exports its {decoder})")
    if args.part == "decoder" and decoder is None:
        raise LatentlabError(f"a '{model.name}' model has no decoder or generator to export; use --part encoder")
    chosen = {"all": list(available), "decoder": [decoder], "encoder": ["encoder"]}[args.part]
    meta = {"model": info.model_name, "run": str(Path(args.run).resolve()), "latentlab": __version__,
            "image_shape": "x".join(map(str, info.shape))}
    for name in chosen:
        part = available[name]
        path = out if (name != "encoder" or args.part == "encoder") else out.with_name(out.stem + ".encoder.onnx")
        export_part(part, path, args.opset, meta)
        sig = ", ".join(f"{k} ({', '.join(['batch', *map(str, v.shape[1:])])})" for k, v in part.inputs.items())
        print(f"{path}  ({name}: {sig} -> {', '.join(part.outputs)})")
        diff = max_difference(part, path)
        if diff is not None:
            print(f"  ONNX Runtime matches PyTorch at batch sizes {', '.join(map(str, CHECK_BATCHES))}: largest difference {diff:.2g} "
                  "(relative above 1)")
            if diff > TOLERANCE:
                raise LatentlabError(f"{path}: ONNX Runtime differs from PyTorch by {diff:.3g} (more than {TOLERANCE}); "
                                     "please report this with the run's config.json")
    return 0
