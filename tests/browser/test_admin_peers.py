"""The admin index names an orchestrator on this database that signs with another SECRET_KEY
(core.peers), and says what to do, readable at 1440 and 390 px (screenshots to tests/artifacts/).
The other orchestrator is a peer row written as its worker would, by a process with its key."""

import pytest

from tests.browser.helpers import DESKTOP, PHONE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.live]

OTHER = "browser-other-key"
ANNOUNCE = f"""
from django.core import signing
from django.utils import timezone
from core import peers
from core.models import Peer
proof = signing.dumps({OTHER!r}, key="a key nobody else has", salt=peers.SALT)
Peer.objects.update_or_create(instance={OTHER!r}, defaults=dict(
    host="host-b", key_proof=proof, seen_at=timezone.now()))
"""
FORGET = f"from core.models import Peer; Peer.objects.filter(instance={OTHER!r}).delete()"


@pytest.fixture
def other_orchestrator(live):
    live.manage("shell", "-c", ANNOUNCE)
    yield f"orchestrator {OTHER} on host-b"
    live.manage("shell", "-c", FORGET)


@pytest.mark.parametrize(("viewport", "name"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_the_admin_index_names_an_orchestrator_with_another_secret_key(
        open_page, other_orchestrator, viewport, name):
    page = open_page("/admin/", viewport=viewport)
    peer = page.locator(".fleet-status-peer")
    peer.wait_for(state="visible", timeout=10_000)
    text = peer.inner_text()
    assert text.startswith(f"{other_orchestrator} uses another SECRET_KEY"), text
    assert "Give every orchestrator on this database the same SECRET_KEY." in text
    screenshot(page, f"admin-index-other-key-{name}")
