"""Management commands run in-process, as the tests of each command read them."""

from io import StringIO

from django.core.management import call_command


def command_output(name: str, *args: str) -> str:
    """What `manage.py <name> <args>` writes to stdout."""
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()
