"""Concurrency and cancellation with the real client against Shunter (embedded)."""

from __future__ import annotations

import json
import os
import subprocess
import time

from conftest import CLIENT_HANGS, HANG_ATTEMPTS, HERE, PYTHON, http, read


def scenario(workspace, name, url, *extra, timeout, client_hangs_retried=False):
    """Runs one scenario in a fresh client process. With `client_hangs_retried`, a client that
    does not finish while Shunter has nothing queued or running (the 1.4.3 client's own
    deadlock in buffer_writer.flush, docs/seamless-client.md) is run again in a fresh client,
    up to HANG_ATTEMPTS times, and named in the summary; if Shunter still has work, it fails."""
    for attempt in range(1, HANG_ATTEMPTS + 1):
        out = os.path.join(workspace, f"{name}-{time.monotonic_ns()}.json")
        log = out + ".log"
        with open(log, "wb") as stream:
            try:
                completed = subprocess.run(
                    [PYTHON, os.path.join(HERE, "client_scenarios.py"), name, url, "--out", out, *extra],
                    stdout=stream, stderr=subprocess.STDOUT, timeout=timeout)
            except subprocess.TimeoutExpired:
                code, body = http("GET", url + "/status")
                status = json.loads(body) if code == 200 else {}
                idle = status.get("queued") == 0 and not any(status.get("running", {"?": 1}).values())
                if not (client_hangs_retried and idle and attempt < HANG_ATTEMPTS):
                    raise AssertionError(
                        f"{name} did not finish within {timeout} s (attempt {attempt}; Shunter: {body!r}):\n{read(log)}"
                    ) from None
                CLIENT_HANGS.append(f"scenario {name}, attempt {attempt} (log: {log})")
                continue
        assert completed.returncode == 0 and os.path.exists(out), f"{name} exited with {completed.returncode}:\n{read(log)}"
        with open(out) as stream:
            return json.load(stream)


def test_500_transformations_8_at_a_time(workspace, embedded):
    # The Python jobserver stalls forever here; Shunter must answer all, correctly, in bounded time.
    # A run takes 5-8 s; a client that hangs with Shunter idle runs again (the jobs it had
    # finished are then cache hits).
    outcome = scenario(workspace, "many", embedded.url, "--count", "500", "--nparallel", "8", timeout=90,
                       client_hangs_retried=True)
    assert outcome["wrong"] == [], outcome["wrong"][:5]
    assert outcome["most_in_flight"] == 8, outcome
    print(f"500 transformations, 8 at a time: {outcome['seconds']} s")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return stream.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_cancel_from_the_client_stops_the_job(workspace, embedded):
    marker = os.path.join(workspace, "cancel-marker")
    outcome = scenario(workspace, "cancel", embedded.url, "--marker", marker, timeout=120)
    assert "error" not in outcome, outcome
    assert outcome["status"] == "Status: canceled" and outcome["client_returned"], outcome
    pid = outcome["pid"]
    deadline = time.monotonic() + 15
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), f"the job's process {pid} still runs after the client cancelled"
    jobs = embedded.jobs(outcome["tf"])
    assert [job["state"] for job in jobs] == ["cancelled"], jobs


def test_python_in_a_conda_environment_from_the_client(workspace, embedded):
    # conda-envs/numpy-pip.yml: a venv with numpy from PyPI, built by Shunter on first use.
    outcome = scenario(workspace, "conda", embedded.url, "--env", "numpy-pip", "--count", "13", timeout=300)
    assert outcome["result"] == outcome["expected"], outcome
    jobs = embedded.jobs(outcome["tf"])
    assert [(job["state"], job["handler"]) for job in jobs] == [("succeeded", "python-conda")], jobs


def test_unknown_conda_environment_from_the_client(workspace, embedded):
    # Shunter refuses at once; a client that hangs with Shunter idle (seen once in CI: the
    # 1.4.3 client's buffer_writer deadlock while uploading) runs again, as in the 500 case.
    outcome = scenario(workspace, "conda", embedded.url, "--env", "numpy-pipe", "--count", "14", timeout=60,
                       client_hangs_retried=True)
    assert outcome["result"] is None, outcome
    assert "unknown conda environment 'numpy-pipe'" in outcome["exception"], outcome
    assert "did you mean 'numpy-pip'" in outcome["exception"], outcome
