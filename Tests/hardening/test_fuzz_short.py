"""A short run of the atheris fuzz harness (fuzz_broker.py): SHUNTER_FUZZ_RUNS inputs
(default 1500) against a real broker and `shunter check`. The long run is in
docs/reliability.md."""

from __future__ import annotations

import glob
import os
import random
import secrets
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SEED_INPUTS = 200


def test_fuzz_parsers_short_run(binary):
    runs = os.environ.get("SHUNTER_FUZZ_RUNS", "1500")
    # A CI run is reproducible (a fixed seed: the same commit passes or fails the same way);
    # a developer's run explores a new part of the input space each time. Both print the seed.
    fixed = "20261203" if os.environ.get("CI") == "true" else None
    seed = os.environ.get("SHUNTER_FUZZ_SEED") or fixed or str(secrets.randbelow(2**31))
    with tempfile.TemporaryDirectory(prefix="shunter-fuzz-") as directory:
        # Random seed inputs of a few hundred bytes: libFuzzer's own start (empty and one-byte
        # inputs) would spend a short run on the harness's defaults.
        corpus = os.path.join(directory, "corpus")
        os.makedirs(corpus)
        chance = random.Random(int(seed))
        for index in range(SEED_INPUTS):
            with open(os.path.join(corpus, f"seed-{index}"), "wb") as stream:
                stream.write(bytes(chance.getrandbits(8) for _ in range(chance.randint(16, 600))))
        completed = subprocess.run(
            [sys.executable, os.path.join(HERE, "fuzz_broker.py"), f"-runs={runs}", f"-seed={seed}", corpus],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=directory, timeout=3600,
            # The fuzzer's broker root and check directory go in here too: a finding ends the
            # fuzzer without its clean-up.
            env={**os.environ, "SHUNTER_BIN": binary, "TMPDIR": directory})
        output = completed.stdout.decode("utf-8", errors="replace")
        crashes = glob.glob(os.path.join(directory, "crash-*"))
        found = ""
        for crash in crashes:
            with open(crash, "rb") as stream:
                found += f"\n{os.path.basename(crash)} (replay: fuzz_broker.py FILE): {stream.read()[:2000]!r}"
        assert completed.returncode == 0 and not crashes, (
            f"fuzz_broker.py -runs={runs} -seed={seed} exited {completed.returncode}:{found}\n{output[-8000:]}")
        assert f"Done {runs} runs" in output, f"the fuzzer did not complete its runs:\n{output[-4000:]}"
