"""Reactions to other apps' signals, connected in StreamsConfig.ready()."""

from django.dispatch import receiver

from engines.signals import engine_gone

from . import services


@receiver(engine_gone, dispatch_uid="streams.end_streams_of_gone_engine")
def end_streams_of_gone_engine(sender, engine, reason, **kwargs):
    """An engine died or was removed: its started streams end with that reason (engine_died,
    engine_deleted, ...); their rows and stats stay as history."""
    services.end_streams_of_engine(engine, reason)
