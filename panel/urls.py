from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "panel"

urlpatterns = [
    path("panel", views.dashboard, name="dashboard"),
    path("panel/", RedirectView.as_view(url="/panel", permanent=True)),
    path("panel/state.json", views.state, name="state"),
    path("panel/engines/<int:pk>/check", views.check_engine, name="check-engine"),
    path("panel/engines/<int:pk>/delete", views.delete_engine, name="delete-engine"),
]
