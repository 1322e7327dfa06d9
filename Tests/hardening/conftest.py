"""Fixtures of the hardening suite: a real `shunter serve` (SHUNTER_BIN, else
.build/debug/shunter) in a temp root on a free loopback port, kept alive across cases.

Run from the repository root with the Seamless venv's python (it has pytest and atheris):
    .venv-seamless/bin/python -m pytest Tests/hardening
(scripts/test.sh does this after the conformance suite.)
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from shunter_harness import Broker, HarnessError, read_tail, shunter_binary  # noqa: E402


class LiveBroker:
    """One broker for many cases. A case that kills it or leaves it unable to restart fails;
    the next case gets a fresh broker in a fresh root, so one defect fails one case."""

    def __init__(self):
        self.broker: Broker | None = None
        self.replaced: list[str] = []

    def ensure(self) -> Broker:
        if self.broker is not None and self.broker.alive() and self.broker.healthy():
            return self.broker
        if self.broker is not None:
            self.replaced.append(self.broker.root)
            try:
                self.broker.kill9()
                self.broker.start()
                return self.broker
            except HarnessError:
                self.broker.kill9()
        self.broker = Broker().start()
        return self.broker

    def close(self):
        if self.broker is not None:
            self.broker.remove()
        for root in self.replaced:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def binary() -> str:
    try:
        return shunter_binary()
    except HarnessError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def live_broker(binary):
    holder = LiveBroker()
    try:
        holder.ensure()
    except HarnessError as error:
        pytest.fail(str(error))
    yield holder
    holder.close()


@pytest.fixture
def broker(live_broker) -> Broker:
    try:
        return live_broker.ensure()
    except HarnessError as error:
        pytest.fail(f"the broker could not be (re)started for this case: {error}")


@pytest.fixture(scope="session")
def secret():
    """A host file outside every directory of the broker, whose content must never come back
    as a result."""
    directory = tempfile.mkdtemp(prefix="shunter-hardening-secret-")
    path = os.path.join(directory, "secret.txt")
    text = "host secret " + secrets.token_hex(16) + "\n"
    with open(path, "w") as stream:
        stream.write(text)
    yield path, text
    shutil.rmtree(directory, ignore_errors=True)


def broker_log(broker: Broker) -> str:
    return read_tail(broker.log)
