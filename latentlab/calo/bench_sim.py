"""Milliseconds per shower at several batch sizes, beside CaloGAN's published figures.

CaloGAN (Paganini, de Oliveira, Nachman, arXiv:1712.10321, timing table; as quoted in the
course notes): Geant4 needs 1772 ms per shower on a CPU; the trained CaloGAN generator
13.1 / 5.11 / 2.19 / 2.03 ms per shower on a CPU at batch sizes 1 / 10 / 128 / 1024, and
14.5 / 3.68 / 0.021 / 0.024 ms on a GPU at batch sizes 1 / 4 / 128 / 512.

The CaloChallenge 2022 (arXiv:2410.21611) times generation at batch sizes 1, 100 and 10,000
(``CALOCHALLENGE_BATCHES``; ``convention_batch_sizes("calochallenge")``), CaloGAN at 1, 10, 128 and 1024
(``CALOGAN_BATCHES``, the default); every table reports ms per shower.

``time_callable`` times anything that makes a batch of showers (the trained generator's
sampler plugs in the same way); ``time_simulator`` times latentlab's reference simulator.
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable

from latentlab.calo.simulate import simulate

CALOGAN_BATCHES = (1, 10, 128, 1024)
CALOCHALLENGE_BATCHES = (1, 100, 10_000)
BATCH_CONVENTIONS = {"calogan": CALOGAN_BATCHES, "calochallenge": CALOCHALLENGE_BATCHES}


def convention_batch_sizes(convention: str) -> tuple[int, ...]:
    """The batch sizes a timing table uses by ``convention``: "calogan" or "calochallenge"."""
    if convention not in BATCH_CONVENTIONS:
        from latentlab.errors import ConfigError
        raise ConfigError(f"unknown timing convention {convention!r}; choose one of {', '.join(BATCH_CONVENTIONS)}")
    return BATCH_CONVENTIONS[convention]


CALOGAN_PUBLISHED_MS = {
    "geant4_cpu": 1772.0,
    "calogan_cpu": {1: 13.1, 10: 5.11, 128: 2.19, 1024: 2.03},
    "calogan_gpu": {1: 14.5, 4: 3.68, 128: 0.021, 512: 0.024},
}


def time_callable(make_batch: Callable[[int, int], Any], batch_sizes: tuple[int, ...] = CALOGAN_BATCHES,
                  min_seconds: float = 1.0, min_showers: int = 1024) -> dict[int, dict[str, float]]:
    """ms per shower of ``make_batch(batch_size, call_index)`` at each batch size.

    Each size runs once to warm up, then repeatedly until both ``min_seconds`` have passed
    and ``min_showers`` showers were made. ``wall_ms`` is elapsed time; ``cpu_ms`` is the
    process's CPU time over all its threads (less sensitive to other jobs on the machine).
    """
    out: dict[int, dict[str, float]] = {}
    for b in batch_sizes:
        make_batch(b, -1)
        calls, made = 0, 0
        start, cpu_start = time.perf_counter(), time.process_time()
        while True:
            make_batch(b, calls)
            calls += 1
            made += b
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds and made >= min_showers:
                break
        out[b] = {"wall_ms": 1000.0 * elapsed / made, "cpu_ms": 1000.0 * (time.process_time() - cpu_start) / made}
    return out


def time_simulator(batch_sizes: tuple[int, ...] = CALOGAN_BATCHES, particle: str = "eplus",
                   energy: float | tuple[float, float] = (1.0, 100.0), min_seconds: float = 1.0,
                   min_showers: int = 1024, workers: int | None = None, **simulate_kwargs: Any) -> dict[str, Any]:
    """ms per shower of the reference simulator at each batch size, with CaloGAN's figures beside it
    (``simulate_kwargs``, e.g. ``geometry``, go to ``simulate``)."""
    ms = time_callable(lambda b, i: simulate(particle, b, energy, seed=i + 1, workers=workers, **simulate_kwargs),
                       batch_sizes, min_seconds, min_showers)
    return {"simulator_ms": ms, "particle": particle, "energy_gev": energy,
            "cpu_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "published_ms": CALOGAN_PUBLISHED_MS}


def timing_table(result: dict[str, Any]) -> str:
    """Markdown table: our simulator next to CaloGAN's CPU generator and Geant4."""
    pub = CALOGAN_PUBLISHED_MS["calogan_cpu"]
    lines = ["| batch size | latentlab simulator [ms/shower, wall] | [CPU time] | CaloGAN GAN, CPU [ms/shower] | "
             "Geant4 [ms/shower] |", "|---|---|---|---|---|"]
    for b, ms in result["simulator_ms"].items():
        gan = f"{pub[b]:g}" if b in pub else "-"
        lines.append(f"| {b} | {ms['wall_ms']:.3g} | {ms['cpu_ms']:.3g} | {gan} | {CALOGAN_PUBLISHED_MS['geant4_cpu']:g} |")
    return "\n".join(lines)


def time_generator(run: Any, batch_sizes: tuple[int, ...] = CALOGAN_BATCHES, min_seconds: float = 1.0,
                   device: str = "cpu", energy: tuple[float, float] | None = None, min_showers: int = 1024) -> dict[int, dict[str, float]]:
    """ms per shower of a trained shower model (a run folder or the model), MeV cells included.

    Energies are drawn uniformly over the model's training range unless ``energy`` is given.
    """
    import numpy as np
    import torch

    from latentlab.calo.generate import load_model
    model = load_model(run, device)
    lo, hi = energy or (model.cfg.e_min, model.cfg.e_max)
    e = torch.as_tensor(np.random.default_rng(0).uniform(lo, hi, max(batch_sizes)), dtype=torch.float32)

    def make(b: int, i: int) -> Any:
        out = model.generate(e[:b], batch_size=b)
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    return time_callable(make, batch_sizes, min_seconds, min_showers)


def bench_table(run: Any = None, batch_sizes: tuple[int, ...] | None = None, min_seconds: float = 1.0,
                threads: int = 1, min_showers: int = 1024, *, convention: str = "calogan",
                **simulate_kwargs: Any) -> str:
    """The timing table of ``latentlab calo bench [RUN]``: simulator, generator on CPU (and CUDA), CaloGAN.

    ``batch_sizes`` default to the ``convention``'s ("calogan": 1, 10, 128, 1024; "calochallenge":
    1, 100, 10,000); ``simulate_kwargs`` (e.g. ``geometry``) go to the simulator."""
    import torch
    batch_sizes = tuple(batch_sizes) if batch_sizes else convention_batch_sizes(convention)
    torch.set_num_threads(threads)
    sim = time_simulator(batch_sizes, min_seconds=min_seconds, min_showers=min_showers, workers=1,
                         **simulate_kwargs)["simulator_ms"]
    columns = {"simulator (1 worker)": sim}
    if run is not None:
        columns[f"generator CPU ({threads} thread{'s' if threads > 1 else ''})"] = time_generator(
            run, batch_sizes, min_seconds, min_showers=min_showers)
        if torch.cuda.is_available():
            columns["generator CUDA"] = time_generator(run, batch_sizes, min_seconds, device="cuda",
                                                       min_showers=min_showers)
    pub = CALOGAN_PUBLISHED_MS
    head = " | ".join(f"{k} wall | {k} CPU" for k in columns)
    lines = [f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}; ms per shower "
             "(wall: elapsed; CPU: process CPU time)", "",
             f"| batch | {head} | CaloGAN CPU (published) | CaloGAN GPU (published) | Geant4 (published) |",
             "|---|" + "---|---|" * len(columns) + "---|---|---|"]
    for b in batch_sizes:
        cells = " | ".join(f"{c[b]['wall_ms']:.3g} | {c[b]['cpu_ms']:.3g}" for c in columns.values())
        lines.append(f"| {b} | {cells} | {pub['calogan_cpu'].get(b, '-')} | {pub['calogan_gpu'].get(b, '-')} | "
                     f"{pub['geant4_cpu']:g} |")
    if run is not None and max(batch_sizes) in sim:
        b = max(batch_sizes)
        gen = columns[next(k for k in columns if k.startswith("generator CPU"))][b]
        lines += ["", f"generator speed-up over the simulator at batch {b}: {sim[b]['wall_ms'] / gen['wall_ms']:.0f}x "
                  f"(wall), {sim[b]['cpu_ms'] / gen['cpu_ms']:.0f}x (CPU time)"]
    return "\n".join(lines)
