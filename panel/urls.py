from django.urls import path

from . import views

app_name = "panel"

urlpatterns = [
    path("panel", views.dashboard, name="dashboard"),
    path("panel/state.json", views.state, name="state"),
    path("panel/engines/<int:pk>/check", views.check_engine, name="check-engine"),
    path("panel/engines/<int:pk>/delete", views.delete_engine, name="delete-engine"),
]
