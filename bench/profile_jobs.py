"""Where a trivial bash job's time goes: runs N distinct `echo $a > RESULT` jobs through
`GET /run-transformation` at a given concurrency against a fresh `shunter serve` (the same setup
as bench/run.py), and reports CPU per job (Shunter's own threads, and the processes it started
and reaped) from /proc. With --perf FILE it also records the broker and every process it forks
with `perf record -F 999 -g` (software clock: this VM kind has no hardware counters).

  .venv-seamless/bin/python bench/profile_jobs.py --shunter .build/release/shunter \\
      --concurrency 8 --jobs 400 --perf /tmp/c8.data
  perf report -i /tmp/c8.data --no-children --sort comm,dso,sym | head -60

Nothing here fails on a number."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import httpload  # noqa: E402
from httpload import Request, closed_loop, expect_status  # noqa: E402
from scenarios import Bench  # noqa: E402
from servers import Shunter, remove_tree  # noqa: E402
from transformations import CODE, bash_jobs, sha256, text_buffer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def context_switches(pid: int) -> int:
    """Context switches of all the process's threads so far (voluntary and not)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.endswith("ctxt_switches:") or "ctxt_switches:" in line:
                    total += int(line.split()[-1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(own utime+stime, reaped children's cutime+cstime) of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime) / TICKS, (cutime + cstime) / TICKS


def client_children_seconds() -> float:
    """CPU of this process's reaped children: the load generator once it has exited (Shunter,
    also a child, is reaped only at the end)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shunter", type=Path, default=ROOT / ".build/release/shunter")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=50, help="jobs run before measuring")
    parser.add_argument("--perf", type=Path, help="record a perf profile of the measured jobs to this file")
    parser.add_argument("--strace", type=Path, help="strace -f -tt -T the broker during the measured jobs into this file")
    parser.add_argument("--workdir", help="Shunter's work directories here instead of under its own temporary "
                        "directory (e.g. on tmpfs, to see what the file system costs)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory: nothing is deleted, so a next run's new files do not "
                        "walk the inodes this one freed (ext4 without a journal skips inodes freed in the last 60 s)")
    parser.add_argument("--max-jobs", type=int, help="max_jobs of the bash-local handler (default: as in the file)")
    parser.add_argument("--client", choices=["aiohttp", "loadgen"], default="aiohttp",
                        help="the measured jobs' HTTP client: this process's aiohttp, or bench/loadgen.c")
    args = parser.parse_args()

    handler = (ROOT / "handlers" / "10-bash-local.yaml").read_text()
    if args.max_jobs:
        handler = re.sub(r"max_jobs:\s*\d+", f"max_jobs: {args.max_jobs}", handler)
    work = Path(tempfile.mkdtemp(prefix="shunter-profile-"))
    shunter = Shunter(args.shunter.resolve(), work / "shunter", [("10-bash-local.yaml", handler)],
                      workdir=args.workdir or "var/work")
    tracer = None
    try:
        shunter.start()
        deadline = time.monotonic() + 600
        code = text_buffer(CODE)
        jobs = bash_jobs(5_000_000 + os.getpid() * 10_000, args.warmup + args.jobs)
        buffers = [code] + [j.input_buffer for j in jobs]
        m = await closed_loop("upload", [Request("PUT", f"{shunter.url}/{sha256(b)}", b, check=expect_status(200, 201))
                                         for b in buffers], 16, deadline)
        assert not m.errors, m.first_error
        warm, measured = jobs[:args.warmup], jobs[args.warmup:]
        await closed_loop("warmup", [Bench.run_request(shunter.url, j) for j in warm], args.concurrency, deadline)

        if args.perf:
            tracer = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", str(args.perf), "-p", str(shunter.pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        elif args.strace:
            tracer = subprocess.Popen(["strace", "-f", "-tt", "-T", "-y", "--seccomp-bpf", "-e", os.environ.get("STRACE_EVENTS", "all"), "-o", str(args.strace), "-p", str(shunter.pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        own0, children0 = cpu_seconds(shunter.pid)
        measured_requests = [Bench.run_request(shunter.url, j) for j in measured]
        if args.client == "loadgen":
            httpload.loadgen_binary(work)  # compiled before the clock starts
        client0 = time.process_time() + client_children_seconds()
        switches0 = context_switches(shunter.pid)
        if args.client == "loadgen":
            result = await httpload.closed_loop_native("Shunter", measured_requests, args.concurrency, deadline,
                                                       work, unit="jobs")
        else:
            result = await closed_loop("Shunter", measured_requests, args.concurrency, deadline, unit="jobs")
        own1, children1 = cpu_seconds(shunter.pid)
        client1 = time.process_time() + client_children_seconds()
        switches1 = context_switches(shunter.pid)
        if tracer:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=120)
        n = result.n
        lat = sorted(result.latencies)
        print(f"jobs {n} at concurrency {args.concurrency}: {n / result.wall:.1f} jobs/s, "
              f"median {lat[len(lat) // 2] * 1e3:.2f} ms, errors {result.errors}"
              + (f" ({result.first_error})" if result.errors else ""))
        print(f"CPU per job: broker {1e3 * (own1 - own0) / n:.2f} ms, "
              f"processes it reaped {1e3 * (children1 - children0) / n:.2f} ms, "
              f"the HTTP client ({args.client}) {1e3 * (client1 - client0) / n:.2f} ms "
              f"(clock ticks of {1e3 / TICKS:.0f} ms: averages over the run)")
        print(f"context switches of the broker's threads per job: {(switches1 - switches0) / n:.1f}")
        print(f"load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        return 0
    finally:
        shunter.stop()
        if not args.keep:
            remove_tree(work)
        else:
            print(f"kept {work}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
