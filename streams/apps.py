from django.apps import AppConfig


class StreamsConfig(AppConfig):
    name = "streams"

    def ready(self):
        from engines import hooks

        from . import (
            receivers,  # noqa: F401 - connects the signal receivers
            services,
        )

        hooks.started_streams.register(services.started_stream_ids)
        hooks.started_stream_count.register(services.started_stream_count)
