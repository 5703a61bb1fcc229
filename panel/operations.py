"""What an operator can do from the panel or the admin, on top of the services the API uses."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from engines import health

# Probes are network waits: a few at once keep "check 20 engines" near one timeout, not twenty.
PARALLEL_PROBES = 8


def check_engines(engines) -> list[tuple[object, str]]:
    """Probe each engine now and store the outcome as the scheduled check does.
    Returns (engine, reason) pairs; '' means healthy, engines without a port are skipped."""
    engines = [engine for engine in engines if engine.port is not None]
    if not engines:
        return []
    with ThreadPoolExecutor(max_workers=min(PARALLEL_PROBES, len(engines))) as pool:
        reasons = list(pool.map(lambda engine: health.probe(engine.host, engine.port), engines))
    # Records are written here, in the caller's thread: the probes only did network waits.
    for engine, reason in zip(engines, reasons, strict=True):
        health.record_result(engine, reason)
    return list(zip(engines, reasons, strict=True))
