"""The targets, the printed table and the JSON file of a run."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stats import Metric, Results


@dataclass(frozen=True)
class Target:
    key: str
    text: str
    op: str  # "<=" or ">="
    limit: float
    # A figure measured in the same run to show beside it (e.g. the raw baseline).
    beside: str | None = None

    def met(self, value: float) -> bool | None:
        if math.isnan(value):
            return None
        return value <= self.limit if self.op == "<=" else value >= self.limit


TARGETS = (
    Target(
        "latency.light.ailawyer.p50",
        "pickup latency light load p50",
        "<=",
        2.0,
        "latency.light.raw.p50",
    ),
    Target(
        "latency.light.ailawyer.p99",
        "pickup latency light load p99",
        "<=",
        10.0,
        "latency.light.raw.p99",
    ),
    Target("e2e.p99", "enqueue → browser notification − job work p99", "<=", 25.0),
    Target(
        "throughput.ailawyer.1", "full pipeline, 1 worker process", ">=", 1000.0, "throughput.raw.1"
    ),
    Target("throughput.ratio_vs_raw", "full pipeline / raw bullmq, same run", ">=", 1.0),
    Target("cpu.ailawyer.1.worker", "worker CPU per job, full pipeline", "<=", 0.45),
    Target(
        "throughput.scaling.ratio_vs_raw",
        "(2 worker processes / 1) / raw bullmq's, same round",
        ">=",
        1.0,
        "throughput.scaling.ailawyer",
    ),
    Target("latency.light.ratio.p99", "pickup p99 light load / raw bullmq's", "<=", 1.0),
    Target("latency.saturated.ratio.p99", "pickup p99 saturated / raw bullmq's", "<=", 1.0),
    Target("api.live.rps", "GET /api/health/live", ">=", 3000.0),
    Target("api.enqueue.rps", "POST enqueue req/s", ">=", 1500.0),
    Target("api.enqueue.p99", "POST enqueue p99", "<=", 20.0),
    Target("cpu.api.enqueue", "app CPU per enqueue", "<=", 0.6),
    Target(
        "api.health_probe.p99", "GET /api/health p99 (one client)", "<=", 15.0, "api.health.p99"
    ),
    Target("fanout.p99", "fan-out to 1,000 clients p99", "<=", 100.0),
    Target("memory.growth", "worker RSS growth 10k → 100k jobs", "<=", 5.0),
    Target(
        "history.page.1000000.p50",
        "GET /api/notifications p50, 1,000,000 notifications",
        "<=",
        10.0,
        "history.page.1000000.ratio",
    ),
)


def fmt(value: float) -> str:
    if math.isnan(value):
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def spread(metric: Metric) -> str:
    low, high = metric.spread
    return "" if len(metric.runs) < 2 else f"{fmt(low)}–{fmt(high)}"


def table(results: Results) -> str:
    rows = [("figure", "median", "spread", "unit")]
    rows += [(m.label, fmt(m.median), spread(m), m.unit) for m in results.metrics.values()]
    return _render(rows)


def targets_table(results: Results) -> str:
    rows = [("target", "limit", "measured", "beside (same run)", "met")]
    for target in TARGETS:
        metric = results.metrics.get(target.key)
        value = metric.median if metric else math.nan
        beside = results.metrics.get(target.beside) if target.beside else None
        met = target.met(value)
        rows.append(
            (
                target.text,
                f"{target.op} {fmt(target.limit)}",
                f"{fmt(value)} {metric.unit if metric else ''}".strip(),
                f"{beside.label}: {fmt(beside.median)}" if beside else "",
                {True: "yes", False: "NO", None: "not run"}[met],
            )
        )
    return _render(rows)


def _render(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def to_json(results: Results, meta: dict[str, Any]) -> dict[str, Any]:
    targets = []
    for target in TARGETS:
        value = results.median(target.key)
        targets.append(
            {
                "key": target.key,
                "target": f"{target.op} {target.limit}",
                "median": None if math.isnan(value) else round(value, 3),
                "met": target.met(value),
            }
        )
    return {
        **meta,
        "metrics": {key: metric.to_json() for key, metric in results.metrics.items()},
        "targets": targets,
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


README_START = "<!-- figures:start -->"
README_END = "<!-- figures:end -->"


def markdown(results: Results, document: dict[str, Any]) -> str:
    """The figures section of bench/README.md."""
    machine = document["machine"]
    load = document["load_average"]
    rows = ["| figure | median | spread (min–max) | unit |", "|---|---:|---:|---|"]
    rows += [
        f"| {m.label} | {fmt(m.median)} | {spread(m) or '–'} | {m.unit} |"
        for m in results.metrics.values()
    ]
    targets = ["| target | limit | measured | beside it, same run | met |", "|---|---|---|---|---|"]
    for target in TARGETS:
        metric = results.metrics.get(target.key)
        value = metric.median if metric else math.nan
        beside = results.metrics.get(target.beside) if target.beside else None
        met = {True: "yes", False: "**no**", None: "not run"}[target.met(value)]
        targets.append(
            f"| {target.text} | {target.op} {fmt(target.limit)} | "
            f"{fmt(value)} {metric.unit if metric else ''} | "
            f"{f'{beside.label}: {fmt(beside.median)}' if beside else ''} | {met} |"
        )
    packages = ", ".join(f"{k} {v}" for k, v in machine["packages"].items())
    lines = [
        f"Run of {document['finished']} ({document['duration_s']:.0f} s, "
        f"{document['config']['runs']} rounds; medians, spread over the rounds).",
        "",
        f"Machine: {machine['nproc']} cores, {machine['cpu']}, Linux {machine['kernel']}; "
        f"Python {machine['python']}, Redis {machine['redis']}, "
        f"PostgreSQL {machine['postgresql']}; {packages}. "
        f"One Redis client: {fmt(machine['redis_round_trips_per_s'])} round trips/s. "
        f"Load average (1/5/15 min) before {load['before']}, after {load['after']}.",
        "",
        *targets,
        "",
        *rows,
    ]
    return "\n".join(lines)


def update_readme(path: Path, section: str) -> None:
    text = path.read_text()
    start, end = text.index(README_START), text.index(README_END)
    path.write_text(text[: start + len(README_START)] + "\n" + section + "\n" + text[end:])
