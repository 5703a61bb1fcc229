import pytest

from tests.support.events import EVENT_DEADLINE_S, listening, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_a_container_started_by_hand_with_our_label_is_adopted_by_the_listener(api, fleet, settings):
    cfg = settings.ORCH
    port = cfg.PORT_RANGE_HOST.end  # the end of this run's block: never handed out by these tests
    with listening():
        container = fleet.containers.run(
            cfg.TARGET_IMAGE, name=f"{cfg.ENGINE_NAME_PREFIX}-by-hand", detach=True,
            environment={"HTTP_PORT": str(port)},
            labels={cfg.label_key: cfg.label_value, "host.http_port": str(port),
                    "acestream.http_port": str(port)},
            ports={f"{port}/tcp": ("127.0.0.1", port)},
        )
        engines = wait_for(lambda: api.get("/engines").json(), EVENT_DEADLINE_S)
    assert [(e["container_id"], e["port"]) for e in engines] == [(container.id, port)]
    # Its port is reserved like a provisioned engine's.
    assert api.post("/provision/acestream", {"host_port": port}).status_code == 409


def test_the_listener_stops_without_waiting_for_another_docker_event(db, fleet):
    # No container changes meanwhile, so no event arrives to wake a listener blocked on the stream.
    with listening() as listener:
        listener.stop.set()
        listener.thread.join(timeout=EVENT_DEADLINE_S)
        assert not listener.thread.is_alive()
