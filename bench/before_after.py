"""Two Shunter binaries against each other on trivial bash jobs and cache hits, in turns within
one run, so that both see the same machine (another build, a loaded VM):

    .venv-seamless/bin/python bench/before_after.py --before OLD/shunter --after NEW/shunter \
        [--turns 5] [--c1-jobs 200] [--c8-jobs 500] [--cache-seconds 3] [--no-c32]

Both brokers run side by side, each with its own temporary directory and the shipped
`handlers/10-bash-local.yaml` (as the jobs scenario of bench/run.py; `--max-jobs` overrides its
`max_jobs`). Each turn runs, scenario by scenario and with the order of the two brokers
rotating from turn to turn:

- trivial bash jobs (`echo $a > RESULT`, every job a distinct `a`, inputs uploaded first), raw
  `GET /run-transformation` from bench/loadgen.c at concurrency 1 and 8, every answer's result
  checksum checked;
- cache hits: `GET /run-transformation` cycling through 100 transformations both brokers have
  run, with wrk for `--cache-seconds` at concurrency 1 and 32 (bench/loadgen.c with a bounded
  count where wrk is missing), one answer checked.

Prints one line per turn, scenario and broker, and the pooled figures: for jobs every turn's
latencies together and all jobs over the summed wall times; for wrk runs (which report
percentiles, not latencies) the median of the turns' medians and all requests over the summed
durations; then the ratio after / before. Every measured run starts after a sync, and the
turns start after a pause of `--settle` seconds (see `Bench.settle`). Each broker runs
100 + turns × (c1 + c8 jobs); keep that under its pool of spare files (`WorkRootSpares`,
4 096), past which each job deletes a file and slows every file created after it."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import httpload  # noqa: E402
from httpload import closed_loop, closed_loop_native  # noqa: E402
from scenarios import Bench, Counts  # noqa: E402
from servers import Shunter, remove_tree  # noqa: E402
from stats import Measurement, merge_turns  # noqa: E402
from transformations import CODE, text_buffer  # noqa: E402

SYSTEMS = ["before", "after"]
CACHED = 100  # transformations the cache-hit scenarios cycle through


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pooled(turns: list[Measurement]) -> tuple[float, float, float | None]:
    """(median in s, throughput per s, p95 in s or None) over the turns of one broker."""
    if all(t.median_override is not None for t in turns):  # wrk: percentiles only
        requests = sum(t.n - t.errors for t in turns)
        return statistics.median(t.median for t in turns), requests / sum(t.wall for t in turns), None
    m = merge_turns(turns)
    return m.median, m.throughput or 0.0, m.p95


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--c1-jobs", type=int, default=200, help="jobs per turn at concurrency 1")
    parser.add_argument("--c8-jobs", type=int, default=500, help="jobs per turn at concurrency 8")
    parser.add_argument("--cache-seconds", type=float, default=3.0, help="wrk duration per cache-hit run")
    parser.add_argument("--cache-requests", type=int, default=2000, help="per cache-hit run without wrk")
    parser.add_argument("--no-c32", action="store_true", help="cache hits at concurrency 1 only")
    parser.add_argument("--max-jobs", type=int, help="max_jobs of bash-local (default: the shipped handler's)")
    parser.add_argument("--settle", type=float, default=Bench.SETTLE_SECONDS,
                        help="seconds to wait before the first turn (files deleted before the run)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (the brokers' logs)")
    args = parser.parse_args()

    per_broker = CACHED + args.turns * (args.c1_jobs + args.c8_jobs)
    if per_broker > 4000:
        print(f"before_after: {per_broker} jobs per broker pass its pool of spare files (4 096): "
              "fewer turns or jobs", file=sys.stderr)
        return 2
    handler = (ROOT / "handlers" / "10-bash-local.yaml").read_text()
    if args.max_jobs:
        handler = re.sub(r"max_jobs:\s*\d+", f"max_jobs: {args.max_jobs}", handler)
    max_jobs = re.search(r"max_jobs:\s*(\d+)", handler)

    work = Path(tempfile.mkdtemp(prefix="shunter-ab-"))
    deadline = time.monotonic() + 3600
    brokers = {name: Shunter(getattr(args, name).resolve(), work / name, [("10-bash-local.yaml", handler)])
               for name in SYSTEMS}
    cache_concurrencies = [1] if args.no_c32 else [1, 32]
    scenarios = ([(f"trivial bash jobs, c{c}", "jobs", c) for c in (1, 8)]
                 + [(f"cache hit /run-transformation, c{c}", "cache", c) for c in cache_concurrencies])
    turns: dict[tuple[str, str], list[Measurement]] = {}
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    print(f"before_after: {started}, load average {load()}; work directory {work}; handler bash-local "
          f"max_jobs {max_jobs.group(1) if max_jobs else 'default'}; "
          f"cache hits with {'wrk' if httpload.have_wrk() else 'bench/loadgen.c'}", flush=True)
    try:
        for broker in brokers.values():
            broker.start()
        bench = Bench(brokers["before"], None, work, Counts.quick(), deadline)
        cached = bench.fresh_jobs(CACHED)
        # Every job of every turn made up front, the same values for both brokers, inputs uploaded
        # to both: the turns measure runs only.
        job_turns = {c: [bench.fresh_jobs(n) for _ in range(args.turns)]
                     for c, n in ((1, args.c1_jobs), (8, args.c8_jobs))}
        for name, broker in brokers.items():
            await bench.upload(broker.url, [text_buffer(CODE)] + [j.input_buffer for j in cached]
                               + [j.input_buffer for turns_ in job_turns.values() for jobs in turns_ for j in jobs])
            # The cache-hit scenarios' results; also each broker's warm-up.
            m = await closed_loop_native(name, [bench.run_request(broker.url, j) for j in cached], 4, deadline,
                                         work, unit="jobs")
            if m.errors:
                raise RuntimeError(f"{name}: {m.errors} errors in the warm-up, first: {m.first_error}")
        os.sync()
        if args.settle > 0:
            print(f"before_after: settling {args.settle:.0f} s", flush=True)
            await asyncio.sleep(args.settle)
        run_bodies = [j.body for j in cached]

        for turn in range(args.turns):
            order = SYSTEMS[turn % 2:] + SYSTEMS[:turn % 2]
            for label, kind, concurrency in scenarios:
                for name in order:
                    broker = brokers[name]
                    os.sync()  # no run pays for the write-back of what came before it
                    if kind == "jobs":
                        jobs = job_turns[concurrency][turn]
                        m = await closed_loop_native(name, [bench.run_request(broker.url, j) for j in jobs],
                                                     concurrency, deadline, work, unit="jobs")
                    elif httpload.have_wrk():
                        m = httpload.wrk(name, broker.url, "GET", "/run-transformation", run_bodies, concurrency,
                                         args.cache_seconds, work, threads=1 if concurrency == 1 else 2)
                        check = bench.spot_check(broker.url, "/run-transformation", cached, True, False)
                        if check:
                            raise RuntimeError(f"{name}: {label}{check}")
                    else:
                        requests = [bench.run_request(broker.url, cached[i % CACHED])
                                    for i in range(args.cache_requests)]
                        m = await closed_loop_native(name, requests, concurrency, deadline, work)
                    if m.errors:
                        raise RuntimeError(f"{name}: {label}: {m.errors} errors, first: {m.first_error}")
                    turns.setdefault((label, name), []).append(m)
                    print(f"turn {turn}: {label:34} {name:6} median {m.median * 1e3:7.3f} ms, "
                          f"{m.throughput:8.1f} {m.unit}/s", flush=True)
            print(f"turn {turn}: load average {load()}", flush=True)

        ended = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S UTC")
        print(f"\npooled over {args.turns} turns (jobs: c1 {args.c1_jobs}, c8 {args.c8_jobs} per turn; "
              f"cache hits {args.cache_seconds:g} s per run); ended {ended}, load average {load()}")
        print("| scenario | before | after | after/before |\n|---|---:|---:|---:|")
        for label, kind, _ in scenarios:
            figures = {name: pooled(turns[(label, name)]) for name in SYSTEMS}
            unit = "jobs/s" if kind == "jobs" else "req/s"
            cells = [f"{thr:,.0f} {unit}, {med * 1e3:.3f} ms median" + (f" (p95 {p95 * 1e3:.2f})" if p95 else "")
                     for med, thr, p95 in figures.values()]
            (bm, bt, _), (am, at, _) = figures["before"], figures["after"]
            per_turn = ", ".join(f"{(a.throughput or 0) / (b.throughput or 1):.2f}"
                                 for b, a in zip(turns[(label, "before")], turns[(label, "after")]))
            print(f"| {label} | {cells[0]} | {cells[1]} | throughput {at / bt:.3f}, median {am / bm:.3f} "
                  f"(turns: {per_turn}) |")
    finally:
        for broker in brokers.values():
            broker.stop()
        if args.keep:
            print(f"before_after: kept {work}", file=sys.stderr)
        else:
            remove_tree(work)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
