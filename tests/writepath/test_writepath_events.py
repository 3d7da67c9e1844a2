"""The sample events in ``events/`` drive the handlers as API Gateway would send them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from writepath_support import ApiSetup, FakeLambdaContext, load_event


def run(api: ApiSetup, name: str) -> tuple[int, Any]:
    event = load_event(name)
    event["requestContext"]["authorizer"]["client_id"] = "actor"
    response = api.gateway.handler(event, FakeLambdaContext())
    body = response.get("body")
    return int(response["statusCode"]), json.loads(body) if body else None


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("api-post-ticketscloud-actions.json", 202),
        ("api-post-ecards-order.json", 202),
        ("api-post-ticketscloud-export.json", 202),
        ("api-get-action.json", 404),
        ("api-get-order.json", 404),
        ("api-list-orders.json", 200),
        ("api-get-openapi.json", 200),
    ],
)
def test_each_sample_api_event_gets_its_answer(api: ApiSetup, name: str, status: int) -> None:
    code, body = run(api, name)
    assert code == status, body


def test_the_sample_post_carries_an_idempotency_key_that_replays(api: ApiSetup) -> None:
    first = run(api, "api-post-ticketscloud-actions.json")
    second = run(api, "api-post-ticketscloud-actions.json")
    assert first[1]["action_id"] == second[1]["action_id"]


def test_the_openapi_document_is_served_without_an_authorizer_context(api: ApiSetup) -> None:
    event = load_event("api-get-openapi.json")
    event["requestContext"]["authorizer"] = None
    response = api.gateway.handler(event, FakeLambdaContext())
    assert response["statusCode"] == 200
    assert "/ecards/orders" in json.loads(response["body"])["paths"]


def test_sample_fifo_records_carry_the_attributes_sqs_sends() -> None:
    for name in ("sqs-fifo-actions.json", "sqs-fifo-redelivered.json"):
        for record in load_event(name)["Records"]:
            attributes = record["attributes"]
            assert {"MessageGroupId", "SequenceNumber", "MessageDeduplicationId", "ApproximateReceiveCount"} <= set(
                attributes
            )
            assert record["eventSourceARN"].endswith(".fifo")
