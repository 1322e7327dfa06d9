"""Two Shunter binaries against each other and the warm-fork floors on trivial Python jobs, in
turns within one run, so that both see the same machine (another build, a loaded VM):

    .venv-seamless/bin/python bench/python_before_after.py --before OLD/shunter --after NEW/shunter \
        [--concurrency 1] [--jobs 40] [--turns 3]

Each turn runs `--jobs` distinct trivial jobs (`def f(a): return a * 3 + 1`, raw
`GET /run-transformation` from bench/loadgen.c, inputs uploaded first) through each broker
(handler python-local, warm parents, `max_jobs: 8`), then the same number through the floors of
bench/python_floor.py (a child forked per job from an interpreter that has imported Seamless:
Seamless's `_execute_transformation_request`, and the bare function). The order of the systems
rotates from turn to turn. Prints one line per turn and system, and the pooled medians (all
turns' latencies together)."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from httpload import closed_loop_native  # noqa: E402
from python_scenarios import PythonBench, python_handler  # noqa: E402
from python_transformations import code_buffers  # noqa: E402
from scenarios import Bench, Counts  # noqa: E402
from servers import Shunter  # noqa: E402


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-seamless")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    venv = args.venv.resolve()

    work = Path(tempfile.mkdtemp(prefix="shunter-python-ab-"))
    deadline = time.monotonic() + 3600
    brokers = {
        "before": Shunter(args.before.resolve(), work / "before", [("20-python-local.yaml", python_handler(venv))]),
        "after": Shunter(args.after.resolve(), work / "after", [("20-python-local.yaml", python_handler(venv))]),
    }
    pooled: dict[str, list[float]] = {}
    walls: dict[str, float] = {}
    try:
        for broker in brokers.values():
            broker.start()
        bench = Bench(brokers["before"], None, work, Counts.quick(), deadline)
        python = PythonBench(bench, venv, quick=True)
        for broker in brokers.values():
            await bench.upload(broker.url, code_buffers("trivial"))
            warmup = python.fresh("trivial", 8)
            await bench.upload(broker.url, [j.input_buffer for j in warmup])
            await python.shunter_run(broker, warmup, 2)

        systems = ["before", "after", "floor: Seamless runner", "floor: bare function"]
        for turn in range(args.turns):
            order = systems[turn % len(systems):] + systems[:turn % len(systems)]
            for system in order:
                jobs = python.fresh("trivial", args.jobs)
                if system in brokers:
                    broker = brokers[system]
                    await bench.upload(broker.url, [j.input_buffer for j in jobs])
                    m = await python.shunter_run(broker, jobs, args.concurrency, system)
                else:
                    m = python.floor(jobs, args.concurrency, "seamless" if "Seamless" in system else "function")
                if m.errors:
                    raise RuntimeError(f"{system}: {m.errors} errors, first: {m.first_error}")
                pooled.setdefault(system, []).extend(m.latencies)
                walls[system] = walls.get(system, 0.0) + m.wall
                print(f"turn {turn}: {system:24} median {statistics.median(m.latencies) * 1e3:7.2f} ms, "
                      f"{len(m.latencies) / m.wall:6.1f} jobs/s", flush=True)
        print(f"\npooled, concurrency {args.concurrency}, {args.turns} turns of {args.jobs}:")
        for system in systems:
            latencies = pooled[system]
            print(f"  {system:24} median {statistics.median(latencies) * 1e3:7.2f} ms, "
                  f"p95 {sorted(latencies)[int(len(latencies) * 0.95)] * 1e3:7.2f} ms, "
                  f"{len(latencies) / walls[system]:6.1f} jobs/s")
    finally:
        for broker in brokers.values():
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
