"""Prometheus metrics at /metrics.

django-prometheus gives the HTTP metrics of the process that answers the scrape. Everything about
the fleet is read from the database at scrape time by `FleetCollector`, because web and worker
are separate processes and django-prometheus has no multi-process mode: counters live in
`Counter` rows (so they also survive restarts), gauges are computed from the current records.
A scrape never calls Docker, so it answers with the last known state while Docker is down.
"""

import logging
import re
import threading

from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from core.auth import bearer_refusal
from core.config import conf
from core.models import Counter, JobRun, bucket_label
from engines import gate
from engines.models import Engine, Fleet, Health
from engines.provisioning import PROVISION_BUCKETS, PROVISION_DURATION
from playback.models import PlayedContent
from streams.models import Stream
from streams.services import with_latest_stats
from vpn.models import VpnState

log = logging.getLogger(__name__)

# AceStream reports speeds in KB/s (1024 bytes); Prometheus wants base units.
KILOBYTE = 1024
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# Counters with fixed label values are exported at 0 before anything happened, so rate() and
# alerts work from the first scrape.
COUNTERS = {
    "orch_events_started_total": ("Stream started events accepted (repeats of a start not counted).",
                                  (), [()]),
    "orch_events_ended_total": ("Streams ended (by event, collector or engine removal).", (), [()]),
    "orch_collector_errors_total": ("Stats fetches that failed.", (), [()]),
    "orch_provision_total": ("Containers started, by kind.", ("kind",),
                             [("generic",), ("acestream",)]),
    "orch_provision_failures_total": ("Engine provisions that failed, by reason.", ("reason",), []),
    "orch_image_pulls_total": ("Pulls of the engine image, by result (pulled, failed).",
                               ("result",), [("pulled",), ("failed",)]),
    "orch_proxy_bytes_sent_total": ("Bytes the playback proxy sent to players.", (), [()]),
    "orch_proxy_players_cut_off_total": ("Players cut off for falling behind the stream.", (), [()]),
    "orch_proxy_failovers_total": ("Engine sessions of played contents replaced, by reason.",
                                   ("reason",), []),
}

GAUGES = {
    "orch_streams_active": ("Streams currently started.", ()),
    "orch_engines": ("Engines known, by health and by managed (ours) or external.",
                     ("health", "managed")),
    "orch_vpn_enabled": ("1 when the orchestrator runs engines behind Gluetun.", ()),
    "orch_vpn_up": ("1 when Gluetun's container runs, is healthy and answers our API key.", ()),
    "orch_vpn_forwarded_port": ("The port Gluetun forwards to the engines (absent when none).", ()),
    "orch_vpn_engines": ("Engines inside Gluetun's network namespace, by whether one holds the "
                         "forwarded port as its P2P port.", ("forwarded",)),
    "orch_stream_download_bytes_per_second": ("Download speed of a started stream (latest stats).",
                                              ("stream_id", "engine")),
    "orch_stream_upload_bytes_per_second": ("Upload speed of a started stream (latest stats).",
                                            ("stream_id", "engine")),
    "orch_stream_peers": ("Peers of a started stream (latest stats).", ("stream_id", "engine")),
    "orch_job_last_duration_seconds": ("How long the last run of a background job took "
                                       "(health = health-check pass, collector = stats pass).",
                                       ("job",)),
    "orch_job_seconds_since_last_success": ("Seconds since a background job last succeeded.",
                                            ("job",)),
    "orch_job_last_run_failed": ("1 when the last run of a background job failed.", ("job",)),
    "orch_metrics_database_up": ("1 when this scrape could read the database.", ()),
    "orch_provisioning_blocked": ("1 for the reason provisioning is blocked now (SPEC's codes), "
                                  "0 for the others.", ("code",)),
    "orch_provision_circuit_breaker_state": ("1 for the state the engine-start circuit breaker "
                                             "is in, 0 for the others.", ("state",)),
    "orch_provision_consecutive_failures": ("Engine starts that failed in a row (the breaker "
                                            "opens at PROVISION_FAILURE_THRESHOLD).", ()),
    "orch_proxy_players": ("Players of contents the orchestrator plays.", ()),
    "orch_proxy_upstreams": ("Contents the orchestrator plays (one engine session each).", ()),
}

HISTOGRAMS = {
    PROVISION_DURATION: ("Time POST /provision/acestream took until its engine's container ran "
                         "(successful provisions)."),
}


def _label_pairs(stored: str) -> dict[str, str]:
    """`Counter.labels` ("k=v,k2=v2") back into a mapping."""
    pairs = {}
    for item in filter(None, stored.split(",")):
        key, _, value = item.partition("=")
        pairs[key] = value
    return pairs


def _family(name: str) -> Metric:
    if name in COUNTERS:
        return CounterMetricFamily(name, COUNTERS[name][0], labels=COUNTERS[name][1])
    if name in GAUGES:
        return GaugeMetricFamily(name, GAUGES[name][0], labels=GAUGES[name][1])
    return HistogramMetricFamily(name, HISTOGRAMS[name], labels=())


class FleetCollector(Collector):
    """Reads the fleet's state from the database at every scrape."""

    def describe(self):
        # Names only, no database access: lets the registry refuse a clash with another metric.
        return [_family(name) for name in (*COUNTERS, *GAUGES, *HISTOGRAMS)]

    def collect(self):
        try:
            families = [*_counters(), *_fleet_gauges(), *_stream_gauges(), *_job_gauges(),
                        *_provisioning_gauges(), *_playback_gauges(), _provision_histogram()]
        except DatabaseError:
            log.exception("metrics: the database could not be read")
            families = []
        database_up = _family("orch_metrics_database_up")
        database_up.add_metric([], 1 if families else 0)
        return [*families, database_up]


def _counters() -> list[Metric]:
    rows: dict[str, dict[str, float]] = {}
    for name, labels, value in Counter.objects.exclude(
        name__startswith=PROVISION_DURATION
    ).values_list("name", "labels", "value"):
        rows.setdefault(name, {})[labels] = value
    families = []
    for name, (_doc, label_names, defaults) in COUNTERS.items():
        family = _family(name)
        values = {tuple(_label_pairs(stored).get(key, "") for key in label_names): value
                  for stored, value in rows.pop(name, {}).items()}
        for label_values in defaults:
            values.setdefault(label_values, 0.0)
        for label_values, value in sorted(values.items()):
            family.add_metric(list(label_values), value)
        families.append(family)
    # Counters other modules add later are exported too, as long as they follow the naming rules.
    for name, stored_values in sorted(rows.items()):
        if not (name.startswith("orch_") and name.endswith("_total") and _METRIC_NAME.match(name)):
            continue
        label_names = sorted({key for stored in stored_values for key in _label_pairs(stored)})
        if not all(_LABEL_NAME.match(key) for key in label_names):
            continue
        family = CounterMetricFamily(name, "Counted by the orchestrator.", labels=label_names)
        for stored, value in sorted(stored_values.items()):
            pairs = _label_pairs(stored)
            family.add_metric([pairs.get(key, "") for key in label_names], value)
        families.append(family)
    return families


def _fleet_gauges() -> list[Metric]:
    streams = _family("orch_streams_active")
    streams.add_metric([], Stream.objects.started().count())

    engines = _family("orch_engines")
    counts = {(health, managed): 0 for health in Health.values for managed in (True, False)}
    for row in Engine.objects.listed().values("health_status", "managed").annotate(n=Count("pk")):
        counts[(row["health_status"], row["managed"])] = row["n"]
    for (health, managed), count in sorted(counts.items()):
        engines.add_metric([health, str(managed).lower()], count)

    enabled = conf().vpn_enabled
    vpn_enabled = _family("orch_vpn_enabled")
    vpn_enabled.add_metric([], 1 if enabled else 0)
    families = [streams, engines, vpn_enabled]
    if enabled:
        # Read without get_or_create: a scrape must not write.
        state = VpnState.stored()
        vpn_up = _family("orch_vpn_up")
        vpn_up.add_metric([], 1 if state.is_up else 0)
        families.append(vpn_up)
        if state.forwarded_port:
            port = _family("orch_vpn_forwarded_port")
            port.add_metric([], state.forwarded_port)
            families.append(port)
        behind = Engine.objects.behind_vpn().listed()
        vpn_engines = _family("orch_vpn_engines")
        vpn_engines.add_metric(["true"], behind.filter(p2p_port__isnull=False).count())
        vpn_engines.add_metric(["false"], behind.filter(p2p_port__isnull=True).count())
        families.append(vpn_engines)
    return families


def _stream_gauges() -> list[Metric]:
    """Latest snapshot of each started stream only, so label sets stay bounded."""
    down = _family("orch_stream_download_bytes_per_second")
    up = _family("orch_stream_upload_bytes_per_second")
    peers = _family("orch_stream_peers")
    for stream in with_latest_stats(Stream.objects.started().select_related("engine")):
        stats = stream.latest_stats
        if stats is None:
            continue
        engine_name = stream.engine.container_name if stream.engine else ""
        labels = [stream.id, engine_name or stream.container_id]
        if stats["speed_down"] is not None:
            down.add_metric(labels, stats["speed_down"] * KILOBYTE)
        if stats["speed_up"] is not None:
            up.add_metric(labels, stats["speed_up"] * KILOBYTE)
        if stats["peers"] is not None:
            peers.add_metric(labels, stats["peers"])
    return [down, up, peers]


def _provisioning_gauges() -> list[Metric]:
    observed = gate.observe()
    fleet = observed.fleet
    reason = gate.decide(observed)
    blocked = _family("orch_provisioning_blocked")
    for code in gate.CODES:
        blocked.add_metric([code], 1 if reason is not None and reason.code == code else 0)
    breaker = _family("orch_provision_circuit_breaker_state")
    state = fleet.breaker_state()
    for name in Fleet.Breaker.values:
        breaker.add_metric([name], 1 if name == state else 0)
    failures = _family("orch_provision_consecutive_failures")
    failures.add_metric([], fleet.start_failures)
    return [blocked, breaker, failures]


def _playback_gauges() -> list[Metric]:
    players, upstreams = _family("orch_proxy_players"), _family("orch_proxy_upstreams")
    rows = list(PlayedContent.objects.values_list("players", flat=True))
    players.add_metric([], sum(rows))
    upstreams.add_metric([], len(rows))
    return [players, upstreams]


def _job_gauges() -> list[Metric]:
    now = timezone.now()
    duration = _family("orch_job_last_duration_seconds")
    since = _family("orch_job_seconds_since_last_success")
    failed = _family("orch_job_last_run_failed")
    for run in JobRun.objects.order_by("name"):
        if run.last_duration_s is not None:
            duration.add_metric([run.name], run.last_duration_s)
        if run.last_success is not None:
            since.add_metric([run.name], max(0.0, (now - run.last_success).total_seconds()))
        if run.last_started is not None:
            failed.add_metric([run.name], 1 if run.last_error else 0)
    return [duration, since, failed]


def _provision_histogram() -> Metric:
    stored = {(name, labels): value for name, labels, value in Counter.objects.filter(
        name__startswith=PROVISION_DURATION).values_list("name", "labels", "value")}
    count = stored.get((f"{PROVISION_DURATION}_count", ""), 0.0)
    buckets = [(bucket_label(bound),
                stored.get((f"{PROVISION_DURATION}_bucket", f"le={bucket_label(bound)}"), 0.0))
               for bound in PROVISION_BUCKETS]
    family = _family(PROVISION_DURATION)
    family.add_metric([], [*buckets, ("+Inf", count)],
                      sum_value=stored.get((f"{PROVISION_DURATION}_sum", ""), 0.0))
    return family


_registered = False
_register_lock = threading.Lock()


def register() -> None:
    """Add the fleet collector to the default registry (once per process)."""
    global _registered
    with _register_lock:
        if not _registered:
            REGISTRY.register(FleetCollector())
            _registered = True


def metrics_view(request):
    """The Prometheus scrape: open, or protected by `Authorization: Bearer <METRICS_TOKEN>`."""
    token = conf().METRICS_TOKEN
    if token and (refusal := bearer_refusal(request, token)):
        status, message = refusal
        response = JsonResponse({"detail": message}, status=status)
        if status == 401:
            response["WWW-Authenticate"] = "Bearer"
        return response
    register()
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
