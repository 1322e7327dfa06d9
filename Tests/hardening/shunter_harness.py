"""A real `shunter serve` in a temp root, for the bad-input corpus, the crash harness and the
fuzz harness: start, kill -9, restart; upload buffers; build bash transformations.

Standard library only, so that the crash harness runs with any python3.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def shunter_environment() -> dict[str, str]:
    """The environment of every shunter process the tests start. Swift's crash backtracer
    takes tens of seconds per crash on a loaded machine, and a case that makes the broker
    crash on every restart would spend minutes in it; the `Fatal error` line with its source
    location is printed without it. SWIFT_BACKTRACE set by the caller wins."""
    return {**os.environ, "SWIFT_BACKTRACE": os.environ.get("SWIFT_BACKTRACE", "enable=no")}


def die_with_parent():
    """In the child before exec: SIGKILL when the harness that started it dies, so that a
    harness stopped by a finding or a timeout leaves no broker behind (its jobs run in
    sessions of their own, and the broker's recovery is what ends those)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class HarnessError(Exception):
    """The harness could not do what a test needs (the binary is missing, the broker never
    became healthy): the test fails with this text."""


def shunter_binary() -> str:
    path = os.environ.get("SHUNTER_BIN") or os.path.join(REPO, ".build", "debug", "shunter")
    if not os.access(path, os.X_OK):
        raise HarnessError(f"{path} is missing: build it first with `swift build` (or set SHUNTER_BIN)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plain_buffer(value) -> bytes:
    """Seamless's `plain` celltype buffer: JSON with sorted keys, indent 2, and a newline."""
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def read_tail(path: str, limit: int = 6000) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return stream.read()[-limit:]
    except OSError:
        return ""


def log_excerpt(path: str, limit: int = 3000) -> str:
    """What a failure report needs from a broker's log: see `excerpt`."""
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return excerpt(stream.read(), limit)
    except OSError:
        return ""


def excerpt(text: str, limit: int = 3000) -> str:
    """The crash message and the first frames of its backtrace when `text` holds one (the
    rest of a Swift backtrace is registers and images), else the tail."""
    for marker in ("Fatal error", "💣", "Program crashed", "Crash at"):
        position = text.rfind(marker)
        if position >= 0:
            start = text.rfind("\n", 0, max(0, position - 400)) + 1
            return text[start:start + limit]
    return text[-limit:]


class Response:
    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None):
        self.status = status
        self.body = body
        self.headers = headers or {}

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"HTTP {self.status}: {self.text[:2000]!r}"


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 120) -> Response:
    """One request on a fresh connection (`Connection: close`). `path` and the headers are
    sent as given (no quoting), so a corpus case controls every byte of the target. Raises
    OSError when no HTTP answer comes back."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
    for name, value in (headers or {}).items():
        head += f"{name}: {value}\r\n"
    if body is not None:
        head += f"Content-Length: {len(body)}\r\n"
    data = (head + "\r\n").encode("utf-8", errors="surrogatepass") + (body or b"")
    answer = parse_response(exchange(port, data, timeout))
    if answer is None:
        raise ConnectionError(f"{method} {path[:200]}: the connection closed without an HTTP answer")
    return answer


def exchange(port: int, data: bytes, timeout: float = 120) -> bytes:
    """Sends `data` and returns what comes back until the server closes, a whole answer has
    arrived, or nothing came for `timeout` seconds. Sending stops as soon as the server
    answers or closes, so an early refusal (413, 431) of a large request is read rather than
    lost in a broken pipe."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for offset in range(0, max(len(data), 1), 65536):
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(data[offset:offset + 65536])
            except OSError:
                break
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
            if complete(received):
                break
        return received


def complete(data: bytes) -> bool:
    """Whether `data` holds a whole answer whose length its head gives."""
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return False
    match = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
    if match:
        return len(body) >= int(match.group(1))
    if re.search(rb"\r\ntransfer-encoding:\s*chunked", head, re.IGNORECASE):
        return body.endswith(b"0\r\n\r\n")
    return False


def parse_response(data: bytes) -> Response | None:
    match = re.match(rb"HTTP/\d\.\d (\d{3})", data)
    if not match:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        decoded = b""
        rest = body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            try:
                size = int(size_line.split(b";")[0], 16)
            except ValueError:
                break
            if size == 0:
                break
            decoded += rest[:size]
            rest = rest[size + 2:]
        body = decoded
    elif "content-length" in headers and headers["content-length"].isdigit():
        body = body[:int(headers["content-length"])]
    return Response(int(match.group(1)), body, headers)


def raw_exchange(port: int, data: bytes, timeout: float = 60) -> bytes:
    """Sends `data` as is (a whole HTTP message of a corpus case)."""
    return exchange(port, data, timeout)


# Text that only a Swift value printed with `\(error)` or a trap would show to a user.
DUMP_MARKERS = [
    re.compile(r"\bOptional\("),
    re.compile(r"\bSwift\.[A-Z]"),
    re.compile(r"\bFoundation\.[A-Z]"),
    re.compile(r"\bShunter[A-Z][A-Za-z]*\.[A-Z]"),
    re.compile(r"\b[A-Z][A-Za-z]*(Error|Failure)\.[a-z][A-Za-z]*\("),
    re.compile(r"\b[A-Z][A-Za-z]*(Error|Failure)\((kind|key|reason|message|underlying|context)?:?"),
    re.compile(r"\bDecodingError\b"),
    re.compile(r"Error Domain="),
    re.compile(r"Fatal error:"),
    re.compile(r"Swift/[A-Za-z]+\.swift:\d+"),
    re.compile(r"\bdebugDescription\b"),
]


def swift_dump(text: str) -> str | None:
    """The first part of `text` that looks like a Swift debug dump or a trap, if any."""
    for marker in DUMP_MARKERS:
        match = marker.search(text)
        if match:
            return text[max(0, match.start() - 40):match.end() + 40]
    return None


def human_text(body: bytes) -> str:
    """What a person reads in an error body: plain text as is; for JSON, its strings."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        value = json.loads(text)
    except ValueError:
        return text
    strings: list[str] = []

    def walk(item):
        if isinstance(item, str):
            strings.append(item)
        elif isinstance(item, list):
            for element in item:
                walk(element)
        elif isinstance(item, dict):
            for element in item.values():
                walk(element)

    walk(value)
    return " ".join(strings)


def is_sentence(text: str) -> bool:
    """At least two words of letters: a message, not an empty body or a bare code."""
    return len(re.findall(r"[A-Za-z]{2,}", text)) >= 2


class Broker:
    """`shunter serve` with a config, store, journal, work directory and handlers of its own
    under `root`, listening on a free loopback port."""

    BASH_HANDLER = (
        "name: bash-local\nplugin: bash\nbackend: local\n"
        "match: {{language: bash, image: none, environment: none}}\n"
        "limits: {{max_jobs: {max_jobs}, timeout: 1h}}\n"
    )

    def __init__(self, root: str | None = None, max_jobs: int = 4, extra_config: str = ""):
        self.root = root or tempfile.mkdtemp(prefix="shunter-hardening-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = os.path.join(self.root, "shunter.log")
        self.config = os.path.join(self.root, "shunter.yaml")
        self.workdir = os.path.join(self.root, "work")
        handlers = os.path.join(self.root, "handlers")
        os.makedirs(handlers, exist_ok=True)
        with open(os.path.join(handlers, "10-bash-local.yaml"), "w") as stream:
            stream.write(self.BASH_HANDLER.format(max_jobs=max_jobs))
        with open(self.config, "w") as stream:
            stream.write(
                f"root: {self.root}\nlisten: 127.0.0.1:{self.port}\n"
                "store: {buffers: buffers, results: results.sqlite}\n"
                f"journal: journal.sqlite\nworkdir: work\nkeep_failed_workdirs: 0s\nhandlers: {handlers}\n"
                f"environments: {{definitions: {self.root}/conda-envs, root: {self.root}/envs, managers: [venv]}}\n"
                + extra_config)
        self.process: subprocess.Popen | None = None
        self.starts = 0

    # Life cycle

    def start(self, seconds: float = 120) -> "Broker":
        self.starts += 1
        with open(self.log, "ab") as stream:
            stream.write(f"\n==== start {self.starts} ====\n".encode())
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [shunter_binary(), "serve", "--config", self.config],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True,
                preexec_fn=die_with_parent, env=shunter_environment())
        self.wait_healthy(seconds)
        return self

    def wait_healthy(self, seconds: float = 120):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise HarnessError(
                    f"shunter serve exited with {self.process.returncode} before it was ready:\n{read_tail(self.log)}")
            if self.healthy(timeout=2):
                return
            time.sleep(0.05)
        raise HarnessError(f"shunter serve did not answer /healthcheck within {seconds} s:\n{read_tail(self.log)}")

    def healthy(self, timeout: float = 10) -> bool:
        try:
            return request(self.port, "GET", "/healthcheck", timeout=timeout).status == 200
        except OSError:
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self):
        """SIGKILL to the broker only; its jobs run in sessions of their own and live on."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self, seconds: float = 120):
        self.stop()
        self.start(seconds)

    def remove(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # Requests

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 120) -> Response:
        return request(self.port, method, path, body, headers, timeout)

    def upload(self, data: bytes) -> str:
        checksum = sha256(data)
        answer = self.request("PUT", "/" + checksum, data)
        if answer.status not in (200, 201):
            raise HarnessError(f"upload of {checksum} answered {answer}")
        return checksum

    def upload_text(self, text: str) -> str:
        return self.upload(text.encode())

    def bash_transformation(self, code: str, pins: dict[str, tuple[str, str]] | None = None,
                            output: list | None = None, extra: dict | None = None) -> dict:
        """A jobserver payload for a bash transformation; `pins` maps a name to
        (celltype, text), each uploaded as its buffer."""
        tf: dict = {
            "__language__": "bash",
            "__output__": output or ["result", "bytes", None],
            "code": ["text", None, self.upload_text(code)],
        }
        for name, (celltype, text) in (pins or {}).items():
            tf[name] = [celltype, None, self.upload_text(text)]
        tf.update(extra or {})
        return {"transformation_dict": tf}

    def submit(self, payload: dict, timeout: float = 120) -> Response:
        return self.request("POST", "/jobs", json.dumps(payload).encode(), timeout=timeout)

    def wait_job(self, job: str, seconds: float = 600) -> dict:
        """The job's record once it has ended: waits on the broker's own wait route."""
        answer = self.request("GET", f"/jobs/{job}/wait?timeout={int(seconds)}", timeout=seconds + 30)
        if answer.status != 200:
            raise HarnessError(f"/jobs/{job}/wait answered {answer}")
        return answer.json()

    def record(self, job: str) -> dict | None:
        answer = self.request("GET", f"/jobs/{job}")
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise HarnessError(f"/jobs/{job} answered {answer}")
        return answer.json()
