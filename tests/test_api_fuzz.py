"""Generated requests over the whole OpenAPI schema, with the key: no 5xx but the documented
capacity answer, and every answer matches the schema."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orchestrator_site.wsgi import application
from tests.conftest import API_KEY

# alone: schemathesis gives every generated item the same test id.
pytestmark = [pytest.mark.docker, pytest.mark.alone, pytest.mark.slow,
              pytest.mark.django_db(transaction=True)]

schema = schemathesis.openapi.from_wsgi("/openapi.json", application)
# Enough per operation for more than 1,000 cases over the 13 operations.
EXAMPLES_PER_OPERATION = 90
# The one 5xx a valid request may get here: the fleet is full (MAX_REPLICAS=2).
CAPACITY = "max_capacity"


CASES_RUN = []


@pytest.fixture(scope="module", autouse=True)
def at_least_a_thousand_cases():
    yield
    assert len(CASES_RUN) >= 1000, f"only {len(CASES_RUN)} generated cases ran"
    print(f"\n{len(CASES_RUN)} generated cases")


def no_server_error(ctx, response, case):
    CASES_RUN.append(case.operation.label)
    if response.status_code >= 500:
        try:
            detail = response.json().get("detail", {})
        except ValueError:
            detail = {}
        assert response.status_code == 503 and isinstance(detail, dict) and (
            detail.get("code") == CAPACITY), (
            f"{case.method} {case.formatted_path} answered {response.status_code}: "
            f"{response.text[:300]}")


@pytest.fixture(autouse=True)
def small_fleet(orch, fleet):
    orch(MAX_REPLICAS=2)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_generated_requests_never_fail_the_server(case):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {API_KEY}"},
        checks=[no_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance],
        excluded_checks=None,
    )
