"""Every case of `corpus/http/*.json` against a running broker: a clear refusal (or a failed
job) with a sentence a user can act on, never a 5xx or a Swift dump, and the broker still
answers `/healthcheck` afterwards (and comes back after a kill -9 when the case asks)."""

from __future__ import annotations

import os
import re
import secrets
import shutil

import pytest

from corpus_cases import CaseContext, load_cases
from shunter_harness import Broker, HarnessError, human_text, is_sentence, log_excerpt, parse_response, raw_exchange, swift_dump

CASES = load_cases("http")
JOB_WAIT_SECONDS = 600
_finished: dict[str, tuple[str, str]] = {}


def finished_job(broker: Broker) -> tuple[str, str]:
    """A job of this broker that has succeeded: (job id, transformation checksum)."""
    if broker.root not in _finished:
        payload = broker.bash_transformation("printf finished > RESULT\n", pins={"nonce": ("text", secrets.token_hex(8) + "\n")})
        answer = broker.submit(payload)
        assert answer.status == 202, f"submitting a plain job: {answer}"
        record = broker.wait_job(answer.json()["id"], JOB_WAIT_SECONDS)
        assert record["state"] == "succeeded", f"a plain job did not succeed: {record}"
        _finished[broker.root] = (record["id"], record["transformation"])
    return _finished[broker.root]


def escapes(broker: Broker, token: str) -> list[str]:
    """Paths named with `token` outside every job's own `work/` directory: in the broker's
    root, beside it, and at the top of /tmp and /."""
    found = []
    job_work = re.compile(re.escape(broker.workdir) + r"/[^/]+/work/")
    parent = os.path.dirname(broker.root)
    for top in (broker.root,):
        for directory, subdirectories, files in os.walk(top):
            for name in subdirectories + files:
                path = os.path.join(directory, name)
                if token in name and not job_work.match(path + "/"):
                    found.append(path)
    for top in {parent, "/tmp", "/"}:
        try:
            names = os.listdir(top)
        except OSError:
            continue
        found += [os.path.join(top, name) for name in names if token in name]
    return sorted(set(found))


def clear_message(what: str, text: str, mentions: list[str], sentence: bool = True) -> list[str]:
    problems = []
    if sentence and not is_sentence(text):
        problems.append(f"{what} is not a sentence a user can act on: {text[:500]!r}")
    dump = swift_dump(text)
    if dump:
        problems.append(f"{what} shows a Swift dump ({dump!r}): {text[:800]!r}")
    if mentions and not any(word.lower() in text.lower() for word in mentions):
        problems.append(f"{what} mentions none of {mentions}: {text[:800]!r}")
    return problems


def kinds_of(expect) -> list:
    status = expect.get("status", "4xx")
    return status if isinstance(status, list) else [status]


@pytest.mark.parametrize("case", [case for _, case in CASES], ids=[name for name, _ in CASES])
def test_http_case(case, broker: Broker, secret):
    job, tf = finished_job(broker)
    secret_path, secret_text = secret
    token = "escape-" + secrets.token_hex(6)
    context = CaseContext(broker, {
        "job": job, "tf": tf, "escape": token, "secret": secret_path, "secret_text": secret_text.strip(),
    })
    request = case["request"]
    expect = case.get("expect", {})
    after = case.get("after", {})
    kinds = kinds_of(expect)
    # Refusals by the HTTP parser itself (a bad request line, an over-long head) carry a
    # status line only: for those the status is the message.
    sentence = expect.get("sentence", True)
    mentions = [context.substitute(word) for word in expect.get("mentions", [])]
    path = context.substitute(request.get("path", "/"))
    method = request.get("method", "GET")
    problems: list[str] = []

    try:
        if "raw" in request:
            data = context.materialize(request["raw"]).encode("utf-8", errors="surrogatepass")
            answer = parse_response(raw_exchange(broker.port, data))
            if answer is None:
                problems.append("the broker closed the connection without an HTTP answer")
        else:
            headers = context.materialize(request.get("headers", {}))
            answer = broker.request(method, path, context.body(request), headers=headers)
    except OSError as error:
        answer = None
        problems.append(f"no answer: {error!r}")

    job_id = None
    if answer is not None:
        status = answer.status
        text = human_text(answer.body)
        accepted = False
        if 400 <= status < 500 and ("4xx" in kinds or "4xx-or-failed" in kinds):
            accepted = True
            problems += clear_message(f"the {status} answer", text, mentions, sentence)
        elif status in kinds:
            accepted = True
            if status >= 400:
                problems += clear_message(f"the {status} answer", text, mentions, sentence)
        elif "no-5xx" in kinds and status < 500:
            accepted = True
            if status >= 400:
                problems += clear_message(f"the {status} answer", text, [])
        elif "4xx-or-failed" in kinds and path.startswith("/run-transformation") and status == 500:
            # The jobserver protocol's answer for a failed job: its error text.
            accepted = True
            problems += clear_message("the failed job's error (500 from /run-transformation)", text, mentions)
        elif "4xx-or-failed" in kinds and method == "POST" and path == "/jobs" and status == 202:
            accepted = True
            job_id = answer.json()["id"]
            try:
                record = broker.wait_job(job_id, JOB_WAIT_SECONDS)
            except (OSError, HarnessError) as error:
                record = None
                problems.append(f"accepted as {job_id}, then waiting for it failed: {error}")
            if record is not None:
                if record["state"] != "failed":
                    problems.append(f"accepted as {job_id}, which ended {record['state']} instead of failing: {record}")
                else:
                    problems += clear_message(f"the error of {job_id}", record.get("error") or "", mentions)
        if not accepted:
            problems.append(f"expected {kinds}, got {answer}")
        if status >= 500 and not (status == 500 and path.startswith("/run-transformation") and "4xx-or-failed" in kinds):
            dump = swift_dump(text)
            if dump:
                problems.append(f"the 5xx answer shows a Swift dump: {dump!r}")

    if not broker.alive():
        problems.append(f"the broker died (exit status {broker.process.returncode})")
    elif not broker.healthy(timeout=60):
        problems.append("the broker no longer answers /healthcheck")

    if after.get("restart"):
        broker.kill9()
        try:
            broker.start()
            if job_id is not None:
                record = broker.wait_job(job_id, JOB_WAIT_SECONDS)
                if record["state"] != "failed":
                    problems.append(f"after a restart, {job_id} ended {record['state']} instead of failing: {record}")
        except (OSError, HarnessError) as error:
            problems.append(f"the broker does not come back after a kill -9 and a restart: {error}")

    if after.get("no_escape"):
        outside = escapes(broker, token)
        for found in outside:
            if os.path.isdir(found) and not os.path.islink(found):
                shutil.rmtree(found, ignore_errors=True)
            else:
                os.remove(found)
        if outside:
            problems.append(f"written outside the job's work directory: {outside}")

    assert not problems, "\n".join(problems) + "\n--- broker log ---\n" + log_excerpt(broker.log)
