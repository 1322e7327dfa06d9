"""The trivial bash transformations the job scenarios submit, built as the Seamless client builds
them: `delayed("echo $a > RESULT", language="bash")` with `a` an int and output `bytes`.

The transformation checksum is computed by Seamless's own `tf_get_buffer`, so the requests are
exactly those a real client sends (the Python jobserver requires `tf_checksum`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from seamless_transformer.transformation_utils import tf_get_buffer

CODE = "echo $a > RESULT"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_buffer(text: str) -> bytes:
    # Seamless `text` celltype: str(value).rstrip("\n") + "\n"
    return (text.rstrip("\n") + "\n").encode()


def int_buffer(value: int) -> bytes:
    return f"{value}\n".encode()


@dataclass(frozen=True)
class BashJob:
    value: int
    tf_checksum: str
    body: bytes            # the /run-transformation (and POST /jobs) request body
    input_buffer: bytes    # the buffer of pin `a`
    expected_result: str   # checksum of RESULT ("<value>\n", celltype bytes)


def bash_transformation(code: str, value: int) -> tuple[dict, str]:
    code_cs = sha256(text_buffer(code))
    dict_ = {
        "__language__": "bash",
        "__output__": ["result", "bytes", None],
        "a": ["int", None, sha256(int_buffer(value))],
        "code": ["text", None, code_cs],
    }
    return dict_, tf_get_buffer(dict_).get_checksum().hex()


def bash_job(value: int, code: str = CODE) -> BashJob:
    dict_, tf = bash_transformation(code, value)
    body = json.dumps({
        "transformation_dict": dict_, "tf_checksum": tf, "tf_dunder": {},
        "scratch": False, "strict_dunder": False, "record": False,
    }).encode()
    return BashJob(value, tf, body, int_buffer(value), sha256(int_buffer(value)))


def bash_jobs(first: int, count: int, code: str = CODE) -> list[BashJob]:
    return [bash_job(v, code) for v in range(first, first + count)]


def database_get_body(tf_checksum: str) -> bytes:
    return json.dumps({"type": "transformation", "checksum": tf_checksum}).encode()
