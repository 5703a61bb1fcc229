"""Docker events listener (placeholder until the health work lands)."""


def listen_for_events(stop):
    stop.wait()
