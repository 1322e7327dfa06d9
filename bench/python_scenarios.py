"""The Python job scenarios: trivial Python transformations at concurrency 1, 4 and 8, and a
numpy transformation at 4, each against baselines measured in the same run:

- the Python `seamless-jobserver` with as many workers as jobs in flight (its own instance,
  sharing the stack's hashserver and database);
- the warm-fork floor (bench/python_floor.py): the same job in a child forked from an
  interpreter that has imported Seamless, as many in flight, with two depths: the bare Python
  function, and Seamless's own `_execute_transformation_request` (what Shunter's runner runs).

And the first job after a cold start: a fresh broker whose warm parent is not started yet,
against a fresh broker with `python.warm: false` (how every job ran before warm parents)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpload
from httpload import closed_loop_native
from python_transformations import PythonJob, code_buffers, python_jobs
from servers import SeamlessStack, Shunter
from stats import Measurement

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent

PYTHON_NOTE = ("Trivial: `def f(a): return a * 3 + 1`, every job a distinct `a`, raw `GET /run-transformation` "
               "(bench/loadgen.c), inputs uploaded first. Shunter: handler python-local (local backend, warm "
               "parents, max_jobs 8). Python jobserver: `seamless-jobserver --workers C` (C = jobs in flight) with "
               "the hashserver and database. Floors: bench/python_floor.py, a child forked per job from an "
               "interpreter that has imported Seamless, C in flight, running the bare function or Seamless's "
               "`_execute_transformation_request` on the same request.")


def python_handler(venv: Path, warm: bool = True, max_jobs: int = 8) -> str:
    return (f"name: python-local\nplugin: python\nbackend: local\n"
            f"match: {{language: python, image: none, environment: none}}\n"
            f"limits: {{max_jobs: {max_jobs}, timeout: 1h}}\n"
            f"python:\n  interpreter: {venv / 'bin' / 'python'}\n  warm: {'true' if warm else 'false'}\n")


class PythonBench:
    def __init__(self, bench, venv: Path, quick: bool):
        self.bench = bench
        self.venv = venv
        self.quick = quick
        self.value = 10_000_000

    def fresh(self, kind: str, count: int) -> list[PythonJob]:
        jobs = python_jobs(kind, self.value, count)
        self.value += count
        return jobs

    def floor(self, jobs: list[PythonJob], concurrency: int, mode: str) -> Measurement:
        spec = [{"request": j.request, "expected": j.expected_result,
                 "buffers": {j.request["transformation_dict"]["a"][2]: j.input_buffer.decode("latin-1"),
                             **{j.request["transformation_dict"]["code"][2]: c.decode("latin-1")
                                for c in code_buffers("trivial" if j.request["transformation_dict"]["a"][0] == "int"
                                                      else "numpy")}}}
                for j in jobs]
        path = self.bench.work / f"python-floor-{time.monotonic_ns()}.json"
        path.write_text(json.dumps(spec))
        start = time.perf_counter()
        out = subprocess.run([str(self.venv / "bin" / "python"), str(BENCH_DIR / "python_floor.py"), str(path),
                              str(concurrency), mode], capture_output=True, text=True,
                             timeout=max(self.bench.time_left(), 10))
        wall = time.perf_counter() - start
        lines = [l.split() for l in out.stdout.splitlines() if l.strip()]
        latencies = [float(b) - float(a) for a, b in lines]
        # The floor's wall time: from its first fork to its last reap (not the interpreter's start).
        if lines:
            wall = max(float(b) for _, b in lines) - min(float(a) for a, _ in lines)
        errors = [l for l in out.stderr.splitlines() if l.startswith("ERROR") or "Error" in l]
        name = "floor: warm fork, bare function" if mode == "function" else "floor: warm fork, Seamless runner"
        return Measurement(name, len(latencies), concurrency, wall, latencies, len(errors),
                           errors[0] if errors else None, unit="jobs")

    async def shunter_run(self, shunter: Shunter, jobs: list[PythonJob], concurrency: int,
                          system: str = "Shunter") -> Measurement:
        return await closed_loop_native(system, [self.bench.run_request(shunter.url, j) for j in jobs], concurrency,
                                         self.bench.deadline, self.bench.work, unit="jobs")

    async def scenarios(self, shunter: Shunter, stack: SeamlessStack) -> list:
        from scenarios import Scenario
        counts = {1: 40, 4: 120, 8: 120} if self.quick else {1: 150, 4: 400, 8: 400}
        numpy_count = 60 if self.quick else 200
        out = []
        for kind in ("trivial", "numpy"):
            codes = code_buffers(kind)
            await self.bench.upload(shunter.url, codes)
            await self.bench.upload(stack.hashserver_url, codes)
        # Warm up both systems (a first job starts Shunter's warm parent, the jobserver's workers
        # import on their first job too) before anything is measured.
        warmup = self.fresh("trivial", 8)
        await self.bench.upload(shunter.url, [j.input_buffer for j in warmup])
        await self.shunter_run(shunter, warmup, 4)

        plan = [("trivial", c, n) for c, n in counts.items()] + [("numpy", 4, numpy_count)]
        for kind, concurrency, count in plan:
            if self.bench.time_left() < 30:
                out.append(Scenario(f"Python {kind} jobs, concurrency {concurrency}",
                                    skipped="time limit reached before it started"))
                continue
            shunter_jobs, python_jobs_, floor_jobs = (self.fresh(kind, count) for _ in range(3))
            await self.bench.upload(shunter.url, [j.input_buffer for j in shunter_jobs])
            jobserver = stack.extra_jobserver(concurrency)
            try:
                await self.bench.upload(stack.hashserver_url, [j.input_buffer for j in python_jobs_])
                label = ("trivial Python jobs" if kind == "trivial"
                         else "numpy Python jobs (1 000 float64 in, 1 000 out)")
                scenario = Scenario(f"{label}, concurrency {concurrency} (inputs uploaded first), n={count}",
                                    note=PYTHON_NOTE)
                os.sync()
                scenario.rows.append(await self.shunter_run(shunter, shunter_jobs, concurrency))
                # The jobserver's workers import Seamless on start: one job each first, not measured.
                warm_jobs = self.fresh(kind, concurrency * 2)
                await self.bench.upload(stack.hashserver_url, [j.input_buffer for j in warm_jobs])
                await closed_loop_native("warm-up", [self.bench.run_request(jobserver, j) for j in warm_jobs],
                                         concurrency, self.bench.deadline, self.bench.work, unit="jobs")
                os.sync()
                scenario.rows.append(await closed_loop_native(
                    f"Python jobserver --workers {concurrency}",
                    [self.bench.run_request(jobserver, j) for j in python_jobs_], concurrency, self.bench.deadline,
                    self.bench.work, unit="jobs"))
            finally:
                stack.stop_extra_jobserver()
            scenario.rows.append(self.floor(floor_jobs, concurrency, "seamless"))
            scenario.rows.append(self.floor(floor_jobs, concurrency, "function"))
            out.append(scenario)
        out.append(await self.first_job())
        return out

    async def first_job(self):
        """The first Python job of a fresh broker: warm parents (started by that job) against
        `warm: false` (the job's own interpreter, as before warm parents)."""
        from scenarios import Scenario
        scenario = Scenario("first Python job after a broker start (fresh broker, nothing running before)",
                            note="each row: a new broker, one job; `warm: false` is how every Python job ran "
                                 "before warm parents")
        rounds = 2 if self.quick else 3
        for warm, system in ((True, "Shunter, warm parent started by the job"),
                             (False, "Shunter, python.warm: false")):
            latencies = []
            for _ in range(rounds):
                base = self.bench.work / f"first-{int(warm)}-{time.monotonic_ns()}"
                fresh = Shunter(self.bench.shunter.binary, base, [("20-python-local.yaml", python_handler(self.venv, warm))])
                fresh.start()
                try:
                    job = self.fresh("trivial", 1)
                    await self.bench.upload(fresh.url, code_buffers("trivial") + [job[0].input_buffer])
                    m = await closed_loop_native(system, [self.bench.run_request(fresh.url, job[0])], 1,
                                                 self.bench.deadline, self.bench.work, unit="jobs")
                    if m.errors:
                        raise RuntimeError(f"first job on a fresh broker failed: {m.first_error}")
                    latencies.extend(m.latencies)
                finally:
                    fresh.stop()
            scenario.rows.append(Measurement(system, len(latencies), 1, sum(latencies), latencies, unit="jobs"))
        return scenario
