"""One measured series and its summary figures."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


@dataclass
class Measurement:
    """What one system did in one scenario. Latencies in seconds; `wall` is the time the whole
    batch took, from the first request sent to the last answer."""

    system: str
    n: int
    concurrency: int
    wall: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    unit: str = "ops"  # what throughput counts: jobs, requests, MiB
    units_per_op: float = 1.0
    # Precomputed figures (from wrk, which reports percentiles rather than every latency).
    median_override: float | None = None
    p95_override: float | None = None
    note: str | None = None

    @property
    def median(self) -> float | None:
        if self.median_override is not None:
            return self.median_override
        return statistics.median(self.latencies) if self.latencies else None

    @property
    def p95(self) -> float | None:
        if self.p95_override is not None:
            return self.p95_override
        return percentile(self.latencies, 95)

    @property
    def throughput(self) -> float | None:
        ok = self.n - self.errors
        if self.wall <= 0 or ok <= 0:
            return None
        return ok * self.units_per_op / self.wall

    def as_json(self) -> dict:
        return {
            "system": self.system, "n": self.n, "concurrency": self.concurrency, "errors": self.errors,
            "first_error": self.first_error, "wall_s": round(self.wall, 6),
            "throughput_per_s": None if self.throughput is None else round(self.throughput, 3),
            "throughput_unit": f"{self.unit}/s",
            "median_ms": None if self.median is None else round(self.median * 1e3, 4),
            "p95_ms": None if self.p95 is None else round(self.p95 * 1e3, 4),
            "note": self.note,
        }


def merge_turns(turns: list[Measurement]) -> Measurement:
    """One row for several runs of the same system and scenario: every latency, the jobs and
    errors summed, and the runs' wall times summed (so throughput is all jobs over the time
    spent running them, not counting what ran between the turns)."""
    first = turns[0]
    errors = sum(t.errors for t in turns)
    return Measurement(
        first.system, sum(t.n for t in turns), first.concurrency, sum(t.wall for t in turns),
        [latency for t in turns for latency in t.latencies], errors,
        next((t.first_error for t in turns if t.first_error), None), unit=first.unit,
        units_per_op=first.units_per_op, note=first.note)
