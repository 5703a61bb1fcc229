"""Orchestrators on one database must share SECRET_KEY (core.peers): a worker announces itself
with a proof signed by its key, and names each other orchestrator seen lately whose proof its own
key does not verify, in its log and on the admin index."""

import logging
from datetime import timedelta

import pytest
from django.core import signing
from django.test import override_settings
from django.utils import timezone

from core import peers
from core.instance import instance_id
from core.models import Peer

pytestmark = pytest.mark.django_db


def other_orchestrator(name: str, key: str, seen_ago: timedelta = timedelta()) -> Peer:
    with override_settings(SECRET_KEY=key):
        proof = signing.dumps(name, salt=peers.SALT)
    return Peer.objects.create(instance=name, host=f"host-{name}", key_proof=proof,
                               seen_at=timezone.now() - seen_ago)


def test_an_orchestrator_announces_itself_with_a_proof_of_its_key(settings):
    peers.heartbeat()
    me = Peer.objects.get(instance=instance_id())
    assert signing.loads(me.key_proof, salt=peers.SALT) == instance_id()
    with override_settings(SECRET_KEY="another key entirely"), pytest.raises(signing.BadSignature):
        signing.loads(me.key_proof, salt=peers.SALT)


def test_only_a_recent_orchestrator_with_another_key_is_named(settings, caplog, monkeypatch):
    monkeypatch.setattr(peers, "_reported", set())  # what this process already said
    other_orchestrator("same-key", settings.SECRET_KEY)
    other_orchestrator("other-key", "not our key")
    other_orchestrator("stopped-long-ago", "not our key", peers.FORGOTTEN_AFTER + timedelta(seconds=1))
    with caplog.at_level(logging.ERROR, logger="core.peers"):
        assert [peer.instance for peer in peers.heartbeat()] == ["other-key"]
        peers.heartbeat()
    assert [record.getMessage() for record in caplog.records] == [
        "orchestrator other-key on host-other-key uses another SECRET_KEY than this one: each "
        "orchestrator refuses the tasks the other queues and its admin sessions. Give every "
        "orchestrator on this database the same SECRET_KEY."], "said once per process"


def test_a_key_being_rotated_is_still_ours(settings):
    other_orchestrator("old-key", "the key before")
    settings.SECRET_KEY_FALLBACKS = ["the key before"]
    assert peers.with_another_key() == []


def test_the_admin_index_names_it(admin_client):
    other_orchestrator("other-key", "not our key")
    page = admin_client.get("/admin/").content.decode()
    assert "orchestrator other-key on host-other-key uses another SECRET_KEY</span>" in page
