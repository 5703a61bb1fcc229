from django.contrib import admin
from django.urls import include, path

from .api import api
from .metrics import metrics_view
from .views import health

handler404 = "orchestrator_site.views.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("panel.urls")),
    path("", api.urls),
]
