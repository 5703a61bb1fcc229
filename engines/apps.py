from django.apps import AppConfig


class EnginesConfig(AppConfig):
    name = "engines"

    def ready(self):
        from core.live_settings import settings_changed

        from . import gate

        settings_changed.connect(gate.settings_changed, dispatch_uid="engines.gate.settings")
