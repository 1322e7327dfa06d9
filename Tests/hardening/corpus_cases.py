"""Reading the HTTP corpus (`corpus/http/*.json`) and turning a case into bytes on the wire.

A corpus file is `{"cases": [case, ...]}`; a case:

    {"name": "walltime-1e300",
     "why": "what defect or rule the case pins down",
     "request": {"method": "POST", "path": "/jobs",
                 "json": <value> | "text": <string> | "base64": <string> | "raw": <string>,
                 "headers": {"Name": <string>}},
     "expect": {"status": "4xx" | "4xx-or-failed" | "no-5xx" | [<kind or code>, ...],
                "mentions": [<substring>, ...], "sentence": true},
     "after": {"restart": true, "no_escape": true}}

`raw` is the whole HTTP message (request line, headers, body) sent as is on one connection.

Placeholders, replaced before sending (inside `json`, `text`, `headers`):
    {"$buffer": "text"}          uploaded as a buffer; replaced by its checksum
    {"$checksum_of": "text"}     the checksum of that text, not uploaded (a missing buffer)
    {"$plain": value}            value as a Seamless `plain` buffer, uploaded; its checksum
    {"$bash": {"code": ..., "pins": {name: [celltype, text]}, "output": [...], "extra": {...},
               "drop": [key, ...], "nonce": true}}
                                 a bash transformation dict, its buffers uploaded, with a
                                 `nonce` pin holding {escape} unless "nonce" is false
    {"$float": "nan" | "inf" | "-inf"}  the float (sent as NaN / Infinity, which JSON lacks)
    {"$string": [text, n]}       text repeated n times
    {"$concat": [text, ...]}     the texts (or placeholders giving text) joined
    {"$list": [value, n]}        a list of n copies of value
    {"$dict": [prefix, n, value]}  a dict of n keys prefix0, prefix1, ... all mapping to value
and in every string: {job} (a job that has succeeded), {tf} (its transformation),
{escape} (a name unique to the case, looked for outside the work directory afterwards),
{secret} (a host file outside the broker's directories), {secret_text} (its content).

Expectations:
    4xx            the request is refused with a 4xx whose body is a sentence, no Swift dump
    4xx-or-failed  that, or the job is accepted and ends `failed` with such a sentence as its
                   error (for `/run-transformation`: the jobserver's 500 whose text is that
                   sentence, which is how Seamless's jobserver reports a failed job)
    no-5xx         any answer but a 5xx, no Swift dump (inputs that may well be valid)
    an integer     that status exactly
`mentions`: at least one of the substrings (case-insensitive) is in the message.
`"sentence": false`: a refusal by the HTTP parser itself (status line only) is enough.
"""

from __future__ import annotations

import base64
import glob
import json
import os

from shunter_harness import Broker, plain_buffer, sha256

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


class CaseContext:
    def __init__(self, broker: Broker, tokens: dict[str, str]):
        self.broker = broker
        self.tokens = tokens

    def substitute(self, text: str) -> str:
        for key, value in self.tokens.items():
            text = text.replace("{" + key + "}", value)
        return text

    def materialize(self, value):
        if isinstance(value, str):
            return self.substitute(value)
        if isinstance(value, list):
            return [self.materialize(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "$buffer":
                return self.broker.upload(self.materialize(argument).encode())
            if key == "$checksum_of":
                return sha256(self.materialize(argument).encode())
            if key == "$plain":
                return self.broker.upload(plain_buffer(self.materialize(argument)))
            if key == "$float":
                return float(argument)
            if key == "$string":
                text, count = argument
                return self.substitute(text) * count
            if key == "$concat":
                return "".join(self.materialize(part) for part in argument)
            if key == "$list":
                item, count = argument
                item = self.materialize(item)
                return [item] * count
            if key == "$dict":
                prefix, count, item = argument
                item = self.materialize(item)
                return {f"{prefix}{index}": item for index in range(count)}
            if key == "$bash":
                return self.bash(self.materialize(argument))
        return {self.substitute(key): self.materialize(item) for key, item in value.items()}

    def bash(self, spec: dict) -> dict:
        tf: dict = {
            "__language__": "bash",
            "__output__": spec.get("output", ["result", "bytes", None]),
            "code": ["text", None, self.broker.upload(spec.get("code", "printf ok > RESULT\n").encode())],
        }
        if spec.get("nonce", True):
            # The case's own token, so that no two cases share a transformation (and a cached
            # result): `__meta__` and `__env__` are not part of its identity.
            tf["nonce"] = ["text", None, self.broker.upload((self.tokens.get("escape", "") + "\n").encode())]
        for name, (celltype, text) in spec.get("pins", {}).items():
            tf[name] = [celltype, None, self.broker.upload(text.encode())]
        tf.update(spec.get("extra", {}))
        for name in spec.get("drop", []):
            tf.pop(name, None)
        return tf

    def body(self, request: dict) -> bytes | None:
        if "json" in request:
            return json.dumps(self.materialize(request["json"]), allow_nan=True, ensure_ascii=False).encode(
                "utf-8", errors="surrogatepass")
        if "text" in request:
            return self.materialize(request["text"]).encode("utf-8", errors="surrogatepass")
        if "base64" in request:
            return base64.b64decode(request["base64"])
        return None


def load_cases(kind: str = "http") -> list[tuple[str, dict]]:
    cases = []
    for path in sorted(glob.glob(os.path.join(CORPUS, kind, "*.json"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
        names = set()
        for case in document["cases"]:
            name = case["name"]
            assert name not in names, f"{path}: two cases named {name}"
            names.add(name)
            cases.append((f"{stem}/{name}", case))
    return cases
