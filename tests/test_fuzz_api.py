"""Fuzz the API from its own OpenAPI document (schemathesis, bounded): no 5xx, no response that
breaks the documented schema. Write endpoints are fuzzed behind a token the fuzzer lacks, so they
answer 401 instead of starting refits. Driven through hypothesis directly (schemathesis's pytest
plugin does not yet support pytest 9).

The page at `/` answers 422 (an HTML page naming the input) for a lever value outside the lever's
range or a scenario the run does not have: limits that depend on the run and cannot be written
into a static query schema. For that one operation the "valid data must be accepted" check is
off; every other check (no 5xx, documented status codes and content types) still applies.
`GET /v1/sensitivity` asks either a target or a metric and a year: a choice between parameters a
query schema cannot state, so a schema-valid query naming both, or neither, is refused (422) and
that check is off for it too. `POST /v1/forecast` takes series that must be regular, long enough for
their frequency and free of duplicate periods: conditions across rows that no schema states, so a
schema-valid body of random rows is refused (422) and that check is off for it as well."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

MAX_EXAMPLES = 12


@pytest.mark.slow
def test_api_conforms_to_its_openapi_document(small_store):
    from smfcast.api import create_app
    from tests.conftest import DATA
    app = create_app({"SMFCAST_DATA": str(DATA), "SMFCAST_STORE": str(small_store.path), "SMFCAST_API_TOKEN": "fuzz-only"})
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    from schemathesis.specs.openapi.checks import positive_data_acceptance
    for operation in operations:
        _fuzz(operation, [positive_data_acceptance] if operation.path in ("/", "/v1/sensitivity", "/v1/forecast") else [])


def _fuzz(operation, excluded: list) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def check(case):
        case.call_and_validate(excluded_checks=excluded)

    check()
