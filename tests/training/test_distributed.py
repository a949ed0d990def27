"""DDP on the CPU: two gloo processes on 127.0.0.1, as torchrun would start them."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

WORKER = """
import sys, torch, latentlab
out, rank, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
run = latentlab.train("ae", dataset="digits", epochs=1, batch_size=batch, latent_dim=4, hidden=32,
                      progress=False, out=out)
torch.save(run.model.state_dict(), f"{out}-rank{rank}.pt")
"""
# Rank 0 acts as if Ctrl-C were pressed after STOP steps (-1: never); "resume" continues the run folder.
CUT = """
import sys, torch, latentlab
from latentlab.training import loop
out, rank, stop, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

class StopAfter(loop._StopFlag):
    checks = 0

    @property
    def set(self):
        self.checks += 1
        return rank == "0" and 0 <= stop <= self.checks  # after step `stop`

    @set.setter
    def set(self, value):
        pass

loop._StopFlag = StopAfter
try:
    if mode == "resume":
        run = latentlab.train("ae", resume=out)
    else:
        run = latentlab.train("ae", dataset="digits", epochs=1, batch_size=32, latent_dim=4, hidden=32, progress=False, out=out)
except KeyboardInterrupt as e:
    print(e, file=sys.stderr)
    sys.exit(130)
torch.save(run.model.state_dict(), f"{out}-rank{rank}.pt")
"""
LATENTLAB = str(Path(sys.executable).with_name("latentlab"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_env(rank: int, world: int, port: int) -> dict:
    return {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_WORLD_SIZE": str(world),
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1", "LATENTLAB_DIST_TIMEOUT": "30"}


def start_ranks(args_for_rank, world: int = 2) -> list[subprocess.Popen]:
    port = free_port()
    return [subprocess.Popen(args_for_rank(r), env=rank_env(r, world, port), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for r in range(world)]


def finish(procs, timeout=240) -> list[tuple[int, str]]:
    return [(p.wait(timeout=timeout), p.communicate()[1]) for p in procs]


@pytest.fixture(scope="module")
def ddp(tmp_path_factory):
    """An AE trained for one epoch by two ranks of 32 images a batch: the run folder."""
    out = tmp_path_factory.mktemp("ddp") / "ddp"
    results = finish(start_ranks(lambda r: [sys.executable, "-c", WORKER, str(out), str(r), "32"]))
    assert all(code == 0 for code, _ in results), results
    return out


def test_two_ranks_agree_and_match_one_process_on_the_global_batch(ddp, tmp_path):
    out = str(ddp)
    tmp_path = ddp.parent
    r0, r1 = (torch.load(f"{out}-rank{r}.pt", weights_only=True) for r in (0, 1))
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # identical on both ranks
    single = str(tmp_path / "single")
    subprocess.run([sys.executable, "-c", WORKER, single, "0", "64"], check=True, capture_output=True)
    s = torch.load(f"{single}-rank0.pt", weights_only=True)
    for k in r0:  # same global batch of 64: equal up to float summation order (tolerance 1e-4)
        assert torch.allclose(r0[k], s[k], atol=1e-4, rtol=1e-3), (k, (r0[k] - s[k]).abs().max())
    assert json.loads((tmp_path / "ddp" / "config.json").read_text())["model"] == "ae"
    assert not list(tmp_path.glob("ddp*/*.tmp"))


def test_a_killed_rank_makes_the_job_fail_not_hang(tmp_path):
    out = tmp_path / "run"
    cmd = [LATENTLAB, "train", "ae", "--dataset", "digits", "--epochs", "500", "--batch-size", "16", "--no-progress", "--out", str(out)]
    procs = start_ranks(lambda r: cmd)
    deadline = time.time() + 120
    while time.time() < deadline and not ((out / "metrics.jsonl").exists() and (out / "metrics.jsonl").read_text()):
        time.sleep(0.2)
    procs[1].send_signal(signal.SIGKILL)
    code, err = procs[0].wait(timeout=120), procs[0].communicate()[1]
    assert code == 1, err
    assert "lost the other processes" in err and "--resume" in err
    assert (out / "model.safetensors").exists()


@pytest.mark.parametrize("first, second", [(2, 1), (1, 2)])
def test_resume_across_process_counts(tmp_path, first, second):
    out = tmp_path / "run"
    base = [LATENTLAB, "train", "ae", "--dataset", "digits", "--batch-size", "32", "--no-progress"]

    def run(world, args):
        if world == 1:
            return [subprocess.run(args, capture_output=True, text=True, timeout=240)]
        procs = start_ranks(lambda r: args, world)
        return [subprocess.CompletedProcess(args, c, "", e) for c, e in finish(procs)]

    assert all(r.returncode == 0 for r in run(first, base + ["--epochs", "1", "--out", str(out)]))
    results = run(second, base[:3] + ["--resume", str(out), "--epochs", "2", "--no-progress"])
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]


def test_a_mid_epoch_checkpoint_of_two_ranks_resumes_exactly(ddp, tmp_path):
    """Rank 0 stops after 3 steps: both ranks save (the epoch's sums over both), then resume to the end."""
    out = tmp_path / "cut"
    results = finish(start_ranks(lambda r: [sys.executable, "-c", CUT, str(out), str(r), "3", "train"]))
    assert [code for code, _ in results] == [130, 130], results
    assert "interrupted: checkpoint saved" in results[0][1]
    saved = torch.load(out / "train_state.pt", weights_only=True)
    assert saved["sums_of_all_ranks"] and saved["loop"]["batch"] == 3 and saved["loop"]["seen"] == 2 * 3 * 32
    assert json.loads((out / "checkpoint.json").read_text())["step"] == 3
    results = finish(start_ranks(lambda r: [sys.executable, "-c", CUT, str(out), str(r), "-1", "resume"]))
    assert all(code == 0 for code, _ in results), results
    whole, resumed = (torch.load(f"{d}-rank0.pt", weights_only=True) for d in (ddp, out))
    for k in whole:  # the AE draws no noise: the same steps in the same order
        assert torch.equal(whole[k], resumed[k]), k
    rows = [json.loads((d / "metrics.jsonl").read_text().splitlines()[0]) for d in (ddp, out)]
    assert rows[1]["train_loss"] == pytest.approx(rows[0]["train_loss"], rel=1e-9)  # every image counted once
