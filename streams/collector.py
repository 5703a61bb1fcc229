"""Stats collector (placeholder until the streams work lands)."""


def collect_pass():
    return None
