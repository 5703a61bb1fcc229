import pytest

from core.config import ConfigError, PortRange
from tests.support.config import config_from


def test_defaults_match_the_spec():
    config = config_from({})
    assert config.MIN_REPLICAS == 3 and config.MAX_REPLICAS == 20
    assert config.CONTAINER_LABEL == "orchestrator.managed=acestream"
    assert config.PORT_RANGE_HOST == PortRange(19000, 19999)
    assert config.AUTO_DELETE is True and config.ACE_MAP_HTTPS is False
    assert config.API_KEY is None and config.GLUETUN_CONTAINER_NAME is None
    assert config.TARGET_IMAGE == "ghcr.io/krinkuto11/acestream-http-proxy:latest"


@pytest.mark.parametrize("raw, expected", [("yes", True), ("0", False), ("TRUE", True), ("no", False)])
def test_booleans_accept_the_documented_spellings(raw, expected):
    assert config_from({"AUTO_DELETE": raw}).AUTO_DELETE is expected


@pytest.mark.parametrize("raw, expected", [("0", 0.0), ("0.25", 0.25), ("0.9", 0.9)])
def test_collect_spread_is_a_share_from_nothing_to_most_of_the_interval(raw, expected):
    assert config_from({"COLLECT_SPREAD": raw}).COLLECT_SPREAD == expected


@pytest.mark.parametrize("environ, named", [
    ({"AUTO_DELETE": "maybe"}, "AUTO_DELETE"),
    ({"MAX_REPLICAS": "lots"}, "MAX_REPLICAS"),
    ({"MIN_REPLICAS": "5", "MAX_REPLICAS": "2"}, "MIN_REPLICAS"),
    ({"PORT_RANGE_HOST": "19999-19000"}, "PORT_RANGE_HOST"),
    ({"PORT_RANGE_HOST": "19000"}, "PORT_RANGE_HOST"),
    ({"ACE_HTTPS_RANGE": "19500-20500"}, "ACE_HTTPS_RANGE"),
    ({"CONTAINER_LABEL": "novalue"}, "CONTAINER_LABEL"),
    ({"HEALTH_CHECK_TIMEOUT_S": "-1"}, "HEALTH_CHECK_TIMEOUT_S"),
    ({"COLLECT_SPREAD": "0.95"}, "COLLECT_SPREAD"),
    ({"COLLECT_SPREAD": "half"}, "COLLECT_SPREAD"),
])
def test_malformed_values_are_refused_naming_the_variable(environ, named):
    with pytest.raises(ConfigError, match=named):
        config_from(environ)


def test_a_bad_value_stops_django_start_up_with_a_message(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "MAX_REPLICAS": "many", "DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "MAX_REPLICAS" in result.stderr
    assert "Traceback" not in result.stderr
