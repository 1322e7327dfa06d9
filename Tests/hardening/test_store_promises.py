"""Promises of the store beside the crash harness's: a buffer whose upload was answered is
never lost to a kill -9, a torn upload never shows as a buffer, and one store is served by
one broker at a time."""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time

from shunter_harness import Broker, HarnessError, free_port, read_tail, request, sha256, shunter_binary, shunter_environment

UPLOADS = int(os.environ.get("SHUNTER_BUFFER_UPLOADS", "300"))


def test_acknowledged_buffers_survive_kill_9(binary):
    broker = Broker()
    try:
        broker.start()
        # Sizes from a few bytes to a few MiB, so that the kill lands inside some uploads.
        buffers = [secrets.token_bytes(secrets.randbelow(4 << 20) if index % 10 == 0 else 64 + index)
                   for index in range(UPLOADS)]
        acknowledged: list[bytes] = []
        lock = threading.Lock()
        pending = list(buffers)

        def upload():
            while True:
                with lock:
                    if not pending:
                        return
                    data = pending.pop()
                try:
                    answer = broker.request("PUT", "/" + sha256(data), data, timeout=60)
                except OSError:
                    continue  # cut off by the kill: not acknowledged
                if answer.status in (200, 201):
                    with lock:
                        acknowledged.append(data)

        threads = [threading.Thread(target=upload, daemon=True) for _ in range(6)]
        for thread in threads:
            thread.start()
        while True:
            with lock:
                if len(acknowledged) >= UPLOADS // 2 or not pending:
                    break
            time.sleep(0.005)
        broker.kill9()
        for thread in threads:
            thread.join()
        broker.start()

        missing = [sha256(data) for data in acknowledged
                   if broker.request("GET", "/" + sha256(data)).body != data]
        assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged buffers lost after kill -9: {missing[:5]}"
        # An upload the kill cut off is absent or whole, never torn.
        torn = []
        for data in buffers:
            answer = broker.request("GET", "/" + sha256(data))
            if answer.status == 200 and answer.body != data:
                torn.append(sha256(data))
            elif answer.status not in (200, 404):
                torn.append(f"{sha256(data)}: {answer}")
        assert not torn, f"torn buffers after kill -9: {torn[:5]}"
    finally:
        broker.remove()


def test_second_broker_on_the_same_store_is_refused(binary):
    """Two brokers on one journal would each recover and run the other's jobs: the second
    must refuse to start, saying which broker holds the store."""
    first = Broker()
    second_log = os.path.join(first.root, "second.log")
    try:
        first.start()
        port = free_port()
        with open(second_log, "wb") as stream:
            second = subprocess.Popen(
                [shunter_binary(), "serve", "--config", first.config, "--listen", f"127.0.0.1:{port}"],
                stdout=stream, stderr=subprocess.STDOUT, cwd=first.root, start_new_session=True,
                env=shunter_environment())
        listening = False
        deadline = time.monotonic() + 120
        while second.poll() is None and time.monotonic() < deadline:
            try:
                listening = request(port, "GET", "/healthcheck", timeout=2).status == 200
            except OSError:
                pass
            if listening:
                break
            time.sleep(0.1)
        status = second.poll()
        if status is None:
            second.kill()
            second.wait()
        output = read_tail(second_log)
        assert not listening, f"a second broker started on the same store:\n{output}"
        assert status is not None and status > 0, f"the second broker did not refuse (status {status}):\n{output}"
        assert any(word in output.lower() for word in ("another", "already", "lock", "in use")), (
            f"the second broker's refusal does not say the store is in use:\n{output}")
        assert first.healthy(), "the first broker stopped answering"
    finally:
        first.remove()


def test_journal_of_a_stopped_broker_is_reopened(binary):
    """The refusal above must not outlive its broker: after a kill -9 the store opens again."""
    broker = Broker()
    try:
        broker.start()
        broker.kill9()
        try:
            broker.start()
        except HarnessError as error:
            raise AssertionError(f"the store of a killed broker cannot be opened again: {error}") from error
    finally:
        broker.remove()
