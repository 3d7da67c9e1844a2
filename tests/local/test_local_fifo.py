"""The FIFO queue into a function, with Lambda's semantics and an order that holds across retries."""

from __future__ import annotations

import threading
from typing import Any

from local_support import FakeClock, RecordingFunction
from ordersync_tools.local.fifo import FifoEventSource, honour_visibility_changes
from ordersync_tools.local.functions import Invocation

VISIBILITY = 30.0


def send(sqs: Any, queue_url: str, group: str, *bodies: str) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body, MessageGroupId=group)


def source(
    sqs: Any,
    queues: tuple[str, str, str],
    function: RecordingFunction,
    clock: FakeClock,
    **overrides: Any,
) -> FifoEventSource:
    queue_url, arn, dead_letter_url = queues
    settings: dict[str, Any] = {
        "batch_size": 10,
        "visibility_timeout": VISIBILITY,
        "max_receive_count": 5,
        "dead_letter_url": dead_letter_url,
        "report_batch_item_failures": True,
    }
    settings.update(overrides)
    return FifoEventSource(sqs, queue_url=queue_url, queue_arn=arn, invoke=function, clock=clock, **settings)


def fail_items(*bodies: str) -> Any:
    def answer(event: dict[str, Any]) -> Invocation:
        failed = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] in bodies]
        return Invocation(True, {"batchItemFailures": failed})

    return answer


def fail_from(body: str) -> Any:
    """What Powertools' FIFO processor reports: the failing message and every later one of its group."""

    def answer(event: dict[str, Any]) -> Invocation:
        failed: list[dict[str, str]] = []
        failing_groups: set[str] = set()
        for record in event["Records"]:
            group = record["attributes"]["MessageGroupId"]
            if record["body"] == body or group in failing_groups:
                failing_groups.add(group)
                failed.append({"itemIdentifier": record["messageId"]})
        return Invocation(True, {"batchItemFailures": failed})

    return answer


def test_a_group_is_redelivered_in_send_order_after_its_messages_time_out_together(
    sqs: Any, fifo_queues: tuple[str, str, str], fake_clock: FakeClock
) -> None:
    attempts = iter([Invocation(False, None, "Boom", "first attempt fails"), Invocation(True, None)])
    function = RecordingFunction(lambda _event: next(attempts))
    send(sqs, fifo_queues[0], "order-1", "a1", "a2", "a3")
    fifo = source(sqs, fifo_queues, function, fake_clock)

    fifo.pump()
    assert fifo.step()
    assert not fifo.step()  # hidden for the visibility timeout
    fake_clock.advance(VISIBILITY)
    assert fifo.step()

    assert function.bodies() == [["a1", "a2", "a3"], ["a1", "a2", "a3"]]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in function.events[1]["Records"]] == ["2", "2", "2"]
    assert fifo.pending() == 0


def test_a_partial_batch_failure_keeps_only_the_reported_messages(
    sqs: Any, fifo_queues: tuple[str, str, str], fake_clock: FakeClock
) -> None:
    function = RecordingFunction(fail_items("a2", "a3"))
    send(sqs, fifo_queues[0], "order-a", "a1", "a2", "a3")
    send(sqs, fifo_queues[0], "order-b", "b1")
    fifo = source(sqs, fifo_queues, function, fake_clock)

    fifo.pump()
    fifo.step()
    function.answer = None
    fake_clock.advance(VISIBILITY)
    fifo.step()

    assert function.bodies() == [["a1", "a2", "a3", "b1"], ["a2", "a3"]]
    assert fifo.stats.succeeded == 4
    assert fifo.stats.failed_attempts == 2


def test_other_groups_go_on_while_a_failed_group_waits_out_its_visibility_timeout(
    sqs: Any, fifo_queues: tuple[str, str, str], fake_clock: FakeClock
) -> None:
    function = RecordingFunction(fail_items("a1", "a2"))
    send(sqs, fifo_queues[0], "order-a", "a1", "a2")
    fifo = source(sqs, fifo_queues, function, fake_clock)
    fifo.pump()
    fifo.step()
    send(sqs, fifo_queues[0], "order-b", "b1")
    send(sqs, fifo_queues[0], "order-a", "a3")
    function.answer = None

    fifo.pump()
    fifo.step()
    fake_clock.advance(VISIBILITY)
    fifo.step()

    assert function.bodies() == [["a1", "a2"], ["b1"], ["a1", "a2", "a3"]]


def test_a_group_never_has_two_batches_in_flight(
    sqs: Any, fifo_queues: tuple[str, str, str], fake_clock: FakeClock
) -> None:
    release = threading.Event()
    in_first_batch = threading.Event()

    def answer(event: dict[str, Any]) -> Invocation:
        if event["Records"][0]["body"] == "a1":
            in_first_batch.set()
            release.wait(timeout=5)
        return Invocation(True, None)

    function = RecordingFunction(answer)
    send(sqs, fifo_queues[0], "order-a", "a1", "a2")
    send(sqs, fifo_queues[0], "order-b", "b1")
    fifo = source(sqs, fifo_queues, function, fake_clock, batch_size=1)
    fifo.pump()
    first = threading.Thread(target=fifo.step)
    first.start()
    assert in_first_batch.wait(timeout=5)

    fifo.step()  # while a1 is in flight: only another group may be delivered
    release.set()
    first.join(timeout=5)
    fifo.step()

    assert function.bodies() == [["a1"], ["b1"], ["a2"]]


def test_messages_are_redriven_in_order_after_max_receive_count_and_their_group_goes_on(
    sqs: Any, fifo_queues: tuple[str, str, str], fake_clock: FakeClock
) -> None:
    function = RecordingFunction(fail_from("a1"))
    send(sqs, fifo_queues[0], "order-a", "a1", "a2")
    fifo = source(sqs, fifo_queues, function, fake_clock, max_receive_count=2)
    fifo.pump()
    for _ in range(2):
        fifo.step()
        fake_clock.advance(VISIBILITY)
    send(sqs, fifo_queues[0], "order-a", "a3")
    fifo.pump()

    fifo.step()

    dead = sqs.receive_message(
        QueueUrl=fifo_queues[2], MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"]
    )["Messages"]
    assert [m["Body"] for m in dead] == ["a1", "a2"]
    assert {m["Attributes"]["MessageGroupId"] for m in dead} == {"order-a"}
    assert function.bodies() == [["a1", "a2"], ["a1", "a2"], ["a3"]]
    assert fifo.stats.dead_lettered == 2
    assert fifo.pending() == 0


def test_an_unknown_item_identifier_fails_the_whole_batch(
    sqs: Any, fifo_queues: tuple[str, str, str], fake_clock: FakeClock
) -> None:
    function = RecordingFunction(lambda _e: Invocation(True, {"batchItemFailures": [{"itemIdentifier": "nope"}]}))
    send(sqs, fifo_queues[0], "order-a", "a1", "a2")
    fifo = source(sqs, fifo_queues, function, fake_clock)
    fifo.pump()

    fifo.step()

    assert fifo.stats.succeeded == 0
    assert fifo.stats.failed_attempts == 2


def test_batch_item_failures_are_ignored_without_report_batch_item_failures(
    sqs: Any, fifo_queues: tuple[str, str, str], fake_clock: FakeClock
) -> None:
    function = RecordingFunction(fail_items("a1"))
    send(sqs, fifo_queues[0], "order-a", "a1", "a2")
    fifo = source(sqs, fifo_queues, function, fake_clock, report_batch_item_failures=False)
    fifo.pump()

    fifo.step()

    assert fifo.stats.succeeded == 2
    assert fifo.pending() == 0


def test_records_carry_lambdas_sqs_event_shape(
    sqs: Any, fifo_queues: tuple[str, str, str], fake_clock: FakeClock
) -> None:
    function = RecordingFunction()
    send(sqs, fifo_queues[0], "order-a", "a1")
    fifo = source(sqs, fifo_queues, function, fake_clock)
    fifo.pump()

    fifo.step()

    record = function.events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == fifo_queues[1]
    assert record["attributes"]["MessageGroupId"] == "order-a"
    assert record["attributes"]["SequenceNumber"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(record) >= {"messageId", "receiptHandle", "body", "md5OfBody", "messageAttributes", "awsRegion"}


def test_batches_hold_at_most_batch_size_messages(
    sqs: Any, fifo_queues: tuple[str, str, str], fake_clock: FakeClock
) -> None:
    function = RecordingFunction()
    send(sqs, fifo_queues[0], "order-a", *(f"a{i}" for i in range(7)))
    fifo = source(sqs, fifo_queues, function, fake_clock, batch_size=3)
    fifo.pump()

    while fifo.step():
        pass

    assert function.bodies() == [["a0", "a1", "a2"], ["a3", "a4", "a5"], ["a6"]]


def test_skipping_the_visibility_wait_redelivers_a_failed_group_at_once_in_order_and_counts_the_receive(
    sqs: Any, fifo_queues: tuple[str, str, str], fake_clock: FakeClock
) -> None:
    attempts = iter([Invocation(False, None, "Boom", "first attempt fails"), Invocation(True, None)])
    function = RecordingFunction(lambda _event: next(attempts))
    send(sqs, fifo_queues[0], "order-1", "a1", "a2")
    fifo = source(sqs, fifo_queues, function, fake_clock)
    fifo.pump()
    fifo.step()

    woken = fifo.skip_visibility_wait()

    assert woken == 1
    assert fifo.next_ready_in() == 0
    assert fifo.step()
    assert function.bodies() == [["a1", "a2"], ["a1", "a2"]]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in function.events[1]["Records"]] == ["2", "2"]
    assert fifo.skip_visibility_wait() == 0  # nothing hidden any more


def test_a_visibility_change_by_the_function_sets_how_long_its_failed_group_waits(
    sqs: Any, fifo_queues: tuple[str, str, str], fake_clock: FakeClock
) -> None:
    """What the action worker does on a retryable failure: ``ChangeMessageVisibility`` of the failed record and
    of those skipped behind it, then report them failed. The group waits that long, not the queue's timeout."""
    honour_visibility_changes()

    def back_off(event: dict[str, Any]) -> Invocation:
        handles = [record["receiptHandle"] for record in event["Records"]]
        sqs.change_message_visibility_batch(
            QueueUrl=fifo_queues[0],
            Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 5} for i, h in enumerate(handles)],
        )
        return fail_from("a1")(event)

    attempts = iter([back_off, lambda _event: Invocation(True, {"batchItemFailures": []})])

    def answer(event: dict[str, Any]) -> Invocation:
        return next(attempts)(event)

    function = RecordingFunction(answer)
    send(sqs, fifo_queues[0], "order-1", "a1", "a2")
    fifo = source(sqs, fifo_queues, function, fake_clock)

    fifo.pump()
    assert fifo.step()
    fake_clock.advance(4)
    assert not fifo.step()  # still backing off
    fake_clock.advance(1)
    assert fifo.step()  # after 5 s, not VISIBILITY (30 s)

    assert function.bodies() == [["a1", "a2"], ["a1", "a2"]]
    assert fifo.pending() == 0


def test_a_visibility_change_of_a_handle_the_emulation_did_not_issue_still_reaches_moto(
    sqs: Any, fifo_queues: tuple[str, str, str]
) -> None:
    honour_visibility_changes()
    send(sqs, fifo_queues[0], "order-1", "a1")
    [message] = sqs.receive_message(QueueUrl=fifo_queues[0], MaxNumberOfMessages=1)["Messages"]

    sqs.change_message_visibility(QueueUrl=fifo_queues[0], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)

    assert [m["Body"] for m in sqs.receive_message(QueueUrl=fifo_queues[0])["Messages"]] == ["a1"]
