"""The conformance cases: transformations built with the real Seamless client API.

Each case is a function that builds one (not yet computed) Seamless Transformation. The
runner (runner.py) computes every case once with Seamless itself in the client process and
once delegated to Shunter; test_conformance.py requires identical result checksums, or, for a
case declared failing, that both fail with the declared markers in their error text.

Values are deterministic (fixed seeds) so both runs build the very same transformation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

CASES: dict[str, "Case"] = {}


@dataclass
class Case:
    name: str
    build: Callable
    # For a failing case: substrings both runs' error texts must contain.
    fails: list[str] | None = None
    language: str = "bash"
    tags: list[str] = field(default_factory=list)


def case(*, fails=None, language="bash", tags=()):
    def register(fn):
        name = fn.__name__
        assert name not in CASES, name
        CASES[name] = Case(name, fn, fails=list(fails) if fails is not None else None,
                           language=language, tags=list(tags))
        return fn

    return register


# Bash transformations ---------------------------------------------------------------------


def bash(code, result, **pins):
    """`delayed(code, language="bash")` with celltypes {pin: celltype} and values."""
    from seamless.transformer import delayed

    t = delayed(code, language="bash")
    for name, (celltype, _value) in pins.items():
        t.celltypes[name] = celltype
    t.celltypes.result = result
    return t(**{name: value for name, (_celltype, value) in pins.items()})


def stored(value, celltype=None):
    """The hex checksum of value as a buffer of celltype, kept available for the run."""
    from seamless import Buffer

    buffer = Buffer(value, celltype)
    buffer.tempref()
    return buffer.get_checksum().hex()


def big_bytes(size=50_000_000, seed=1):
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8).tobytes()


@case()
def bash_int_in_int_out():
    return bash("echo $(( a * 2 + 1 )) > RESULT", "int", a=("int", 20))


@case()
def bash_float_in_text_out():
    return bash("cat a b > RESULT; echo $a,$b >> RESULT", "text", a=("float", 1e16), b=("float", 12.0))


@case()
def bash_bool_in_text_out():
    return bash("echo \"$t $f\" > RESULT", "text", t=("bool", True), f=("bool", False))


@case()
def bash_str_in_str_out():
    return bash("echo \"<$s>\" > RESULT", "str", s=("str", "héllo wörld"))


@case()
def bash_text_in_text_out():
    return bash("tac t > RESULT", "text", t=("text", "line one\nline two\n\n\nline three\n\n"))


@case()
def bash_plain_in_text_out():
    return bash("cat p > RESULT", "text", p=("plain", {"b": 1, "a": [1, 2.5, None, True], "c": "ü"}))


@case()
def bash_plain_in_plain_out():
    return bash("cat p > RESULT", "plain", p=("plain", {"z": {"y": [1, 2, 3]}, "a": "x"}))


@case()
def bash_mixed_list_in():
    return bash("cat m > RESULT", "mixed", m=("mixed", [1, "two", 3.5, {"four": 4}]))


@case()
def bash_mixed_numpy_in_bytes_out():
    import numpy as np

    arr = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 7
    return bash("cat m > RESULT", "bytes", m=("mixed", arr))


@case()
def bash_mixed_numpy_in_mixed_out():
    import numpy as np

    arr = (np.arange(30, dtype=np.int32) - 15).reshape(5, 6)
    return bash("cp m RESULT", "mixed", m=("mixed", arr))


@case()
def bash_binary_in_binary_out():
    import numpy as np

    arr = np.linspace(0, 1, 17, dtype=np.float32)
    return bash("cp b RESULT", "binary", b=("binary", arr))


@case()
def bash_binary_uint8_in_bytes_out():
    import numpy as np

    arr = np.arange(256, dtype=np.uint8)
    return bash("cat b > RESULT", "bytes", b=("binary", arr))


@case()
def bash_bytes_in_bytes_out():
    return bash("cat b b > RESULT", "bytes", b=("bytes", bytes(range(256)) * 3))


@case()
def bash_checksum_in_text_out():
    return bash("cat c > RESULT", "text", c=("checksum", stored([1, {"a": "b"}], "plain")))


@case()
def bash_deepfolder_in():
    folder = {"x.txt": stored(b"hello\n"), "sub/y.dat": stored(b"world"), "sub/z": stored(bytes(range(10)))}
    return bash("find d -type f | sort > RESULT; cat d/x.txt d/sub/y.dat >> RESULT; echo $d >> RESULT", "text",
                d=("deepfolder", folder))


@case()
def bash_folder_in():
    folder = {"a.txt": stored(b"A\n"), "deeper/b.txt": stored("bé\n".encode())}
    return bash("find f -type f | sort > RESULT; cat f/deeper/b.txt >> RESULT", "text", f=("folder", folder))


@case(fails=[])
def bash_deepcell_in_fails():
    # Seamless's bash runner cannot write a deepcell (a dict of checksums) to a file: both fail.
    return bash("cat d > RESULT", "text", d=("deepcell", {"x": stored(1, "mixed"), "y": stored([2, 3], "mixed")}))


@case()
def bash_ipython_in():
    return bash("cat code2 > RESULT", "text", code2=("ipython", "x = 2\nprint(x)\n"))


@case()
def bash_text_out_from_json():
    return bash("echo '{\"b\": 1, \"a\": [1, 2]}' > RESULT", "text")


@case()
def bash_int_out_from_float_text():
    return bash("echo 3.7 > RESULT", "int")


@case()
def bash_float_out():
    return bash("echo '1e-7' > RESULT", "float")


@case()
def bash_bool_out():
    return bash("echo true > RESULT", "bool")


@case()
def bash_str_out_plain_text():
    return bash("printf 'no newline at the end' > RESULT", "str")


@case()
def bash_bytes_out_not_utf8():
    return bash("printf '\\xff\\xfe\\x00binary\\x80' > RESULT", "bytes")


@case()
def bash_mixed_out_not_utf8():
    # Not UTF-8 and not .npy: Seamless makes a uint8 array, saved as .npy.
    return bash("printf '\\xff\\xfe\\x00\\x80' > RESULT", "mixed")


@case()
def bash_mixed_out_text():
    return bash("echo 'café au lait' > RESULT", "mixed")


@case()
def bash_plain_out_nan():
    return bash("echo '[NaN, 1.5, 1e400]' > RESULT", "plain")


@case()
def bash_result_directory_plain():
    code = "mkdir -p RESULT/sub; echo 1 > RESULT/a; echo '[1,2]' > RESULT/b; echo hi > RESULT/sub/c; echo '{\"k\": null}' > RESULT/d"
    return bash(code, "plain")


@case()
def bash_result_directory_mixed():
    code = "mkdir -p RESULT/x/y; echo 'ünï' > RESULT/x/y/deep.txt; echo 2.5 > RESULT/top"
    return bash(code, "mixed")


@case()
def bash_unicode_code_and_values():
    return bash("echo \"héllo → $name ✓ 🎉\" > RESULT; cat name >> RESULT", "text", name=("str", "wörld ñ 中文 😀"))


@case()
def bash_unicode_pin_name():
    return bash("cat ünï > RESULT", "text", ünï=("text", "value of a pin with a non-ASCII name"))


@case()
def bash_long_text_no_variable():
    # Over 1000 characters: a file but no environment variable.
    return bash("wc -c < t > RESULT; echo ${t:-unset} >> RESULT", "text", t=("text", "x" * 1500))


@case()
def bash_several_pins_sorted():
    return bash("echo $a $b $c > RESULT; ls > /dev/stderr", "text", c=("int", 3), a=("str", "first"), b=("float", 2.5))


@case(tags=["large"])
def bash_large_input_50mb():
    return bash("wc -c < big > RESULT; sha256sum big | cut -c1-64 >> RESULT", "text", big=("bytes", big_bytes()))


@case(tags=["large"])
def bash_large_output_60mb():
    return bash("head -c 60000000 /dev/zero | tr '\\0' 'x' > RESULT", "bytes")


@case(fails=["Return code 7"])
def bash_fails_nonzero_exit():
    return bash("echo to-stdout; echo 'to-stderr ünï' >&2; exit 7", "text")


@case(fails=["RESULT does not exist"])
def bash_fails_missing_result():
    return bash("echo nothing written", "text")


@case(fails=["RESULT is empty"])
def bash_fails_empty_result_directory():
    return bash("mkdir RESULT", "plain")


@case(fails=["Return code 1"])
def bash_fails_unbound_variable_is_error():
    # set -u -e: an unset variable stops the script.
    return bash("echo $undefined_variable > RESULT", "text")


@case(fails=[])
def bash_fails_int_out_not_a_number():
    return bash("echo hello > RESULT", "int")


@case(fails=[])
def bash_fails_empty_result_file():
    return bash("touch RESULT", "int")


# Python transformations -------------------------------------------------------------------


def python(func, result, celltypes=None, *args, **kwargs):
    from seamless.transformer import delayed

    t = delayed(func)
    for name, celltype in (celltypes or {}).items():
        t.celltypes[name] = celltype
    t.celltypes.result = result
    return t(*args, **kwargs)


@case(language="python")
def py_add_ints():
    def add(a, b):
        return a + b

    return python(add, "int", {"a": "int", "b": "int"}, 20, 22)


@case(language="python")
def py_default_celltypes_mixed():
    def combine(a, b):
        return {"sum": a + b, "list": [a, b], "text": "ok"}

    return python(combine, "mixed", None, 1.5, 2)


@case(language="python")
def py_float_out():
    def third(x):
        return x / 3

    return python(third, "float", {"x": "float"}, 1.0)


@case(language="python")
def py_bool_out():
    def nonempty(s):
        return len(s) > 0

    return python(nonempty, "bool", {"s": "str"}, "x")


@case(language="python")
def py_str_unicode():
    def greet(name):
        return "héllo " + name + " ✓ 🎉"

    return python(greet, "str", {"name": "str"}, "wörld 中文")


@case(language="python")
def py_text_out():
    def lines(n):
        return "\n".join(f"line {i}" for i in range(n)) + "\n\n"

    return python(lines, "text", {"n": "int"}, 5)


@case(language="python")
def py_plain_dict_out():
    def table(n):
        return {"squares": [i * i for i in range(n)], "name": "squares", "nan": float("nan")}

    return python(table, "plain", {"n": "int"}, 6)


@case(language="python")
def py_bytes_out():
    def raw(n):
        return bytes(range(n))

    return python(raw, "bytes", {"n": "int"}, 200)


@case(language="python")
def py_int_out_converted():
    def f(x):
        return x * 2.9

    return python(f, "int", {"x": "float"}, 1.5)


@case(language="python")
def py_numpy_array_out():
    def grid(n):
        import numpy as np

        return np.arange(n * n, dtype=np.float64).reshape(n, n) / 3

    return python(grid, "mixed", {"n": "int"}, 4)


@case(language="python")
def py_numpy_in_binary_out():
    import numpy as np

    def scale(arr, k):
        return arr * k

    return python(scale, "binary", {"arr": "binary", "k": "int"}, np.arange(10, dtype=np.int16), 3)


@case(language="python")
def py_all_input_celltypes():
    import numpy as np

    def describe(t, p, m, s, i, f, b, by, bi, c):
        return {
            "t": t, "p": p, "m": list(m) if hasattr(m, "tolist") else m, "s": s, "i": i, "f": f, "b": b,
            "by": len(by), "bi": int(bi.sum()), "c": c,
        }

    celltypes = {"t": "text", "p": "plain", "m": "mixed", "s": "str", "i": "int", "f": "float", "b": "bool",
                 "by": "bytes", "bi": "binary", "c": "checksum"}
    return python(describe, "plain", celltypes, "text ü", {"a": [1]}, [1, 2], "s", 7, 0.5, True,
                  b"\x00\x01", np.arange(5, dtype=np.int64), stored({"q": 1}, "plain"))


@case(language="python")
def py_code_with_unicode():
    def f(x):
        # Ünïcødé in the code itself: ✓
        names = {"ä": 1, "ß": 2, "😀": 3}
        return sum(names.values()) + x

    return python(f, "int", {"x": "int"}, 4)


@case(language="python")
def py_string_code_globals():
    # Code as a string: the pins are globals, `result` is the result variable.
    from seamless.transformer import delayed

    t = delayed("result = a * b + len(name)", language="python")
    t.celltypes.a = "int"
    t.celltypes.b = "int"
    t.celltypes.name = "str"
    t.celltypes.result = "int"
    return t(a=6, b=7, name="abc")


@case(language="python", tags=["large"])
def py_large_input_50mb():
    def digest(data):
        import hashlib

        content = getattr(data, "content", data)  # Seamless passes a bytes pin as a Buffer
        return [len(content), hashlib.sha256(content).hexdigest()]

    return python(digest, "plain", {"data": "bytes"}, big_bytes(seed=2))


@case(language="python")
def py_bytes_pin_type():
    def kind(data):
        return type(data).__name__ + " " + str(len(data))

    return python(kind, "str", {"data": "bytes"}, b"abc" * 10)


@case(language="python", fails=["ZeroDivisionError"])
def py_fails_exception():
    def boom(x):
        return x / 0

    return python(boom, "float", {"x": "int"}, 1)


@case(language="python", fails=["ValueError", "bad ünïcode value"])
def py_fails_raise_unicode():
    def boom(x):
        raise ValueError(f"bad ünïcode value {x}")

    return python(boom, "int", {"x": "int"}, 1)


@case(language="python", fails=["Result is empty"])
def py_fails_returns_none():
    def nothing(x):
        return None

    return python(nothing, "int", {"x": "int"}, 1)
