"""Shared by the bench scripts: an isolated environment (as the tests get) and one table format.

Import this module first: it loads tests/environment.py, which gives the run its own data folder,
container label and port block, so a bench never touches a real fleet.
"""

import json
import os
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import environment  # noqa: E402,F401  (sets the environment before Django loads)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator_site.settings")


def setup_django():
    """Django set up and every database migrated: the fleet's and, on SQLite, the channel
    layer's (which notify() writes to)."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    for database in settings.DATABASES:
        call_command("migrate", database=database, verbosity=0)


def percentile(values, pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values) -> float:
    return statistics.median(values)


@dataclass
class Row:
    figure: str
    value: float
    baseline: float | None
    goal: str
    unit: str = "s"

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None


def print_table(title: str, rows: list[Row]) -> None:
    """Print the rows; under `python -m bench` also hand them to the runner (BENCH_ROWS file)."""
    if os.environ.get("BENCH_ROWS"):
        with open(os.environ["BENCH_ROWS"], "a") as out:
            for row in rows:
                out.write(json.dumps({"title": title, **asdict(row), "ratio": row.ratio}) + "\n")
    print(f"\n{title}")
    header = f"{'figure':<58} {'value':>10} {'baseline':>10} {'ratio':>7}  goal"
    print(header)
    print("-" * len(header))
    for row in rows:
        baseline = f"{row.baseline:.3f}" if row.baseline is not None else "-"
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        print(f"{row.figure:<58} {row.value:>9.3f}{row.unit:<1} {baseline:>10} {ratio:>7}  {row.goal}")
