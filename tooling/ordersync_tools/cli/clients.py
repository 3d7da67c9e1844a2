"""``ordersync clients create|list|revoke``: API clients and their tokens.

The clients table comes from ``--table`` or from the outputs of ``--stack-name``; boto3 honours
``AWS_ENDPOINT_URL``, so the same commands work against the local runtime.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ordersync.models import utc_now

CLIENTS_TABLE_OUTPUT = "ApiClientsTableName"
USAGE_PLAN_RESOURCE = "OrdersyncApiUsagePlan"  # the usage plan SAM makes for OrdersyncApi (CreateUsagePlan: PER_API)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "clients", help="create, list and revoke API clients", description=__doc__
    )
    commands = parser.add_subparsers(dest="clients_command", required=True)

    create = commands.add_parser("create", help="make a client and print its token (shown once)")
    create.add_argument("name", help="the client's name (letters, digits, . _ -)")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        help="'<platform>:read', '<platform>:act' or '*'; repeat for several",
    )
    create.add_argument(
        "--usage-plan-id",
        help="API Gateway usage plan that throttles the client (found from --stack-name when not given)",
    )
    _add_table_options(create)
    create.set_defaults(run=run_create)

    listing = commands.add_parser("list", help="list clients (never their tokens)")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    _add_table_options(listing)
    listing.set_defaults(run=run_list)

    revoke = commands.add_parser("revoke", help="stop a client's token from working")
    revoke.add_argument("name")
    _add_table_options(revoke)
    revoke.set_defaults(run=run_revoke)


def _add_table_options(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack-name", help="read the clients table from this stack's outputs")
    target.add_argument("--table", help="the clients table name")


def stack_outputs(stack_name: str) -> dict[str, str]:
    import boto3

    stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def stack_usage_plan(stack_name: str) -> str | None:
    import boto3
    from botocore.exceptions import ClientError

    try:
        resource = boto3.client("cloudformation").describe_stack_resource(
            StackName=stack_name, LogicalResourceId=USAGE_PLAN_RESOURCE
        )
    except ClientError:
        return None
    physical_id: str | None = resource["StackResourceDetail"].get("PhysicalResourceId")
    return physical_id


def _repository(args: argparse.Namespace) -> Any:
    from ordersync.aws.clients_repository import ClientRepository

    table = args.table or stack_outputs(args.stack_name).get(CLIENTS_TABLE_OUTPUT)
    if not table:
        raise SystemExit(f"stack {args.stack_name!r} has no output {CLIENTS_TABLE_OUTPUT}")
    return ClientRepository(table)


def run_create(args: argparse.Namespace) -> int:
    from ordersync.aws.clients_repository import (
        ClientExistsError,
        UsagePlanKeys,
    )
    from ordersync.clients_auth import (
        ScopeError,
        normalise_scopes,
    )

    repository = _repository(args)
    try:
        normalise_scopes(args.scope)
    except ScopeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    existing = repository.get(args.name)
    if existing is not None and existing.active:
        print(f"error: client {args.name!r} already exists", file=sys.stderr)
        return 2
    plan = args.usage_plan_id or (stack_usage_plan(args.stack_name) if args.stack_name else None)
    keys = UsagePlanKeys(plan) if plan else None
    usage_key = keys.create(args.name) if keys else None
    try:
        client, token = repository.create(args.name, args.scope, now=utc_now(), usage_key=usage_key)
    except (ScopeError, ClientExistsError, ValueError) as error:
        if keys and usage_key:
            keys.delete(usage_key[0])
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"client {client.client_name} created with scopes {' '.join(client.scopes)}", file=sys.stderr)
    if usage_key is None:
        print("note: no usage plan given: API Gateway refuses it until it has a usage plan key", file=sys.stderr)
    print("its token is shown once; keep it secret:", file=sys.stderr)
    print(token)
    return 0


def run_list(args: argparse.Namespace) -> int:
    for client in _repository(args).list():
        if args.json:
            print(json.dumps(client.model_dump(mode="json", exclude={"token_hash", "usage_key"})))
        else:
            state = "revoked" if client.revoked_at else "active"
            print(f"{client.client_name}\t{state}\t{' '.join(client.scopes)}\t{client.created_at.isoformat()}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from ordersync.aws.clients_repository import (
        ClientNotFoundError,
        UsagePlanKeys,
    )

    try:
        client = _repository(args).revoke(args.name, now=utc_now())
    except ClientNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if client.usage_key_id:
        UsagePlanKeys("").delete(client.usage_key_id)
    print(f"client {client.client_name} revoked")
    return 0
