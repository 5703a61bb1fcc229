import pytest
from django.core.management import CommandError

from engines.models import Engine, PortReservation
from tests.support.commands import command_output

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def run(*args) -> str:
    return command_output("provision", *args)


def run_containers(fleet, settings):
    return fleet.containers.list(all=True, filters={"label": settings.ORCH.CONTAINER_LABEL})


def test_provision_starts_labelled_engines_and_shows_progress(fleet, settings):
    output = run("--count", "2", "--label", "team=blue", "--label", "tier=gold")
    lines = output.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["[1/2]", "[2/2]"]
    engines = list(Engine.objects.order_by("container_name"))
    assert len(engines) == 2
    for engine, line in zip(engines, lines, strict=True):
        assert engine.container_name in line and f"port {engine.port}" in line
        container = fleet.containers.get(engine.container_id)
        assert container.status == "running"
        assert container.labels["team"] == "blue" and container.labels["tier"] == "gold"
        assert container.labels[settings.ORCH.label_key] == settings.ORCH.label_value


def test_wait_ready_reports_each_engine_ready(fleet):
    output = run("--wait-ready")
    assert ", ready after" in output
    assert Engine.objects.get().health_status == "healthy"


@pytest.mark.parametrize("args, message", [
    (["--count", "0"], "--count must be at least 1"),
    (["--count", "-3"], "--count must be at least 1"),
    (["--label", "novalue"], "bad label 'novalue'"),
    (["--label", "=x"], "bad label '=x'"),
    (["--label", "bad key=x"], "labels: Value error, label name 'bad key' is not valid"),
    (["--image", "no spaces allowed"], "image: Value error"),
    (["--count", "61"], "only 60 more engine(s) fit under the limit of 60"),
])
def test_bad_input_is_refused_before_anything_starts(fleet, settings, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(*args)
    assert not Engine.objects.exists()
    assert not PortReservation.objects.exists()
    assert not run_containers(fleet, settings)


def test_a_count_that_is_not_a_number_is_a_usage_error(fleet):
    with pytest.raises(CommandError, match="invalid int value"):
        run("--count", "many")


def test_an_image_docker_does_not_have_fails_with_one_line(fleet, settings):
    with pytest.raises(CommandError) as failure:
        run("--image", "orch-test/missing-image:never")
    assert "missing-image" in str(failure.value) and "\n" not in str(failure.value)
    assert not Engine.objects.exists()
    assert not run_containers(fleet, settings)
