from django.contrib import admin
from django.urls import include, path

from .api import api
from .views import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("", include("django_prometheus.urls")),
    path("", include("panel.urls")),
    path("", api.urls),
]
