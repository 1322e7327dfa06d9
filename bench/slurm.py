"""Slurm: trivial bash jobs through Shunter's bash-slurm handler against a plain `sbatch` loop on
the same cluster, both polling the controller once a second. Runs only where a Slurm
controller answers (scripts/start-slurm.sh starts a local one-node cluster, as root)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from pathlib import Path

from httpload import closed_loop
from scenarios import Bench, Scenario
from servers import Shunter
from stats import Measurement
from transformations import CODE, text_buffer

POLL = "1s"


def unavailable() -> str | None:
    missing = [t for t in ("sbatch", "squeue", "sinfo", "scancel") if shutil.which(t) is None]
    if missing:
        return f"no Slurm ({', '.join(missing)} not on PATH); scripts/start-slurm.sh (as root) starts a local cluster"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return "no Slurm: sinfo got no answer from the controller within 10 s"
    states = out.stdout.split()
    if out.returncode != 0 or not any(s.startswith(("idle", "mix", "alloc")) for s in states):
        return f"no Slurm node ready (sinfo: {out.stdout.strip() or out.stderr.strip()})"
    return None


def slurm_handler(repo_handler: str) -> str:
    text = re.sub(r"enabled:\s*false", "enabled: true", repo_handler)
    text = re.sub(r"poll_interval:\s*\S+", f"poll_interval: {POLL}", text, count=1)
    return re.sub(r"memory:\s*\S+", "memory: 100M", text, count=1)


def sbatch_loop(root: Path, n: int, deadline: float) -> Measurement:
    """n `sbatch --wrap` submissions, then one squeue a second until all have left the queue."""
    ids, errors = [], []
    start = time.perf_counter()
    for i in range(n):
        d = root / str(i)
        d.mkdir(parents=True)
        out = subprocess.run(["sbatch", "--parsable", "-c", "1", "--mem", "100M", "-o", str(d / "out"),
                              "--wrap", f"cd {d} && a={i} bash -c 'echo $a > RESULT'"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            errors.append(out.stderr.strip())
        else:
            ids.append(out.stdout.strip().split(";")[0])
    while ids and time.monotonic() < deadline:
        q = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(ids)], capture_output=True, text=True, timeout=60)
        if q.returncode == 0 and not q.stdout.strip():
            break
        time.sleep(1)
    wall = time.perf_counter() - start
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=60)  # only ours; no-op when done
    done = sum(1 for i in range(n) if (root / str(i) / "RESULT").exists())
    m = Measurement("plain sbatch loop + squeue every 1 s", n, n, wall, errors=n - done, unit="jobs")
    m.first_error = errors[0] if errors else (None if done == n else f"{n - done} jobs wrote no RESULT")
    return m


async def scenario(bench: Bench, binary: Path, quick: bool) -> Scenario:
    n = 10 if quick else 30
    s = Scenario(f"Slurm: {n} trivial bash jobs submitted at once, poll interval {POLL}")
    why = unavailable()
    if why:
        s.skipped = why
        return s
    repo_handler = (Path(__file__).resolve().parent.parent / "handlers" / "40-slurm.yaml").read_text()
    server = Shunter(binary, bench.work / "slurm-shunter", [("40-slurm.yaml", slurm_handler(repo_handler))])
    server.start()
    try:
        jobs = bench.fresh_jobs(n)
        await bench.upload(server.url, [text_buffer(CODE)] + [j.input_buffer for j in jobs])
        s.rows.append(await closed_loop("Shunter (bash-slurm handler)", [bench.run_request(server.url, j) for j in jobs],
                                        n, bench.deadline, timeout=max(bench.time_left(), 10), unit="jobs"))
    finally:
        server.stop()
    s.rows.append(await asyncio.to_thread(sbatch_loop, bench.work / "sbatch-loop", n, bench.deadline))
    s.note = "Throughput is jobs / wall time of the whole batch; latency is per job for Shunter only."
    return s
