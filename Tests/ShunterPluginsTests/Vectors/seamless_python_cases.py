"""Python transformations built with the real Seamless client, run by Seamless itself.

    .venv-seamless/bin/python seamless_python_cases.py OUTDIR [CASE ...]

For each case (all when none is named) this builds the transformation with the client API
(`seamless_transformer.delayed`), lets Seamless run it in this process (the client's own local
execution) and writes what a jobserver would receive and what Seamless got:

    OUTDIR/<case>/request.json   {"transformation_dict", "tf_checksum", "tf_dunder"}: the
                                 arguments of the client's jobserver request
    OUTDIR/<case>/buffers/<hex>  every buffer the transformation refers to
    OUTDIR/<case>/expected.json  {"result_checksum": hex} or, when Seamless failed,
                                 {"exception": the client's exception text,
                                  "jobserver_error": the text Seamless's jobserver worker
                                  (worker._execute_transformation_request) gives}

PythonPluginTests runs the same request through Shunter's python plugin and requires the
same result checksum (or the same error text). `--list` prints the case names.
"""

import json
import os
import sys

import numpy as np
import seamless
from seamless import Buffer, Checksum
from seamless_transformer import delayed
from seamless_transformer import transformation_cache
from seamless_transformer.worker import _execute_transformation_request

CASES = {}


def case(function):
    CASES[function.__name__] = function
    return function


def typed(function, celltypes):
    transformer = delayed(function)
    for name, celltype in celltypes.items():
        setattr(transformer.celltypes, name, celltype)
    return transformer


def typed_code(transformer, celltypes):
    """Code given as text has no signature: its pins are the declared celltypes."""
    for name, celltype in celltypes.items():
        setattr(transformer.celltypes, name, celltype)
    return transformer


@case
def int_inputs_int_result():
    def add(a, b):
        return a + b

    return typed(add, {"a": "int", "b": "int", "result": "int"})(2, 40)


@case
def float_result_of_int_conversion():
    def scale(a):
        return a * 2.75

    return typed(scale, {"a": "float", "result": "int"})(0.1)


@case
def float_inputs_float_result():
    def mean(a, b):
        return (a + b) / 3

    return typed(mean, {"a": "float", "b": "float", "result": "float"})(0.1, 1e-7)


@case
def str_inputs_str_result():
    def shout(a, b):
        return a.upper() + b * 3

    return typed(shout, {"a": "str", "b": "str", "result": "str"})("hello", "!")


@case
def bool_inputs_bool_result():
    def nand(a, b):
        return not (a and b)

    return typed(nand, {"a": "bool", "b": "bool", "result": "bool"})(True, True)


@case
def plain_inputs_plain_result():
    def merge(a, b):
        return {"z": a["x"] + b, "a": [1.5, None, 1e-7, 10**18], "nested": {"k": a}}

    return typed(merge, {"a": "plain", "b": "plain", "result": "plain"})({"x": [1, 2]}, [3])


@case
def mixed_by_default():
    def combine(a, b):
        return {"sum": a + b, "list": [a, b], "text": "café"}

    return delayed(combine)(2, 3.5)


@case
def text_inputs_text_result():
    def lines(a):
        return a + "\nsecond line\n\n\n"

    return typed(lines, {"a": "text", "result": "text"})("first line\n")


@case
def bytes_inputs_bytes_result():
    # A bytes pin reaches the code as a seamless.Buffer (Seamless's own quirk).
    def reverse(a):
        return a.content[::-1] + b"\x00\xff"

    return typed(reverse, {"a": "bytes", "result": "bytes"})(bytes(range(256)))


@case
def bytes_input_is_not_subscriptable():
    def first(a):
        return a[:1]

    return typed(first, {"a": "bytes", "result": "bytes"})(b"abc")


@case
def empty_bytes_result():
    def nothing(a):
        return b""

    return typed(nothing, {"a": "int", "result": "bytes"})(1)


@case
def numpy_arrays_mixed():
    def transpose(a):
        return a.T * 2.5

    return delayed(transpose)(np.arange(12, dtype=np.int32).reshape(3, 4))


@case
def numpy_arrays_binary():
    def halve(a):
        import numpy as np

        return (a / 2).astype(np.float32)

    return typed(halve, {"a": "binary", "result": "binary"})(np.linspace(0, 1, 7))


@case
def numpy_array_to_plain():
    def to_list(a):
        return a.sum(axis=0).tolist()

    return typed(to_list, {"result": "plain"})(np.arange(6, dtype=np.float64).reshape(2, 3))


@case
def numpy_array_to_text():
    # numpy's own text formatting, which only Python reproduces
    def show(a):
        return a / 3

    return typed(show, {"result": "text"})(np.arange(8, dtype=np.float64).reshape(2, 4))


@case
def checksum_input_and_result():
    # A checksum argument passes a buffer by its checksum (the pin is ("plain", "checksum"));
    # a checksum result is written as JSON text.
    def pick(a):
        return a["target"]

    pointed = Buffer({"target": "0" * 63 + "1"}, "plain")
    pointed.tempref()
    return typed(pick, {"a": "checksum", "result": "checksum"})(pointed.get_checksum().hex())


@case
def code_block_assigning_result():
    code = delayed("c = a * b\nresult = c + 1")
    return typed_code(code, {"a": "int", "b": "int", "result": "int"})(a=6, b=7)


@case
def code_expression():
    code = delayed("a * 10 + b")
    return typed_code(code, {"a": "mixed", "b": "mixed", "result": "mixed"})(a=4, b=2)


@case
def code_lambda():
    code = delayed("lambda a, b: a - b")
    return typed_code(code, {"a": "int", "b": "int", "result": "float"})(a=10, b=3)


@case
def unicode_values_and_code():
    def greet(name):
        # Grüße: ünïcödé in the code too ☃
        return f"Grüße, {name} ☃ 😀"

    return typed(greet, {"name": "str", "result": "text"})("wörld ñ")


@case
def globals_as_module():
    def times_k(a):
        return a * K  # noqa: F821 (K is a transformer global)

    transformer = delayed(times_k)
    transformer.globals.K = 7
    return transformer(6)


@case
def large_numpy_input():
    def total(a):
        return float(a.sum())

    array = np.arange(7_000_000, dtype=np.float64)  # 56 MB
    return typed(total, {"result": "float"})(array)


@case
def exception_with_output():
    def divide(a, b):
        import sys

        print("dividing", a, "by", b)
        print("an error line", file=sys.stderr)
        return a / b

    return delayed(divide)(2, 0)


@case
def missing_result_variable():
    code = delayed("x = a + 1")
    return typed_code(code, {"a": "int", "result": "int"})(a=1)


@case
def result_none():
    def nothing(a):
        return None

    return delayed(nothing)(1)


@case
def exception_in_code_block():
    code = delayed("if a > 0:\n    raise ValueError('trop grand ☃: ' + str(a))\nresult = a")
    return typed_code(code, {"a": "int", "result": "int"})(a=3)


@case
def unconvertible_result():
    def word(a):
        return "not a number"

    return typed(word, {"result": "int"})(1)


def capture_requests():
    """Keeps the arguments of every run the client makes (what a jobserver would receive)."""
    requests = []
    original = transformation_cache.TransformationCache._run_uncached

    async def capturing(self, transformation_dict, **kwargs):
        requests.append(
            {
                "transformation_dict": json.loads(json.dumps(transformation_dict)),
                "tf_checksum": Checksum(kwargs["tf_checksum"]).hex(),
                "tf_dunder": json.loads(json.dumps(kwargs["tf_dunder"])),
            }
        )
        return await original(self, transformation_dict, **kwargs)

    transformation_cache.TransformationCache._run_uncached = capturing
    return requests


def referenced_checksums(request):
    dict_ = request["transformation_dict"]
    found = set()
    for key, value in dict_.items():
        if key.startswith("__"):
            continue
        if isinstance(value, list) and len(value) == 3 and value[2]:
            found.add(value[2])
    for source in (dict_, request["tf_dunder"]):
        for key in ("__code_checksum__", "__env__"):
            if source.get(key):
                found.add(source[key])
    return sorted(found)


def write_case(outdir, name, requests):
    transformation = CASES[name]()
    transformation.compute()
    request = requests[-1]
    directory = os.path.join(outdir, name)
    os.makedirs(os.path.join(directory, "buffers"), exist_ok=True)
    with open(os.path.join(directory, "request.json"), "w") as f:
        json.dump(request, f, indent=1, ensure_ascii=False)
    for checksum in referenced_checksums(request):
        buffer = Checksum(checksum).resolve()
        with open(os.path.join(directory, "buffers", checksum), "wb") as f:
            f.write(buffer.content)
    if transformation.exception is None:
        expected = {"result_checksum": Checksum(transformation.result_checksum).hex()}
    else:
        jobserver_error = _execute_transformation_request(dict(request, scratch=False))
        assert isinstance(jobserver_error, str), (name, jobserver_error)
        expected = {"exception": transformation.exception, "jobserver_error": jobserver_error}
    with open(os.path.join(directory, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(CASES))
        return
    outdir, names = sys.argv[1], sys.argv[2:] or list(CASES)
    requests = capture_requests()
    for name in names:
        write_case(outdir, name, requests)
    seamless.close()


if __name__ == "__main__":
    main()
