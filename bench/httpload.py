"""HTTP load: closed-loop clients for bounded request lists (aiohttp, and bench/loadgen.c where a
Python client's own CPU would be a share of the machine the server runs on), and wrk for
fixed-duration runs of small requests, where a Python client would be slower than the server."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import aiohttp

from stats import Measurement

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class Request:
    method: str
    url: str
    body: bytes | None = None
    headers: dict | None = None
    # Returns an error text for a wrong answer, None for a right one.
    check: Optional[Callable[[int, bytes], Optional[str]]] = None


def expect_status(*ok: int) -> Callable[[int, bytes], Optional[str]]:
    def check(status: int, body: bytes) -> Optional[str]:
        return None if status in ok else f"HTTP {status}: {body[:200]!r}"
    return check


def session(concurrency: int, timeout: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=max(concurrency, 1), force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout),
                                 auto_decompress=False)


async def one(http: aiohttp.ClientSession, request: Request) -> tuple[float, Optional[str]]:
    start = time.perf_counter()
    try:
        async with http.request(request.method, request.url, data=request.body, headers=request.headers) as reply:
            body = await reply.read()
            status = reply.status
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        return time.perf_counter() - start, f"{type(error).__name__}: {error}"
    elapsed = time.perf_counter() - start
    check = request.check or expect_status(200)
    return elapsed, check(status, body)


async def closed_loop(system: str, requests: list[Request], concurrency: int, deadline: float,
                      timeout: float = 120.0, unit: str = "requests", units_per_op: float = 1.0) -> Measurement:
    """`concurrency` workers, each sending the next request as soon as its previous one is
    answered, until the list is done or `deadline` (time.monotonic) passes."""
    latencies: list[float] = []
    errors: list[str] = []
    next_index = 0

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal next_index
        while next_index < len(requests) and time.monotonic() < deadline:
            request = requests[next_index]
            next_index += 1
            elapsed, error = await one(http, request)
            latencies.append(elapsed)
            if error:
                errors.append(error)

    async with session(concurrency, timeout) as http:
        start = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return closed_loop_measurement(system, requests, concurrency, wall, latencies, errors, unit, units_per_op)


def closed_loop_measurement(system: str, requests: list[Request], concurrency: int, wall: float,
                            latencies: list[float], errors: list[str], unit: str,
                            units_per_op: float) -> Measurement:
    """What a closed-loop run measured, noting when the time limit cut the request list."""
    m = Measurement(system, len(latencies), concurrency, wall, latencies, len(errors),
                    errors[0] if errors else None, unit=unit, units_per_op=units_per_op)
    if len(latencies) < len(requests):
        m.note = f"cut by the time limit after {len(latencies)} of {len(requests)}"
    return m


# ----------------------------------------------------------------------------- bench/loadgen.c

LOADGEN_SOURCE = Path(__file__).resolve().parent / "loadgen.c"


def loadgen_binary(workdir: Path) -> Path:
    """bench/loadgen.c, compiled once per work directory."""
    binary = workdir / "loadgen"
    if not binary.exists():
        compiler = shutil.which("cc") or shutil.which("clang") or shutil.which("gcc")
        if compiler is None:
            raise RuntimeError("bench/loadgen.c needs a C compiler (cc, clang or gcc); none is in PATH")
        subprocess.run([compiler, "-O2", "-Wall", "-o", str(binary), str(LOADGEN_SOURCE)], check=True)
    return binary


async def closed_loop_native(system: str, requests: list[Request], concurrency: int, deadline: float,
                             workdir: Path, unit: str = "requests", units_per_op: float = 1.0) -> Measurement:
    """As `closed_loop`, with bench/loadgen.c as the client: `concurrency` keep-alive
    connections, each sending the next request as soon as its previous one is answered. Every
    answer is checked with its request's `check`, as in `closed_loop`. All requests must go to
    one host and port (an IPv4 address)."""
    from urllib.parse import urlsplit
    first = urlsplit(requests[0].url)
    lines = []
    for request in requests:
        url = urlsplit(request.url)
        if (url.hostname, url.port) != (first.hostname, first.port):
            raise ValueError(f"loadgen sends to one server only: {request.url} after {requests[0].url}")
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        body = request.body or b""
        content_type = (request.headers or {}).get("Content-Type", "-")
        lines.append(f"{request.method} {target} {len(body)} {content_type}\n".encode() + body)
    requests_file = workdir / "loadgen-requests"
    results_file = workdir / "loadgen-results"
    requests_file.write_bytes(b"".join(lines))
    seconds = max(1.0, deadline - time.monotonic())
    process = await asyncio.create_subprocess_exec(
        str(loadgen_binary(workdir)), first.hostname, str(first.port), str(concurrency), str(requests_file),
        str(results_file), f"{seconds:.1f}", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"loadgen failed ({process.returncode}): {err.decode(errors='replace')[-500:]}")
    wall = int(out.split()[1]) / 1e9
    data = results_file.read_bytes()
    latencies: list[float] = []
    errors: list[str] = []
    at = 0
    for request in requests:
        if at >= len(data):
            break
        end = data.index(b"\n", at)
        status, latency_ns, length = (int(x) for x in data[at:end].split())
        body = data[end + 1:end + 1 + length]
        at = end + 1 + length
        latencies.append(latency_ns / 1e9)
        check = request.check or expect_status(200)
        error = f"no answer: {body.decode(errors='replace')}" if status == 0 else check(status, body)
        if error:
            errors.append(error)
    return closed_loop_measurement(system, requests, concurrency, wall, latencies, errors, unit, units_per_op)


# ---------------------------------------------------------------------------------------- wrk

WRK_SCRIPT = r"""
-- Cycles through the request bodies in the file named by BODIES (one JSON body per line)
-- and prints the summary as JSON.
local bodies = {}
local method, path = "GET", "/"
init = function(args)
  method, path = args[1], args[2]
  if args[3] ~= nil and args[3] ~= "" then
    for line in io.lines(args[3]) do bodies[#bodies + 1] = line end
  end
end
local i = 0
request = function()
  i = i + 1
  local headers = {}
  if #bodies == 0 then return wrk.format(method, path, headers, nil) end
  headers["Content-Type"] = "application/json"
  return wrk.format(method, path, headers, bodies[(i % #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %f, "p95_us": %f, "p99_us": %f, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk(system: str, base_url: str, method: str, path: str, bodies: list[bytes], concurrency: int,
        seconds: float, workdir: Path, threads: int = 1) -> Measurement:
    """A fixed-duration wrk run with `concurrency` connections (keep-alive), cycling through
    `bodies`. wrk reports latency percentiles, not every latency."""
    script = workdir / "wrk-bodies.lua"
    script.write_text(WRK_SCRIPT)
    bodies_file = workdir / f"wrk-bodies-{abs(hash((system, path))) % 10**8}.txt"
    bodies_file.write_bytes(b"".join(b.replace(b"\n", b" ") + b"\n" for b in bodies))
    argv = ["wrk", "-t", str(min(threads, concurrency)), "-c", str(concurrency), "-d", f"{seconds:.0f}s",
            "--timeout", "10s", "-s", str(script), base_url, "--", method, path,
            str(bodies_file) if bodies else ""]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        return Measurement(system, 0, concurrency, seconds, errors=1,
                           first_error=f"wrk gave no summary: {out.stdout[-300:]} {out.stderr[-300:]}")
    r = json.loads(line[len("WRKJSON "):])
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    m = Measurement(system, r["requests"], concurrency, r["duration_us"] / 1e6, errors=errors,
                    unit="requests", median_override=r["p50_us"] / 1e6, p95_override=r["p95_us"] / 1e6)
    if errors:
        m.first_error = f"wrk errors: {r}"
    m.note = "wrk"
    return m
