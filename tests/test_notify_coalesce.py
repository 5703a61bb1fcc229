from core.notify import _coalesce


def _message(kind, n):
    return {"type": "fleet.change", "kind": kind, "data": {"n": n}, "ts": n}


def test_a_burst_becomes_one_message_per_kind_with_the_newest_data():
    batch = [_message("stream", 1), _message("engine", 2), _message("stream", 3),
             _message("stream", 4)]
    assert _coalesce(batch) == [
        {"type": "fleet.change", "kind": "stream", "data": {"n": 4, "merged": 3}, "ts": 4},
        {"type": "fleet.change", "kind": "engine", "data": {"n": 2}, "ts": 2},
    ]


def test_a_single_change_goes_out_unchanged():
    assert _coalesce([_message("vpn", 7)]) == [_message("vpn", 7)]
