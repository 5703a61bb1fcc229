"""Orchestrators sharing one database must share SECRET_KEY: django-q2 signs every queued task
with it, so a worker with another key refuses (BadSignature) the reconcile passes and first checks
the other orchestrator queued, and its admin sessions fail on the other's web process. Nothing
else would say so. Each worker announces itself now and then (`heartbeat`), with a proof signed by
its key, and names every recently seen orchestrator whose proof its own key cannot verify."""

import logging
import socket
from datetime import timedelta

from django.core import signing
from django.utils import timezone

from .instance import instance_id
from .models import Peer

log = logging.getLogger(__name__)

SALT = "orchestrator.peers"
HEARTBEAT_S = 60
# A worker stopped for longer is no longer compared: its key may have been fixed meanwhile.
FORGOTTEN_AFTER = timedelta(seconds=5 * HEARTBEAT_S)

_reported: set[str] = set()


def announce() -> None:
    me = instance_id()
    Peer.objects.update_or_create(instance=me, defaults={
        "host": socket.gethostname(), "key_proof": signing.dumps(me, salt=SALT),
        "seen_at": timezone.now()})


def with_another_key() -> list[Peer]:
    """Orchestrators seen lately whose proof this SECRET_KEY (or a SECRET_KEY_FALLBACKS one)
    does not verify."""
    recent = Peer.objects.exclude(instance=instance_id()).filter(
        seen_at__gte=timezone.now() - FORGOTTEN_AFTER).order_by("instance")
    return [peer for peer in recent if not _signed_by_our_key(peer)]


def _signed_by_our_key(peer: Peer) -> bool:
    try:
        return signing.loads(peer.key_proof, salt=SALT) == peer.instance
    except signing.BadSignature:
        return False


def heartbeat() -> list[Peer]:
    """Announce this orchestrator, and log an error (once per process) for each other one that
    uses another SECRET_KEY; returns those."""
    announce()
    others = with_another_key()
    for peer in others:
        if peer.instance not in _reported:
            _reported.add(peer.instance)
            log.error("%s uses another SECRET_KEY than this one: each orchestrator refuses the "
                      "tasks the other queues and its admin sessions. Give every orchestrator on "
                      "this database the same SECRET_KEY.", peer)
    return others
