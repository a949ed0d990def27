"""Faults and bad inputs (issue 12): the whole bad-input table of tests/test_bad_inputs.py and the fault
scenarios of tests/training/test_faults.py, run against the installed CLI in subprocesses, the way a
user meets them. Counts cases tried, clean errors, tracebacks (target 0) and data lost (target 0).

    python bench/faults.py [--only-faults | --only-inputs]

Writes bench/results/faults.md. A few minutes on one core: every training is the tiny VAE on the
bundled digits (2 epochs of 21 steps), one thread per process.

A bad input is clean when it ends with the exit code it must (2 for bad input, 0 for the small
datasets that train and say which pictures they skipped), with the message that names the problem
and the fix, and with no traceback. A fault scenario loses data when the run, continued with
``--resume`` after the fault, does not end bit-identical to the same run left alone (weights and
metrics.jsonl), or when a file the fault should have left alone changed. Faults are injected where
the real event cannot be timed (a second Ctrl-C between the two parts of a checkpoint, a full disk):
a small launcher patches the one function that writes checkpoint bytes, then runs the CLI's own
``main``; everything else (kill -9, SIGTERM, Ctrl-C, a second writer) is the real signal or process.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LATENTLAB = str(Path(sys.executable).with_name("latentlab"))
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
TINY = ["--dataset", "digits", "--batch-size", "64", "--latent-dim", "4", "--hidden", "32", "--no-progress"]
STEPS = 21  # batches per epoch of TINY (1294 training digits)


def bad_input_table():
    """tests/test_bad_inputs.py, imported by path (the table lives beside its test)."""
    spec = importlib.util.spec_from_file_location("bad_inputs", ROOT / "tests" / "test_bad_inputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bad_inputs"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load_average() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def cli(*words, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([LATENTLAB, *map(str, words)], capture_output=True, text=True, timeout=timeout, env=ENV)


def message_line(text: str, width: int = 150) -> str:
    """The last line latentlab printed to the user (its message), shortened to ``width``."""
    lines = [ln for ln in text.strip().splitlines() if ln.startswith("latentlab:")] or text.strip().splitlines()[-1:] or [""]
    line = lines[-1]
    return (line[: width - 3] + "...") if len(line) > width else line


def md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --- the bad inputs -------------------------------------------------------------------------------

@dataclass
class InputRow:
    name: str
    command: str
    code: int
    expected: int
    problems: list[str]
    message: str
    known: str | None


def run_bad_inputs(work: Path) -> list[InputRow]:
    table = bad_input_table()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        world = table.make_world(work / "world")
    rows = []
    for i, case in enumerate(table.CASES):
        world.tmp = work / f"case-{i:02d}"
        world.tmp.mkdir()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            words = case.words(world)  # builds the case's files (some train a run for it)
        started = time.time()
        outcome = table.run_in_subprocess(words)
        def short(text: str) -> str:
            return text.replace(str(world.tmp), "T").replace(str(work / "world"), "W")
        rows.append(InputRow(case.name, f"latentlab {short(' '.join(words))}", outcome.code, case.code,
                             [short(p) for p in outcome.problems(case)], message_line(short(outcome.output)), case.known))
        print(f"  {'ok ' if not rows[-1].problems else 'BAD'} {case.name} ({time.time() - started:.1f}s)"
              + (f": {', '.join(rows[-1].problems)}" if rows[-1].problems else ""), flush=True)
    return rows


# --- the fault scenarios --------------------------------------------------------------------------

LAUNCH = """
import errno, os, sys
from latentlab.training import run_folder
from latentlab.cli.main import main
fail_at, kind = int(sys.argv[1]), sys.argv[2]
original, calls = run_folder._write, [0]
def write(fd, data):  # the n-th write of checkpoint bytes fails: a second Ctrl-C there, or a full disk
    calls[0] += 1
    if calls[0] == fail_at:
        raise KeyboardInterrupt("interrupted again") if kind == "interrupt" else OSError(errno.ENOSPC, "No space left on device")
    return original(fd, data)
run_folder._write = write
sys.exit(main(sys.argv[3:]))
"""

WORKER = """
import itertools, os, sys, time
from latentlab.models.vae import VAE
from latentlab.training import loop
from latentlab.cli.main import main
ready, mode, at, minute = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "fake-clock"
if minute:  # every look at the clock is a minute later: a time-based checkpoint every checkpoint_every steps
    clock = itertools.count()
    loop._clock = lambda: 60.0 * next(clock)
original, calls = VAE.loss, [0]
def loss(self, x, y=None, group="model"):
    if self.training:
        calls[0] += 1
        if calls[0] == at:
            open(ready, "w").close()
            if mode == "die":  # kill -9 from within: nothing after this runs
                os.kill(os.getpid(), 9)
            while mode == "hang":
                time.sleep(1)
        if calls[0] >= at and mode == "slow":
            time.sleep(0.3)
    return original(self, x, y, group)
VAE.loss = loss
sys.exit(main(sys.argv[5:]))
"""

HOLD = """
import sys, time
from latentlab.training.run_folder import lock_run
with lock_run(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(300)
"""

DIES = """
import os, signal, time
if os.environ["RANK"] == "1":
    time.sleep(1)
    os.kill(os.getpid(), signal.SIGKILL)
time.sleep(60)
"""


@dataclass
class FaultRow:
    name: str
    how: str  # what was done
    codes: list[int] = field(default_factory=list)  # exit codes, in order
    tracebacks: int = 0
    lost: bool | None = None  # None: nothing to compare (no training result at stake)
    problems: list[str] = field(default_factory=list)
    said: str = ""  # the message the fault ended with


def weights(run: Path) -> dict:
    from safetensors.torch import load_file
    return load_file(run / "model.safetensors")


def same_as(run: Path, ref: Path) -> list[str]:
    """What differs between a resumed run and the uninterrupted one (empty: nothing was lost)."""
    import torch
    problems = []
    a, b = weights(run), weights(ref)
    if a.keys() != b.keys() or any(not torch.equal(a[k], b[k]) for k in a):
        problems.append("weights differ from the uninterrupted run")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    ref_rows = [json.loads(line) for line in (ref / "metrics.jsonl").read_text().splitlines()]
    if [r["epoch"] for r in rows] != [r["epoch"] for r in ref_rows]:
        problems.append(f"metrics.jsonl holds epochs {[r['epoch'] for r in rows]}")
    elif rows[-1].get("val_loss") != ref_rows[-1].get("val_loss"):
        problems.append(f"validation loss {rows[-1].get('val_loss')} vs {ref_rows[-1].get('val_loss')}")
    return problems


class Scenario:
    """One fault: run, record exit codes and tracebacks, then compare the continued run with the reference."""

    def __init__(self, name: str, how: str, work: Path, ref: Path):
        self.row = FaultRow(name, how)
        self.work, self.ref = work, ref

    def proc(self, p: subprocess.CompletedProcess | tuple[int, str], expect: int, text: str | None = None) -> str:
        code, err = (p.returncode, p.stderr) if isinstance(p, subprocess.CompletedProcess) else p
        self.row.codes.append(code)
        if "Traceback" in err:
            self.row.tracebacks += 1
        if code != expect:
            self.row.problems.append(f"exit code {code}, not {expect}: {message_line(err)}")
        if text is not None and text not in err:
            self.row.problems.append(f"no {text!r} in: {message_line(err)}")
        return err

    def resume(self, out: Path, *extra) -> None:
        p = cli("train", "vae", "--resume", out, *extra)
        self.proc(p, 0)
        if p.returncode == 0:
            lost = same_as(out, self.ref)
            self.row.lost = bool(lost)
            self.row.problems += lost
        else:
            self.row.lost = True


def python(script: str, *args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def wait_ready(proc: subprocess.Popen, ready: Path, limit: float = 180) -> None:
    deadline = time.time() + limit
    while not ready.exists():
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"the worker stopped before it was ready: {proc.communicate()}")
        time.sleep(0.05)


def run_faults(work: Path) -> list[FaultRow]:
    ref = work / "reference"
    p = cli("train", "vae", *TINY, "--epochs", "2", "--out", ref)
    assert p.returncode == 0, p.stderr
    rows: list[FaultRow] = []
    train2 = ["train", "vae", *TINY, "--epochs", "2"]

    def new(name: str, how: str) -> Scenario:
        s = Scenario(name, how, work, ref)
        rows.append(s.row)
        print(f"  {name}", flush=True)
        return s

    # 1. a second Ctrl-C between the two parts of a checkpoint
    s = new("second Ctrl-C between the parts of a checkpoint",
            "the epoch-2 checkpoint's train_state.pt write raises KeyboardInterrupt (after its weights were written); --resume")
    out = work / "cut"
    err = s.proc(subprocess.run([sys.executable, "-c", LAUNCH, "6", "interrupt", *train2, "--out", out],
                                capture_output=True, text=True, env=ENV), 130)
    s.row.said = message_line(err)
    manifest = json.loads((out / "checkpoint.json").read_text())
    if manifest["epoch"] != 1:
        s.row.problems.append(f"checkpoint.json says epoch {manifest['epoch']}, not the intact epoch 1")
    s.resume(out)

    # 2. a full disk
    s = new("full disk (ENOSPC) at the second checkpoint", "the epoch-2 checkpoint's first write fails with ENOSPC; --resume")
    out = work / "full"
    err = s.proc(subprocess.run([sys.executable, "-c", LAUNCH, "5", "enospc", *train2, "--out", out],
                                capture_output=True, text=True, env=ENV), 3, "the disk is full")
    s.row.said = message_line(err)
    if [p.name for p in out.iterdir() if p.name.endswith((".next", ".tmp"))]:
        s.row.problems.append("partial files left behind")
    s.resume(out)

    # 3. two writers on one folder
    s = new("two writers on one run folder", "a process holds RUN's lock; `train --resume RUN` and `train --out RUN` meanwhile; "
                                             "then the holder is killed (-9) and --resume runs")
    out = work / "shared"
    s.proc(cli("train", "vae", *TINY, "--epochs", "1", "--out", out), 0)
    before = (out / "metrics.jsonl").read_bytes(), (out / "model.safetensors").read_bytes()
    holder = python(HOLD, out)
    try:
        assert holder.stdout.readline().strip() == "locked"
        err = s.proc(cli("train", "vae", "--resume", out, "--epochs", "2", "--no-progress"), 2, f"pid {holder.pid}")
        s.row.said = message_line(err)
        s.proc(cli("train", "vae", *TINY, "--epochs", "2", "--out", out), 2, f"pid {holder.pid}")
        if before != ((out / "metrics.jsonl").read_bytes(), (out / "model.safetensors").read_bytes()):
            s.row.problems.append("the refused writers changed the folder")
    finally:
        holder.kill()
        holder.wait()
    s.resume(out, "--epochs", "2")

    # 4. kill -9 before the first epoch ends, no checkpoint yet
    s = new("kill -9 before the first checkpoint", "SIGKILL at step 8 of epoch 1 (--checkpoint-every 0: nothing saved yet); --resume")
    out, ready = work / "killed0", work / "killed0.ready"
    proc = python(WORKER, ready, "hang", 8, "real-clock", *train2, "--checkpoint-every", "0", "--out", out)
    wait_ready(proc, ready)
    proc.kill()
    s.proc((proc.wait(), proc.communicate()[1]), -9)
    s.resume(out, "--checkpoint-every", "0")

    # 5. kill -9 after a mid-epoch time-based checkpoint
    s = new("kill -9 after a mid-epoch time checkpoint", "a minute passes per step, --checkpoint-every 3: checkpoints at steps "
                                                          "3 and 6; SIGKILL at step 8 of epoch 1; --resume")
    out, ready = work / "killed3", work / "killed3.ready"
    proc = python(WORKER, ready, "hang", 8, "fake-clock", *train2, "--checkpoint-every", "3", "--out", out)
    wait_ready(proc, ready)
    proc.kill()
    s.proc((proc.wait(), proc.communicate()[1]), -9)
    m = json.loads((out / "checkpoint.json").read_text())
    if (m["epoch"], m["batch"]) != (0, 6):
        s.row.problems.append(f"checkpoint at epoch {m['epoch']} batch {m['batch']}, not epoch 0 batch 6")
    s.resume(out, "--checkpoint-every", "0")

    # 6. a mid-epoch time checkpoint in epoch 2, the process killed, exact resume
    s = new("mid-epoch time checkpoint, exact resume", f"a minute per step, --checkpoint-every 5; the process kills itself (-9) "
                                                        f"at step {STEPS + 12} (epoch 2, batch 12); --resume")
    out, ready = work / "mid", work / "mid.ready"
    proc = python(WORKER, ready, "die", STEPS + 12, "fake-clock", *train2, "--checkpoint-every", "5", "--out", out)
    s.proc((proc.wait(timeout=300), proc.communicate()[1]), -9)
    m = json.loads((out / "checkpoint.json").read_text())
    if (m["epoch"], m["batch"], m["step"]) != (1, 10, STEPS + 10):
        s.row.problems.append(f"checkpoint at {(m['epoch'], m['batch'], m['step'])}, not (1, 10, {STEPS + 10})")
    s.resume(out, "--checkpoint-every", "0")

    # 7. SIGTERM and Ctrl-C: a checkpoint, exit 130, --resume
    for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C (SIGINT)")):
        s = new(f"{name} during epoch 1", f"{name} at step 8 of epoch 1 (steps slowed to 0.3 s); --resume")
        out, ready = work / f"sig{int(sig)}", work / f"sig{int(sig)}.ready"
        proc = python(WORKER, ready, "slow", 8, "real-clock", *train2, "--out", out)
        wait_ready(proc, ready)
        proc.send_signal(sig)
        err = s.proc((proc.wait(timeout=120), proc.communicate()[1]), 130, "interrupted: checkpoint saved")
        s.row.said = message_line(err)
        s.resume(out)

    # 8. two real Ctrl-C in quick succession, before the first checkpoint
    s = new("double Ctrl-C before the first checkpoint", "two SIGINTs 0.05 s apart at step 8 of epoch 1 (a step takes 0.3 s): "
                                                          "stops at once; --resume starts over")
    out, ready = work / "double", work / "double.ready"
    proc = python(WORKER, ready, "slow", 8, "real-clock", *train2, "--out", out)
    wait_ready(proc, ready)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    err = s.proc((proc.wait(timeout=120), proc.communicate()[1]), 130, "interrupted again: stopped at once")
    s.row.said = message_line(err)
    s.resume(out)

    # 9. a dead process under DDP
    s = new("a process of --nproc 2 killed", "rank 1 of the launcher's 2 processes is killed (-9) a second in")
    script = work / "dies.py"
    script.write_text(DIES)
    p = subprocess.run([sys.executable, "-m", "latentlab.training.distributed", "--standalone", "--nproc-per-node=2",
                        str(script), "--out", "runs/x"], capture_output=True, text=True, timeout=180, env=ENV)
    err = s.proc(p, 1, "continue with --resume runs/x")
    s.row.said = message_line(err)
    if "ChildFailedError" in p.stderr:
        s.row.problems.append("torchrun's ChildFailedError shown")

    # 10. NaN at the first step
    s = new("NaN at step 1", "the loss is poisoned at the first step; the advice (--resume RUN --lr ...) is then followed")
    out = work / "nan"
    poison = ("import sys\nfrom latentlab.models.vae import VAE\nfrom latentlab.cli.main import main\no = VAE.loss\n"
              "def loss(self, x, y=None, group='model'):\n    t = o(self, x, y, group)\n"
              "    if self.training: t['loss'] = t['loss'] * float('nan')\n    return t\n"
              "VAE.loss = loss\nsys.exit(main(sys.argv[1:]))\n")
    err = s.proc(subprocess.run([sys.executable, "-c", poison, *train2, "--out", out], capture_output=True, text=True, env=ENV),
                 1, "became nan at step 1 (epoch 1, batch 1)")
    s.row.said = message_line(err)
    if "kept" in err:
        s.row.problems.append("claims a checkpoint is kept")
    p = cli("train", "vae", "--resume", out, "--lr", "0.001")
    s.proc(p, 0)
    for row in rows:
        row.said = row.said.replace(str(work), "W")
        row.problems = [p.replace(str(work), "W") for p in row.problems]
    return rows


# --- the report -----------------------------------------------------------------------------------

def report(inputs: list[InputRow], faults: list[FaultRow], command: str, load_start: str, load_end: str, seconds: float) -> str:
    lines = ["## Faults and bad inputs: clean errors, no tracebacks, nothing lost", "",
             f"Command: `{command}`  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other jobs), Python "
             f"{platform.python_version()}; {time.strftime('%Y-%m-%d')}; load average {load_start} at the start, "
             f"{load_end} at the end (1 / 5 / 15 min); {seconds / 60:.1f} min wall.", "",
             "Every case runs the installed `latentlab` command in its own process (the fault scenarios inject a "
             "fault where a real one cannot be timed: see `bench/faults.py`). Clean: the exit code it must have, "
             "the message that names the problem and its fix, no traceback. Data lost: the run continued with "
             "`--resume` after the fault does not end bit-identical (weights, metrics.jsonl) to the same run left alone.", "",
             "| part | cases tried | clean errors | tracebacks (target 0) | data lost (target 0) |", "|---|---:|---:|---:|---:|"]
    if inputs:
        lines.append(f"| bad inputs | {len(inputs)} | {sum(not r.problems for r in inputs)} | "
                     f"{sum('a traceback' in r.problems for r in inputs)} | - |")
    if faults:
        lines.append(f"| fault scenarios | {len(faults)} | {sum(not r.problems for r in faults)} | "
                     f"{sum(r.tracebacks > 0 for r in faults)} | {sum(bool(r.lost) for r in faults)} |")
    if inputs:
        lines += ["", "### Bad inputs", "", "T: the case's own folder; W: the two tiny runs the cases start from.", "",
                  "| case | exit (must) | clean | message |", "|---|---|---|---|"]
        for r in inputs:
            verdict = "yes" if not r.problems else "**no**: " + md("; ".join(r.problems)) + (f" ({md(r.known)})" if r.known else "")
            lines.append(f"| {md(r.name)}<br>`{md(r.command)}` | {r.code} ({r.expected}) | {verdict} | {md(r.message)} |")
    if faults:
        lines += ["", "### Fault scenarios", "", "W: the scenario's work folder.", "",
                  "| scenario | what was done | exit codes | tracebacks | data lost | message |", "|---|---|---|---:|---|---|"]
        for r in faults:
            lost = "-" if r.lost is None else ("**yes**" if r.lost else "no")
            said = md(r.said) + ("" if not r.problems else " **problems: " + md("; ".join(r.problems)) + "**")
            lines.append(f"| {md(r.name)} | {md(r.how)} | {', '.join(map(str, r.codes))} | {r.tracebacks} | {lost} | {said} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only-faults", action="store_true", help="skip the bad-input table")
    p.add_argument("--only-inputs", action="store_true", help="skip the fault scenarios")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "faults.md"))
    args = p.parse_args()
    load_start, started = load_average(), time.time()
    work = Path(tempfile.mkdtemp(prefix="latentlab-faults-"))
    try:
        inputs = faults = []
        if not args.only_faults:
            print("bad inputs:", flush=True)
            inputs = run_bad_inputs(work / "inputs")
        if not args.only_inputs:
            print("fault scenarios:", flush=True)
            (work / "faults").mkdir(parents=True)
            faults = run_faults(work / "faults")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "python bench/faults.py" + "".join(f" {a}" for a in sys.argv[1:])
    text = report(inputs, faults, command, load_start, load_average(), time.time() - started)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
