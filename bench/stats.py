"""Percentiles of one run, and medians with their spread over several runs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    ms = [value * 1000 for value in seconds]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else math.nan,
        "n": float(len(ms)),
    }


@dataclass
class Metric:
    """One figure measured in each of several runs."""

    key: str
    label: str
    unit: str
    runs: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.runs.append(value)

    @property
    def median(self) -> float:
        values = [v for v in self.runs if not math.isnan(v)]
        return statistics.median(values) if values else math.nan

    @property
    def spread(self) -> tuple[float, float]:
        values = [v for v in self.runs if not math.isnan(v)]
        return (min(values), max(values)) if values else (math.nan, math.nan)

    def to_json(self) -> dict[str, Any]:
        low, high = self.spread
        return {
            "label": self.label,
            "unit": self.unit,
            "median": _clean(self.median),
            "min": _clean(low),
            "max": _clean(high),
            "runs": [_clean(v) for v in self.runs],
        }


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


class Results:
    """Every metric of a benchmark run, in the order they were first measured."""

    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}

    def metric(self, key: str, label: str, unit: str) -> Metric:
        if key not in self.metrics:
            self.metrics[key] = Metric(key, label, unit)
        return self.metrics[key]

    def add(self, key: str, label: str, unit: str, value: float) -> None:
        self.metric(key, label, unit).add(value)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Results:
        """The metrics of a results file (`report.to_json`) again."""
        results = cls()
        for key, item in document["metrics"].items():
            metric = results.metric(key, item["label"], item["unit"])
            metric.runs = [math.nan if v is None else float(v) for v in item["runs"]]
        return results

    def median(self, key: str) -> float:
        metric = self.metrics.get(key)
        return metric.median if metric else math.nan
