"""Every case of `corpus/config/<case>/`: `shunter check` and `shunter serve` must both refuse
the files with an error naming `file:line:column`, a sentence that mentions the key, no Swift
dump, no crash (a signal) and no hang; `serve` must never start listening.

A case directory holds `expect.json` ({"why", "location": [files], "mentions": [words]}) and
the files that differ from a valid set-up: `shunter.yaml` (with @ROOT@ and @PORT@ filled in),
`handlers/*.yaml` (without any, one valid bash handler is written) and any other file the
case needs (a garbage journal, a file where a directory belongs).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from shunter_harness import excerpt, free_port, is_sentence, request, shunter_binary, shunter_environment, swift_dump

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "config")
CASES = sorted(name for name in os.listdir(CORPUS) if os.path.isfile(os.path.join(CORPUS, name, "expect.json")))
# A command that has not ended by then hangs (an alias bomb being expanded, a parser looping).
COMMAND_SECONDS = 180
# An alias bomb that is expanded must fail inside the test, not take the machine's memory.
ADDRESS_SPACE_LIMIT = 3 << 30

VALID_CONFIG = """root: @ROOT@
listen: 127.0.0.1:@PORT@
store: {buffers: buffers, results: results.sqlite}
journal: journal.sqlite
workdir: work
keep_failed_workdirs: 0s
handlers: handlers
environments: {definitions: conda-envs, root: envs, managers: [venv]}
"""
VALID_HANDLER = """name: bash-local
plugin: bash
backend: local
match: {language: bash, image: none, environment: none}
limits:
  max_jobs: 4
  timeout: 1h
"""


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def lay_out(case: str | None) -> tuple[str, int, dict]:
    """Copies the case into a fresh root with @ROOT@ and @PORT@ filled in; returns the root,
    the port and the expectation."""
    root = tempfile.mkdtemp(prefix="shunter-hardening-config-")
    port = free_port()
    expect: dict = {}
    if case is not None:
        source = os.path.join(CORPUS, case)
        shutil.copytree(source, root, dirs_exist_ok=True, symlinks=True)
        os.remove(os.path.join(root, "expect.json"))
        with open(os.path.join(source, "expect.json"), encoding="utf-8") as stream:
            expect = json.load(stream)
    config = os.path.join(root, "shunter.yaml")
    if not os.path.exists(config):
        with open(config, "w") as stream:
            stream.write(VALID_CONFIG)
    with open(config, "rb") as stream:
        text = stream.read()
    with open(config, "wb") as stream:
        stream.write(text.replace(b"@ROOT@", root.encode()).replace(b"@PORT@", str(port).encode()))
    handlers = os.path.join(root, "handlers")
    if not os.path.exists(handlers):
        os.makedirs(handlers)
        with open(os.path.join(handlers, "10-bash.yaml"), "w") as stream:
            stream.write(VALID_HANDLER)
    return root, port, expect


def run_check(root: str) -> tuple[int | None, str]:
    try:
        completed = subprocess.run(
            [shunter_binary(), "check", "--config", os.path.join(root, "shunter.yaml")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=root, timeout=COMMAND_SECONDS,
            preexec_fn=limit_memory, env=shunter_environment())
    except subprocess.TimeoutExpired as expired:
        return None, (expired.output or b"").decode("utf-8", errors="replace")
    return completed.returncode, completed.stdout.decode("utf-8", errors="replace")


def run_serve(root: str, port: int) -> tuple[int | None, str, bool]:
    """(exit status or None if it had to be stopped, output, whether it answered /healthcheck)."""
    log = os.path.join(root, "serve.log")
    with open(log, "wb") as stream:
        process = subprocess.Popen(
            [shunter_binary(), "serve", "--config", os.path.join(root, "shunter.yaml")],
            stdout=stream, stderr=subprocess.STDOUT, cwd=root, start_new_session=True, preexec_fn=limit_memory,
            env=shunter_environment())
    listening = False
    deadline = time.monotonic() + COMMAND_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if request(port, "GET", "/healthcheck", timeout=2).status == 200:
                listening = True
                break
        except OSError:
            pass
        time.sleep(0.1)
    status = process.poll()
    if status is None:
        process.send_signal(signal.SIGKILL)
        process.wait()
    with open(log, encoding="utf-8", errors="replace") as stream:
        return status, stream.read(), listening


def located(output: str, root: str, files: list[str]) -> bool:
    """Whether the output names one of `files` (relative to the root) as file:line:column."""
    for name in files:
        path = os.path.join(root, name)
        for shown in {path, os.path.realpath(path), name}:
            if re.search(re.escape(shown) + r":\d+:\d+", output):
                return True
    return False


def judge(command: str, status: int | None, output: str, root: str, expect: dict) -> list[str]:
    problems = []
    if status is None:
        return [f"`shunter {command}` did not end within {COMMAND_SECONDS} s (a hang):\n{output[-2000:]}"]
    if status < 0:
        problems.append(f"`shunter {command}` was killed by signal {-status} (a crash)")
    elif status == 0:
        problems.append(f"`shunter {command}` accepted the files (exit 0)")
    if not located(output, root, expect["location"]):
        problems.append(f"`shunter {command}` does not name {expect['location']} as file:line:column")
    if not is_sentence(output):
        problems.append(f"`shunter {command}` printed no message")
    dump = swift_dump(output)
    if dump:
        problems.append(f"`shunter {command}` shows a Swift dump or trap: {dump!r}")
    mentions = expect.get("mentions", [])
    if mentions and not any(word.lower() in output.lower() for word in mentions):
        problems.append(f"`shunter {command}` mentions none of {mentions}")
    if problems:
        problems.append(f"--- {command} output ---\n{excerpt(output, 2500)}")
    return problems


def test_valid_layout_is_accepted(binary):
    """The baseline every case departs from is valid: check passes and serve starts, so a case
    fails only for what it changes."""
    root, port, _ = lay_out(None)
    try:
        status, output = run_check(root)
        assert status == 0, f"`shunter check` refuses the valid layout ({status}):\n{output}"
        status, output, listening = run_serve(root, port)
        assert listening, f"`shunter serve` did not start on the valid layout ({status}):\n{output[-3000:]}"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("case", CASES)
def test_config_case(case, binary):
    root, port, expect = lay_out(case)
    try:
        problems = []
        status, output = run_check(root)
        problems += judge("check", status, output, root, expect)
        status, output, listening = run_serve(root, port)
        if listening:
            problems.append(f"`shunter serve` started and answered /healthcheck:\n{output[-2000:]}")
        else:
            problems += judge("serve", status, output, root, expect)
        assert not problems, f"{case}: {expect.get('why', '')}\n" + "\n".join(problems)
    finally:
        shutil.rmtree(root, ignore_errors=True)
