"""Where the broker's blocking work runs: the current way (A) against variants that move one
kind of blocking work off NIO's event loops (B), in turns within one run, so that every
system sees the same machine (other builds, a loaded VM):

    .venv-seamless/bin/python bench/blocking_ab.py --system A=/tmp/ab-A \
        --system B-store=/tmp/ab-B:SHUNTER_AB_STORE_ASYNC ... [--turns 6]

A system is NAME=BINARY, optionally followed by `:VAR[,VAR...]`, environment variables set
(to 1) for that broker. The measuring build is commit 648cd42 (its switches were taken out
again in the next commit; build it in a worktree of its own with
`swift build -c release --product shunter`). Its switches, each moving one kind of blocking
work off NIO's event loops: SHUNTER_AB_STORE_ASYNC (the cache lookup through GRDB's async
read), SHUNTER_AB_WORKDIR_OFFLOOP (work directories created and removed on `BlockingIO`'s
queue, recycled on a serial queue), SHUNTER_AB_POSIX_SPAWN (local jobs spawned by glibc's
posix_spawn on a serial dispatch queue instead of the clone shim on the caller's thread),
SHUNTER_AB_DEFAULT_EXECUTOR (the default cooperative executor instead of NIO's event loops).
Give the same binary twice without switches (A and A2) to see the noise of the run. Each system is a broker of its own, all started
before the first turn (handler bash-local, `max_jobs: 8`).

Each turn runs, for every system in an order that rotates from turn to turn: `--jobs` fresh
trivial bash jobs at concurrency 1, `--jobs8` at concurrency 8 (inputs uploaded first, driven
by bench/loadgen.c), and `--hits` cache hits at concurrency 1 (`/run-transformation` of jobs
that ran before). Prints one line per turn, scenario and system; then per scenario each
system's pooled figures and its throughput over A's, pooled and turn by turn (the spread of
those per-turn ratios is the noise to judge a difference against)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from httpload import closed_loop_native  # noqa: E402
from scenarios import Bench, Counts  # noqa: E402
from servers import Shunter  # noqa: E402
from stats import merge_turns  # noqa: E402
from transformations import CODE, text_buffer  # noqa: E402


def parse_system(text: str) -> tuple[str, Path, dict[str, str]]:
    name, _, rest = text.partition("=")
    binary, _, variables = rest.partition(":")
    if not name or not binary:
        raise argparse.ArgumentTypeError(f"expected NAME=BINARY[:VAR,...], got {text!r}")
    return name, Path(binary), {v: "1" for v in variables.split(",") if v}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", action="append", type=parse_system, required=True,
                        help="NAME=BINARY[:VAR,...]; the first is the reference the ratios are to")
    parser.add_argument("--jobs", type=int, default=100, help="trivial jobs per turn at concurrency 1")
    parser.add_argument("--jobs8", type=int, default=200, help="trivial jobs per turn at concurrency 8")
    parser.add_argument("--hits", type=int, default=300, help="cache hits per turn at concurrency 1")
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--max-jobs", type=int, default=8)
    args = parser.parse_args()

    handler = (ROOT / "handlers" / "10-bash-local.yaml").read_text().replace("max_jobs: 4", f"max_jobs: {args.max_jobs}")
    work = Path(tempfile.mkdtemp(prefix="shunter-blocking-ab-"))
    deadline = time.monotonic() + 3600
    brokers: dict[str, Shunter] = {}
    for name, binary, variables in args.system:
        brokers[name] = Shunter(binary.resolve(), work / name, [("10-bash-local.yaml", handler)], env=variables)
    names = list(brokers)
    scenarios = ["jobs c1", "jobs c8", "cache hits c1"]
    turns: dict[tuple[str, str], list] = {}
    try:
        for broker in brokers.values():
            broker.start()
        bench = Bench(brokers[names[0]], None, work, Counts.quick(), deadline)
        for broker in brokers.values():
            await bench.upload(broker.url, [text_buffer(CODE)])
            warm = bench.fresh_jobs(20)
            await bench.upload(broker.url, [j.input_buffer for j in warm])
            await closed_loop_native("warm-up", [bench.run_request(broker.url, j) for j in warm], 4, deadline, work)
        done: dict[str, list] = {name: [] for name in names}  # jobs each broker has run: the cache hits
        for turn in range(args.turns):
            order = names[turn % len(names):] + names[:turn % len(names)]
            for scenario in scenarios:
                for name in order:
                    broker = brokers[name]
                    if scenario == "cache hits c1":
                        pool = done[name]
                        jobs = [pool[i % len(pool)] for i in range(args.hits)]
                        concurrency = 1
                    else:
                        concurrency = 1 if scenario == "jobs c1" else 8
                        jobs = bench.fresh_jobs(args.jobs if concurrency == 1 else args.jobs8)
                        await bench.upload(broker.url, [j.input_buffer for j in jobs])
                    os.sync()
                    m = await closed_loop_native(name, [bench.run_request(broker.url, j) for j in jobs], concurrency,
                                                 deadline, work, unit="jobs")
                    if m.errors:
                        raise RuntimeError(f"{name}, {scenario}: {m.errors} errors, first: {m.first_error}")
                    if scenario == "jobs c1":
                        done[name].extend(jobs)
                    turns.setdefault((scenario, name), []).append(m)
                    print(f"turn {turn}: {scenario:14} {name:10} median {m.median * 1e3:7.3f} ms, "
                          f"{m.n / m.wall:7.1f}/s", flush=True)
        reference = names[0]
        print(f"\npooled over {args.turns} turns (throughput: all over the turns' summed wall time); "
              f"ratio = throughput over {reference}'s")
        for scenario in scenarios:
            print(f"\n{scenario}")
            ref_turns = turns[(scenario, reference)]
            ref = merge_turns(ref_turns)
            for name in names:
                m = merge_turns(turns[(scenario, name)])
                per_turn = [(t.n / t.wall) / (r.n / r.wall) for t, r in zip(turns[(scenario, name)], ref_turns)]
                print(f"  {name:10} median {m.median * 1e3:7.3f} ms  p95 {m.p95 * 1e3:7.3f} ms  "
                      f"{m.n / m.wall:7.1f}/s  ratio {(m.n / m.wall) / (ref.n / ref.wall):5.3f}  "
                      f"per turn {' '.join(f'{r:.3f}' for r in per_turn)}  "
                      f"(median {statistics.median(per_turn):.3f})")
    finally:
        for broker in brokers.values():
            broker.stop()
        print(f"\nlogs and data in {work}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
