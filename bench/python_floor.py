"""The floor of the Python job scenarios: the same transformations, each run in a child forked
from an interpreter that has already imported Seamless (what Shunter's warm parent does, minus
HTTP, the journal, the work directory and the store), with CONCURRENCY children in flight.

    python python_floor.py REQUESTS.json CONCURRENCY MODE

REQUESTS.json: [{"request": {...}, "buffers": {hex: latin-1 text}, "expected": hex}, ...]
MODE: `function` runs the bare Python function on the decoded input (the least a job can cost);
`seamless` runs Seamless's own `_execute_transformation_request` (what Shunter's runner runs).
The interpreter is warmed as Shunter's warm parent is: the modules Seamless imports lazily while
it runs a job are imported before the first fork, and `gc.freeze()`.
Prints one line per job: `start end` (time.perf_counter seconds, fork to reap); `ERROR ...`
lines on stderr."""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
import time

from seamless import Buffer, Checksum
from seamless_transformer.worker import _execute_transformation_request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_transformations  # noqa: E402


# As Shunter's warm parent (PythonForkServerScript): the modules Seamless imports only inside
# the functions a job calls are imported before forking, so that no child loads them.
LAZY_IMPORTS = (
    "seamless.checksum", "seamless.checksum.cached_calculate_checksum", "seamless.checksum.calculate_checksum",
    "seamless.checksum.celltypes", "seamless.checksum.json_", "seamless.checksum.parse_buffer",
    "seamless.checksum.serialize", "seamless.util.mixed.io", "seamless.util.mixed.io.from_stream",
    "seamless.util.mixed.io.serialization", "seamless.util.mixed.io.to_stream", "seamless.util.mixed.io.util",
    "seamless.util.mixed.json_util",
)


def quiesce() -> None:
    """As Shunter's warm parent: what a job imports lazily imported, no thread but the main one
    when forking, the imports' objects frozen out of the garbage collector's sight."""
    for name in LAZY_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    writer = sys.modules.get("seamless.caching.buffer_writer")
    if writer is not None:
        writer._stop_worker()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    gc.collect()
    gc.freeze()


def run_child(job: dict, mode: str) -> None:
    try:
        buffers = {cs: text.encode("latin-1") for cs, text in job["buffers"].items()}
        request = job["request"]
        a_checksum = request["transformation_dict"]["a"][2]
        celltype = request["transformation_dict"]["a"][0]
        if mode == "function":
            value = Buffer(buffers[a_checksum], checksum=a_checksum).get_value(celltype)
            function = python_transformations.trivial if celltype == "int" else python_transformations.numpy_double
            result = Buffer(function(value), celltype)
            ok = result.get_checksum().hex() == job["expected"]
        else:
            for checksum, content in buffers.items():
                Buffer(content, checksum=checksum).tempref()
            kept = {}
            Buffer.tempref = lambda self, *a, **k: kept.setdefault(self.get_checksum().hex(), self)
            outcome = _execute_transformation_request(dict(request, scratch=False))
            ok = not isinstance(outcome, str) and Checksum(outcome).hex() == job["expected"]
        os._exit(0 if ok else 1)
    except BaseException:
        os._exit(2)


def main() -> None:
    jobs = json.load(open(sys.argv[1]))
    concurrency, mode = int(sys.argv[2]), sys.argv[3]
    quiesce()
    running: dict[int, float] = {}
    lines = []
    next_job = 0
    while next_job < len(jobs) or running:
        while next_job < len(jobs) and len(running) < concurrency:
            start = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                run_child(jobs[next_job], mode)
            running[pid] = start
            next_job += 1
        pid, status = os.wait()
        end = time.perf_counter()
        lines.append(f"{running.pop(pid):.6f} {end:.6f}")
        if status != 0:
            print(f"ERROR job child exited with status {status}", file=sys.stderr)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
