"""``ordersync actions redrive``: move dead-lettered actions back to the actions queue, each order's actions
in their original order, and mark them ``queued`` again.

Queues come from ``--queue-url``/``--dlq-url`` or from the outputs of ``--stack-name``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ordersync.models import utc_now
from ordersync_tools.cli.clients import stack_outputs

QUEUE_OUTPUT = "ActionsQueueUrl"
DLQ_OUTPUT = "ActionsDeadLetterQueueUrl"
TABLE_OUTPUT = "ActionsTableName"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "actions", help="operate on queued actions", description=__doc__
    )
    commands = parser.add_subparsers(dest="actions_command", required=True)
    redrive = commands.add_parser("redrive", help="move dead-lettered actions back, in their original order")
    redrive.add_argument("--stack-name", help="read the queues and the actions table from this stack's outputs")
    redrive.add_argument("--queue-url", help="the FIFO actions queue")
    redrive.add_argument("--dlq-url", help="its dead-letter queue")
    redrive.add_argument("--table", help="the actions table (to mark redriven actions queued)")
    redrive.add_argument("--max-messages", type=int, default=10_000, help="stop after this many (default 10000)")
    redrive.set_defaults(run=run_redrive)


def run_redrive(args: argparse.Namespace) -> int:
    import boto3

    from ordersync.actions.models import ActionMessage
    from ordersync.aws.action_queue import redrive
    from ordersync.aws.actions_repository import ActionRepository

    outputs = stack_outputs(args.stack_name) if args.stack_name else {}
    queue_url = args.queue_url or outputs.get(QUEUE_OUTPUT)
    dlq_url = args.dlq_url or outputs.get(DLQ_OUTPUT)
    table = args.table or outputs.get(TABLE_OUTPUT)
    if not queue_url or not dlq_url:
        print("error: give --stack-name, or both --queue-url and --dlq-url", file=sys.stderr)
        return 2
    repository = ActionRepository(table) if table else None

    def requeue(message: ActionMessage) -> None:
        if repository is not None:
            repository.requeue(message.action_id, now=utc_now())

    report = redrive(
        boto3.client("sqs"),
        dead_letter_queue_url=dlq_url,
        queue_url=queue_url,
        on_moved=requeue,
        max_messages=args.max_messages,
    )
    print(f"moved {report.moved} action(s) back to the actions queue")
    return 0
