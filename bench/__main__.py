"""`python -m bench`: every scenario, a table on stdout, bench/results/latest.json.

    uv run python -m bench                  # the full run (about ten minutes)
    uv run python -m bench --quick          # one small round of everything
    uv run python -m bench --only latency,throughput --runs 5
    uv run python -m bench --update-readme  # also copy the figures into bench/README.md
    uv run python -m bench --env JOB_LOG_SAMPLE=0.1   # a setting for app and workers

See bench/README.md for the method.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import uvloop

from bench import report
from bench.config import FULL, QUICK
from bench.runner import SCENARIOS, run
from bench.stats import Results

RESULTS_DIR = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent / "README.md"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small round of everything")
    parser.add_argument("--runs", type=int, help="rounds of the repeated scenarios")
    parser.add_argument(
        "--concurrency",
        type=int,
        help="concurrency of every worker, ours and the others (default 50): at a few slots a "
        "process waits on its round trips instead of its CPU, so the two-process scaling is "
        "measured without the cores as the limit",
    )
    parser.add_argument("--jobs", type=int, help="backlog of each throughput drain (default 5000)")
    parser.add_argument(
        "--only", help=f"comma-separated scenarios (default all: {', '.join(SCENARIOS)})"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "latest.json")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the worker (first drain) and the app (each API endpoint) with py-spy "
        "(results/profile-*.txt)",
    )
    parser.add_argument(
        "--update-readme", action="store_true", help="write the figures into bench/README.md"
    )
    parser.add_argument(
        "--readme-from", type=Path, help="only rewrite the README's figures from a results file"
    )
    parser.add_argument(
        "--src", type=Path, help="run app and worker from another checkout's src/ (A/B a change)"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for app and workers of the run (repeatable), e.g. JOB_LOG_SAMPLE=0.1",
    )
    args = parser.parse_args()
    extra_env = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--env wants KEY=VALUE, not {item!r}")
        extra_env[key] = value
    config = QUICK if args.quick else FULL
    if args.runs:
        config = dataclasses.replace(config, runs=args.runs)
    if args.concurrency:
        config = dataclasses.replace(config, concurrency=args.concurrency)
    if args.jobs:
        config = dataclasses.replace(config, throughput_jobs=args.jobs)
    selected = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = set(selected) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    if args.readme_from:
        document = json.loads(args.readme_from.read_text())
        report.update_readme(README, report.markdown(Results.from_json(document), document))
        return
    results, document = uvloop.run(
        run(config, selected, RESULTS_DIR, args.src, profile=args.profile, extra_env=extra_env)
    )
    report.write_json(args.out, document)
    if args.update_readme:
        report.update_readme(README, report.markdown(results, document))
    print(report.table(results))
    print()
    print(report.targets_table(results))
    for note in document.get("notes", []):
        print(f"\nnote: {note}")
    print(
        f"\nload average before {document['load_average']['before']}, "
        f"after {document['load_average']['after']}; written to {args.out}"
    )


if __name__ == "__main__":
    main()
