"""The other two deployments, with the unchanged client and every case of cases.py:

(b) beside the Python servers: Shunter is the jobserver, the reference `hashserver` and
    `seamless-database` are the store; Shunter reads inputs from and writes results to them.
(c) launched by the client: `seamless.profile.yaml` with a `jobserver:` frontend, the client's
    own remote-http-launcher starts `seamless-jobserver`, which is Shunter's wrapper put ahead
    of the Python one by scripts/install-seamless-jobserver.sh. `seamless-run` with file and
    directory inputs runs here too (it needs a config-driven project).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from cases import CASES
from conftest import REPO, VENV_BIN, PythonServers, Shunter, free_port, http, read, remote_args, run_cases
from test_conformance import compare


def test_beside_python_servers(workspace, local_runs):
    root = os.path.join(workspace, "beside")
    os.makedirs(root)
    servers = PythonServers(os.path.join(root, "python"))
    shunter = None
    try:
        shunter = Shunter(root, store_yaml=f"{{buffers: {{url: {servers.hashserver}}}, results: {{url: {servers.database}}}}}")
        remote = run_cases("remote", workspace, extra=remote_args(shunter.url, servers.hashserver, servers.database))
        failures = []
        for name in CASES:
            try:
                compare(name, local_runs, remote, shunter)
            except AssertionError as error:
                failures.append(str(error))
        assert not failures, "\n\n".join(failures)
        # The results are in the Python servers, not in a store of Shunter's own.
        result = remote["bash_int_in_int_out"]["result"]
        assert http("GET", f"{servers.hashserver}/{result}")[1] == b"41\n"
        assert not os.path.exists(os.path.join(root, "buffers", result[:2], result))
        assert not glob.glob(os.path.join(root, "results.sqlite*"))
    finally:
        if shunter:
            shunter.stop()
        servers.stop()


class LaunchedProject:
    """A Seamless project whose profile makes the client launch hashserver, seamless-database
    and seamless-jobserver itself, with launcher state under a private HOME."""

    def __init__(self, root: str):
        self.root = root
        self.home = os.path.join(root, "home")
        self.project = os.path.join(root, "project")
        self.bin = os.path.join(root, "bin")
        for directory in (self.home, self.project, self.bin, os.path.join(root, "buffers"), os.path.join(root, "db")):
            os.makedirs(directory, exist_ok=True)
        self.config = os.path.join(root, "shunter.yaml")
        with open(self.config, "w") as stream:
            # No store: the launcher's parameters name the hashserver and database.
            stream.write(f"root: {root}\nhandlers: {os.path.join(REPO, 'handlers')}\nkeep_failed_workdirs: 0s\n")
        shunter_bin = os.environ.get("SHUNTER_BIN") or os.path.join(REPO, ".build", "debug", "shunter")
        install = subprocess.run(
            [os.path.join(REPO, "scripts", "install-seamless-jobserver.sh"), "--bin-dir", self.bin,
             "--shunter", shunter_bin, "--config", self.config], capture_output=True, text=True)
        assert install.returncode == 0, install.stderr
        ports = [free_port() for _ in range(3)]
        self.jobserver_port = ports[2]
        with open(os.path.join(self.project, "seamless.profile.yaml"), "w") as stream:
            stream.write(f"""- clusters:
    local:
      tunnel: false
      type: local
      workers: 2
      frontends:
        - hostname: localhost
          hashserver: {{bufferdir: {root}/buffers, network_interface: 127.0.0.1, port_start: {ports[0]}, port_end: {ports[0]}}}
          database: {{database_dir: {root}/db, network_interface: 127.0.0.1, port_start: {ports[1]}, port_end: {ports[1]}}}
          jobserver: {{conda: null, network_interface: 127.0.0.1, port_start: {ports[2]}, port_end: {ports[2]}}}
    local_cluster: local
- cluster: local
- project: conformance
- execution: remote
- remote: jobserver
""")
        self.env = dict(os.environ, HOME=self.home, PATH=f"{self.bin}:{VENV_BIN}:{os.environ.get('PATH', '')}")
        self.env.pop("VIRTUAL_ENV", None)

    @property
    def jobserver_url(self):
        return f"http://127.0.0.1:{self.jobserver_port}"

    def status_files(self):
        files = {}
        for path in glob.glob(os.path.join(self.home, ".remote-http-launcher", "server", "*.json")):
            with open(path) as stream:
                files[os.path.basename(path)] = json.load(stream)
        return files

    def stop(self):
        """Stops what the launcher started (it leaves servers running for later clients)."""
        for status in self.status_files().values():
            pid = status.get("pid")
            if isinstance(pid, int):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass


@pytest.fixture(scope="module")
def launched(workspace):
    project = LaunchedProject(os.path.join(workspace, "launched"))
    yield project
    project.stop()


def test_launched_by_the_client(workspace, local_runs, launched):
    remote = run_cases("profile", workspace, extra=["--project-dir", launched.project], env=launched.env)
    jobservers = {name: s for name, s in launched.status_files().items() if name.startswith("jobserver")}
    assert len(jobservers) == 1, launched.status_files()
    (status,) = jobservers.values()
    assert status["status"] == "running" and status["port"] == launched.jobserver_port, status
    assert status["command"].startswith("seamless-jobserver"), status
    log = read(status.get("log", ""))
    assert "Shunter" in log, f"the launched jobserver is not Shunter:\n{log}"
    # Shunter's own API answers on the launched jobserver's port.
    code, body = http("GET", launched.jobserver_url + "/status")
    assert code == 200, body

    class LaunchedShunter:
        def jobs(self, tf):
            code, body = http("GET", f"{launched.jobserver_url}/jobs?tf={tf}")
            assert code == 200, body
            return json.loads(body)

    failures = []
    for name in CASES:
        try:
            compare(name, local_runs, remote, LaunchedShunter())
        except AssertionError as error:
            failures.append(str(error))
    assert not failures, "\n\n".join(failures)


def seamless_run(launched, command: str, *, local: bool):
    """`seamless-run COMMAND` in the project directory: through the launched Shunter, or executed
    by Seamless itself (no config, no servers: SEAMLESS_REMOTE_CLIENTS={})."""
    env = dict(launched.env)
    if local:
        env["SEAMLESS_REMOTE_CLIENTS"] = "{}"
    completed = subprocess.run(
        ["seamless-run", "-y", command], cwd=launched.project, env=env, capture_output=True, timeout=120)
    assert completed.returncode == 0, (
        f"seamless-run {'(local)' if local else '(through Shunter)'} {command!r} failed:\n"
        + completed.stderr.decode(errors="replace"))
    return completed.stdout


SEAMLESS_RUN_COMMANDS = {
    "file_input": "wc -l data.txt; sha256sum data.txt; head -c 20 data.txt",
    "directory_input": "find indir -type f | sort; cat indir/sub/b.txt; cat indir/a.txt",
    "file_and_directory": "cat indir/a.txt data.txt | wc -c",
}


@pytest.mark.parametrize("name", list(SEAMLESS_RUN_COMMANDS))
def test_seamless_run(launched, name):
    with open(os.path.join(launched.project, "data.txt"), "w") as stream:
        stream.write("".join(f"{i} ünï\n" for i in range(2000)))
    os.makedirs(os.path.join(launched.project, "indir", "sub"), exist_ok=True)
    with open(os.path.join(launched.project, "indir", "a.txt"), "w") as stream:
        stream.write("hello\n")
    with open(os.path.join(launched.project, "indir", "sub", "b.txt"), "wb") as stream:
        stream.write("wörld\n".encode() + bytes(range(1, 9)) + b"\n")
    command = SEAMLESS_RUN_COMMANDS[name]
    # Shunter first: the local run must not leave a cached result it could answer from.
    through_shunter = seamless_run(launched, command, local=False)
    by_seamless = seamless_run(launched, command, local=True)
    assert through_shunter == by_seamless
    # Shunter ran it: one of its jobs produced exactly these bytes (a `bytes` result).
    checksum = hashlib.sha256(through_shunter).hexdigest()
    code, body = http("GET", launched.jobserver_url + "/jobs?limit=10000")
    assert code == 200, body
    assert any(job.get("result") == checksum for job in json.loads(body)), f"no Shunter job has result {checksum}"


def test_idle_timeout_and_status_file(workspace):
    """The launcher contract on its own: parameters in, running + port out, exit when idle."""
    root = os.path.join(workspace, "idle")
    os.makedirs(root)
    servers = PythonServers(os.path.join(root, "python"))
    try:
        status_path = os.path.join(root, "jobserver.json")
        with open(status_path, "w") as stream:
            json.dump({"pid": 12345, "uid": os.getuid(), "command": "seamless-jobserver", "workdir": "/tmp",
                       "status": "starting", "custom": [1, "kept"],
                       "parameters": {"buffer": [{"readonly": False, "url": "http://unused:1", "remote_url": servers.hashserver}],
                                      "database": [{"readonly": False, "url": "http://unused:1", "remote_url": servers.database}],
                                      "record": False}}, stream)
        config = os.path.join(root, "shunter.yaml")
        with open(config, "w") as stream:
            stream.write(f"root: {root}\nhandlers: {os.path.join(REPO, 'handlers')}\n")
        shunter_bin = os.environ.get("SHUNTER_BIN") or os.path.join(REPO, ".build", "debug", "shunter")
        log = os.path.join(root, "jobserver.log")
        started = time.monotonic()
        process = subprocess.Popen(
            [shunter_bin, "seamless-jobserver", "--config", config, "--workers", "2", "--port-range", "20000", "60000",
             "--host", "127.0.0.1", "--status-file", status_path, "--timeout", "3"],
            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        status = {}
        while time.monotonic() - started < 20 and status.get("status") != "running":
            time.sleep(0.05)
            with open(status_path) as stream:
                status = json.load(stream)
        assert status.get("status") == "running", read(log)
        assert 20000 <= status["port"] <= 60000 and status["custom"] == [1, "kept"] and status["pid"] == 12345, status
        url = f"http://127.0.0.1:{status['port']}"
        # A job whose result must land in the Python servers named by the parameters. A fresh
        # client needs seconds to import Seamless on a loaded machine, longer than --timeout:
        # health checks keep the jobserver alive until its first request (its idle exit is
        # what the end of this test checks).
        starting = threading.Event()
        def keep_alive():
            while not starting.wait(0.5):
                http("GET", url + "/healthcheck")
        keeper = threading.Thread(target=keep_alive, daemon=True)
        keeper.start()
        try:
            run_remote = run_cases("remote", workspace, names=["bash_int_in_int_out"],
                                   extra=remote_args(url, servers.hashserver, servers.database))
        finally:
            starting.set()
            keeper.join()
        result = run_remote["bash_int_in_int_out"]["result"]
        assert result and http("GET", f"{servers.hashserver}/{result}")[1] == b"41\n", run_remote
        # Requests keep it alive; then it stops on its own about --timeout seconds later.
        for _ in range(4):
            time.sleep(1)
            assert http("GET", url + "/healthcheck")[0] == 200
        last_request = time.monotonic()
        # It stops by itself (the wait's bound only catches one that never does), and not
        # before --timeout has passed without a request: a lower bound holds on any machine.
        assert process.wait(timeout=120) == 0, read(log)
        idle = time.monotonic() - last_request
        assert idle >= 2.5, f"stopped {idle:.1f} s after the last request (--timeout 3)"
    finally:
        servers.stop()
