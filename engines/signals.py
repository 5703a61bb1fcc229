"""Signals other apps listen to, so `engines` never imports them."""

from django.dispatch import Signal

# Sent after an engine's record is deleted or its container died: kwargs `engine`, `reason`.
# The streams app ends the engine's started streams with that reason.
engine_gone = Signal()
