def prune():
    """Placeholder until the streams work lands."""
