"""report.md (tables) and report.json (every figure) from the scenarios of one run."""

from __future__ import annotations

import json
from pathlib import Path

from scenarios import Scenario
from stats import Measurement


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}g}" if value < 1 else f"{value:.2f}"


def ms(seconds: float | None) -> str:
    return "—" if seconds is None else fmt(seconds * 1e3)


def throughput_ratio(subject: Measurement, row: Measurement) -> float | None:
    if subject.throughput is None or row.throughput is None:
        return None
    return subject.throughput / row.throughput


def median_ratio(subject: Measurement, row: Measurement) -> float | None:
    if subject.median is None or row.median is None or subject.median == 0:
        return None
    return row.median / subject.median


def scenario_markdown(s: Scenario) -> list[str]:
    lines = [f"### {s.name}", ""]
    if s.skipped:
        return lines + [f"**not run: {s.skipped}**", ""]
    if s.rows:
        subject = s.rows[0]
        lines += ["| system | n | conc. | throughput | median ms | p95 ms | Shunter throughput ÷ this | this median ÷ Shunter's | errors |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for i, r in enumerate(s.rows):
            tr = "—" if i == 0 else (fmt(throughput_ratio(subject, r)) + "×" if throughput_ratio(subject, r) else "—")
            mr = "—" if i == 0 else (fmt(median_ratio(subject, r)) + "×" if median_ratio(subject, r) else "—")
            err = str(r.errors) + (f": {r.first_error[:120]}" if r.first_error else "")
            thr = "—" if r.throughput is None else f"{fmt(r.throughput)} {r.unit}/s"
            lines.append(f"| {r.system} | {r.n} | {r.concurrency} | {thr} | {ms(r.median)} | {ms(r.p95)} | {tr} | {mr} | {err} |")
        notes = [f"{r.system}: {r.note}" for r in s.rows if r.note and r.note != "wrk"]
        if any(r.note and r.note.startswith("wrk") for r in s.rows):
            notes.append("load from wrk (keep-alive connections, fixed duration)")
        if notes:
            lines += ["", "; ".join(notes)]
    if s.figures:
        lines += ["| what | value |", "|---|---:|"]
        lines += [f"| {w} | {fmt(v)} {u} |" for w, v, u in s.figures]
    if s.note:
        lines += ["", s.note]
    return lines + [""]


def summary(scenarios: list[Scenario]) -> list[str]:
    """The figures the issue sets targets for, as sentences."""
    out = []
    by_name = {s.name: s for s in scenarios if s.rows and not s.skipped}

    def find(prefix: str) -> Scenario | None:
        return next((s for n, s in by_name.items() if n.startswith(prefix)), None)

    def row(s: Scenario, system_prefix: str) -> Measurement | None:
        return next((r for r in s.rows if r.system.startswith(system_prefix)), None)

    for c in (1, 8, 32):
        s = find(f"trivial bash jobs, concurrency {c} ")
        if not s:
            continue
        sh, py, fl = s.rows[0], row(s, "Python"), row(s, "floor")
        parts = [f"trivial bash jobs at concurrency {c}: Shunter {fmt(sh.throughput)} jobs/s"]
        if fl and throughput_ratio(sh, fl):
            parts.append(f"{100 * throughput_ratio(sh, fl):.0f}% of the bare-bash floor ({fmt(fl.throughput)} jobs/s)")
        if py and throughput_ratio(sh, py):
            parts.append(f"{fmt(throughput_ratio(sh, py))}× the Python jobserver ({fmt(py.throughput)} jobs/s)")
        if c == 1 and fl and sh.median is not None and fl.median is not None:
            parts.append(f"broker overhead per job above the floor: {ms(sh.median - fl.median)} ms median")
        out.append("- " + ", ".join(parts))
    def compare(label: str, s: Scenario | None, baseline_prefix: str, baseline_name: str) -> None:
        if not s:
            return
        sh, base = s.rows[0], row(s, baseline_prefix)
        text = f"- {label}: Shunter {ms(sh.median)} ms median, {fmt(sh.throughput)} {sh.unit}/s"
        if base and median_ratio(sh, base) and throughput_ratio(sh, base):
            text += (f"; {baseline_name} {ms(base.median)} ms: {fmt(median_ratio(sh, base))}× Shunter's median, "
                     f"Shunter throughput {fmt(throughput_ratio(sh, base))}× its")
        out.append(text)

    for c in (1, 32):
        compare(f"cache hit through /run-transformation at concurrency {c}",
                find(f"cache hit through /run-transformation, concurrency {c}"), "Python", "Python jobserver (re-run)")
        compare(f"database-route lookup at concurrency {c}",
                find(f"cache hit through the database route (GET / type transformation), concurrency {c}"),
                "seamless-database", "seamless-database")
    for label in ("1 KiB", "1 MiB", "256 MiB"):
        for op in ("PUT", "GET"):
            compare(f"buffer {op} {label}", find(f"buffer {op} {label}, concurrency 1"), "hashserver", "hashserver")
    s = find("memory")
    if s:
        out += [f"- {w}: {fmt(v)} {u}" for w, v, u in s.figures if w.startswith("Shunter")]
    return out


def write(out_dir: Path, meta: dict, scenarios: list[Scenario]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(
        {"meta": meta, "summary": summary(scenarios), "scenarios": [s.as_json() for s in scenarios]}, indent=2) + "\n")
    lines = ["# Shunter benchmark report", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += ["", "Ratios are of figures measured in this same run. \"Shunter throughput ÷ this\" above 1 means "
              "Shunter did more per second; for the floor it is the fraction of the machine's limit Shunter reached.",
              "", "## Summary", ""] + summary(scenarios) + ["", "## Scenarios", ""]
    for s in scenarios:
        lines += scenario_markdown(s)
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
