"""How much each scenario does: the full run and the `--quick` one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    runs: int = 3
    # Worker concurrency of every worker, ours and raw (BullMQ's `concurrency`).
    concurrency: int = 50
    # (1) pickup latency: paced arrivals at light load, a closed loop at saturation.
    light_rate: int = 50
    light_seconds: float = 5.0
    saturation_seconds: float = 3.0
    # (3) throughput: a backlog of this many jobs, drained per measurement.
    throughput_jobs: int = 5000
    # (2) HTTP enqueue -> Socket.IO notification.
    e2e_rate: float = 20.0
    e2e_seconds: float = 6.0
    # (4) wrk against `ailawyer serve`.
    api_seconds: int = 3
    api_connections: int = 10
    # (5) Socket.IO fan-out.
    fanout_clients: int = 1000
    fanout_processes: int = 4
    fanout_emits: int = 10
    # (6) worker memory: RSS after this many jobs.
    memory_jobs: tuple[int, int] = (10_000, 100_000)
    # (7) the notification list for a user with this many notifications.
    history_sizes: tuple[int, ...] = (1_000, 100_000, 1_000_000)


FULL = Config()
QUICK = Config(
    runs=1,
    light_seconds=3.0,
    saturation_seconds=2.0,
    throughput_jobs=2000,
    e2e_seconds=3.0,
    api_seconds=2,
    fanout_clients=200,
    fanout_processes=2,
    fanout_emits=5,
    memory_jobs=(2_000, 20_000),
    # The million (about 20 s to insert) only in a full run: `--only history --runs 1`.
    history_sizes=(1_000, 100_000),
)
