"""The Python transformations the Python scenarios submit, built as the Seamless client builds
them: the client's own request for `delayed(f)` is captured once per kind (its
`transformation_dict`, `tf_checksum`, `tf_dunder`), then each job changes only the input pin `a`
and gets its checksum from Seamless's own `tf_get_buffer`, so every request is one a real
client would send and every job is distinct.

- trivial: `def f(a): return a * 3 + 1`, `a` an int, result int;
- numpy: `def f(a): return a * 2 + 1`, `a` a float64 array of 1 000 elements (celltype
  binary, `.npy`), result binary."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import numpy as np
from seamless import Buffer, Checksum
from seamless_transformer import delayed
from seamless_transformer import transformation_cache
from seamless_transformer.transformation_utils import tf_get_buffer


def trivial(a):
    return a * 3 + 1


def numpy_double(a):
    return a * 2 + 1


@dataclass(frozen=True)
class PythonJob:
    tf_checksum: str
    body: bytes              # the /run-transformation request body
    input_buffer: bytes      # the buffer of pin `a`
    expected_result: str     # the result checksum Seamless computes
    request: dict            # transformation_dict, tf_checksum, tf_dunder (the floor runs it)


_templates: dict[str, tuple[dict, list[bytes]]] = {}


def _capture(kind: str) -> tuple[dict, list[bytes]]:
    """The client's request for one job of `kind`, and the buffers besides `a` (the code)."""
    if kind in _templates:
        return _templates[kind]
    captured = []
    original = transformation_cache.TransformationCache._run_uncached

    async def capturing(self, transformation_dict, **kwargs):
        captured.append({"transformation_dict": json.loads(json.dumps(transformation_dict)),
                         "tf_checksum": Checksum(kwargs["tf_checksum"]).hex(),
                         "tf_dunder": json.loads(json.dumps(kwargs["tf_dunder"]))})
        return await original(self, transformation_dict, **kwargs)

    def compute():
        if kind == "trivial":
            t = delayed(trivial)
            t.celltypes.a, t.celltypes.result = "int", "int"
            t(-1).compute()
        else:
            t = delayed(numpy_double)
            t.celltypes.a, t.celltypes.result = "binary", "binary"
            t(np.arange(3, dtype=np.float64)).compute()
        code = captured[-1]["transformation_dict"]["code"][2]
        captured.append(Checksum(code).resolve().content)

    transformation_cache.TransformationCache._run_uncached = capturing
    try:
        # compute() blocks, which Seamless refuses inside a running event loop (the bench's).
        thread = threading.Thread(target=compute)
        thread.start()
        thread.join()
    finally:
        transformation_cache.TransformationCache._run_uncached = original
    if len(captured) < 2:
        raise RuntimeError(f"the Seamless client sent no request for the {kind} transformation")
    request, code = captured[-2], captured[-1]
    _templates[kind] = (request, [code])
    return _templates[kind]


def code_buffers(kind: str) -> list[bytes]:
    return _capture(kind)[1]


def python_job(kind: str, value: int) -> PythonJob:
    template, _ = _capture(kind)
    if kind == "trivial":
        a, result, celltype = value, trivial(value), "int"
    else:
        a = np.arange(1000, dtype=np.float64) + value
        result, celltype = numpy_double(a), "binary"
    a_buffer = Buffer(a, celltype)
    dict_ = json.loads(json.dumps(template["transformation_dict"]))
    dict_["a"] = [celltype, None, a_buffer.get_checksum().hex()]
    tf = tf_get_buffer(dict_).get_checksum().hex()
    request = {"transformation_dict": dict_, "tf_checksum": tf, "tf_dunder": template["tf_dunder"]}
    body = json.dumps(dict(request, scratch=False, strict_dunder=False, record=False)).encode()
    expected = Buffer(result, celltype).get_checksum().hex()
    return PythonJob(tf, body, a_buffer.content, expected, request)


def python_jobs(kind: str, first: int, count: int) -> list[PythonJob]:
    return [python_job(kind, v) for v in range(first, first + count)]
