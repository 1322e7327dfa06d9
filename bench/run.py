"""Runs every benchmark scenario against Shunter, the Python Seamless services and the machine's
floor in one run, and writes report.md and report.json. Nothing here fails on a number; the
run stops by itself (bounded request counts, a global time limit).

Run through scripts/bench.sh, which builds Shunter in release and sets up the venv; by hand:
  .venv-seamless/bin/python bench/run.py --shunter .build/release/shunter --venv .venv-seamless
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
import slurm  # noqa: E402
from scenarios import Bench, Counts, Scenario  # noqa: E402
from servers import SeamlessStack, Shunter, remove_tree  # noqa: E402
from python_scenarios import PythonBench, python_handler  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ALL = ["jobs", "python", "cache", "buffers", "hashing", "memory", "slurm"]


def machine() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    mem = next((int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines()
                if l.startswith("MemTotal")), 0)
    return {"cpu": f"{cpu}, {os.cpu_count()} cores", "memory": f"{mem / (1 << 20):.1f} GiB",
            "kernel": platform.release(), "os": platform.platform()}


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                             text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def max_jobs_of(handler_text: str) -> str:
    match = re.search(r"max_jobs:\s*(\d+)", handler_text)
    return match.group(1) if match else "default"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shunter", type=Path, default=ROOT / ".build/release/shunter")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-seamless")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out")
    parser.add_argument("--quick", action="store_true", help="smaller counts; about 2 minutes")
    parser.add_argument("--time-limit", type=float, help="seconds for the whole run (default 900, quick 200)")
    parser.add_argument("--python-workers", type=int, default=2,
                        help="seamless-jobserver --workers (run-seamless-stack.sh uses 2)")
    parser.add_argument("--max-jobs", type=int,
                        help="max_jobs of Shunter's bash-local handler (default: as in handlers/10-bash-local.yaml)")
    parser.add_argument("--shunter-workdir",
                        help="Shunter's job work directories here (e.g. a tmpfs such as /dev/shm/x) instead of "
                             "under its temporary directory; the floor's directories follow them")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories (logs)")
    args = parser.parse_args()
    args.shunter, args.venv, args.out = args.shunter.resolve(), args.venv.resolve(), args.out.resolve()

    started = time.monotonic()
    # Ctrl-C or SIGTERM cancels the run; the `finally` below still stops the servers and writes
    # the report of what was measured.
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, asyncio.current_task().cancel)
    limit = args.time_limit or (200 if args.quick else 900)
    deadline = started + limit
    counts = Counts.quick() if args.quick else Counts.default()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    if not args.shunter.exists():
        print(f"bench: no Shunter binary at {args.shunter}; build it: swift build -c release --product shunter",
              file=sys.stderr)
        return 2

    handler = (ROOT / "handlers" / "10-bash-local.yaml").read_text()
    if args.max_jobs:
        handler = re.sub(r"max_jobs:\s*\d+", f"max_jobs: {args.max_jobs}", handler)
    work = Path(tempfile.mkdtemp(prefix="shunter-bench-"))
    shunter = Shunter(args.shunter, work / "shunter",
                      [("10-bash-local.yaml", handler), ("20-python-local.yaml", python_handler(args.venv))],
                      workdir=args.shunter_workdir or "var/work")
    stack = SeamlessStack(args.venv, work / "seamless", args.python_workers)
    scenarios: list[Scenario] = []
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "default",
        "machine": "; ".join(f"{k} {v}" for k, v in machine().items()),
        "shunter": f"commit {git_commit()}, release build, embedded store, journal durability full, "
                   f"handler bash-local max_jobs {max_jobs_of(handler)}, log_level info, "
                   f"work directories {args.shunter_workdir or 'under the temporary directory'}",
        "python": f"seamless-suite from {args.venv}, seamless-jobserver --workers {args.python_workers}, "
                  "hashserver and seamless-database on their own ports",
        "load": "bench/loadgen.c (jobs at concurrency 1, 8, 32), wrk (cache hits, small GETs) and an aiohttp closed-loop client (sequential jobs, buffers)",
    }
    print(f"bench: work directory {work}; time limit {limit:.0f} s", file=sys.stderr, flush=True)
    try:
        shunter.start()
        stack.start()
        await asyncio.sleep(2)  # let the jobserver's workers finish importing before measuring memory
        python_idle = stack.rss_kib()
        shunter_idle = shunter.rss_kib()
        floor_dir = Path(args.shunter_workdir) if args.shunter_workdir else None
        if floor_dir:
            floor_dir.mkdir(parents=True, exist_ok=True)
        bench = Bench(shunter, stack, work, counts, deadline, floor_dir)

        async def step(name: str, minimum: float, make):
            if name not in only:
                return
            if bench.time_left() < minimum:
                scenarios.append(Scenario(name, skipped=f"time limit ({limit:.0f} s) reached before it started"))
                return
            print(f"bench: {name} ({bench.time_left():.0f} s left)", file=sys.stderr, flush=True)
            try:
                result = await make()
                scenarios.extend(result if isinstance(result, list) else [result])
            except Exception as error:  # a broken scenario is reported, the others still run
                traceback.print_exc()
                scenarios.append(Scenario(name, skipped=f"error: {type(error).__name__}: {error}"))

        await step("jobs", 20, bench.trivial_jobs)
        async def python_step():
            return await PythonBench(bench, args.venv, args.quick).scenarios(shunter, stack)
        await step("python", 60, python_step)
        await step("cache", 15, bench.cache_hits)
        await step("buffers", 15, bench.buffers)

        async def hashing():
            put = next((s.rows[0] for s in scenarios if s.name.startswith("buffer PUT 256 MiB") and s.rows), None)
            return bench.hashing(put)
        await step("hashing", 5, hashing)

        async def memory():
            out = await bench.memory(args.shunter, python_idle)
            out[0].figures.insert(1, ("Shunter, after the scenarios above (main instance)", shunter.rss_kib() / 1024,
                                      "MiB"))
            out[0].figures.insert(1, ("Shunter main instance at start", shunter_idle / 1024, "MiB"))
            return out
        await step("memory", 20, memory)

        async def slurm_step():
            return await slurm.scenario(bench, args.shunter, quick=args.quick)
        await step("slurm", 10, slurm_step)
    finally:
        shunter.stop()
        stack.stop()
        meta["wall time"] = f"{time.monotonic() - started:.0f} s"
        report.write(args.out, meta, scenarios)
        if args.keep:
            print(f"bench: kept {work}", file=sys.stderr)
        else:
            remove_tree(work)
            if args.shunter_workdir:
                for floor in Path(args.shunter_workdir).glob("floor-*"):
                    remove_tree(floor)
    print(f"bench: wrote {args.out / 'report.md'} and {args.out / 'report.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
