"""What the scenarios share during a run: the stack, the standing processes, queues."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.config import Config
from bench.processes import Child
from bench.producer import BenchQueue
from bench.stack import Stack
from bench.stats import Results

# The systems compared: the product's worker and bare BullMQ at two concurrencies.
PRODUCT = "ailawyer"
RAW = "raw"
RAW_SERIAL = "raw-c1"
# Node BullMQ (`bench/node.py`), when node and npm are there.
NODE = "node"


@dataclass
class Context:
    stack: Stack
    config: Config
    results: Results
    results_dir: Path
    workers: dict[str, Child] = field(default_factory=dict)
    queues: dict[str, BenchQueue] = field(default_factory=dict)
    app: Child | None = None
    profile: bool = False
    # Lines for the end of the report: what was skipped, and why.
    notes: list[str] = field(default_factory=list)

    def prefix(self, system: str) -> str:
        return self.stack.prefix(system.replace("-", ""))
