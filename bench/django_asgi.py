"""The web as Django documents it, for bench/web_handler.py's baseline: the site's ASGI app with
Django's own ASGIHandler serving HTTP instead of orchestrator_site/http_handler.py."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator_site.settings")
django_http = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from orchestrator_site import asgi  # noqa: E402

application = ProtocolTypeRouter({"http": django_http,
                                  "websocket": asgi.application.application_mapping["websocket"]})
