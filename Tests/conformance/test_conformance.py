"""Every case twice: executed by Seamless itself in the client process, and delegated by the
unchanged client to Shunter (embedded deployment: Shunter alone on one port serves the
jobserver, buffer and database APIs). Result checksums must be identical; a failing case must
fail in both, and the client must show Shunter's own error text."""

from __future__ import annotations

import pytest

from cases import CASES
from conftest import remote_args, run_cases


@pytest.fixture(scope="session")
def both_runs(embedded, workspace, local_runs):
    return local_runs, run_cases("remote", workspace, extra=remote_args(embedded.url, embedded.url, embedded.url))


def compare(name, local, remote, shunter=None):
    """The conformance rule for one case; `shunter` (if given) is asked for its job records."""
    case = CASES[name]
    here, there = local[name], remote[name]
    assert here["tf"] == there["tf"], f"{name}: the client built different transformations: {here} vs {there}"
    if case.fails is None:
        assert here["result"] is not None, f"{name}: Seamless itself failed:\n{here['error']}"
        assert there["result"] is not None, f"{name}: failed through Shunter, but Seamless computes it:\n{there['error']}"
        assert there["result"] == here["result"], f"{name}: result checksums differ"
        return
    assert here["result"] is None, f"{name}: should fail, but Seamless itself computed {here['result']}"
    assert there["result"] is None, f"{name}: should fail, but Shunter computed {there['result']}"
    for marker in case.fails:
        assert marker in here["error"], f"{name}: Seamless's error lacks {marker!r}:\n{here['error']}"
        assert marker in there["error"], f"{name}: the client's error through Shunter lacks {marker!r}:\n{there['error']}"
    if shunter is not None:
        jobs = shunter.jobs(there["tf"])
        assert jobs, f"{name}: Shunter has no job for {there['tf']}"
        errors = [job.get("error") for job in jobs if job.get("error")]
        assert errors, f"{name}: Shunter's jobs record no error: {jobs}"
        assert any(error.strip() in there["error"] for error in errors), (
            f"{name}: the client does not show Shunter's error text.\nShunter: {errors[0]}\nclient: {there['error']}")


@pytest.mark.parametrize("name", list(CASES))
def test_case(name, both_runs, embedded):
    local, remote = both_runs
    compare(name, local, remote, embedded)


def test_suite_is_large_enough():
    assert len(CASES) >= 40
    assert {c.language for c in CASES.values()} == {"bash", "python"}
    assert sum(1 for c in CASES.values() if c.fails is not None) >= 6
