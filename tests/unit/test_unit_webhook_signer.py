"""The webhook signer's handler: a change event in, one signed delivery put back on the bus."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import FakeLambdaContext
from standardwebhooks.webhooks import Webhook

from ordersync.webhooks.signing import new_secret

SECRET = new_secret()
EVENT = {
    "id": "e1",
    "detail-type": "Order Created",
    "source": "ordersync",
    "time": "2026-12-02T10:00:00Z",
    "detail": {"platform": "ticketscloud", "order_id": "5bacf64ea0eb2f000c45160a", "version": 1},
}


class FakeEvents:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.entries.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"}]}


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("EVENT_BUS_NAME", "ordersync-test-orders")
    from ordersync import composition

    composition.reset()
    path = Path(__file__).resolve().parents[2] / "functions" / "webhook_signer" / "app.py"
    spec = importlib.util.spec_from_file_location("app_webhook_signer", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "_events", FakeEvents())
    monkeypatch.setattr(module, "subscriber_secret", lambda: SECRET)
    yield module
    composition.reset()


def test_a_change_event_is_put_back_on_the_bus_signed_for_the_api_destination(app: Any) -> None:
    app.lambda_handler(EVENT, FakeLambdaContext())
    (entry,) = app._events.entries
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "ordersync.webhooks",
        "Webhook Delivery Signed",
        "ordersync-test-orders",
    )
    detail = json.loads(entry["Detail"])
    body = json.dumps(detail["body"], separators=(",", ":"), ensure_ascii=False)
    payload = Webhook(SECRET).verify(body, detail["headers"])
    assert payload["version"] == 1
    assert abs(int(detail["headers"]["webhook-timestamp"]) - time.time()) < 60
