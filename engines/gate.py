"""Whether an engine may be started now, and if not, why: the one place that decides.

Provisioning (API, reconcile, scale, VPN recovery, admin, commands) asks `admit()` before it
starts anything; `/orchestrator/status`, `/health`, `/metrics` and the panel read `blocked()`.
Both answer with the first of SPEC's codes that applies:

    docker_unreachable   Docker does not answer
    image_unavailable    the engine image is missing and its last pull failed
    vpn_disconnected     VPN mode and the tunnel is down (asked of the vpn app, see hooks)
    circuit_breaker      PROVISION_FAILURE_THRESHOLD starts failed in a row (open, then half-open)
    max_capacity         engines >= the replica cap

What it knows is stored on the `Fleet` row, so web and worker share it and a restart keeps it.
`blocked()` reads stored state only (the status route is polled every 30 s by every proxy).
`admit()` may look again where the stored state says "blocked" and a cheap look can say
otherwise (a ping, a local image inspect), but it never pulls an image before its backoff.

Every write below that changes a reason announces it (`notify("provisioning", ...)`), so the
panel and the admin index show a new reason, or its end, at once, and so does a saved setting
the decision reads (`settings_changed`). The other reasons change with messages of their own:
the capacity with "engine", the VPN with "vpn"; the breaker's step from open to half-open is a
matter of time alone (readers count down `recovery_eta_seconds`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.config import conf
from core.errors import Unavailable
from core.models import Counter
from core.notify import notify

from . import docker_gateway, hooks
from .models import Engine, Fleet

log = logging.getLogger(__name__)

CODES = ("docker_unreachable", "image_unavailable", "vpn_disconnected", "circuit_breaker",
         "max_capacity")
# Codes that mean something is wrong (status "degraded", /health 503); a full fleet is not a fault.
FAULTS = frozenset(CODES) - {"max_capacity"}
DOCKER_RETRY_ETA_S = 15
VPN_RETRY_ETA_S = 60
# A failed pull of the engine image is tried again after 60 s, then twice as long each time, up
# to 15 minutes: a registry outage costs a few pulls an hour, not one per reconcile pass.
PULL_BACKOFF_FIRST_S = 60
PULL_BACKOFF_MAX_S = 900
# A half-open breaker lets one start through; if its outcome never comes (the worker that would
# check it died), another one may go after this.
TRIAL_TIMEOUT_EXTRA_S = 30


@dataclass(frozen=True)
class Blocked:
    """Why provisioning is refused. `message` is fit for anyone; `private` adds what reveals the
    configuration (image names, container names, Docker's words) for callers with the key."""

    code: str
    message: str
    recovery_eta_seconds: int | None
    can_retry: bool
    should_wait: bool
    private: str = ""

    @property
    def is_fault(self) -> bool:
        return self.code in FAULTS

    def text(self, reveal: bool = True) -> str:
        return f"{self.message}: {self.private}" if reveal and self.private else self.message

    def details(self, reveal: bool = True) -> dict:
        """SPEC's `blocked_reason_details` object."""
        return {"code": self.code, "message": self.text(reveal),
                "recovery_eta_seconds": self.recovery_eta_seconds,
                "can_retry": self.can_retry, "should_wait": self.should_wait}


class ProvisioningBlocked(Unavailable):
    """Answered 503 with `{"detail": {"error": "provisioning_blocked", ...details}}`: acexy reads
    `detail` as that object (its `code` first)."""

    def __init__(self, blocked: Blocked):
        super().__init__(blocked.text(), code=blocked.code)
        self.blocked = blocked

    def detail(self) -> dict:
        return {"error": "provisioning_blocked", **self.blocked.details()}


# Docker's own failure, where it blocks a provision, is answered the same way.
def blocked_by(exc: docker_gateway.DockerUnavailable) -> ProvisioningBlocked:
    record_docker(False, str(exc))
    return ProvisioningBlocked(docker_down(str(exc)))


# --- what the stored state says ------------------------------------------------------------

def docker_down(error: str) -> Blocked:
    return Blocked("docker_unreachable", "Docker does not answer", DOCKER_RETRY_ETA_S,
                   can_retry=True, should_wait=True, private=error)


def _docker_blocked(fleet: Fleet) -> Blocked | None:
    return None if fleet.docker_reachable else docker_down(fleet.docker_error)


def _image_blocked(fleet: Fleet, image: str) -> Blocked | None:
    if not fleet.image_missing or fleet.image != image:
        return None
    return Blocked("image_unavailable", "the engine image is not available and could not be pulled",
                   None, can_retry=False, should_wait=False,
                   private=f"{image!r}: {fleet.image_error}")


def _breaker_blocked(fleet: Fleet, now) -> Blocked | None:
    state = fleet.breaker_state(now)
    if state == Fleet.Breaker.CLOSED:
        return None
    cfg = conf()
    remaining = max(0, round(cfg.PROVISION_COOLDOWN_S - (now - fleet.breaker_opened_at).total_seconds()))
    return Blocked("circuit_breaker",
                   f"{fleet.start_failures} engine starts failed in a row; the circuit breaker is {state}",
                   remaining, can_retry=state == Fleet.Breaker.HALF_OPEN, should_wait=True,
                   private=f"last failure: {fleet.last_start_failure}")


def at_capacity(message: str, private: str = "delete or scale down engines first") -> Blocked:
    cfg = conf()
    return Blocked("max_capacity", message, cfg.ENGINE_GRACE_PERIOD_S if cfg.AUTO_DELETE else None,
                   can_retry=False, should_wait=True, private=private)


def capacity_blocked(engines: int) -> Blocked | None:
    cap = conf().replica_cap
    return None if engines < cap else at_capacity(f"maximum number of engines reached ({cap})")


@dataclass(frozen=True)
class Observed:
    """What the decision is made from, read in a few queries: the fleet row, the VPN's reason
    (if any) and the number of engines. Readers polled often (the status route) reuse it until
    the database changes (core.read_cache); the decision itself depends on the time too."""

    fleet: Fleet
    vpn: Blocked | None
    engines: int


def observe() -> Observed:
    return Observed(Fleet.stored(), hooks.vpn_blocked(), Engine.objects.managed().count())


def decide(observed: Observed, now=None) -> Blocked | None:
    """SPEC's first matching reason, or None when provisioning would go."""
    fleet = observed.fleet
    return (_docker_blocked(fleet) or _image_blocked(fleet, conf().TARGET_IMAGE) or observed.vpn
            or _breaker_blocked(fleet, now or timezone.now()) or capacity_blocked(observed.engines))


def blocked() -> Blocked | None:
    """Why provisioning would be refused now, from stored state only; None when it would go."""
    return decide(observe())


# --- before a start -------------------------------------------------------------------------

def admit(image: str) -> None:
    """Raise ProvisioningBlocked when Docker or the image stand in the way of starting an engine
    of `image`. The VPN is asked next (`hooks.placement`), then the breaker and the capacity
    under the fleet lock (`claim_start`), in SPEC's order."""
    try:
        if not Fleet.stored().docker_reachable and docker_gateway.ping():
            record_docker(True)
        fleet = Fleet.stored()
        if not fleet.docker_reachable:
            raise ProvisioningBlocked(_docker_blocked(fleet))
        if image == conf().TARGET_IMAGE:
            ensure_engine_image(image)
        else:
            docker_gateway.ensure_image(image)  # a caller's own image: ImageUnavailable is their 422
    except docker_gateway.DockerUnavailable as exc:
        raise blocked_by(exc) from exc


def claim_start(fleet: Fleet) -> None:
    """Inside the reservation's transaction, with the fleet row locked: refuse when the breaker
    is open, or half-open with its one trial start already out (else take the trial), or when
    the fleet is at its cap."""
    now = timezone.now()
    state = fleet.breaker_state(now)
    if state == Fleet.Breaker.OPEN:
        raise ProvisioningBlocked(_breaker_blocked(fleet, now))
    if state == Fleet.Breaker.HALF_OPEN:
        window = timedelta(seconds=conf().STARTUP_TIMEOUT_S + TRIAL_TIMEOUT_EXTRA_S)
        if fleet.breaker_trial_at and now - fleet.breaker_trial_at < window:
            raise ProvisioningBlocked(_breaker_blocked(fleet, now))
        Fleet.objects.filter(pk=fleet.pk).update(breaker_trial_at=now)
    if problem := capacity_blocked(Engine.objects.managed().count()):
        raise ProvisioningBlocked(problem)


def ensure_engine_image(image: str) -> None:
    """The engine image is present, or ProvisioningBlocked(image_unavailable). While a failed
    pull's backoff runs, only a local inspect is made (an operator may `docker load` it)."""
    fleet = Fleet.stored()
    if fleet.image == image and fleet.image_missing and timezone.now() < fleet.next_pull_at:
        if not docker_gateway.image_present(image):
            raise ProvisioningBlocked(_image_blocked(fleet, image))
    else:
        try:
            pulled = docker_gateway.ensure_image(image)
        except docker_gateway.ImageUnavailable as exc:
            raise ProvisioningBlocked(_image_blocked(_pull_failed(image, exc.docker_said),
                                                     image)) from None
        if pulled:
            Counter.add("orch_image_pulls_total", result="pulled")
    _image_found(image)


def refresh_image() -> None:
    """Reconcile's look at the engine image, every pass whatever MIN_REPLICAS: so a fresh install
    without the image says so within one pass. Pulls only when the backoff allows."""
    try:
        ensure_engine_image(conf().TARGET_IMAGE)
    except ProvisioningBlocked:
        pass


def pull_backoff_s(failures: int) -> int:
    """How long after its `failures`-th failed pull in a row the engine image is pulled again."""
    return min(PULL_BACKOFF_MAX_S, PULL_BACKOFF_FIRST_S * 2 ** (failures - 1))


def _pull_failed(image: str, error: str) -> Fleet:
    Counter.add("orch_image_pulls_total", result="failed")
    with transaction.atomic():
        fleet = Fleet.locked()
        failures = fleet.image_pull_failures + 1 if fleet.image == image else 1
        wait = pull_backoff_s(failures)
        was_missing = fleet.image_missing and fleet.image == image
        fleet.image, fleet.image_missing, fleet.image_error = image, True, error[:500]
        fleet.image_pull_failures = failures
        fleet.next_pull_at = timezone.now() + timedelta(seconds=wait)
        fleet.save()
    if was_missing:
        log.info("engine image %s still unavailable (pull %d failed); next pull in %d s",
                 image, failures, wait)
    else:
        log.warning("provisioning blocked: engine image %s is not available: %s; next pull in %d s",
                    image, error, wait)
        _announce("image_unavailable", True)
    return fleet


def _image_found(image: str) -> None:
    fleet = Fleet.stored()
    if fleet.image == image and not fleet.image_missing:
        return
    was_missing = fleet.image_missing
    Fleet.objects.filter(pk=fleet.pk).update(image=image, image_missing=False, image_error="",
                                             image_pull_failures=0, next_pull_at=None)
    if was_missing:
        log.warning("engine image %s is available again: provisioning resumes", image)
        _announce("image_unavailable", False)


# --- what happened ------------------------------------------------------------------------

def _announce(reason: str, blocking: bool) -> None:
    """A reason provisioning may be blocked began (`blocking`) or ended: live views read the gate
    again. Called only on a change, never for a repeat."""
    notify("provisioning", reason=reason, blocking=blocking)


# Saved settings the decision reads: a change may start or end a reason with no write here (an
# image set back to one that is present, a cap raised), so it is announced too.
GATE_SETTINGS = frozenset({"TARGET_IMAGE", "MAX_REPLICAS", "MAX_ACTIVE_REPLICAS",
                           "PROVISION_FAILURE_THRESHOLD", "PROVISION_COOLDOWN_S", "MIN_REPLICAS"})


def settings_changed(sender, names, **kwargs) -> None:
    """core.live_settings' signal: live views read the gate again when one of its inputs moved."""
    if changed := sorted(GATE_SETTINGS & set(names)):
        notify("provisioning", reason="settings", changed=changed)


def record_docker(reachable: bool, error: str = "") -> None:
    """Docker answered or not (the events listener, reconcile and provisioning tell); written
    and logged only when it changes."""
    fleet = Fleet.stored()
    if fleet.docker_reachable == reachable:
        return  # no change (a row not written yet means reachable, as far as anyone knows)
    Fleet.ensure()
    Fleet.objects.filter(pk=Fleet.PK).update(docker_reachable=reachable, docker_error=error[:500],
                                             docker_checked_at=timezone.now())
    if reachable:
        log.warning("Docker answers again: provisioning resumes")
    else:
        log.warning("provisioning blocked: Docker does not answer (%s)", error)
    _announce("docker_unreachable", not reachable)


def record_start_failure(reason: str) -> None:
    """An engine start failed (Docker refused it, or it never answered get_status): one more in a
    row; at PROVISION_FAILURE_THRESHOLD (or on a failed half-open trial) the breaker opens."""
    cfg = conf()
    now = timezone.now()
    with transaction.atomic():
        fleet = Fleet.locked()
        was = fleet.breaker_state(now)
        fleet.start_failures += 1
        fleet.last_start_failure_at, fleet.last_start_failure = now, reason[:500]
        if was == Fleet.Breaker.HALF_OPEN or (
                was == Fleet.Breaker.CLOSED and fleet.start_failures >= cfg.PROVISION_FAILURE_THRESHOLD):
            fleet.breaker_opened_at, fleet.breaker_trial_at = now, None
        fleet.save()
    if was != Fleet.Breaker.OPEN and fleet.breaker_state(now) == Fleet.Breaker.OPEN:
        log.warning("provisioning blocked: %d engine starts failed in a row (last: %s); the "
                    "circuit breaker is open for %d s", fleet.start_failures, reason,
                    cfg.PROVISION_COOLDOWN_S)
        _announce("circuit_breaker", True)


def record_start_success() -> None:
    """An engine started and answered get_status: the failures in a row end, the breaker closes."""
    Fleet.ensure()
    Fleet.objects.filter(pk=Fleet.PK).update(last_start_success_at=timezone.now())
    reset_breaker(reason="an engine started")


def reset_breaker(reason: str = "reset by an operator") -> None:
    """Close the breaker and forget the failures in a row (the last failure stays on record)."""
    Fleet.ensure()
    with transaction.atomic():
        was_open = Fleet.locked().breaker_opened_at is not None
        Fleet.objects.filter(pk=Fleet.PK).update(start_failures=0, breaker_opened_at=None,
                                                 breaker_trial_at=None)
    if was_open:
        log.warning("circuit breaker closed (%s): provisioning resumes", reason)
        _announce("circuit_breaker", False)
