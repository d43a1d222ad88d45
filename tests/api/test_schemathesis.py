"""Schemathesis against the served OpenAPI document: generated requests (valid and invalid)
to every operation never meet a server error. Bounded examples keep it under two minutes."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.api.conftest import World

EXAMPLES = 12


def test_no_operation_answers_with_a_server_error(world: World) -> None:
    with world.client("acme", "admin") as warm:  # load the assistant's encoder once
        warm.get("/v1/assist/similar", params={"text": "refund"})
    schema = schemathesis.openapi.from_url(f"{world.url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        key = world.admin_key if operation.path.startswith("/v1/tenants") else \
            world.keys["acme"]["admin"]
        headers = {"Authorization": f"Bearer {key}"}

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers,  # noqa: B023 - called right here
                                   checks=[not_a_server_error], timeout=120)

        try:
            call()
        except Exception as err:  # collect every operation's failure, not only the first
            failures.append(f"{operation.method.upper()} {operation.path}: {err}"[:2000])
    assert operations >= 40
    assert not failures, "\n\n".join(failures)
