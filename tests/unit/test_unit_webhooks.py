"""Webhooks in (``webhooks.receiver``, ``webhooks.consumer``) and out (``webhooks.signing``) on fakes."""

from __future__ import annotations

import importlib.util
import json
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from builders import NOW, Clock, FakeLambdaContext, load_event, order, with_status
from fakes import FakeHintQueue, FakeOrderFetcher, FakeOrderStore
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ordersync import platforms
from ordersync.errors import RetryableError
from ordersync.models import OrderStatus, Platform
from ordersync.webhooks.consumer import WebhookConsumer
from ordersync.webhooks.models import WebhookHint, WebhookOutcome
from ordersync.webhooks.receiver import WebhookReceiver, secret_matches
from ordersync.webhooks.signing import delivery_body, new_secret, sign_event

ORDER_ID = "5bacf64ea0eb2f000c45160a"
OTHER_ID = "5bacf64ea0eb2f000c45160b"
SECRET = "s3cret-current"
PREVIOUS = "s3cret-previous"


def body(order_id: Any = ORDER_ID, event_type: str = "order_done") -> str:
    return json.dumps({"type": event_type, "data": {"id": order_id, "status": "done"}})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue() -> FakeHintQueue:
    return FakeHintQueue()


@pytest.fixture
def receiver(queue: FakeHintQueue, clock: Clock) -> WebhookReceiver:
    return WebhookReceiver(
        queue=queue,
        secrets=lambda platform: (SECRET, PREVIOUS),
        readers=platforms.webhook_module,
        profiles=platforms.profile,
        coalesce_seconds=2.0,
        clock=clock,
    )


# -- the receiver -------------------------------------------------------------------------------------------------
def test_a_hint_with_the_current_secret_is_queued_and_answered_202(
    receiver: WebhookReceiver, queue: FakeHintQueue
) -> None:
    receipt = receiver.receive("ticketscloud", SECRET, body())
    assert (receipt.status_code, receipt.outcome) == (202, WebhookOutcome.ACCEPTED)
    assert [(hint.platform, hint.order_id, hint.event_type) for hint in queue.sent] == [
        (Platform.TICKETSCLOUD, ORDER_ID, "order_done")
    ]


def test_the_previous_secret_is_still_accepted_during_a_rotation(
    receiver: WebhookReceiver, queue: FakeHintQueue
) -> None:
    assert receiver.receive("ticketscloud", PREVIOUS, body()).status_code == 202
    assert len(queue.sent) == 1


@pytest.mark.parametrize("secret", ["wrong", "", SECRET + "x", SECRET[:-1]])
def test_a_wrong_secret_is_401_and_queues_nothing(receiver: WebhookReceiver, queue: FakeHintQueue, secret: str) -> None:
    receipt = receiver.receive("ticketscloud", secret, body())
    assert (receipt.status_code, receipt.outcome) == (401, WebhookOutcome.REFUSED_SECRET)
    assert queue.sent == []


@pytest.mark.parametrize(
    "raw",
    [None, "", "not json", "[1, 2]", '{"type": "order_done"}', body(order_id=123), body(order_id="../x"), body("")],
)
def test_a_body_naming_no_order_id_is_400_and_queues_nothing(
    receiver: WebhookReceiver, queue: FakeHintQueue, raw: str | None
) -> None:
    receipt = receiver.receive("ticketscloud", SECRET, raw)
    assert (receipt.status_code, receipt.outcome) == (400, WebhookOutcome.REFUSED_BODY)
    assert queue.sent == []


def test_a_platform_without_webhooks_is_404(receiver: WebhookReceiver, queue: FakeHintQueue) -> None:
    assert receiver.receive("bizon365", SECRET, body()).status_code == 404
    assert receiver.receive("nowhere", SECRET, body()).status_code == 404
    assert queue.sent == []


def test_an_unreachable_queue_is_503_never_500(receiver: WebhookReceiver, queue: FakeHintQueue) -> None:
    queue.fail = RuntimeError("sqs down")
    assert receiver.receive("ticketscloud", SECRET, body()).status_code == 503


def test_repeated_hints_of_one_order_in_one_window_are_coalesced(
    receiver: WebhookReceiver, queue: FakeHintQueue, clock: Clock
) -> None:
    clock.current = NOW.replace(microsecond=0)
    outcomes = [receiver.receive("ticketscloud", SECRET, body()).outcome for _ in range(50)]
    assert outcomes.count(WebhookOutcome.ACCEPTED) == 1
    assert outcomes.count(WebhookOutcome.COALESCED) == 49
    clock.advance(timedelta(seconds=2))
    assert receiver.receive("ticketscloud", SECRET, body()).outcome == WebhookOutcome.ACCEPTED
    assert len(queue.sent) == 2


def test_hints_of_different_orders_are_not_coalesced(receiver: WebhookReceiver, queue: FakeHintQueue) -> None:
    receiver.receive("ticketscloud", SECRET, body(ORDER_ID))
    receiver.receive("ticketscloud", SECRET, body(OTHER_ID))
    assert [hint.order_id for hint in queue.sent] == [ORDER_ID, OTHER_ID]


def test_secrets_are_compared_whole_and_empty_ones_never_match() -> None:
    assert secret_matches("abc", ("abc",))
    assert not secret_matches("abc", ("abcd", "ab"))
    assert not secret_matches("", ("",))
    assert not secret_matches("abc", ())


# -- the consumer -------------------------------------------------------------------------------------------------
def hint(order_id: str = ORDER_ID, *, at: Any = NOW) -> WebhookHint:
    return WebhookHint(platform=Platform.TICKETSCLOUD, order_id=order_id, event_type="order_done", received_at=at)


def consumer_for(fetcher: FakeOrderFetcher, store: FakeOrderStore, clock: Clock) -> WebhookConsumer:
    return WebhookConsumer(fetchers=lambda platform: fetcher, store=store, clock=clock)


def test_a_hinted_order_is_read_from_the_platform_and_written_when_changed(clock: Clock) -> None:
    stored = order(ORDER_ID)
    store = FakeOrderStore()
    store.seed(stored, at=NOW - timedelta(minutes=5))
    fetcher = FakeOrderFetcher(with_status(stored, OrderStatus.FULFILLED))
    clock.advance(timedelta(seconds=3))
    report = consumer_for(fetcher, store, clock).consume([("m1", hint())])
    assert (report.reads, report.changed, report.failed_message_ids) == (1, 1, [])
    assert store.items[stored.key].order.status == OrderStatus.FULFILLED
    assert report.lags == [3.0]


def test_a_forged_body_changes_nothing_the_platform_does_not_say(clock: Clock) -> None:
    """The hint claimed ``order_done``; the platform still has the order ``executed``: nothing is written."""
    stored = order(ORDER_ID)
    store = FakeOrderStore()
    store.seed(stored, at=NOW - timedelta(minutes=5))
    report = consumer_for(FakeOrderFetcher(stored), store, clock).consume([("m1", hint())])
    assert (report.reads, report.changed) == (1, 0)
    assert store.items[stored.key].order.status == OrderStatus.PENDING
    assert store.writes == []


def test_many_hints_of_one_order_in_a_batch_cause_one_read(clock: Clock) -> None:
    fetcher = FakeOrderFetcher(order(ORDER_ID), order(OTHER_ID))
    messages = [(f"m{i}", hint(ORDER_ID if i % 2 else OTHER_ID)) for i in range(10)]
    report = consumer_for(fetcher, FakeOrderStore(), clock).consume(messages)
    assert sorted(fetcher.reads) == [ORDER_ID, OTHER_ID]
    assert report.coalesced == 8


def test_an_order_the_platform_does_not_have_is_counted_and_nothing_is_stored(clock: Clock) -> None:
    store = FakeOrderStore()
    report = consumer_for(FakeOrderFetcher(), store, clock).consume([("m1", hint())])
    assert (report.not_found, report.failed_message_ids) == (1, [])
    assert store.items == {}


def test_a_failed_read_hands_every_message_of_that_order_back_to_the_queue(clock: Clock) -> None:
    fetcher = FakeOrderFetcher(order(ORDER_ID))
    fetcher.fail = RetryableError(Platform.TICKETSCLOUD, "503", status_code=503)
    report = consumer_for(fetcher, FakeOrderStore(), clock).consume([("m1", hint()), ("m2", hint())])
    assert report.failed_message_ids == ["m1", "m2"]


# -- signing ------------------------------------------------------------------------------------------------------
def change_event(version: int = 3) -> dict[str, Any]:
    return {
        "id": "e1",
        "detail-type": "Order Status Changed",
        "source": "ordersync",
        "time": "2026-12-02T10:00:00Z",
        "detail": {"platform": "ticketscloud", "order_id": ORDER_ID, "version": version, "status": "fulfilled"},
    }


def test_a_signed_delivery_verifies_with_the_standard_webhooks_reference_implementation() -> None:
    secret = new_secret()
    delivery = sign_event(change_event(), secret, timestamp=int(time.time()))
    verified = Webhook(secret).verify(delivery.body, delivery.headers)
    assert verified["version"] == 3
    assert verified["type"] == "Order Status Changed"


def test_a_tampered_body_does_not_verify() -> None:
    secret = new_secret()
    delivery = sign_event(change_event(), secret, timestamp=int(time.time()))
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(delivery.body.replace("fulfilled", "cancelled"), delivery.headers)


def test_one_event_published_twice_is_one_message_id_and_versions_differ_between_changes() -> None:
    assert delivery_body(change_event())[0] == delivery_body(change_event())[0]
    assert delivery_body(change_event(3))[0] != delivery_body(change_event(4))[0]


def test_the_readme_verifier_accepts_a_signed_delivery_and_refuses_a_tampered_one() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(import base64, hashlib, hmac, time\n.*?)```", readme, flags=re.DOTALL)
    assert len([line for line in code.splitlines() if line.strip()]) <= 10  # "in ten lines"
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - the README's own snippet, run as a partner would
    secret = new_secret()
    delivery = sign_event(change_event(), secret, timestamp=int(time.time()))
    assert namespace["verify"](secret, delivery.headers, delivery.body.encode())
    assert not namespace["verify"](secret, delivery.headers, delivery.body.replace("3", "4").encode())


# -- the handlers, with the sample events ---------------------------------------------------------------------------
def load_handler(name: str) -> Any:
    path = Path(__file__).resolve().parents[2] / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"app_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore:No application metrics")  # the fakes emit none
def test_the_receiver_handler_answers_202_for_the_sample_event_with_its_secret(
    monkeypatch: pytest.MonkeyPatch, queue: FakeHintQueue
) -> None:
    app = load_handler("webhook_receiver")
    receiver = WebhookReceiver(
        queue=queue,
        secrets=lambda platform: ("replace-with-the-current-secret",),
        readers=platforms.webhook_module,
        profiles=platforms.profile,
    )
    monkeypatch.setattr(app, "webhook_receiver", lambda: receiver)
    answer = app.lambda_handler(load_event("api-post-ticketscloud-webhook.json"), FakeLambdaContext())
    assert answer["statusCode"] == 202
    assert json.loads(answer["body"])["outcome"] == "accepted"
    assert [hint.order_id for hint in queue.sent] == [ORDER_ID]


@pytest.mark.filterwarnings("ignore:No application metrics")  # the fakes emit none
def test_the_consumer_handler_reads_the_sample_hint_and_reports_no_failure(
    monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    app = load_handler("webhook_consumer")
    fetcher = FakeOrderFetcher(order(ORDER_ID))
    monkeypatch.setattr(app, "webhook_consumer", lambda: consumer_for(fetcher, FakeOrderStore(), clock))
    answer = app.lambda_handler(load_event("sqs-fifo-webhook-hints.json"), FakeLambdaContext())
    assert answer["batchItemFailures"] == []
    assert (answer["webhook_reads"], answer["webhook_changed"]) == (1, 1)
    assert fetcher.reads == [ORDER_ID]
