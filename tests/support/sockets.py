"""The panel's live feed (`/ws/fleet`) as a staff browser opens it on a live orchestrator."""

import httpx
from websockets.sync.client import connect

from tests import environment
from tests.support.live import Orchestrator


def session_cookie(base_url: str, username: str, password: str) -> str:
    """Log in through Django's admin form, as a person does; returns the Cookie header."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        client.get("/admin/login/")
        response = client.post("/admin/login/?next=/panel", data={
            "username": username, "password": password, "next": "/panel",
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        })
        assert response.status_code == 302, response.text[:500]
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def open_socket(orch: Orchestrator, cookie: str | None = None, origin: str | None = None):
    headers = {"Cookie": cookie} if cookie else {}
    return connect(f"ws://127.0.0.1:{orch.port}/ws/fleet", origin=origin or orch.base_url,
                   additional_headers=headers, proxy=None, open_timeout=10)


def staff_cookie(orch: Orchestrator) -> str:
    return session_cookie(orch.base_url, environment.TEST_ENV["ADMIN_USERNAME"],
                          environment.TEST_ENV["ADMIN_PASSWORD"])
