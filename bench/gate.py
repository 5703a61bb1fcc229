"""What a missing engine image costs: pulls attempted per hour while it stays missing, with
reconcile passing every AUTOSCALE_INTERVAL_S (30 s). The gate and Docker are the real ones (each
pull really fails, here for want of a registry); the clock is simulated, so two hours take
seconds. Baseline: one pull per reconcile pass, what the orchestrator did before the gate.

Run: python -m bench.gate
"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

from bench.common import Row, print_table, setup_django

PASS_S = 30
HOURS = 2


def main() -> list[Row]:
    setup_django()
    from django.conf import settings
    from django.utils import timezone

    from core.models import Counter
    from engines import gate

    settings.ORCH = settings.ORCH.model_copy(update={"TARGET_IMAGE": "orch-bench/missing-engine:never"})
    start = timezone.now()
    pulls_by_hour = [0] * HOURS

    def failed() -> float:
        return Counter.read("orch_image_pulls_total").get("result=failed", 0)

    for number in range(HOURS * 3600 // PASS_S):
        moment = start + timedelta(seconds=number * PASS_S)
        before = failed()
        with mock.patch.object(timezone, "now", return_value=moment):
            gate.refresh_image()
        pulls_by_hour[number * PASS_S // 3600] += int(failed() - before)
    per_pass = 3600 / PASS_S
    rows = [Row(f"pulls in hour {hour + 1} while the image is missing", count, per_pass,
                "a few per hour, not one per pass", unit=" ")
            for hour, count in enumerate(pulls_by_hour)]
    print_table(f"missing engine image, reconcile every {PASS_S} s (baseline: a pull per pass)", rows)
    return rows


if __name__ == "__main__":
    main()
