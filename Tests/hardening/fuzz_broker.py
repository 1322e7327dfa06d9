#!/usr/bin/env python3
"""Fuzzing the broker's input parsers through the real binary, with atheris (libFuzzer for
Python) as the input generator:

- transformation dicts (POST /jobs): pins, celltypes, `__output__`, `__as__`, `__format__`,
  `__meta__` durations and sizes (walltime, memory, ncores, gpus) from fuzzed text and numbers;
- raw request bodies and query parameters (`/jobs/{id}/wait?timeout=`, `/jobs?limit=`);
- handler YAML (a valid handler with fuzzed values, or fuzzed text), through `shunter check`.

A finding is: the broker process died, answered a 5xx (on a route that never answers one for
bad input), showed a Swift dump, or `shunter check` ended by a signal, exited with a status
other than 0 or 2, or refused without naming the fuzzed file. atheris then stops and writes the
input as `crash-<sha1>` in the current directory; run the script with that file as its only
argument to replay it.

    .venv-seamless/bin/python Tests/hardening/fuzz_broker.py -runs=1500        # CI's short run
    .venv-seamless/bin/python Tests/hardening/fuzz_broker.py -max_total_time=3600 corpus-dir/

The coverage that guides atheris is this harness's own (which builder and branch an input
took), not the Swift code's: the broker is a separate process. That makes this a
structure-aware random search over the kinds of input the corpus names (docs/reliability.md).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from shunter_harness import Broker, HarnessError, excerpt, shunter_binary, shunter_environment, swift_dump

TRICKY_NUMBERS = [
    0, -1, 1, 2**31, 2**50, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**20, 10**30, -(2**63),
    1e16, 9.3e15, 1e19, 1e300, -1e300, 5e-324, 0.5, -0.0, 1.7976931348623157e308,
]
TRICKY_TEXT = [
    "", "0", "-1", "1e300", "inf", "-inf", "nan", "NaN", "Infinity", "1h", "99999999999999d",
    "999999999999999-00:00:00", "99999999999T", "1.5Q", "lots", "-5m", "00:00:-1", "1:2:3:4",
    "2-", "-", "1e16", "0x1p1023", "9" * 40, "1h30m", "01:30:00", "2-00:00:00", "4G", "500M",
    "1.5G", "1e300G", "..", "../../../x", "/etc/passwd", "a\u0000b", "\u00e9\u4e2d\U0001f600",
]
META_KEYS = ["walltime", "memory", "ncores", "cores", "gpus", "ngpus", "partition", "sbatch", "qos", "account"]
CELLTYPES = ["text", "bytes", "int", "float", "str", "plain", "mixed", "binary", "bool", "cson", "yaml",
             "python", "ipython", "checksum", "deepcell", "folder", "nonsense", "", 5, None]
HANDLER_TEMPLATE = """name: {name}
plugin: {plugin}
backend: {backend}
match: {{language: bash, image: {image}, environment: none}}
limits:
  max_jobs: {max_jobs}
  timeout: {timeout}
{section}
"""


class Target:
    """The broker under test, one finished job for the wait route, and the buffers every
    fuzzed transformation shares."""

    def __init__(self):
        self.broker = Broker().start()
        atexit.register(self.broker.remove)
        self.code = self.broker.upload(b"printf fuzz > RESULT\n")
        self.text = self.broker.upload(b"hello\n")
        self.directory = self.broker.upload(
            (json.dumps({"f.txt": self.text}, indent=2) + "\n").encode())
        answer = self.broker.submit({"transformation_dict": {
            "__language__": "bash", "__output__": ["result", "bytes", None], "code": ["text", None, self.code]}})
        self.job = self.broker.wait_job(answer.json()["id"])["id"]
        self.check_directory = tempfile.mkdtemp(prefix="shunter-fuzz-check-")
        atexit.register(shutil.rmtree, self.check_directory, True)
        with open(os.path.join(self.check_directory, "shunter.yaml"), "w") as stream:
            stream.write(f"root: {self.check_directory}\nlisten: 127.0.0.1:1\nhandlers: handlers\n"
                         "environments: {definitions: conda-envs, root: envs, managers: [venv]}\n")
        os.makedirs(os.path.join(self.check_directory, "handlers"))
        # A valid handler beside the fuzzed one, so that a fuzzed file without any handler is
        # judged on its own and not refused for leaving the broker without one.
        with open(os.path.join(self.check_directory, "handlers", "05-valid.yaml"), "w") as stream:
            stream.write("name: valid\nplugin: bash\nbackend: local\n")


TARGET: Target | None = None


def value(fdp: atheris.FuzzedDataProvider, depth: int = 0):
    """A JSON value: mostly the tricky ones, sometimes free-form."""
    kind = fdp.ConsumeIntInRange(0, 9 if depth < 3 else 6)
    if kind == 0:
        return fdp.PickValueInList(TRICKY_NUMBERS)
    if kind == 1:
        return fdp.PickValueInList(TRICKY_TEXT)
    if kind == 2:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
    if kind == 3:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 12))
    if kind == 4:
        return fdp.ConsumeRegularFloat()
    if kind == 5:
        return fdp.ConsumeBool()
    if kind == 6:
        return None
    if kind == 7:
        return [value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    if kind == 8:
        return {fdp.PickValueInList(META_KEYS + TRICKY_TEXT): value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 3))}
    return fdp.PickValueInList(TRICKY_TEXT) + fdp.PickValueInList(["s", "m", "h", "d", "G", "M", "T", ""])


def pin_name(fdp: atheris.FuzzedDataProvider) -> str:
    if fdp.ConsumeBool():
        return fdp.PickValueInList(["a", "b", "x_1", "..", ".", "../../../fuzz-escape", "/tmp/fuzz-escape",
                                    "sub/a", "a=b", "", "RESULT", "code", "__env__", "a\nb", "p" * 300])
    return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 24))


def transformation(fdp: atheris.FuzzedDataProvider, target: Target) -> dict:
    tf: dict = {"__language__": "bash", "__output__": ["result", "bytes", None], "code": ["text", None, target.code]}
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        choice = fdp.ConsumeIntInRange(0, 7)
        if choice == 0:
            tf[pin_name(fdp)] = [fdp.PickValueInList(CELLTYPES), None, fdp.PickValueInList([target.text, target.directory])]
        elif choice == 1:
            tf[pin_name(fdp)] = value(fdp)
        elif choice == 2:
            tf["__output__"] = [value(fdp) if fdp.ConsumeBool() else "result", fdp.PickValueInList(CELLTYPES), None][:fdp.ConsumeIntInRange(0, 3)]
        elif choice == 3:
            tf["__as__"] = {fdp.PickValueInList(["a", "d"]): pin_name(fdp) if fdp.ConsumeBool() else value(fdp)}
        elif choice == 4:
            name = pin_name(fdp)
            tf["d"] = ["plain", None, target.directory]
            tf["__format__"] = {name: {"filesystem": {"mode": "directory"}}}
            tf["__as__"] = {"d": name}
        elif choice == 5:
            tf["__language__"] = value(fdp) if fdp.ConsumeBool() else fdp.PickValueInList(["bash", "python", "cobol", ""])
        else:
            tf.setdefault("__meta__", {})[fdp.PickValueInList(META_KEYS)] = value(fdp)
    return tf


def expect_no_5xx(answer, what: str):
    if answer.status >= 500:
        raise AssertionError(f"{what}: answered {answer}")
    dump = swift_dump(answer.text)
    if dump:
        raise AssertionError(f"{what}: a Swift dump in the answer: {dump!r}")


def fuzz_transformation(fdp, target: Target):
    payload: dict = {"transformation_dict": transformation(fdp, target)}
    if fdp.ConsumeBool():
        payload["tf_dunder"] = {"__meta__": {fdp.PickValueInList(META_KEYS): value(fdp)}}
    body = json.dumps(payload, allow_nan=True).encode("utf-8", errors="surrogatepass")
    expect_no_5xx(target.broker.request("POST", "/jobs", body, timeout=60), f"POST /jobs {body[:600]!r}")


def fuzz_body(fdp, target: Target):
    body = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 2000))
    path = fdp.PickValueInList(["/jobs", "/has", "/buffer-length", "/"])
    method = "GET" if path in ("/has", "/buffer-length", "/") else "POST"
    expect_no_5xx(target.broker.request(method, path, body, timeout=60), f"{method} {path} {body[:600]!r}")


def fuzz_query(fdp, target: Target):
    text = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 30)) if fdp.ConsumeBool() else str(value(fdp))
    quoted = "".join(c if c.isalnum() or c in "-._~" else "".join(f"%{b:02X}" for b in c.encode()) for c in text)
    path = fdp.PickValueInList([
        f"/jobs/{target.job}/wait?timeout={quoted}", f"/jobs?limit={quoted}", f"/jobs?state={quoted}",
        f"/jobs?tf={quoted}", f"/jobs/{quoted}", f"/transformation-status/{quoted}",
    ])
    # A valid huge timeout on an ended job answers at once; a running one is never waited on.
    expect_no_5xx(target.broker.request("GET", path, timeout=60), f"GET {path}")


def fuzz_handler_yaml(fdp, target: Target):
    if fdp.ConsumeBool():
        section = fdp.PickValueInList([
            "", "slurm:\n  memory: {v}\n  walltime: {v}\n  cores: {v}\n", "docker:\n  network: {v}\n  memory: {v}\n  cpus: {v}\n",
            "bash:\n  pass_environment: {v}\n", "container-bash:\n  default_image: {v}\n  allowed_images: [{v}]\n",
        ])
        render = lambda: json.dumps(value(fdp), allow_nan=True) if fdp.ConsumeBool() else str(fdp.PickValueInList(TRICKY_TEXT))
        text = HANDLER_TEMPLATE.format(
            name=fdp.PickValueInList(["h", "bash-local", "../x", ""]),
            plugin=fdp.PickValueInList(["bash", "container-bash", "python", "nope"]),
            backend=fdp.PickValueInList(["local", "slurm", "docker", "apptainer", "nope"]),
            image=fdp.PickValueInList(["none", "any", '"*"']), max_jobs=render(), timeout=render(),
            section=section.replace("{v}", render()))
    else:
        text = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 3000))
    path = os.path.join(target.check_directory, "handlers", "10-fuzz.yaml")
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as stream:
        stream.write(text)
    completed = subprocess.run(
        [shunter_binary(), "check", "--config", os.path.join(target.check_directory, "shunter.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, cwd=target.check_directory,
        env=shunter_environment())
    output = completed.stdout.decode("utf-8", errors="replace")
    if completed.returncode not in (0, 2):
        raise AssertionError(f"shunter check exited {completed.returncode} on {text[:1500]!r}:\n{excerpt(output)}")
    # Whole-file errors (not UTF-8, no handler in it) name the file alone; the corpus holds
    # the cases whose errors must name a line and column.
    if completed.returncode == 2 and path not in output:
        raise AssertionError(f"shunter check refused without naming the file on {text[:1500]!r}:\n{excerpt(output)}")
    dump = swift_dump(output)
    if dump:
        raise AssertionError(f"shunter check shows a Swift dump ({dump!r}) on {text[:1500]!r}")


@atheris.instrument_func
def test_one_input(data: bytes):
    global TARGET
    if TARGET is None:
        TARGET = Target()
    fdp = atheris.FuzzedDataProvider(data)
    kind = fdp.ConsumeIntInRange(0, 9)
    try:
        if kind <= 4:
            fuzz_transformation(fdp, TARGET)
        elif kind <= 6:
            fuzz_query(fdp, TARGET)
        elif kind <= 8:
            fuzz_body(fdp, TARGET)
        else:
            fuzz_handler_yaml(fdp, TARGET)
    except OSError as error:
        raise AssertionError(f"no answer from the broker: {error!r}") from error
    if not TARGET.broker.alive():
        raise AssertionError(f"the broker died (exit {TARGET.broker.process.returncode})")
    if not TARGET.broker.healthy(timeout=60):
        raise AssertionError("the broker no longer answers /healthcheck")


def main():
    try:
        shunter_binary()
    except HarnessError as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
