#!/usr/bin/env python3
"""Every module a target imports is one it declares in Package.swift.

SwiftPM's `--explicit-target-dependency-import-check` accepts a module reached through any
dependency of a dependency; this check wants each import declared by the target itself, so
that a module's dependencies are read from Package.swift, not discovered by building.
Run from the package root; exits 1 with one line per undeclared import.
"""
import json
import os
import re
import subprocess
import sys

# Modules of the toolchain and the platform, which no package declares.
SYSTEM = {
    "Foundation", "FoundationEssentials", "FoundationNetworking", "Glibc", "Musl", "Darwin",
    "Dispatch", "Synchronization", "Testing", "XCTest", "_Concurrency", "os", "Android",
}
# Modules a target may import without declaring them, each with the reason.
EXCEPTIONS = {
    # Yams vendors libyaml as a target of its own, not as a product a package can declare;
    # the alias scan reads libyaml's events before Yams composes a document
    # (Sources/ShunterHandlers/YAMLAliasScan.swift, docs/security.md).
    ("ShunterHandlers", "CYaml"),
}
IMPORT = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:public\s+|package\s+|internal\s+)?import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)")


def main() -> int:
    package = json.loads(subprocess.run(
        ["swift", "package", "dump-package"], check=True, capture_output=True, text=True).stdout)
    problems = []
    for target in package["targets"]:
        declared = set()
        for dependency in target.get("dependencies", []):
            for kind in ("byName", "target", "product"):
                if kind in dependency:
                    declared.add(dependency[kind][0])
        path = target.get("path") or os.path.join(
            "Tests" if target["type"] == "test" else "Sources", target["name"])
        for directory, _, files in os.walk(path):
            for name in sorted(files):
                if not name.endswith(".swift"):
                    continue
                file = os.path.join(directory, name)
                with open(file, encoding="utf-8") as handle:
                    in_text = False
                    for number, line in enumerate(handle, 1):
                        # Lines inside a multi-line string literal (embedded Python) are text.
                        if line.count('"""') % 2 == 1:
                            in_text = not in_text
                            continue
                        if in_text:
                            continue
                        match = IMPORT.match(line)
                        if not match:
                            continue
                        module = match.group(1)
                        if module in SYSTEM or module in declared or module == target["name"] \
                                or (target["name"], module) in EXCEPTIONS:
                            continue
                        problems.append(
                            f"{file}:{number}: target {target['name']} imports {module} "
                            f"without declaring it in Package.swift")
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} undeclared import(s): add each module to its target's dependencies")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
