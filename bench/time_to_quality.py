"""Time to quality (issue 11): sample quality against minutes of training for vae, cvae, dcgan,
wgan-gp, cgan, acgan and infogan, each with its ``latentlab train`` defaults, beside a bare PyTorch
loop on the same networks and pythae's VAE.

Each latentlab model is one run, ``latentlab.train(MODEL, minutes=B1, epochs=10**6, seed=0)``, then
``resume`` with minutes=B2, B3, ...: the loop's time budget (``TrainConfig.minutes``, wall-clock time of
the loop: steps, validation, checkpoints and the per-epoch pictures, not the data loading) is resumable
and a resumed run continues its clock, so one run passes every budget. At each budget its samples are
drawn and scored; the scoring's time is outside the budget. The budgets are taken in turn, every model
at one budget before any at the next, so that a load that changes during the run touches all alike.

Beside them, with the same clock and the same budgets:
  bare dcgan / bare vae   latentlab's default networks (the model is built, its generator and
                          discriminator, or encoder and decoder, taken out) trained by a plain loop of
                          a dozen lines: the same batches, optimiser settings (the model's training
                          defaults) and losses (non-saturating BCE; the ELBO with a Bernoulli decoder),
                          fused Adam and the other network frozen in each step as in latentlab's
                          loop; no validation, checkpoints or pictures. The floor of the loop's overhead.
  pythae VAE              pythae 0.1.2's ``VAE`` (its default MLP, BCE, latent 16), Adam 1e-3, batch 128;
                          a benchmark-only dependency (``make bench`` installs it), skipped with a note
                          when it is missing.

Scoring (``latentlab.evaluation.samples.score``, the code behind ``latentlab eval RUN --samples N`` and
``latentlab score``): N samples (default 10,000, seed 0; a conditional model's labels in the test
split's proportions) against the test split in the features of the shipped evaluation classifier:
Frechet distance with its floor (N training images), precision / recall, classes covered and class KL,
recognisable share (confidence >= 0.9) with its ceiling, label accuracy of conditional models.
Loop overhead: the steps per second of latentlab's dcgan over the last budget against the bare loop's
(target <= 1.05x).

    python bench/time_to_quality.py [--dataset mnist|fashion-mnist] [--data-dir ../shared/data/mnist]
                                    [--models vae dcgan ...] [--budgets 1 5 15 30] [--threads 2]
    python bench/time_to_quality.py --quick    (digits, budgets 0.05 and 0.1 min, dcgan, vae and the bare
                                                loops, 500 samples: a smoke test of a minute or two)

Writes bench/results/time_to_quality[-DATASET].md, _fd.png (FD against minutes, log y) and
_samples.png (the grids at 15 minutes, or the budget nearest it); --quick, and a variant of the defaults
(--set), write them to bench/_work/ instead (bench/gan_defaults.py gathers the variants into one table).
The result of every budget (a JSON row, with the load average when its training ended, and the grid at 15
minutes) is kept in bench/results/time_to_quality/<dataset>-t<threads>-s<seed>/, which is committed; each
model's run and the bare loops' states in bench/_work/time_to_quality/<dataset>-t<threads>-s<seed>/. A rerun
scores only the budgets that are missing, resuming each run at the last finished one (or, where its run
folder is gone, training it afresh to the missing budget), so the run can be done in parts, one model at
a time, and assembled by a last invocation with every model.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import latentlab
from common import RESULTS, ROOT, WORK, keep_reading, load_average, parse_setting
from latentlab.config import TrainConfig, from_dict, train_defaults
from latentlab.data import iterate_batches, load_dataset
from latentlab.evaluation.classifier import evaluator_data, get_evaluator
from latentlab.evaluation.samples import draw, sample_labels, score
from latentlab.models import get_model_class
from latentlab.models.base import Sampler

MODELS = ["vae", "cvae", "dcgan", "wgan-gp", "cgan", "acgan", "infogan"]
BARE = {"bare dcgan": "dcgan", "bare vae": "vae"}  # row name -> the latentlab model whose default networks it trains
PYTHAE = "pythae VAE"
PYTHAE_LATENT, PYTHAE_BATCH, PYTHAE_LR = 16, 128, 1e-3
GRID_AT = 15.0  # minutes: the budget whose samples are pictured


# --- the bare loops ---------------------------------------------------------------------------------
class BareLoop:
    """A plain PyTorch loop on a latentlab model's networks, advanced budget by budget; its state (the
    networks, optimisers, RNG, where it stands) is saved after each budget so that a rerun goes on."""

    def __init__(self, name: str, data, seed: int, path: Path):
        self.name, self.data, self.path = name, data, path
        model_name = BARE[name]
        cls = get_model_class(model_name)
        t = from_dict(TrainConfig, {**train_defaults(cls), "seed": seed})
        torch.manual_seed(seed)  # the same initial weights as latentlab's run of the model
        self.model = cls(cls.Config(), data.shape, data.num_classes)
        self.batch_size, self.seed = t.batch_size, seed
        adam = dict(lr=t.lr, betas=(t.beta1, t.beta2), weight_decay=t.weight_decay)
        if model_name == "vae":
            self.model.fit_start(data.train.x)  # the same data-dependent start as the latentlab run
            self.nets = {"model": torch.nn.ModuleList([self.model.encoder, self.model.decoder])}
        else:
            self.nets = {"discriminator": self.model.discriminator, "generator": self.model.generator}
            self.d_steps = self.model.cfg.d_steps
        # fused, as latentlab's loop builds it: the floor compares loops, not two implementations of Adam
        self.opts = {k: torch.optim.Adam(m.parameters(), **adam, fused=True) for k, m in self.nets.items()}
        self.steps, self.seconds, self.epoch, self.batch = 0, 0.0, 0, 0
        if path.exists():
            saved = torch.load(path, weights_only=True)
            self.model.load_state_dict(saved["model"])
            for k, o in self.opts.items():
                o.load_state_dict(saved["opts"][k])
            torch.set_rng_state(saved["rng"])
            self.steps, self.seconds, self.epoch, self.batch = saved["steps"], saved["seconds"], saved["epoch"], saved["batch"]

    def train_step(self, x: torch.Tensor) -> None:
        """One optimiser step, on a batch ``x`` of training images."""
        if "model" in self.nets:
            self.vae_step(x)
        else:
            self.gan_step(x)

    def vae_step(self, x: torch.Tensor) -> None:
        mu, logvar = self.model.encoder(x).chunk(2, dim=1)  # (B, latent) each
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        logits = self.model.decoder(z)  # (B, C, H, W)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1).mean()
        self.update("model", rec + kl)

    def gan_step(self, x: torch.Tensor) -> None:
        g, d = self.model.generator, self.model.discriminator
        z = torch.randn(len(x), self.model.cfg.latent_dim)
        if self.steps % (self.d_steps + 1) < self.d_steps:  # the discriminator's turn(s), then the generator's
            with torch.no_grad():
                fake = g(z)
            real_logit, fake_logit = d(x)["adv"], d(fake)["adv"]
            loss = F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit)) + \
                F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
            self.update("discriminator", loss)
        else:  # the discriminator frozen, as latentlab's loop freezes every group but the one stepping
            d.requires_grad_(False)
            self.update("generator", F.softplus(-d(g(z))["adv"]).mean())  # non-saturating
            d.requires_grad_(True)

    def update(self, group: str, loss: torch.Tensor) -> None:
        opt = self.opts[group]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def advance(self, minutes: float) -> None:
        """Train until ``minutes`` of this loop's time (over every budget so far) are spent."""
        self.model.train()
        last = time.monotonic()
        while self.seconds < 60.0 * minutes:
            batches = iterate_batches(self.data.train, self.batch_size, shuffle=True, epoch=self.epoch, seed=self.seed)
            for i, (x, _) in enumerate(batches):
                if i < self.batch:
                    continue
                self.train_step(x)
                self.steps, self.batch = self.steps + 1, self.batch + 1
                now = time.monotonic()
                self.seconds, last = self.seconds + now - last, now
                if self.seconds >= 60.0 * minutes:
                    break
            else:
                self.epoch, self.batch = self.epoch + 1, 0
        self.model.eval()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": self.model.state_dict(), "opts": {k: o.state_dict() for k, o in self.opts.items()},
                    "rng": torch.get_rng_state(), "steps": self.steps, "seconds": self.seconds, "epoch": self.epoch,
                    "batch": self.batch}, self.path)


class PythaeLoop(BareLoop):
    """pythae's VAE (its default MLP networks, BCE) trained by a plain loop of pythae's own forward pass and loss."""

    def __init__(self, name: str, data, seed: int, path: Path):
        from pythae.models import VAE, VAEConfig
        self.name, self.data, self.path, self.seed = name, data, path, seed
        torch.manual_seed(seed)
        self.model = VAE(VAEConfig(input_dim=data.shape, latent_dim=PYTHAE_LATENT, reconstruction_loss="bce"))
        self.batch_size = PYTHAE_BATCH
        self.nets = {"model": self.model}
        self.opts = {"model": torch.optim.Adam(self.model.parameters(), lr=PYTHAE_LR)}
        self.steps, self.seconds, self.epoch, self.batch = 0, 0.0, 0, 0
        if path.exists():
            saved = torch.load(path, weights_only=True)
            self.model.load_state_dict(saved["model"])
            self.opts["model"].load_state_dict(saved["opts"]["model"])
            torch.set_rng_state(saved["rng"])
            self.steps, self.seconds, self.epoch, self.batch = saved["steps"], saved["seconds"], saved["epoch"], saved["batch"]

    def train_step(self, x: torch.Tensor) -> None:
        from pythae.data.datasets import DatasetOutput
        self.update("model", self.model(DatasetOutput(data=x)).loss)


class PythaeSampler(torch.nn.Module, Sampler):
    """pythae's VAE as a latentlab Sampler: z ~ N(0, I) from the generator, the decoder's means."""

    name = "pythae-vae"

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample(self, n, y=None, generator=None):
        z = torch.randn(n, PYTHAE_LATENT, generator=generator, device=self.device)  # (n, latent)
        return self.vae.decoder(z)["reconstruction"]


# --- one budget of one model --------------------------------------------------------------------
def advance_latentlab(name: str, minutes: float, data, work: Path, seed: int,
                      settings: dict | None = None) -> tuple[object, dict]:
    """Train (or resume) the model's run to ``minutes`` (``settings``: more ``latentlab.train`` settings, e.g.
    ema=0.999); the model and where the run stands."""
    run = work / name
    if (run / "checkpoint.json").exists():
        done = latentlab.train(name, resume=run, data=data, minutes=minutes)
    else:
        done = latentlab.train(name, out=str(run), data=data, minutes=minutes, epochs=10 ** 6, seed=seed,
                               device="cpu", progress=False, **(settings or {}))
    loop = torch.load(run / "train_state.pt", weights_only=True)["loop"]
    return done.model, {"steps": loop["step"], "seconds": loop["seconds"], "epochs": len(done.metrics)}


def result_path(folder: Path, name: str, minutes: float) -> Path:
    return folder / f"{name.replace(' ', '-')}-{minutes:g}min.json"


def score_one(name: str, model, args, evaluator, edata, memo: dict, grid_path: Path | None) -> dict:
    started = time.time()
    labels = sample_labels(model, edata.test, args.samples, None, 0)
    images = draw(model, args.samples, labels, 0)
    if grid_path is not None:
        from latentlab.viz.plots import save_grid
        grid_path.parent.mkdir(parents=True, exist_ok=True)
        save_grid(images[:64], grid_path, nrow=8)
    result = score(evaluator, images, edata.test, edata.train, labels, None, 0, memo)
    return {**result, "score_wall": time.time() - started}


# --- the report ---------------------------------------------------------------------------------
def fmt(v, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def overhead(rows: list[dict], bare_name: str) -> tuple[float, dict, dict] | None:
    """(latentlab's seconds per step / the bare loop's, the two rows) for the model of bare loop ``bare_name``
    at the last budget both reached."""
    name = BARE[bare_name]
    both = [b for b in sorted({r["minutes"] for r in rows}, reverse=True)
            if {(name, b), (bare_name, b)} <= {(r["name"], r["minutes"]) for r in rows}]
    if not both:
        return None
    ours = next(r for r in rows if r["name"] == name and r["minutes"] == both[0])
    bare = next(r for r in rows if r["name"] == bare_name and r["minutes"] == both[0])
    return (bare["steps"] / bare["seconds"]) / (ours["steps"] / ours["seconds"]), ours, bare


def write_report(rows: list[dict], args, headers: list[str], notes: list[str]) -> None:
    base = args.results
    lines = [f"# Time to quality on {args.dataset}", "", *headers,
             f"Every model at its `latentlab train` defaults (seed 0, CPU, {args.threads} torch thread{'s' * (args.threads > 1)}), trained to "
             f"budgets of {', '.join(f'{b:g}' for b in args.budgets)} minutes of loop wall time (`--minutes`, resumed "
             "budget after budget; validation, checkpoints and pictures included, scoring not). Bare loops: the same "
             "networks, batches and optimiser settings, steps only. Steps count every optimiser step (a GAN's "
             "discriminator steps included).  ",
             f"Scoring: N = {args.samples} samples (seed 0) against the test split in the shipped evaluator's features "
             "(`latentlab.evaluation.samples.score`); precision/recall k = 3; classes covered of 10 and class KL (nats) "
             "of the evaluator's labels; recognisable: share of samples given one class with probability >= 0.9; "
             "label acc: conditional models, on the labels asked for.", ""]
    if rows:
        ev = rows[0]
        lines += [f"Evaluator: sha256 `{ev['evaluator_sha256']}` ({ev.get('evaluator', 'local')}). Floors (N training images): "
                  f"FD {ev.get('samples_fd_floor', float('nan')):.2f}, precision {ev.get('samples_precision_floor', float('nan')):.3f}, "
                  f"recall {ev.get('samples_recall_floor', float('nan')):.3f}; recognisable ceiling (test images) "
                  f"{ev['samples_recognisable_ceiling']:.3f}.", "",
                  "| model | minutes | steps | epochs | FD ↓ | precision ↑ | recall ↑ | classes | class KL ↓ | label acc | recognisable ↑ | load |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in sorted(rows, key=lambda r: (args.models.index(r["name"]) if r["name"] in args.models else 99, r["minutes"])):
            lines.append(f"| {r['name']} | {r['minutes']:g} | {r['steps']} | {fmt(r.get('epochs'), 'd')} | {r['samples_fd']:.2f} | "
                         f"{r['samples_precision']:.3f} | {r['samples_recall']:.3f} | "
                         f"{fmt(r.get('samples_classes_covered'), 'd')}/{r.get('samples_classes', 10)} | "
                         f"{fmt(r.get('samples_class_kl'), '.3f')} | {fmt(r.get('samples_label_accuracy'), '.3f')} | "
                         f"{r['samples_recognisable']:.3f} | {r.get('load', '-')} |")
        lines += ["", "load: the 1/5/15-minute load average of the machine when the budget's training ended.", ""]
        for bare_name in BARE:
            o = overhead(rows, bare_name)
            if o is not None:
                ratio, ours, bare = o
                lines += [f"Loop overhead ({ours['name']}, {ours['minutes']:g} min): latentlab {ours['steps'] / ours['seconds']:.2f} "
                          f"steps/s (load {ours.get('load', 'not recorded')}), bare loop {bare['steps'] / bare['seconds']:.2f} "
                          f"steps/s (load {bare.get('load', 'not recorded')}): **{ratio:.3f}x** the bare loop's time per step "
                          "(target <= 1.05x; like for like only when the two ran side by side).", ""]
        figures = plot(rows, args)
        titles = ["FD against minutes", f"samples at {min(args.budgets, key=lambda b: abs(b - GRID_AT)):g} minutes"]
        lines += [f"![{t}]({f})" for t, f in zip(titles, figures)] + [""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    base.parent.mkdir(parents=True, exist_ok=True)
    md = base.with_name(base.name + ".md")
    md.write_text(keep_reading(md, "\n".join(lines)))  # the rows themselves are the kept per-budget results


def plot(rows: list[dict], args) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    base = args.results
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in dict.fromkeys(r["name"] for r in rows):
        mine = sorted((r["minutes"], r["samples_fd"]) for r in rows if r["name"] == name)
        ax.plot(*zip(*mine), marker="o", label=name, linestyle="--" if name in BARE or name == PYTHAE else "-")
    ddpm = RESULTS / ("ddpm.json" if args.dataset == "mnist" else f"ddpm-{args.dataset}.json")
    if ddpm.is_file() and not args.quick:  # bench/ddpm.py's curve: CPU-minutes of one thread, fewer samples
        saved = json.loads(ddpm.read_text())
        mine = [(r["train_cpu_s"] / 60, r["samples"]["samples_fd"]) for r in saved["rows"].get("ddpm", [])]
        if mine:
            ax.plot(*zip(*mine), marker="s", linestyle=":", color="black",
                    label=f"ddpm, DDIM (N = {saved['samples']:,}; bench/ddpm.py)")
    ax.axhline(rows[0].get("samples_fd_floor", float("nan")), color="grey", linewidth=0.8, label="floor")
    ax.set(xscale="log", yscale="log", xlabel="minutes of training", ylabel="FD (shipped evaluator)",
           title=f"Time to quality, {args.dataset}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fd = base.with_name(base.name + "_fd.png")
    fig.savefig(fd, dpi=120)
    plt.close(fig)
    out = [fd.name]
    grids = [(r["name"], args.kept / r["grid"]) for r in rows if r.get("grid") and (args.kept / r["grid"]).exists()]
    if grids:
        from PIL import Image
        fig, axes = plt.subplots(1, len(grids), figsize=(2.2 * len(grids), 2.6), squeeze=False)
        for ax, (name, path) in zip(axes[0], grids):
            ax.imshow(np.asarray(Image.open(path)), cmap="gray")
            ax.set_title(name, fontsize=8)
            ax.axis("off")
        fig.tight_layout()
        samples = base.with_name(base.name + "_samples.png")
        fig.savefig(samples, dpi=120)
        plt.close(fig)
        out.append(samples.name)
    return out


def warm_up_imports() -> None:
    """Import what the loop's first epoch imports lazily (pictures, TensorBoard), so that the first model's
    first budget does not pay for it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    from latentlab.viz import gif, plots  # noqa: F401


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist", help="mnist (default), fashion-mnist, digits")
    p.add_argument("--data-dir", default=None, help="folder of the dataset's files (e.g. ../shared/data/mnist)")
    p.add_argument("--models", nargs="+", default=MODELS + list(BARE) + [PYTHAE],
                   help=f"latentlab models, '{PYTHAE}' and the bare loops ({', '.join(BARE)})")
    p.add_argument("--budgets", type=float, nargs="+", default=[1, 5, 15, 30], help="cumulative budgets, minutes of training")
    p.add_argument("--samples", type=int, default=10000, help="samples scored at every budget (at least 129)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="another setting of every latentlab run (e.g. ema=0.999, lr_schedule=cosine); the runs are kept "
                        "apart per settings")
    p.add_argument("--quick", action="store_true", help="smoke test: digits, budgets 0.05 and 0.1 min, dcgan, vae and "
                                                        "their bare loops, 500 samples; writes bench/_work/time_to_quality-quick.*")
    args = p.parse_args()
    if args.quick:
        args.dataset, args.budgets, args.samples = "digits", [0.05, 0.1], 500
        if "--models" not in sys.argv:
            args.models = ["dcgan", "vae", "bare dcgan", "bare vae"]
    unknown = [m for m in args.models if m not in MODELS + list(BARE) + [PYTHAE]]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS + list(BARE) + [PYTHAE])}")
    torch.set_num_threads(args.threads)
    args.budgets = sorted(args.budgets)
    args.settings = dict(parse_setting(text) for text in args.set)
    tag = "".join(f"-{k}{v}" for k, v in sorted(args.settings.items()))
    name = "time_to_quality" + ("-quick" if args.quick else "" if args.dataset == "mnist" else f"-{args.dataset}") + tag
    # a variant (--set) is a trial of a default, gathered by bench/gan_defaults.py: its report stays in the work folder
    trial = args.quick or bool(args.settings)  # not the defaults: kept in the work folder only
    args.results = (WORK if trial else RESULTS) / name
    work = WORK / "time_to_quality" / f"{args.dataset}{'-quick' if args.quick else ''}-t{args.threads}-s{args.seed}{tag}"
    work.mkdir(parents=True, exist_ok=True)
    # each budget's result: committed for the defaults, so that the run can be finished in parts
    args.kept = work / "results" if trial else RESULTS / "time_to_quality" / work.name
    (work / "settings.json").write_text(json.dumps(args.settings))  # what bench/gan_defaults.py names the trial by
    started, load_start = time.time(), load_average()
    command = " ".join(shlex.quote(a) for a in [sys.executable.replace(str(ROOT.parent) + "/", "")] + sys.argv)
    notes: list[str] = []

    warm_up_imports()
    data = load_dataset(args.dataset, args.data_dir, 0.1, args.seed)
    edata = evaluator_data(args.dataset, args.data_dir)
    evaluator, memo = get_evaluator(edata), {}
    loops: dict[str, BareLoop] = {}
    if PYTHAE in args.models:
        try:
            import pythae  # noqa: F401  (a benchmark-only dependency)
        except ImportError:
            args.models = [m for m in args.models if m != PYTHAE]
            notes.append(f"{PYTHAE} skipped: pythae is not installed (`pip install pythae==0.1.2`, which `make bench` does)")
            print(notes[-1], flush=True)
    grid_budget = min(args.budgets, key=lambda b: abs(b - GRID_AT))
    rows: list[dict] = []
    for minutes in args.budgets:  # every model at one budget before any at the next
        for model_name in args.models:
            path = result_path(args.kept, model_name, minutes)
            if path.exists():  # finished by an earlier invocation
                rows.append(json.loads(path.read_text()))
                continue
            state = work / "loops" / f"{model_name.replace(' ', '-')}.pt"
            if model_name in MODELS:
                model, where = advance_latentlab(model_name, minutes, data, work, args.seed, args.settings)
            else:
                if model_name not in loops:
                    cls = PythaeLoop if model_name == PYTHAE else BareLoop
                    loops[model_name] = cls(model_name, data, args.seed, state)
                loop = loops[model_name]
                loop.advance(minutes)
                model = PythaeSampler(loop.model) if model_name == PYTHAE else loop.model
                where = {"steps": loop.steps, "seconds": loop.seconds, "epochs": loop.epoch}
            load = load_average()  # when the budget's training ended
            grid = f"{model_name.replace(' ', '-')}-{minutes:g}min.png" if minutes == grid_budget else None
            result = score_one(model_name, model, args, evaluator, edata, memo, args.kept / grid if grid else None)
            row = {"name": model_name, "minutes": minutes, **where, "load": load, **result, "grid": grid}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(row))
            rows.append(row)
            print(f"{model_name:<12} {minutes:>5g} min  steps {row['steps']:>6}  FD {row['samples_fd']:8.2f} "
                  f"(floor {row.get('samples_fd_floor', float('nan')):.2f})  P {row['samples_precision']:.3f}  "
                  f"R {row['samples_recall']:.3f}  classes {fmt(row.get('samples_classes_covered'), 'd')}  "
                  f"KL {fmt(row.get('samples_class_kl'), '.3f')}  acc {fmt(row.get('samples_label_accuracy'), '.3f')}  "
                  f"recognisable {row['samples_recognisable']:.3f}", flush=True)
    for bare_name in BARE:
        o = overhead(rows, bare_name)
        if o is not None:
            print(f"loop overhead ({o[1]['name']}, {o[1]['minutes']:g} min): {o[0]:.3f}x the bare loop's time per step", flush=True)
    headers = [f"Command: `{command}`  ",
               f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared), {args.threads} torch thread{'s' * (args.threads > 1)}, "
               f"torch {torch.__version__}; load average (1/5/15 min) {load_start} at the start, {load_average()} at the end; "
               f"wall time {(time.time() - started) / 60:.1f} min (started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}).  "]
    write_report(rows, args, headers, notes)
    print(args.results.with_name(args.results.name + ".md"))


if __name__ == "__main__":
    main()
