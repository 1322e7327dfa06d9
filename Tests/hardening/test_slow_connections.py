"""Slow and idle connections: clients that open a connection and send a request slowly, or
nothing at all, must neither starve other clients nor be kept open for ever."""

from __future__ import annotations

import os
import resource
import socket
import time

import pytest

from shunter_harness import Broker, request

# How long a silent connection may stay open. Generous: it bounds a failure, not a success
# (the test ends as soon as the broker closes the connection).
IDLE_CLOSE_SECONDS = float(os.environ.get("SHUNTER_IDLE_CLOSE_SECONDS", "300"))
SLOW_CLIENTS = 400


@pytest.fixture
def fresh_broker(binary):
    broker = Broker().start()
    yield broker
    broker.remove()


def open_sockets(port: int, count: int, first_bytes: bytes) -> list[socket.socket]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1024), hard))
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        if first_bytes:
            sock.sendall(first_bytes)
        sockets.append(sock)
    return sockets


def test_slow_clients_do_not_starve_others(fresh_broker: Broker):
    """Hundreds of clients stuck in the middle of a request line, a header and a body: a new
    client is still answered."""
    stuck = []
    try:
        stuck += open_sockets(fresh_broker.port, SLOW_CLIENTS // 4, b"GET /heal")
        stuck += open_sockets(fresh_broker.port, SLOW_CLIENTS // 4, b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        stuck += open_sockets(fresh_broker.port, SLOW_CLIENTS // 4,
                              b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"transformation_dict\": ")
        stuck += open_sockets(fresh_broker.port, SLOW_CLIENTS // 4, b"")
        answer = request(fresh_broker.port, "GET", "/healthcheck", timeout=120)
        assert answer.status == 200, answer
        assert fresh_broker.alive()
    finally:
        for sock in stuck:
            sock.close()


def test_slowloris_header_trickle_is_bounded(fresh_broker: Broker):
    """A client that keeps a request's headers coming one byte at a time cannot keep its
    connection for ever: the broker ends it (or refuses it) once the headers pass its limit."""
    with socket.create_connection(("127.0.0.1", fresh_broker.port), timeout=IDLE_CLOSE_SECONDS) as sock:
        sock.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n")
        sent = 0
        closed = False
        deadline = time.monotonic() + IDLE_CLOSE_SECONDS
        while time.monotonic() < deadline:
            try:
                sock.sendall(b"X-Trickle-%d: %s\r\n" % (sent, b"a" * 1000))
            except OSError:
                closed = True
                break
            sent += 1
            sock.settimeout(0.001)
            try:
                if sock.recv(65536) == b"":
                    closed = True
                    break
                closed = True  # an answer (a 431 or 400) before the headers ended
                break
            except (socket.timeout, BlockingIOError):
                pass
            except OSError:
                closed = True
                break
            sock.settimeout(IDLE_CLOSE_SECONDS)
        assert closed, f"the broker still reads headers after {sent} kB of them"
    assert request(fresh_broker.port, "GET", "/healthcheck", timeout=120).status == 200


def test_idle_connection_is_closed(fresh_broker: Broker):
    """A connection that never sends a byte is closed by the broker after its idle timeout."""
    with socket.create_connection(("127.0.0.1", fresh_broker.port), timeout=IDLE_CLOSE_SECONDS) as sock:
        try:
            data = sock.recv(1)
        except socket.timeout:
            pytest.fail(f"an idle connection was still open after {IDLE_CLOSE_SECONDS:.0f} s")
        except ConnectionResetError:
            data = b""
        assert data in (b"", b"H"), f"unexpected bytes on an idle connection: {data!r}"


def test_idle_keep_alive_connection_is_closed(fresh_broker: Broker):
    """The same after one answered request on a keep-alive connection."""
    with socket.create_connection(("127.0.0.1", fresh_broker.port), timeout=IDLE_CLOSE_SECONDS) as sock:
        sock.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b"OK" not in received:
            chunk = sock.recv(65536)
            assert chunk, "the broker closed the connection before answering"
            received += chunk
        try:
            rest = sock.recv(65536)
        except socket.timeout:
            pytest.fail(f"an idle keep-alive connection was still open after {IDLE_CLOSE_SECONDS:.0f} s")
        except ConnectionResetError:
            rest = b""
        assert rest == b"", f"unexpected bytes: {rest!r}"
