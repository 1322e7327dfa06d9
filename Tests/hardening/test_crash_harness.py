"""The crash harness (crash_harness.py) with a modest count: SHUNTER_CRASH_KILLS kills
(default 3) during a burst of SHUNTER_CRASH_JOBS jobs (default 60). No job lost, none
completed twice."""

from __future__ import annotations

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def test_kill_9_during_a_burst(binary):
    kills = os.environ.get("SHUNTER_CRASH_KILLS", "3")
    jobs = os.environ.get("SHUNTER_CRASH_JOBS", "60")
    completed = subprocess.run(
        [sys.executable, os.path.join(HERE, "crash_harness.py"), "--kills", kills, "--jobs", jobs],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=3600,
        env={**os.environ, "SHUNTER_BIN": binary})
    output = completed.stdout.decode("utf-8", errors="replace")
    print(output)
    counts = {name: int(value) for name, value in re.findall(r"^(lost|ended twice|completed twice): (\d+)$", output, re.MULTILINE)}
    assert set(counts) == {"lost", "ended twice", "completed twice"}, f"the harness printed no counts:\n{output[-6000:]}"
    assert completed.returncode == 0, f"crash harness exited {completed.returncode}:\n{output[-6000:]}"
    assert counts["lost"] == 0 and counts["completed twice"] == 0, output[-6000:]
