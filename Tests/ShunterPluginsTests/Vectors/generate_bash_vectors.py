"""Runs bash transformations through the real Seamless (in-process, as its worker does for a
jobserver request) and writes BashVectors.swift: each case's input buffers, code, output
celltype and what Seamless answered (the result checksum, or the exact error text).

Regenerate:  .venv-seamless/bin/python Tests/ShunterPluginsTests/Vectors/generate_bash_vectors.py
"""

import os
import sys

import numpy as np
from seamless import Buffer, Checksum
from seamless_transformer.worker import _execute_transformation_request

HERE = os.path.dirname(os.path.abspath(__file__))


def buf(value, celltype):
    b = Buffer(value, celltype)
    b.tempref()
    return b


U = "h\u00e9llo \u2713 \u65e5\u672c"
CASES = [
    # name, code, pins [(name, celltype, value)], output celltype, extra dict keys
    ("intPinFileAndVariable", 'echo "[$a]" > RESULT; cat a >> RESULT', [("a", "int", 42)], "bytes", {}),
    ("floatPins", 'cat b c d > RESULT; echo "$b $c $d" >> RESULT',
     [("b", "float", 1.5), ("c", "float", 1e16), ("d", "float", 3.0)], "bytes", {}),
    ("strPin", 'cat s > RESULT; echo "[$s]" >> RESULT', [("s", "str", "hello world")], "bytes", {}),
    ("textPinTrailingNewlines", "cat t > RESULT; printf '%s|' \"$t\" >> RESULT",
     [("t", "text", "line1\nline2\n\n")], "bytes", {}),
    ("bytesPinNoVariable", 'cat data > RESULT; echo "${data:-unset}" >> RESULT',
     [("data", "bytes", b"\x00\x01\xffraw")], "bytes", {}),
    ("plainDictPin", 'cat p > RESULT; echo "${p:-unset}" >> RESULT',
     [("p", "plain", {"b": [1, 2.5, "x"], "a": None, "\u00e9": "\u00fc"})], "bytes", {}),
    ("plainStringPin", 'cat p > RESULT; echo "[$p]" >> RESULT', [("p", "plain", "hi there")], "bytes", {}),
    ("mixedPlainPin", 'cat m > RESULT; echo "${m:-unset}" >> RESULT', [("m", "mixed", {"k": [True, False, None]})], "bytes", {}),
    ("boolPin", 'cat flag > RESULT; echo "[$flag]" >> RESULT', [("flag", "bool", True)], "bytes", {}),
    ("unicodeTextPin", 'cat u > RESULT; echo "[$u]" >> RESULT', [("u", "text", U)], "text", {}),
    ("dottedPinIsFileOnly", 'cat data.txt > RESULT; set | grep -c "^data" >> RESULT || true',
     [("data.txt", "text", "content")], "bytes", {}),
    ("variableLengthLimit", 'echo "${long999:-unset}" | wc -c > RESULT; echo "${long1000:-unset}" | wc -c >> RESULT',
     [("long999", "str", "x" * 999), ("long1000", "str", "y" * 1000)], "bytes", {}),
    ("pinInSubdirectory", "cat sub/file > RESULT", [("sub/file", "text", "nested")], "bytes", {}),
    ("renamedPin", 'cat y > RESULT; echo "$y" >> RESULT', [("x", "int", 7)], "bytes", {"__as__": {"x": "y"}}),
    ("transformScript", "cat transform.sh > RESULT",
     [("a", "int", 42), ("s", "str", "it's a test"), ("data.txt", "text", "t")], "bytes", {}),
    ("listing", "ls > RESULT", [("a", "int", 1), ("b", "text", "b")], "bytes", {}),
    ("binaryUint8Pin", "cat arr > RESULT", [("arr", "binary", np.arange(5, dtype=np.uint8))], "bytes", {}),
    ("binaryFloatPin", "cat arr > RESULT", [("arr", "binary", np.arange(3, dtype=np.float64))], "bytes", {}),
    ("resultInt", "echo 42 > RESULT", [], "int", {}),
    ("resultFloat", "echo 2.50 > RESULT", [], "float", {}),
    ("resultText", "echo hello > RESULT", [], "text", {}),
    ("resultStr", "printf hello > RESULT", [], "str", {}),
    ("resultPlain", "echo '{\"x\": [1, 2], \"a\": \"b\"}' > RESULT", [], "plain", {}),
    ("resultMixed", "echo '[1,2,3]' > RESULT", [], "mixed", {}),
    ("resultUnicodeText", 'echo "$u" > RESULT', [("u", "text", U)], "text", {}),
    ("resultDirectoryPlain",
     "mkdir -p RESULT/sub; echo 42 > RESULT/b; echo hello > RESULT/a; printf '[1,2]' > RESULT/sub/c", [], "plain", {}),
    ("resultDirectoryMixed",
     'mkdir RESULT; echo "$u" > RESULT/u; echo 1.5 > RESULT/f; echo null > RESULT/n', [("u", "text", U)], "mixed", {}),
    ("nonZeroExit", "echo hi; echo; echo '  '; echo \u00e9rr >&2; echo more; exit 3", [], "int", {}),
    ("undefinedVariable", "echo $undefined_var > RESULT", [], "int", {}),
    ("missingResult", "echo ok; echo warn >&2", [], "int", {}),
    ("emptyResultFolder", "mkdir RESULT", [], "int", {}),
    ("failingCommand", "false; echo never > RESULT", [], "int", {}),
    ("killedBySignal", "echo before; kill -9 $$", [], "int", {}),
    ("nonUtf8Output", "printf 'ok\\xff\\n'; printf '\\xfe err\\n' >&2; exit 2", [], "int", {}),
]


def run_case(code, pins, outcelltype, extra):
    d = {"__language__": "bash", "__output__": ["result", outcelltype, None]}
    d["code"] = ["text", None, buf(code, "text").get_checksum().hex()]
    inputs = []
    for name, celltype, value in pins:
        b = buf(value, celltype)
        d[name] = [celltype, None, b.get_checksum().hex()]
        inputs.append((name, celltype, b.content))
    d.update(extra)
    tf_checksum = buf(d, "plain").get_checksum()
    answer = _execute_transformation_request({"tf_checksum": tf_checksum.hex(), "transformation_dict": d})
    try:
        result = Checksum(answer)
        return inputs, ("result", result.hex(), result.resolve().content)
    except Exception:
        return inputs, ("error", answer, None)


def swift_string(text):
    out = ['"']
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def swift_bytes(data):
    return "hex: " + swift_string(data.hex())


def main():
    lines = [
        "// Generated by Vectors/generate_bash_vectors.py from the real Seamless; do not edit.",
        "",
        "struct BashVector {",
        "    struct Pin { var name: String; var celltype: String; var buffer: [UInt8] }",
        "    enum Expected { case result(checksum: String, buffer: [UInt8]); case error(String) }",
        "    var name: String",
        "    var code: String",
        "    var pins: [Pin]",
        "    var output: String",
        "    var renames: [String: String]",
        "    var expected: Expected",
        "}",
        "",
        "let bashVectors: [BashVector] = [",
    ]
    for name, code, pins, outcelltype, extra in CASES:
        inputs, (kind, value, content) = run_case(code, pins, outcelltype, extra)
        pin_text = ", ".join(
            "BashVector.Pin(name: %s, celltype: %s, buffer: bytes(%s))" % (swift_string(n), swift_string(c), swift_bytes(b))
            for n, c, b in inputs
        )
        renames = extra.get("__as__", {})
        renames_text = "[" + ", ".join("%s: %s" % (swift_string(k), swift_string(v)) for k, v in renames.items()) + "]"
        if not renames:
            renames_text = "[:]"
        if kind == "result":
            expected = ".result(checksum: %s, buffer: bytes(%s))" % (swift_string(value), swift_bytes(content))
        else:
            expected = ".error(%s)" % swift_string(value)
        lines.append(
            "    BashVector(name: %s, code: %s, pins: [%s], output: %s, renames: %s,\n               expected: %s),"
            % (swift_string(name), swift_string(code), pin_text, swift_string(outcelltype), renames_text, expected)
        )
        print(name, kind, (value if kind == "result" else value.splitlines()[4] if len(value.splitlines()) > 4 else value)[:100], file=sys.stderr)
    lines.append("]")
    lines.append("")
    with open(os.path.join(HERE, "..", "BashVectors.swift"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
