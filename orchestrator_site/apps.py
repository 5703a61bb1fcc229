import gc
from importlib import import_module

from django.apps import AppConfig


class OrchestratorSiteConfig(AppConfig):
    name = "orchestrator_site"
    verbose_name = "Orchestrator"

    def ready(self):
        from .schedules import JOB_MODULES

        # django-q2 forks its processes from this one: with the job modules imported and every
        # object of the start-up frozen (out of the collector's reach, so its passes do not write
        # to their pages), the workers share these pages instead of each holding its own copy.
        for module in JOB_MODULES:
            import_module(module)
        gc.freeze()
