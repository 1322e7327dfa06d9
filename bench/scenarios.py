"""The scenarios. Each returns one or more `Scenario`s whose first row is Shunter's and whose
other rows are the baselines measured in the same run; the report gives Shunter's ratio to each."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

import httpload
from httpload import JSON_HEADERS, Request, closed_loop, closed_loop_native, expect_status
from servers import SeamlessStack, Shunter
from stats import Measurement, merge_turns, percentile
from transformations import CODE, BashJob, bash_job, bash_jobs, database_get_body, sha256, text_buffer

BENCH_DIR = Path(__file__).resolve().parent


@dataclass
class Scenario:
    name: str
    rows: list[Measurement] = field(default_factory=list)
    note: str | None = None
    skipped: str | None = None  # why it did not run
    # Figures that are not request series (memory): (what, value, unit) rows.
    figures: list[tuple[str, float, str]] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"name": self.name, "note": self.note, "skipped": self.skipped,
                "rows": [r.as_json() for r in self.rows],
                "figures": [{"what": w, "value": v, "unit": u} for w, v, u in self.figures]}


JOB_CLIENT_NOTE = ("Shunter and the Python jobserver driven by bench/loadgen.c (C, one thread, keep-alive "
                   "connections, every answer's result checksum checked), so that the client's own CPU is not a "
                   "share of the two cores the server and its jobs run on; the floor's driver is its bash loop.")


@dataclass
class Counts:
    """Bounded request counts per scenario; --quick shrinks them."""
    sequential: int
    jobs: dict[int, int]
    wrk_seconds: float
    cache_requests: int       # without wrk
    buffers: dict[str, int]   # size label -> number of distinct buffers
    queued: int
    # Concurrent trivial-job scenarios: the floor and Shunter take turns this many times, each
    # turn `jobs[c]` runs (see `trivial_jobs`); the Python jobserver runs one turn.
    job_rounds: int = 3

    @staticmethod
    def default() -> "Counts":
        # Shunter's jobs stay below its pool of 4 096 spare files (`WorkRootSpares.fileLimit`):
        # 100 + 3 × (200 + 600 + 500). Past it each job deletes a file, and on ext4 without a
        # journal every file created in the next minute, the floor's turns included, walks the
        # deleted inodes: the floor would be slowed by Shunter's turns.
        return Counts(sequential=100, jobs={1: 200, 8: 600, 32: 500}, wrk_seconds=5, cache_requests=2000,
                      buffers={"1 KiB": 500, "1 MiB": 50, "256 MiB": 3}, queued=100_000)

    @staticmethod
    def quick() -> "Counts":
        return Counts(sequential=30, jobs={1: 60, 8: 120, 32: 120}, wrk_seconds=2, cache_requests=500,
                      buffers={"1 KiB": 200, "1 MiB": 20, "256 MiB": 1}, queued=20_000, job_rounds=1)


class Bench:
    def __init__(self, shunter: Shunter, stack: SeamlessStack, work: Path, counts: Counts, deadline: float,
                 floor_dir: Path | None = None):
        self.shunter = shunter
        self.floor_dir = floor_dir or work  # where the floor's bash runs write: beside Shunter's work directories
        self.stack = stack
        self.work = work
        self.counts = counts
        self.deadline = deadline
        self.value_base = 1_000_000  # every job scenario takes fresh values: no accidental cache hits
        self.cached_jobs: list[BashJob] = []

    def fresh_jobs(self, count: int) -> list[BashJob]:
        jobs = bash_jobs(self.value_base, count)
        self.value_base += count
        return jobs

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    # On ext4 without a journal (this project's VM disks) a new inode skips every inode freed
    # in the last 60 s (360 s while its inode-table block is dirty), reading one block per
    # skipped inode, so a run measured soon after mass deletions pays for them (measured here:
    # 55% of a trivial job's bash CPU in `recently_deleted`, the floor up to 40% slower). Of the
    # systems measured only the Python jobserver deletes files (each job's temporary
    # directory), so the job scenarios run it after all floor and Shunter runs; the floor's
    # directories go with the whole run's; and the scenarios start once whatever was deleted
    # before the bench (a build, an earlier run's cleanup) is old enough.
    SETTLE_SECONDS = 65.0

    async def settle(self) -> None:
        os.sync()  # freed inodes' blocks clean: their 60 s window, not the 360 s one
        await asyncio.sleep(max(0.0, min(self.SETTLE_SECONDS, self.time_left() - 60)))

    # ------------------------------------------------------------------------- helpers

    async def upload(self, base_url: str, buffers: list[bytes], concurrency: int = 16) -> None:
        requests = [Request("PUT", f"{base_url}/{sha256(b)}", b, check=expect_status(200, 201)) for b in buffers]
        m = await closed_loop("upload", requests, concurrency, self.deadline)
        if m.errors:
            raise RuntimeError(f"uploading {len(buffers)} buffers to {base_url} failed: {m.first_error}")

    @staticmethod
    def run_request(url: str, job: BashJob) -> Request:
        def check(status: int, body: bytes) -> str | None:
            if status != 200:
                return f"HTTP {status}: {body[:300]!r}"
            try:
                got = json.loads(body).get("result_checksum")
            except ValueError:
                got = body.decode(errors="replace")[:100]
            return None if got == job.expected_result else f"result {got}, expected {job.expected_result}"
        return Request("GET", f"{url}/run-transformation", job.body, JSON_HEADERS, check)

    # ------------------------------------------------------------------------- trivial bash jobs

    async def trivial_jobs(self) -> list[Scenario]:
        code = text_buffer(CODE)
        await self.upload(self.shunter.url, [code])
        await self.upload(self.stack.hashserver_url, [code])
        n = self.counts.sequential
        sequential = (Scenario(f"trivial bash jobs, sequential (upload input + run + fetch result), n={n}"),
                      self.fresh_jobs(n))
        rounds = self.counts.job_rounds
        concurrent = []
        for concurrency, count in self.counts.jobs.items():
            turns = [self.fresh_jobs(count) for _ in range(rounds)]
            python_jobs = self.fresh_jobs(count)
            await self.upload(self.shunter.url, [j.input_buffer for jobs in turns for j in jobs])
            # The cache-hit scenarios ask both stacks for the c1 jobs of the first turn.
            python_inputs = python_jobs + (turns[0] if concurrency == 1 else [])
            await self.upload(self.stack.hashserver_url, [j.input_buffer for j in python_inputs])
            per_round = f", {rounds} turns each for Shunter and the floor" if rounds > 1 else ""
            concurrent.append((Scenario(f"trivial bash jobs, concurrency {concurrency} (inputs uploaded first), "
                                        f"n={count}{per_round}", note=JOB_CLIENT_NOTE), concurrency, turns,
                               python_jobs))
        await self.settle()
        # The floor and Shunter, scenario by scenario; the Python jobserver after them all (see `settle`).
        scenario, jobs = sequential
        floors = [self.floor(n, 1)]
        scenario.rows.append(await self.full_cycle("Shunter", self.shunter.url, self.shunter.url, jobs))
        # The floor and Shunter take turns: a run of a few hundred jobs lasts under a second, and
        # on this machine kind the floor alone moved by 10% between two runs back to back, so one
        # run of each would put that noise into their ratio. Each measured run starts after
        # a sync: the kernel writes back a run's new files and directories in the seconds after
        # it, on the CPU the next run is measured on (the floor's 1 000 directories right before
        # Shunter's run, say).
        for scenario, concurrency, turns, _ in concurrent:
            floor_turns, shunter_turns = [], []
            for jobs in turns:
                floor_turns.append(self.floor(len(jobs), concurrency))
                os.sync()
                shunter_turns.append(await closed_loop_native(
                    "Shunter", [self.run_request(self.shunter.url, j) for j in jobs], concurrency, self.deadline,
                    self.work, unit="jobs"))
            scenario.rows.append(merge_turns(shunter_turns))
            floors.append(merge_turns(floor_turns))
            if len(turns) > 1:
                ratios = ", ".join(f"{(s.throughput or 0) / (f.throughput or 1):.2f}"
                                   for s, f in zip(shunter_turns, floor_turns))
                scenario.note = (scenario.note or "") + (
                    f" Shunter and the floor ran {len(turns)} turns of {len(turns[0])} jobs in alternation; their "
                    f"rows pool the turns (throughput: all jobs over the turns' summed wall time). Shunter's "
                    f"throughput over the floor's, turn by turn: {ratios}.")
            if concurrency == 1:
                self.cached_jobs = turns[0]
        scenario, jobs = sequential
        scenario.rows.append(await self.full_cycle("Python jobserver", self.stack.jobserver_url,
                                                   self.stack.hashserver_url, jobs))
        for scenario, concurrency, _, python_jobs in concurrent:
            os.sync()
            scenario.rows.append(await closed_loop_native(
                "Python jobserver", [self.run_request(self.stack.jobserver_url, j) for j in python_jobs], concurrency,
                self.deadline, self.work, unit="jobs"))
        out = [sequential[0]] + [c[0] for c in concurrent]
        for scenario, floor in zip(out, floors):
            scenario.rows.append(floor)
        return out

    async def full_cycle(self, system: str, run_url: str, buffer_url: str, jobs: list[BashJob]) -> Measurement:
        latencies, errors = [], []
        async with httpload.session(1, 120) as http:
            start = time.perf_counter()
            for job in jobs:
                if time.monotonic() > self.deadline:
                    break
                t0 = time.perf_counter()
                steps = [Request("PUT", f"{buffer_url}/{sha256(job.input_buffer)}", job.input_buffer,
                                 check=expect_status(200, 201)),
                         self.run_request(run_url, job),
                         Request("GET", f"{buffer_url}/{job.expected_result}",
                                 check=lambda s, b, v=job.value: None if s == 200 and b == f"{v}\n".encode()
                                 else f"result buffer: HTTP {s} {b[:100]!r}")]
                for step in steps:
                    _, error = await httpload.one(http, step)
                    if error:
                        errors.append(error)
                        break
                latencies.append(time.perf_counter() - t0)
            wall = time.perf_counter() - start
        return Measurement(system, len(latencies), 1, wall, latencies, len(errors), errors[0] if errors else None,
                           unit="jobs")

    def floor(self, n: int, concurrency: int) -> Measurement:
        root = self.floor_dir / f"floor-{n}-{concurrency}-{time.monotonic_ns()}"
        for i in range(n):
            (root / str(i)).mkdir(parents=True)
        os.sync()  # see `trivial_jobs`: no run pays for the write-back of what came before it
        start = time.perf_counter()
        out = subprocess.run(["bash", str(BENCH_DIR / "floor.sh"), str(root), str(n), str(concurrency)],
                             capture_output=True, text=True, timeout=max(self.time_left(), 10))
        wall = time.perf_counter() - start
        latencies = [float(b) - float(a) for a, b in (line.split() for line in out.stdout.splitlines())]
        errors = [l for l in out.stderr.splitlines() if l.startswith("ERROR")]
        # Not removed here (see `settle`): with the whole run's directory at the end.
        return Measurement("floor: bare bash -c", len(latencies), concurrency, wall, latencies, len(errors),
                           errors[0] if errors else None, unit="jobs")

    # ------------------------------------------------------------------------- cache hits

    async def cache_hits(self) -> list[Scenario]:
        jobs = self.cached_jobs[:100]
        if not jobs:  # the job scenarios did not run: make some results first
            jobs = self.fresh_jobs(20)
            for url, run_url in ((self.shunter.url, self.shunter.url),
                                 (self.stack.hashserver_url, self.stack.jobserver_url)):
                await self.upload(url, [text_buffer(CODE)] + [j.input_buffer for j in jobs])
                await closed_loop("warm", [self.run_request(run_url, j) for j in jobs], 4, self.deadline)
        run_bodies = [j.body for j in jobs]
        db_bodies = [database_get_body(j.tf_checksum) for j in jobs]
        # The Python jobserver records no result in seamless-database (the Seamless client
        # does, after the job): write the same records there as the client would.
        await closed_loop("db records", [Request(
            "PUT", self.stack.database_url + "/", json.dumps(
                {"type": "transformation", "checksum": j.tf_checksum, "value": j.expected_result}).encode(),
            JSON_HEADERS) for j in jobs], 4, self.deadline)
        out = []
        for concurrency in (1, 32):
            s = Scenario(f"cache hit through /run-transformation, concurrency {concurrency}", note=(
                "The Python jobserver keeps no result cache: it runs a repeated transformation again, so its "
                "row is a re-run. With Seamless, a cache hit is the client's own database lookup: see the "
                "database-route scenarios."))
            s.rows.append(await self.load("Shunter", self.shunter.url, "/run-transformation", run_bodies, concurrency,
                                    jobs, run=True))
            s.rows.append(await self.load("Python jobserver (re-runs it)", self.stack.jobserver_url, "/run-transformation", run_bodies,
                                    concurrency, jobs, run=True))
            s.rows.append(await self.load("HTTP floor: Shunter GET /healthcheck", self.shunter.url, "/healthcheck", [],
                                    concurrency, jobs))
            out.append(s)
        for concurrency in (1, 32):
            s = Scenario(f"cache hit through the database route (GET / type transformation), concurrency {concurrency}")
            s.rows.append(await self.load("Shunter", self.shunter.url, "/", db_bodies, concurrency, jobs, db=True))
            s.rows.append(await self.load("seamless-database", self.stack.database_url, "/", db_bodies, concurrency, jobs,
                                    db=True))
            out.append(s)
        return out

    async def load(self, system: str, base_url: str, path: str, bodies: list[bytes], concurrency: int,
                   jobs: list[BashJob], run: bool = False, db: bool = False) -> Measurement:
        """wrk for a fixed duration when it is installed, else the asyncio client for a bounded count."""
        seconds = min(self.counts.wrk_seconds, max(self.time_left() - 5, 1))
        if httpload.have_wrk():
            m = httpload.wrk(system, base_url, "GET", path, bodies, concurrency, seconds, self.work,
                             threads=1 if concurrency == 1 else 2)
            # wrk counts only transport errors and non-2xx: check the answers once with Python.
            m.note = (m.note or "") + self.spot_check(base_url, path, jobs, run, db)
            return m
        n = self.counts.cache_requests
        requests = []
        for i in range(n):
            job = jobs[i % len(jobs)] if jobs else None
            if run:
                requests.append(self.run_request(base_url, job))
            elif db:
                requests.append(Request("GET", base_url + "/", database_get_body(job.tf_checksum), JSON_HEADERS,
                                        lambda s, b, j=job: None if s == 200 and b.decode().strip('"') ==
                                        j.expected_result else f"HTTP {s} {b[:100]!r}"))
            else:
                requests.append(Request("GET", base_url + path))
        return await closed_loop(system, requests, concurrency, self.deadline)

    def spot_check(self, base_url: str, path: str, jobs: list[BashJob], run: bool, db: bool) -> str:
        import urllib.request
        if not (run or db) or not jobs:
            return ""
        job = jobs[0]
        body = job.body if run else database_get_body(job.tf_checksum)
        req = urllib.request.Request(base_url + path, data=body, method="GET", headers=JSON_HEADERS)
        try:
            with urllib.request.urlopen(req, timeout=30) as reply:
                text = reply.read().decode()
        except OSError as error:
            return f"; answer check FAILED: {error}"
        got = json.loads(text).get("result_checksum") if run else text.strip().strip('"')
        return "" if got == job.expected_result else f"; answer check FAILED: got {text[:120]!r}"

    # ------------------------------------------------------------------------- buffers and hashing

    async def buffers(self) -> list[Scenario]:
        """PUT then GET distinct buffers, one request at a time (latency), against hashserver."""
        sizes = {"1 KiB": 1 << 10, "1 MiB": 1 << 20, "256 MiB": 256 << 20}
        out = []
        for label, count in self.counts.buffers.items():
            size = sizes[label]
            seed = bytearray(os.urandom(size))
            buffers = []
            for i in range(count):
                seed[:8] = (self.value_base + i).to_bytes(8, "little")
                buffers.append(bytes(seed))
            self.value_base += count
            del seed
            checksums = [hashlib.sha256(b).hexdigest() for b in buffers]
            mib = size / (1 << 20)
            put = Scenario(f"buffer PUT {label}, concurrency 1, n={count}")
            get = Scenario(f"buffer GET {label}, concurrency 1, n={count}")
            for system, url in (("Shunter", self.shunter.url), ("hashserver", self.stack.hashserver_url)):
                # Synced before each row (see `trivial_jobs`): a GET right after 768 MiB of PUTs
                # otherwise read while the kernel wrote them back (one 256 MiB GET took 1.6 s).
                os.sync()
                put.rows.append(await closed_loop(
                    system, [Request("PUT", f"{url}/{c}", b, check=expect_status(200, 201))
                             for c, b in zip(checksums, buffers)], 1, self.deadline, timeout=300,
                    unit="MiB", units_per_op=mib))
                os.sync()
                get.rows.append(await closed_loop(
                    system, [Request("GET", f"{url}/{c}", check=lambda s, b, n=size: None if s == 200 and len(b) == n
                                     else f"HTTP {s}, {len(b)} bytes") for c in checksums], 1, self.deadline,
                    timeout=300, unit="MiB", units_per_op=mib))
            out += [put, get]
            if label == "256 MiB":
                self.big_buffer = buffers[0]
            del buffers
        if httpload.have_wrk():
            small = bytes(1024)
            c = sha256(small)
            for url in (self.shunter.url, self.stack.hashserver_url):
                await self.upload(url, [small])
            for concurrency in (1, 32):
                s = Scenario(f"buffer GET 1 KiB (the same buffer, wrk), concurrency {concurrency}")
                for system, url in (("Shunter", self.shunter.url), ("hashserver", self.stack.hashserver_url)):
                    s.rows.append(httpload.wrk(system, url, "GET", "/" + c, [], concurrency,
                                               min(self.counts.wrk_seconds, max(self.time_left() - 5, 1)),
                                               self.work, threads=1 if concurrency == 1 else 2))
                out.append(s)
        return out

    def hashing(self, put_256: Measurement | None) -> Scenario:
        """SHA-256 of a 256 MiB file by the usual tools; Shunter has no hash-only entry point, so
        its row is the 256 MiB PUT (receive + hash + write), an upper bound on its hashing time."""
        data = getattr(self, "big_buffer", None) or os.urandom(256 << 20)
        path = self.work / "hash-256MiB.bin"
        path.write_bytes(data)
        reps = 3
        s = Scenario("SHA-256 of 256 MiB (MiB/s; file in the page cache)")
        if put_256 is not None:
            row = Measurement("Shunter PUT 256 MiB (receive + hash + write)", put_256.n, 1, put_256.wall,
                              put_256.latencies, put_256.errors, unit="MiB", units_per_op=256)
            s.rows.append(row)
        for system, argv in (("sha256sum", ["sha256sum", str(path)]),
                             ("openssl dgst -sha256", ["openssl", "dgst", "-sha256", str(path)])):
            if shutil.which(argv[0]) is None:
                continue
            lat = []
            for _ in range(reps):
                t0 = time.perf_counter()
                subprocess.run(argv, capture_output=True, check=True)
                lat.append(time.perf_counter() - t0)
            s.rows.append(Measurement(system, reps, 1, sum(lat), lat, unit="MiB", units_per_op=256))
        lat = []
        for _ in range(reps):
            t0 = time.perf_counter()
            hashlib.sha256(path.read_bytes()).hexdigest()
            lat.append(time.perf_counter() - t0)
        s.rows.append(Measurement("Python hashlib (read + hash, as hashserver)", reps, 1, sum(lat), lat, unit="MiB",
                                  units_per_op=256))
        path.unlink()
        return s

    # ------------------------------------------------------------------------- memory

    async def memory(self, binary: Path, python_idle: dict[str, int]) -> list[Scenario]:
        """RSS of a fresh Shunter idle, then with `queued` jobs waiting behind one job that
        sleeps (handler max_jobs 1). The queued jobs' inputs are never uploaded: they are never
        dispatched, and admission does not read them."""
        n = self.counts.queued
        base = self.work / "memory-shunter"
        handler = ("name: bash-local\nplugin: bash\nbackend: local\n"
                   "match: {language: bash, image: none, environment: none}\n"
                   "limits: {max_jobs: 1, timeout: 1h}\n")
        server = Shunter(self.shunter.binary, base, [("10-bash-local.yaml", handler)])
        server.start()
        s = Scenario(f"memory: resident set size (VmRSS), {n} jobs queued")
        submit = Scenario(f"submitting {n} distinct jobs (POST /jobs, each journaled before its 202), concurrency 32")
        blocker_pid_file = base / "var" / "work" / "blocker.pid"
        try:
            await asyncio.sleep(1)
            idle = server.rss_kib()
            s.figures.append(("Shunter, idle (fresh start)", idle / 1024, "MiB"))
            for name, kib in python_idle.items():
                s.figures.append((f"Python {name}, idle" + (" (with its workers)" if name == "jobserver" else ""),
                                  kib / 1024, "MiB"))
            s.figures.append(("Python stack total (hashserver + database + jobserver), idle",
                              sum(python_idle.values()) / 1024, "MiB"))
            blocker_code = f"echo $$ > {blocker_pid_file}; exec sleep 900"
            blocker = bash_job(0, blocker_code)
            await self.upload(server.url, [text_buffer(blocker_code), blocker.input_buffer])
            m = await closed_loop("blocker", [Request("POST", f"{server.url}/jobs", blocker.body, JSON_HEADERS,
                                                      expect_status(202))], 1, self.deadline)
            if m.errors:
                raise RuntimeError(f"could not submit the blocking job: {m.first_error}")
            t0 = time.perf_counter()
            jobs = bash_jobs(10_000_000, n)
            build = time.perf_counter() - t0
            requests = [Request("POST", f"{server.url}/jobs", j.body, JSON_HEADERS, expect_status(202)) for j in jobs]
            del jobs
            m = await closed_loop("Shunter", requests, 32, self.deadline, unit="jobs")
            submit.rows.append(m)
            submit.note = f"(building the {n} request bodies took {build:.1f} s, not counted)"
            await asyncio.sleep(1)
            queued = server.rss_kib()
            status = json.loads(urllib_get(f"{server.url}/status"))
            s.figures.append((f"Shunter, {status.get('queued')} jobs queued + 1 running", queued / 1024, "MiB"))
            s.figures.append(("Shunter, per queued job", (queued - idle) * 1024 / max(status.get("queued") or 1, 1),
                              "bytes"))
            s.note = ("The Python jobserver has no queue to compare: a waiting job there is an open "
                      "/run-transformation request.")
        finally:
            server.stop()
            try:
                os.kill(int(blocker_pid_file.read_text().strip()), 9)
            except (OSError, ValueError):
                pass
        return [s, submit]


def urllib_get(url: str) -> str:
    import urllib.request
    with urllib.request.urlopen(url, timeout=30) as reply:
        return reply.read().decode()
