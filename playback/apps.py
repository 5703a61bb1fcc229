from django.apps import AppConfig


class PlaybackConfig(AppConfig):
    """Players on the orchestrator itself (GET /ace/getstream): one engine session per content,
    fanned out to every player, with failover between engines (SPEC "Playback")."""

    name = "playback"
    verbose_name = "Playback"
