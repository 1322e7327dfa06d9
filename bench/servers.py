"""Starting and stopping the systems under test, each on free 127.0.0.1 ports in its own
temporary directory, and reading their memory use from /proc."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode} while starting; log {log}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url + "/healthcheck", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}: no healthy answer within {timeout:.0f} s; log {log}:\n{tail(log)}")


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def rss_kib(pid: int) -> int:
    """VmRSS of one process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, pp = (int(x) for x in line.split())
        children.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop_process(proc: subprocess.Popen | None, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL; the whole process group (servers are started in their own)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


class Shunter:
    """`shunter serve` with a config of its own: embedded store, journal and work directories
    under `base`, and the given handler files."""

    def __init__(self, binary: Path, base: Path, handler_files: list[tuple[str, str]], env: dict | None = None,
                 workdir: str = "var/work"):
        self.binary = binary
        self.base = base
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = base / "shunter.log"
        self.proc: subprocess.Popen | None = None
        handlers = base / "handlers"
        handlers.mkdir(parents=True, exist_ok=True)
        for name, text in handler_files:
            (handlers / name).write_text(text)
        self.config = base / "shunter.yaml"
        self.config.write_text(
            f"root: {base}\nlisten: 127.0.0.1:{self.port}\nhandlers: handlers\n"
            "store:\n  buffers: var/buffers\n  results: var/results.sqlite\n"
            f"journal: var/journal.sqlite\nworkdir: {workdir}\nlog_level: info\n")
        self.env = env

    def start(self) -> "Shunter":
        env = dict(os.environ)
        env.update(self.env or {})
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(self.binary), "serve", "--config", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.base, env=env, start_new_session=True)
        wait_healthy(self.url, self.proc, self.log)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def stop(self) -> None:
        stop_process(self.proc)


class SeamlessStack:
    """hashserver + seamless-database + seamless-jobserver from the Seamless venv, started the
    way scripts/seamless-services.sh does, but on free ports."""

    def __init__(self, venv: Path, base: Path, workers: int):
        self.venv = venv
        self.base = base
        self.workers = workers
        self.hs_port, self.db_port, self.js_port = free_port(), free_port(), free_port()
        self.hashserver_url = f"http://127.0.0.1:{self.hs_port}"
        self.database_url = f"http://127.0.0.1:{self.db_port}"
        self.jobserver_url = f"http://127.0.0.1:{self.js_port}"
        self.procs: dict[str, subprocess.Popen] = {}

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        env = dict(os.environ)
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '')}"
        log = self.base / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.base, env=env,
                                    start_new_session=True)
        self.procs[name] = proc
        return proc

    def start(self) -> "SeamlessStack":
        (self.base / "buffers").mkdir(parents=True, exist_ok=True)
        (self.base / "db").mkdir(parents=True, exist_ok=True)
        bin_ = self.venv / "bin"
        self._spawn("hashserver", [str(bin_ / "hashserver"), str(self.base / "buffers"), "--writable",
                                   "--host", "127.0.0.1", "--port", str(self.hs_port)])
        self._spawn("database", [str(bin_ / "seamless-database"), str(self.base / "db" / "seamless.db"),
                                 "--writable", "--host", "127.0.0.1", "--port", str(self.db_port)])
        status = self.base / "jobserver-status.json"
        status.write_text(json.dumps({"parameters": {
            "buffer": [{"readonly": False, "url": self.hashserver_url, "remote_url": self.hashserver_url}],
            "database": [{"readonly": False, "url": self.database_url, "remote_url": self.database_url}],
            "record": False}}))
        self._spawn("jobserver", [str(bin_ / "seamless-jobserver"), "--host", "127.0.0.1", "--port",
                                  str(self.js_port), "--workers", str(self.workers), "--status-file", str(status)])
        for name, url in (("hashserver", self.hashserver_url), ("database", self.database_url),
                          ("jobserver", self.jobserver_url)):
            wait_healthy(url, self.procs[name], self.base / f"{name}.log", timeout=120)
        return self

    def extra_jobserver(self, workers: int) -> str:
        """Another seamless-jobserver with `workers` workers on the same hashserver and database
        (the Python scenarios compare with as many workers as jobs in flight); returns its URL."""
        self.stop_extra_jobserver()
        port = free_port()
        status = self.base / f"jobserver-{workers}-status.json"
        status.write_text((self.base / "jobserver-status.json").read_text())
        name = f"jobserver-{workers}"
        self._spawn(name, [str(self.venv / "bin" / "seamless-jobserver"), "--host", "127.0.0.1", "--port", str(port),
                           "--workers", str(workers), "--status-file", str(status)])
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, self.procs[name], self.base / f"{name}.log", timeout=120)
        self.extra = name
        return url

    def stop_extra_jobserver(self) -> None:
        name = getattr(self, "extra", None)
        if name:
            stop_process(self.procs.pop(name, None))
            self.extra = None

    def rss_kib(self) -> dict[str, int]:
        """Per server, its own RSS plus its children's (the jobserver's workers)."""
        out = {}
        for name, proc in self.procs.items():
            pids = [proc.pid] + descendants(proc.pid)
            total = 0
            for pid in pids:
                try:
                    total += rss_kib(pid)
                except OSError:
                    pass
            out[name] = total
        return out

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_process(proc)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
