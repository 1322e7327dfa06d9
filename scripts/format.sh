#!/usr/bin/env bash
# Formats the Swift sources with the toolchain's swift-format and the repository's
# .swift-format, or with --check lists the files whose formatting differs and fails.
#   scripts/format.sh           # rewrite in place
#   scripts/format.sh --check   # CI: change nothing, exit 1 if a file is not formatted
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if ! swift format --version >/dev/null 2>&1; then
    echo "format.sh: 'swift format' is missing: it comes with Swift 6 toolchains (https://www.swift.org/install/)" >&2
    exit 2
fi
mapfile -t files < <(git ls-files '*.swift' | grep -v '^Fuzz/Sources/Shunter[A-Z]')
if [ "${1:-}" != "--check" ]; then
    swift format format --in-place --parallel --configuration .swift-format "${files[@]}"
    exit 0
fi
# lint reports every place where the formatter's output would differ (and the rules of
# .swift-format that are on), as file:line:column; --strict makes each one an error.
if ! swift format lint --strict --parallel --configuration .swift-format "${files[@]}"; then
    echo "format.sh: the files above differ from swift-format's output; run scripts/format.sh" >&2
    exit 1
fi
