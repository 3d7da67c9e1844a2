"""``ordersync actions redrive``: move dead-lettered actions back to the actions queue, each order's actions
in their original order, and mark them ``queued`` again.

Without flags it acts on the running ``ordersync local`` of this checkout; ``--stack-name`` picks a deployed
stack; ``--queue-url``/``--dlq-url``/``--table`` name the queues and the actions table directly.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ordersync.models import utc_now
from ordersync_tools.cli.errors import CliError, http_url, non_negative_int
from ordersync_tools.cli.target import (
    ACTIONS_DEAD_LETTER_QUEUE,
    ACTIONS_QUEUE,
    ACTIONS_TABLE,
    Target,
    add_target_options,
    resolve_target,
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "actions",
        help="operate on queued actions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="actions_command", required=True, metavar="{redrive}")
    redrive = commands.add_parser(
        "redrive",
        help="move dead-lettered actions back, in their original order",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    redrive.add_argument("--dry-run", action="store_true", help="only say how many actions wait in the dead letters")
    redrive.add_argument("--json", action="store_true", help="print the outcome as JSON")
    redrive.add_argument(
        "--max-messages", type=non_negative_int, default=10_000, help="stop after this many (default: %(default)s)"
    )
    add_target_options(redrive)
    redrive.add_argument("--queue-url", type=http_url, help="the FIFO actions queue")
    redrive.add_argument("--dlq-url", type=http_url, help="its dead-letter queue (default: the queue's redrive policy)")
    redrive.add_argument("--table", help="the actions table, to mark redriven actions queued")
    redrive.set_defaults(run=run_redrive)


def _dead_letter_queue(target: Target, sqs: Any, queue_url: str) -> str | None:
    """The dead-letter queue of ``queue_url``: the deployment's, else the one its redrive policy names."""
    found = target.find(ACTIONS_DEAD_LETTER_QUEUE)
    if found:
        return found
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    policy = json.loads(attributes.get("RedrivePolicy") or "{}")
    arn = str(policy.get("deadLetterTargetArn") or "")
    if not arn:
        return None
    account, name = arn.split(":")[4], arn.split(":")[5]
    url: str = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return url


def run_redrive(args: argparse.Namespace) -> int:
    from ordersync.actions.models import ActionMessage
    from ordersync.aws.action_queue import redrive
    from ordersync.aws.actions_repository import ActionRepository

    target = resolve_target(args, explicit=bool(args.queue_url and args.dlq_url))
    sqs = target.client("sqs")
    queue_url = args.queue_url or target.find(ACTIONS_QUEUE)
    if not queue_url:
        raise CliError(f"{target.description} has no actions queue: pass --queue-url and --dlq-url")
    dlq_url = args.dlq_url or _dead_letter_queue(target, sqs, queue_url)
    if not dlq_url:
        raise CliError(f"{target.description} names no dead-letter queue for {queue_url}: pass --dlq-url")
    table = args.table or target.find(ACTIONS_TABLE)

    if args.dry_run:
        attributes = sqs.get_queue_attributes(
            QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        waiting = int(attributes.get("ApproximateNumberOfMessages", 0))
        in_flight = int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
        if args.json:
            print(json.dumps({"dry_run": True, "dead_lettered": waiting, "in_flight": in_flight, "dlq_url": dlq_url}))
        else:
            print(f"{waiting} action(s) wait in {dlq_url}; run without --dry-run to move them back")
        return 0

    repository = ActionRepository(table, dynamodb_client=target.client("dynamodb")) if table else None

    def requeue(message: ActionMessage) -> None:
        if repository is not None:
            repository.requeue(message.action_id, now=utc_now())

    report = redrive(
        sqs, dead_letter_queue_url=dlq_url, queue_url=queue_url, on_moved=requeue, max_messages=args.max_messages
    )
    if args.json:
        print(json.dumps({"moved": report.moved, "action_ids": list(report.action_ids)}))
    else:
        print(f"moved {report.moved} action(s) back to the actions queue")
    return 0
