"""``ordersync clients create|list|revoke``: the API's clients and their bearer tokens.

Without flags the commands act on the running ``ordersync local`` of this checkout; ``--stack-name`` picks a
deployed stack (with ``--region``), ``--table`` names the clients table directly.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ordersync.models import utc_now
from ordersync_tools.cli.errors import CliError, client_name
from ordersync_tools.cli.target import CLIENTS_TABLE, USAGE_PLAN, Target, add_target_options, resolve_target

# The API caches an authorizer's answer per token for ReauthorizeEvery seconds (template.yaml, ClientTokenAuthorizer).
AUTHORIZER_CACHE_SECONDS = 300


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "clients",
        help="create, list and revoke API clients",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="clients_command", required=True, metavar="{create,list,revoke}")

    create = commands.add_parser(
        "create",
        help="make a client and print its token (shown once)",
        description="Make an API client and print its bearer token. The token is shown once; only its hash is kept.",
    )
    create.add_argument("name", type=client_name, help="the client's name: letters, digits, '.', '_' or '-'")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        help="what it may do: '<platform>:read', '<platform>:act' or '*' (everything); repeat for several",
    )
    create.add_argument(
        "--usage-plan-id",
        help="API Gateway usage plan that throttles the client (default: the stack's; none locally)",
    )
    _add_common_options(create)
    create.set_defaults(run=run_create)

    listing = commands.add_parser("list", help="list clients (never their tokens)", description="List API clients.")
    _add_common_options(listing)
    listing.set_defaults(run=run_list)

    revoke = commands.add_parser(
        "revoke",
        help="stop a client's token from working",
        description=(
            f"Revoke a client. Its token keeps working for up to {AUTHORIZER_CACHE_SECONDS // 60} minutes: "
            "the API caches each token's authorization that long (ReauthorizeEvery in template.yaml)."
        ),
    )
    revoke.add_argument("name", type=client_name, help="the client to revoke")
    _add_common_options(revoke)
    revoke.set_defaults(run=run_revoke)


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (one object a line) instead of text")
    add_target_options(parser)
    parser.add_argument("--table", help="the clients table, when neither the stack nor the local runtime names it")


def _repository(args: argparse.Namespace) -> tuple[Any, Target]:
    from ordersync.aws.clients_repository import ClientRepository

    target = resolve_target(args, explicit=bool(args.table))
    table = args.table or target.require(CLIENTS_TABLE, "--table")
    return ClientRepository(table, dynamodb_client=target.client("dynamodb")), target


def run_create(args: argparse.Namespace) -> int:
    from ordersync.aws.clients_repository import ClientExistsError, UsagePlanKeys
    from ordersync.clients_auth import ScopeError, normalise_scopes

    try:
        normalise_scopes(args.scope)
    except ScopeError as error:
        raise CliError(f"{error}: use '<platform>:read', '<platform>:act' or '*'") from None
    repository, target = _repository(args)
    existing = repository.get(args.name)
    if existing is not None and existing.active:
        raise CliError(f"client {args.name!r} already exists: revoke it first or pick another name")
    plan = args.usage_plan_id or (target.find(USAGE_PLAN) if target.stack_name else None)
    keys = UsagePlanKeys(plan, client=target.client("apigateway")) if plan else None
    usage_key = keys.create(args.name) if keys else None
    try:
        client, token = repository.create(args.name, args.scope, now=utc_now(), usage_key=usage_key)
    except (ScopeError, ClientExistsError, ValueError) as error:
        if keys and usage_key:
            keys.delete(usage_key[0])
        raise CliError(str(error).splitlines()[0]) from None
    if args.json:
        print(json.dumps({"client_name": client.client_name, "scopes": list(client.scopes), "token": token}))
        return 0
    print(f"client {client.client_name} created with scopes {' '.join(client.scopes)}", file=sys.stderr)
    if usage_key is None and target.local is None:
        print("note: no usage plan given: API Gateway refuses it until it has a usage plan key", file=sys.stderr)
    print("its token is shown once; keep it secret:", file=sys.stderr)
    print(token)
    return 0


def run_list(args: argparse.Namespace) -> int:
    repository, _ = _repository(args)
    for client in repository.list():
        if args.json:
            print(json.dumps(client.model_dump(mode="json", exclude={"token_hash", "usage_key"})))
        else:
            state = "revoked" if client.revoked_at else "active"
            print(f"{client.client_name}\t{state}\t{' '.join(client.scopes)}\t{client.created_at.isoformat()}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from ordersync.aws.clients_repository import ClientNotFoundError, UsagePlanKeys

    repository, target = _repository(args)
    try:
        client = repository.revoke(args.name, now=utc_now())
    except ClientNotFoundError as error:
        raise CliError(f"{error}: see `ordersync clients list`") from None
    if client.usage_key_id:
        UsagePlanKeys("", client=target.client("apigateway")).delete(client.usage_key_id)
    minutes = AUTHORIZER_CACHE_SECONDS // 60
    if args.json:
        print(
            json.dumps(
                {"client_name": client.client_name, "revoked": True, "cached_for_seconds": AUTHORIZER_CACHE_SECONDS}
            )
        )
    else:
        print(f"client {client.client_name} revoked")
        print(f"note: the API caches authorizations, so its token keeps working for up to {minutes} minutes")
    return 0
