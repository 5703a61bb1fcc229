"""Run every benchmark and print one table; `--record` also writes bench/RESULTS.md.

    python -m bench [--only provision,stats] [--record]

Each bench runs in its own process (each sets up its own isolated orchestrator and Docker
containers); their rows come back through a JSON-lines file named by BENCH_ROWS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHES = ["provision", "gate", "stats", "health", "vpn", "panel", "fleet", "events", "web_handler",
           "playback", "databases"]


def run(names: list[str]) -> tuple[list[dict], dict[str, float]]:
    rows_file = Path(tempfile.mkstemp(prefix="bench-rows-", suffix=".jsonl")[1])
    durations = {}
    for name in names:
        print(f"\n=== bench.{name}", flush=True)
        began = time.monotonic()
        result = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT,
                                env={**os.environ, "BENCH_ROWS": str(rows_file)})
        durations[name] = time.monotonic() - began
        if result.returncode != 0:
            print(f"bench.{name} failed with exit code {result.returncode}", flush=True)
    rows = [json.loads(line) for line in rows_file.read_text().splitlines() if line.strip()]
    rows_file.unlink()
    return rows, durations


def _number(value, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.3f} {unit.strip()}".strip()


def table(rows: list[dict]) -> str:
    lines = ["| bench | figure | value | baseline | ratio | goal |", "|---|---|---|---|---|---|"]
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        lines.append(f"| {row['title']} | {row['figure']} | {_number(row['value'], row['unit'])} "
                     f"| {_number(row['baseline'], row['unit'])} | {ratio} | {row['goal']} |")
    return "\n".join(lines)


def machine() -> str:
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "0")
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores, {int(memory) // 1024 // 1024} GiB, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"dockerd {docker or '?'}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the benchmarks and print one table.")
    parser.add_argument("--only", help="comma-separated bench names: " + ", ".join(BENCHES))
    parser.add_argument("--record", action="store_true", help="write bench/RESULTS.md")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else BENCHES
    unknown = set(names) - set(BENCHES)
    if unknown:
        parser.error(f"unknown bench: {', '.join(sorted(unknown))}")
    rows, durations = run(names)
    summary = table(rows)
    print("\n" + summary)
    if args.record:
        took = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in durations.items())
        (ROOT / "bench" / "RESULTS.md").write_text(
            f"# Benchmark results\n\nRecorded {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on "
            f"{machine()} with `python -m bench --record` ({took}).\n"
            "Ratios are value / baseline, both measured in the same run.\n\n" + summary + "\n")


if __name__ == "__main__":
    main()
