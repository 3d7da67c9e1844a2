"""Webhooks on the read path, over HTTP and moto: an order read by id on a webhook is the order the list poll
stores (an unchanged one writes nothing, so makes no change event), a changed one is written once, and the hints
queue drops a repeated window and delays delivery to the window's end."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import boto3

from ordersync.aws.webhook_queue import WebhookQueue, parse_hint
from ordersync.models import Platform
from ordersync.platforms.ticketscloud.webhook import OrderByIdReader
from ordersync.webhooks.consumer import WebhookConsumer
from ordersync.webhooks.models import WebhookHint


def consumer(harness: Any) -> WebhookConsumer:
    return WebhookConsumer(fetchers=lambda platform: OrderByIdReader(harness.client), store=harness.repository)


def hint(order_id: str) -> WebhookHint:
    return WebhookHint(platform=Platform.TICKETSCLOUD, order_id=order_id, received_at=datetime.now(UTC))


def test_an_order_read_by_id_is_the_order_the_poll_stored(harness_factory: Any) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=20)
    assert harness.poll().completed
    order_ids = list(harness.stored())
    report = consumer(harness).consume([(f"m{i}", hint(order_id)) for i, order_id in enumerate(order_ids)])
    assert (report.reads, report.changed, report.failed_message_ids) == (len(order_ids), 0, [])


def test_a_paid_order_read_on_a_webhook_is_written_once(harness_factory: Any) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=5)
    (order_id,) = harness.simulator.add_orders(1)
    assert harness.poll().completed
    harness.simulator.pay(order_id)
    first = consumer(harness).consume([("m1", hint(order_id))])
    again = consumer(harness).consume([("m2", hint(order_id))])
    assert (first.changed, again.changed) == (1, 0)
    assert harness.stored()[order_id].order.raw_status == "done"


def test_an_order_the_platform_does_not_have_is_not_stored(harness_factory: Any) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=1)
    report = consumer(harness).consume([("m1", hint("5bacf64ea0eb2f000c45160a"))])
    assert (report.not_found, report.failed_message_ids) == (1, [])
    assert "5bacf64ea0eb2f000c45160a" not in harness.stored()


def test_the_hints_queue_drops_a_repeated_window_and_delivers_after_its_delay(aws: str) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(
        QueueName="hints-test.fifo",
        Attributes={
            "FifoQueue": "true",
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
            "DelaySeconds": "1",
        },
    )["QueueUrl"]
    queue = WebhookQueue(url, client=sqs)
    first = hint("5bacf64ea0eb2f000c45160a")
    for _ in range(3):
        queue.send(first, coalesce_id=f"{first.key}:1")
    queue.send(first, coalesce_id=f"{first.key}:2")
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
    time.sleep(1.5)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    got = [parse_hint(message["Body"]) for message in messages]
    assert got == [first, first]  # one message per window: the two repeats of the first were dropped
