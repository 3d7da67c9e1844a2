"""The three Lambda entry points, loaded from ``functions/`` and run with the template's environment."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from writepath_support import ApiSetup, FakeLambdaContext, load_event, records_from_sqs

from ordersync import composition
from ordersync.actions.models import ActionKind, ActionState

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def load_function(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"function_{name}", FUNCTIONS / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def environment(api: ApiSetup, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiSetup]:
    values = {
        "ACTIONS_TABLE": api.aws.actions_table,
        "CLIENTS_TABLE": api.aws.clients_table,
        "IDEMPOTENCY_TABLE": api.aws.idempotency_table,
        "ORDERS_TABLE": api.orders.table_name,
        "ACTIONS_QUEUE_URL": api.aws.queue_url,
        "ACTIONS_MAX_RECEIVE_COUNT": "5",
        "POWERTOOLS_SERVICE_NAME": "ordersync",
        "POWERTOOLS_METRICS_NAMESPACE": "ordersync",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    composition.reset()
    yield api
    composition.reset()


def test_the_api_function_accepts_the_sample_action(environment: ApiSetup) -> None:
    event = load_event("api-post-ticketscloud-actions.json")
    event["requestContext"]["authorizer"]["client_id"] = "actor"
    response = load_function("api").lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 202
    action = environment.aws.actions().get(json.loads(response["body"])["action_id"])
    assert action is not None
    assert action.state is ActionState.QUEUED


def emf_metrics(output: str) -> dict[str, list[str]]:
    """The metric names of each namespace in the EMF lines a function printed."""
    found: dict[str, list[str]] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
            found.setdefault(directive["Namespace"], []).extend(metric["Name"] for metric in directive["Metrics"])
    return found


def test_the_api_function_publishes_accepted_actions(environment: ApiSetup, capsys: pytest.CaptureFixture[str]) -> None:
    event = load_event("api-post-ticketscloud-actions.json")
    event["requestContext"]["authorizer"]["client_id"] = "actor"
    Metrics().clear_metrics()  # Powertools shares one metric set per process: start from an empty one
    capsys.readouterr()
    assert load_function("api").lambda_handler(event, FakeLambdaContext())["statusCode"] == 202
    assert emf_metrics(capsys.readouterr().out) == {"ordersync": ["ActionsAccepted"]}


def test_the_authorizer_function_refuses_an_unknown_token(environment: ApiSetup) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        load_function("authorizer").lambda_handler(load_event("authorizer-request.json"), FakeLambdaContext())


def test_the_authorizer_function_allows_a_known_token(environment: ApiSetup) -> None:
    event = load_event("authorizer-request.json")
    event["headers"]["Authorization"] = f"Bearer {environment.tokens['actor']}"
    policy: dict[str, Any] = load_function("authorizer").lambda_handler(event, FakeLambdaContext())
    assert policy["context"]["client_id"] == "actor"


def test_the_worker_function_returns_a_partial_batch_response(
    environment: ApiSetup, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.aws.acceptor().accept(
        kind=ActionKind.TICKETSCLOUD_EXPORT,
        order_id=None,
        client_id="actor",
        payload={"email": "reports@example.com"},
    )
    records = records_from_sqs(environment.aws.sqs, environment.aws.queue_url)
    # No platform secret exists here: the record is returned for a later delivery and the action says why.
    response = load_function("action_worker").lambda_handler({"Records": records}, FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    published = emf_metrics(capsys.readouterr().out)["ordersync"]
    assert {"ActionRecordsReturned", "ActionsRetried"} <= set(published)
    action_id = json.loads(records[0]["body"])["action_id"]
    action = environment.aws.actions().get(action_id)
    assert action is not None
    assert action.state is ActionState.QUEUED
    assert action.last_error is not None
    assert action.last_error.code == "internal_error"
