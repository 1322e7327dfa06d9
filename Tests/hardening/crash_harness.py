#!/usr/bin/env python3
"""Crash test: a burst of bash jobs, the broker killed with SIGKILL at random points and
restarted each time, then every job awaited. Prints how many jobs were lost, ended twice and
completed twice; exits 1 if any was lost or completed twice.

    python3 Tests/hardening/crash_harness.py --kills 3 --jobs 60      # what CI runs
    python3 Tests/hardening/crash_harness.py --kills 50 --jobs 2000   # the long run

Each job appends a `start` and an `end` line (its token, a run id of its own, the time) to a
side-effect file outside every directory of the broker, whose path it gets through a pin, and
writes its token to RESULT. From those lines and the broker's records:
- lost: a job the broker acknowledged (POST /jobs answered with its id, or its result from
  the cache) that did not end `succeeded` with its token as result, whose result buffer
  cannot be read back, or no run of which ever reached its end;
- ended twice: a job whose code ran to its end more than once. Allowed: a crash after the
  process ended and before the end was journaled makes recovery run it again (the promise is
  at least once, never side by side);
- completed twice: a job that ran twice side by side (one run ended after another had
  started), that ran again after the broker had recorded its end, or a transformation with
  two succeeded jobs. Never allowed.

Standard library only (and shunter_harness.py beside it). SHUNTER_BIN names the binary.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from shunter_harness import Broker, HarnessError, read_tail, sha256  # noqa: E402

JOB_CODE = """run=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
echo "start $token $run $(date +%s.%N)" >> "$side"
sleep 0.$((RANDOM % 4))
echo "end $token $run $(date +%s.%N)" >> "$side"
printf '%s' "$token" > RESULT
"""

CONNECTION_ERRORS = (OSError,)


class Burst:
    """Submits every job from a few threads, each retrying until the broker (restarted after a
    kill) acknowledges it."""

    def __init__(self, broker: Broker, tokens: list[str], side: str, threads: int, seconds: float):
        self.broker = broker
        self.side = side
        self.pending = list(tokens)
        self.accepted: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.deadline = time.monotonic() + seconds
        self.threads = [threading.Thread(target=self.work, daemon=True) for _ in range(threads)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def join(self):
        for thread in self.threads:
            thread.join()

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)

    def take(self) -> str | None:
        with self.lock:
            return self.pending.pop() if self.pending else None

    def work(self):
        while (token := self.take()) is not None:
            while True:
                if time.monotonic() > self.deadline:
                    with self.lock:
                        self.errors.append(f"{token}: never acknowledged")
                    break
                try:
                    payload = self.broker.bash_transformation(
                        JOB_CODE, pins={"token": ("text", token + "\n"), "side": ("text", self.side + "\n")})
                    answer = self.broker.submit(payload, timeout=60)
                except CONNECTION_ERRORS:
                    time.sleep(0.05)  # the broker is down: a kill, then its restart
                    continue
                except HarnessError:
                    time.sleep(0.05)  # an upload that the kill cut off
                    continue
                if answer.status == 202:
                    body = answer.json()
                    with self.lock:
                        self.accepted[token] = {"job": body["id"], "transformation": body["transformation"]}
                    break
                if answer.status == 200 and answer.json().get("cached"):
                    body = answer.json()
                    with self.lock:
                        self.accepted[token] = {"job": None, "transformation": body["transformation"],
                                                "result": body["result"]}
                    break
                if answer.status >= 500:
                    time.sleep(0.05)
                    continue
                with self.lock:
                    self.errors.append(f"{token}: submission answered {answer}")
                break


def read_runs(side: str) -> dict[str, dict[str, dict]]:
    """token → run id → {"start": t, "end": t or None}."""
    runs: dict[str, dict[str, dict]] = {}
    if not os.path.exists(side):
        return runs
    with open(side, encoding="utf-8", errors="replace") as stream:
        for line in stream:
            parts = line.split()
            if len(parts) != 4 or parts[0] not in ("start", "end"):
                continue
            kind, token, run, when = parts
            entry = runs.setdefault(token, {}).setdefault(run, {"start": None, "end": None})
            entry[kind] = float(when)
    return runs


def final_record(broker: Broker, job: str, seconds: float) -> dict | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if broker.record(job) is None:
                return None
            return broker.wait_job(job, max(1, deadline - time.monotonic()))
        except CONNECTION_ERRORS:
            time.sleep(0.1)
    raise HarnessError(f"{job} did not end within {seconds} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=60, help="jobs in the burst (default 60)")
    parser.add_argument("--kills", type=int, default=3, help="kill -9s of the broker (default 3)")
    parser.add_argument("--max-jobs", type=int, default=4, help="the handler's max_jobs (default 4)")
    parser.add_argument("--threads", type=int, default=8, help="submitting threads (default 8)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the kill points (default: random, printed)")
    parser.add_argument("--keep", action="store_true", help="keep the broker's root and the side-effect file")
    parser.add_argument("--wait-seconds", type=float, default=1800, help="how long to wait for the jobs in the end")
    args = parser.parse_args(argv)

    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    chance = random.Random(seed)
    print(f"crash harness: {args.jobs} jobs, {args.kills} kills, max_jobs {args.max_jobs}, seed {seed}", flush=True)

    broker = Broker(max_jobs=args.max_jobs)
    side_directory = tempfile.mkdtemp(prefix="shunter-crash-side-")
    side = os.path.join(side_directory, "side-effects.log")
    tokens = [f"job{index:05d}-{secrets.token_hex(6)}" for index in range(args.jobs)]
    problems: list[str] = []
    try:
        broker.start()
        burst = Burst(broker, tokens, side, args.threads, seconds=args.wait_seconds)
        burst.start()
        # Kill points: after a random share of the burst has been acknowledged, plus a random
        # delay, so that kills land in submission, in admission, in running jobs and between
        # a job's end and its journaling alike.
        thresholds = sorted(chance.uniform(0.05, 1.0) * args.jobs for _ in range(args.kills))
        for number, threshold in enumerate(thresholds, 1):
            while burst.count() < threshold and any(thread.is_alive() for thread in burst.threads):
                time.sleep(0.01)
            time.sleep(chance.uniform(0, 0.7))
            broker.kill9()
            print(f"kill {number}: after {burst.count()} of {args.jobs} jobs were acknowledged", flush=True)
            broker.start()
        burst.join()
        problems += burst.errors

        records: dict[str, dict | None] = {}
        for token, acknowledged in burst.accepted.items():
            if acknowledged["job"] is None:
                records[token] = {"state": "succeeded", "result": acknowledged["result"], "finished_at": None}
            else:
                records[token] = final_record(broker, acknowledged["job"], args.wait_seconds)

        runs = read_runs(side)
        lost: list[str] = []
        ended_twice: list[str] = []
        completed_twice: dict[str, str] = {}
        for token, acknowledged in burst.accepted.items():
            record = records[token]
            token_runs = runs.get(token, {})
            ended_runs = [run for run in token_runs.values() if run["start"] is not None and run["end"] is not None]
            if record is None:
                lost.append(f"{token} ({acknowledged['job']}): the broker has no record of it")
            elif record["state"] != "succeeded":
                lost.append(f"{token} ({acknowledged['job']}): ended {record['state']}: {record.get('error')}")
            elif record.get("result") != sha256(token.encode()):
                lost.append(f"{token} ({acknowledged['job']}): result {record.get('result')} is not its token's")
            elif not ended_runs:
                lost.append(f"{token} ({acknowledged['job']}): succeeded, but no run of its code reached its end")
            elif (buffer := broker.request("GET", "/" + record["result"])).body != token.encode():
                lost.append(f"{token} ({acknowledged['job']}): its result buffer is not in the store ({buffer})")
            if len(ended_runs) > 1:
                ended_twice.append(token)
            ordered = sorted((run for run in token_runs.values() if run["start"] is not None), key=lambda run: run["start"])
            side_by_side = any(
                earlier["end"] is not None and earlier["end"] > later["start"]
                for index, earlier in enumerate(ordered) for later in ordered[index + 1:])
            finished = (record or {}).get("finished_at")
            after_end = finished is not None and any(run["start"] > finished for run in ordered)
            if side_by_side:
                completed_twice[token] = "two runs side by side"
            elif after_end:
                completed_twice[token] = "ran again after the broker recorded its end"
        for token, acknowledged in burst.accepted.items():
            listing = broker.request("GET", f"/jobs?tf={acknowledged['transformation']}&state=succeeded")
            if listing.status != 200:
                problems.append(f"{token}: listing its jobs answered {listing}")
            elif len(listing.json()) > 1:
                completed_twice.setdefault(token, f"{len(listing.json())} succeeded jobs for one transformation")

        print(f"acknowledged {len(burst.accepted)} of {args.jobs} jobs; "
              f"runs recorded {sum(len(r) for r in runs.values())}; broker starts {broker.starts}")
        for line in lost:
            print("LOST " + line)
        for token, reason in sorted(completed_twice.items()):
            print(f"COMPLETED TWICE {token}: {reason}")
        for line in problems:
            print("PROBLEM " + line)
        print(f"lost: {len(lost)}")
        print(f"ended twice: {len(ended_twice)}")
        print(f"completed twice: {len(completed_twice)}")
        failed = bool(lost or completed_twice or problems)
        if failed:
            print("--- broker log (tail) ---\n" + read_tail(broker.log, 4000))
        return 1 if failed else 0
    except HarnessError as error:
        print(f"crash harness: {error}")
        return 2
    finally:
        broker.stop()
        if args.keep:
            print(f"kept: {broker.root} and {side}")
        else:
            shutil.rmtree(broker.root, ignore_errors=True)
            shutil.rmtree(side_directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
