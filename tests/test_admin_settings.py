"""The admin's Settings page, through Django's test client: staff change a live setting and see
it in force, in the history and in Django's admin log; a refused save shows every error at its
field and saves nothing; a reset per field; export and import; fixed settings read-only, secrets
masked; without staff (or the permission) nothing."""

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.config import conf
from core.live_settings import LIVE
from core.models import Setting, SettingChange

pytestmark = pytest.mark.django_db

PAGE = "/admin/core/setting/"


def form_of(client) -> dict:
    """The page's form as a browser would submit it untouched (checked boxes only)."""
    page = client.get(PAGE)
    assert page.status_code == 200
    data = {}
    for row in page.context["groups"]:
        for entry in row["rows"]:
            if entry["kind"] == "bool":
                if entry["checked"]:
                    data[entry["name"]] = "on"
            else:
                data[entry["name"]] = entry["input_value"]
    return data


def test_the_page_is_named_and_listed_on_the_admin_index(admin_client):
    assert reverse("admin:core_settings") == PAGE
    index = admin_client.get("/admin/").content.decode()
    assert f'href="{PAGE}"' in index and "Settings" in index
    page = admin_client.get(PAGE).content.decode()
    for topic in ("Engines", "Health", "Stats", "VPN", "Proxy"):
        assert f"<h2>{topic}</h2>" in page
    assert 'name="min_replicas"' in page and "Engines kept running" in page
    assert 'name="database_url"' not in page  # fixed: shown read-only
    assert "DATABASE_URL" in page and "fixed at start" in page


def test_staff_change_min_replicas_and_the_history_shows_it(admin_client, admin_user, orch):
    orch(MIN_REPLICAS=0)
    data = form_of(admin_client)
    assert data["min_replicas"] == "0"
    response = admin_client.post(PAGE, {**data, "min_replicas": "2"}, follow=True)
    assert response.redirect_chain[-1][0] == PAGE
    page = response.content.decode()
    assert "Settings saved: min_replicas: 0 → 2." in page
    assert conf().MIN_REPLICAS == 2
    assert Setting.objects.get(name="MIN_REPLICAS").saved_by == admin_user.username
    # Only what changed was saved: the untouched fields follow the environment still.
    assert list(Setting.objects.values_list("name", flat=True)) == ["MIN_REPLICAS"]
    change = SettingChange.objects.get()
    assert (change.name, change.old_value, change.new_value, change.source, change.who) == (
        "MIN_REPLICAS", 0, 2, "admin", admin_user.username)
    history = page.split('id="settings-history"')[1]
    assert "<code>min_replicas</code>" in history and "<code>0</code> → <code>2</code>" in history
    assert "saved by admin" in page and "from saved" not in page
    entry = LogEntry.objects.get()
    assert entry.user == admin_user and entry.object_id == "MIN_REPLICAS"
    assert "min_replicas: 0 → 2" in entry.get_change_message()


def test_a_refused_save_shows_every_error_at_its_field_and_saves_nothing(admin_client, orch):
    orch(MIN_REPLICAS=0, MAX_REPLICAS=10)
    data = form_of(admin_client)
    response = admin_client.post(PAGE, {**data, "min_replicas": "12", "collect_spread": "2",
                                        "health_check_timeout_s": "soon", "idle_ttl_s": "900"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was saved" in page
    for name in ("min_replicas", "max_replicas", "collect_spread", "health_check_timeout_s"):
        row = page.split(f'id="setting-{name}"')[1].split('class="help"')[0]
        assert 'class="errorlist"' in row, name
    assert 'id="errors-idle_ttl_s"' not in page
    # What was typed stays in the form to be corrected.
    assert 'value="soon"' in page and 'value="900"' in page
    assert not Setting.objects.exists() and not SettingChange.objects.exists()
    assert not LogEntry.objects.exists()


def test_reset_to_environment_per_field(admin_client, orch):
    orch(ENGINE_GRACE_PERIOD_S=30)
    data = form_of(admin_client)
    admin_client.post(PAGE, {**data, "engine_grace_period_s": "90", "auto_delete": ""})
    assert conf().ENGINE_GRACE_PERIOD_S == 90 and conf().AUTO_DELETE is False
    page = admin_client.get(PAGE).content.decode()
    assert 'name="reset" value="engine_grace_period_s"' in page
    assert "<code>true</code> → <code>false</code>" in page.split('id="settings-history"')[1]
    response = admin_client.post(PAGE, {"reset": "engine_grace_period_s"}, follow=True)
    assert "engine_grace_period_s: 90 → 30 (the environment&#x27;s value)" in response.content.decode()
    assert conf().ENGINE_GRACE_PERIOD_S == 30 and conf().AUTO_DELETE is False
    assert list(Setting.objects.values_list("name", flat=True)) == ["AUTO_DELETE"]
    assert SettingChange.objects.filter(name="ENGINE_GRACE_PERIOD_S", reset=True).exists()


def test_export_and_import_as_json(admin_client, orch):
    orch(MIN_REPLICAS=0)
    admin_client.post(PAGE, {**form_of(admin_client), "min_replicas": "1", "proxy_max_streams": "7"})
    download = admin_client.get(reverse("admin:core_settings_export"))
    assert download["Content-Disposition"] == 'attachment; filename="orchestrator-settings.json"'
    exported = json.loads(download.content)
    assert exported == {"min_replicas": 1, "proxy_max_streams": 7}

    upload = SimpleUploadedFile("s.json", json.dumps({"min_replicas": 2}).encode())
    response = admin_client.post(PAGE, {"import": "Import", "file": upload}, follow=True)
    assert "Settings imported" in response.content.decode()
    assert Setting.objects.get().name == "MIN_REPLICAS" and conf().MIN_REPLICAS == 2
    assert conf().PROXY_MAX_STREAMS == 20  # left out of the file: the environment's again

    bad = SimpleUploadedFile("s.json", json.dumps({"min_replicas": -1, "secret_key": "x"}).encode())
    page = admin_client.post(PAGE, {"import": "Import", "file": bad}).content.decode()
    assert "Nothing was imported" in page and "min_replicas:" in page and "secret_key:" in page
    assert conf().MIN_REPLICAS == 2


def test_secrets_are_masked_in_the_read_only_rows(admin_client, orch):
    orch(METRICS_TOKEN="very-secret-token", GLUETUN_API_KEY="another-secret")
    page = admin_client.get(PAGE).content.decode()
    assert "very-secret-token" not in page and "another-secret" not in page
    assert page.split('id="fixed-metrics_token"')[1].split("</tr>")[0].count("********") == 1


def test_without_staff_or_permission_nothing(client, django_user_model):
    assert client.get(PAGE).status_code == 302  # to the login page
    assert client.post(PAGE, {"min_replicas": "5"}).status_code == 302
    user = django_user_model.objects.create_user("viewer", password="pw-123456789", is_staff=True)
    client.force_login(user)
    assert client.get(PAGE).status_code == 403  # staff without the permission to view it
    user.user_permissions.add(Permission.objects.get(codename="view_setting"))
    user = User.objects.get(pk=user.pk)
    page = client.get(PAGE).content.decode()
    assert 'name="min_replicas"' in page and 'value="Save"' not in page
    assert client.post(PAGE, {"min_replicas": "5"}).status_code == 403
    non_staff = django_user_model.objects.create_user("someone", password="pw-123456789")
    client.force_login(non_staff)
    assert client.get(PAGE).status_code == 302
    assert not Setting.objects.exists()
    assert set(LIVE) >= {"MIN_REPLICAS"}
