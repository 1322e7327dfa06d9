"""Prints the Swift literal of PythonJSONTests.floatVectors: Python's repr of floats,
which json.dumps (and so seamless-database) writes. Run with any Python 3:
    python3 Tests/ShunterStoreTests/Vectors/generate_python_json.py
"""
values = [0.0, -0.0, 1.0, 1.5, -2.25, 0.1, 1e-4, 1e-5, 1.5e-7, 123456.789, 1e15, 1234567890123456.0,
          1e16, 1.2345678901234567e16, 1e22, 5e-324, 1.7976931348623157e308, 2.5e-5, 0.30000000000000004]
print("    static let floatVectors: [(Double, String)] = [")
for v in values:
    print(f"        ({v!r}, {repr(v)!r}),".replace("'", '"'))
print("    ]")
