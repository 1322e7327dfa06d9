"""Authentication with the real Seamless client (embedded deployment): credentials in the
client's URLs (`http://NAME:TOKEN@host:port`, which the client sends as HTTP Basic on every
request), none (refused with the broker's 401 sentence), a token whose scope is too small
(403), and a broker that would listen beyond loopback without a token (refused at start)."""

from __future__ import annotations

import base64
import os
import subprocess

import pytest

from conftest import REPO, Shunter, free_port, http, remote_args, run_cases, shunter_binary

CASES = ["bash_int_in_int_out", "py_add_ints"]


@pytest.fixture(scope="module")
def guarded(workspace):
    root = os.path.join(workspace, "auth")
    os.makedirs(root)
    shunter = Shunter(root, tokens=[("alice", "submit"), ("reader", "read"), ("boss", "admin")])
    yield shunter
    shunter.stop()


def with_credentials(url: str, name: str, token: str) -> str:
    return url.replace("http://", f"http://{name}:{token}@")


def test_the_client_with_credentials_in_its_urls_runs_transformations(guarded, workspace, local_runs):
    url = with_credentials(guarded.url, "alice", guarded.tokens["alice"])
    remote = run_cases("remote", workspace, names=CASES, extra=remote_args(url, url, url))
    for name in CASES:
        assert remote[name]["result"] is not None, f"{name}: {remote[name]['error']}"
        assert remote[name]["result"] == local_runs[name]["result"], name
    assert http("GET", guarded.url + "/healthcheck")[0] == 200, "/healthcheck stays open"


def test_without_credentials_the_client_shows_the_401_sentence(guarded, workspace):
    status, body = http("GET", guarded.url + "/jobs")
    assert status == 401 and b"needs a token" in body, (status, body)
    remote = run_cases("remote", workspace, names=CASES[:1], extra=remote_args(guarded.url, guarded.url, guarded.url))
    entry = remote[CASES[0]]
    assert entry["result"] is None
    assert "401" in entry["error"] or "needs a token" in entry["error"], entry["error"]


def test_scopes(guarded):
    def basic(name):
        credentials = base64.b64encode(f"{name}:{guarded.tokens[name]}".encode()).decode()
        return {"Authorization": f"Basic {credentials}"}

    status, body = http("PUT", guarded.url + "/promise/" + "00" * 32, headers=basic("reader"))
    assert status == 403 and b"needs 'submit'" in body, (status, body)
    assert http("GET", guarded.url + "/jobs", headers=basic("reader"))[0] == 200
    status, _ = http("GET", guarded.url + "/jobs", headers={"Authorization": "Bearer " + guarded.tokens["boss"]})
    assert status == 200
    status, body = http("GET", guarded.url + "/jobs", headers={"Authorization": "Bearer shunter_not-a-token"})
    assert status == 401 and b"not known" in body, (status, body)


def test_the_audit_log_has_a_line_per_authenticated_write(guarded):
    with open(os.path.join(guarded.root, "var", "auth", "audit.jsonl"), encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    assert any('"principal":"alice"' in line and '"path":"/run-transformation"' in line for line in lines), lines[-5:]


def test_a_network_listen_without_a_token_is_refused_at_start(tmp_path):
    config = tmp_path / "shunter.yaml"
    config.write_text(f"root: {tmp_path}\nlisten: 0.0.0.0:{free_port()}\nhandlers: {REPO}/handlers\n")
    started = subprocess.run([shunter_binary(), "serve", "--config", str(config)], capture_output=True, text=True,
                             timeout=120, cwd=tmp_path)
    assert started.returncode == 2, started.stderr
    assert "shunter token add" in started.stderr and "auth: {mode: none}" in started.stderr, started.stderr


def test_the_cli_presents_a_token_from_the_url_the_option_or_the_environment(guarded):
    binary = shunter_binary()
    in_url = subprocess.run([binary, "jobs", "--url", with_credentials(guarded.url, "boss", guarded.tokens["boss"])],
                            capture_output=True, text=True, timeout=60)
    assert in_url.returncode == 0, in_url.stderr
    by_env = subprocess.run([binary, "jobs", "--url", guarded.url], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "SHUNTER_TOKEN": guarded.tokens["reader"]})
    assert by_env.returncode == 0, by_env.stderr
    without = subprocess.run([binary, "jobs", "--url", guarded.url], capture_output=True, text=True, timeout=60,
                             env={k: v for k, v in os.environ.items() if k != "SHUNTER_TOKEN"})
    assert without.returncode != 0 and "needs a token" in without.stderr, without.stderr


def test_tls_with_a_self_signed_certificate(tmp_path):
    import ssl
    import urllib.request

    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(certificate), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    port = free_port()
    config = tmp_path / "shunter.yaml"
    config.write_text(f"root: {tmp_path}\nlisten: 127.0.0.1:{port}\nhandlers: {REPO}/handlers\n"
                      f"tls: {{certificate: {certificate}, key: {key}}}\n")
    log = tmp_path / "log"
    process = subprocess.Popen([shunter_binary(), "serve", "--config", str(config)], stdout=open(log, "wb"),
                               stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        trusted = ssl.create_default_context(cafile=str(certificate))
        answer = None
        for _ in range(300):
            if process.poll() is not None:
                pytest.fail(f"shunter exited with {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthcheck", context=trusted, timeout=5) as reply:
                    answer = reply.status
                break
            except (ConnectionError, urllib.error.URLError) as error:
                if isinstance(getattr(error, "reason", None), ssl.SSLError):
                    raise
                import time
                time.sleep(0.1)
        assert answer == 200
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"https://127.0.0.1:{port}/healthcheck", context=ssl.create_default_context(), timeout=5)
    finally:
        process.terminate()
        process.wait(timeout=60)

    config.write_text(f"root: {tmp_path}\nlisten: 127.0.0.1:{port}\nhandlers: {REPO}/handlers\n"
                      f"tls: {{certificate: {tmp_path}/missing.pem, key: {key}}}\n")
    refused = subprocess.run([shunter_binary(), "serve", "--config", str(config)], capture_output=True, text=True,
                             timeout=120, cwd=tmp_path)
    assert refused.returncode == 2 and "missing.pem" in refused.stderr, refused.stderr
