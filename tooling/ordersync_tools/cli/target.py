"""Which deployment a command acts on, and the AWS clients to reach it.

In this order: ``--stack-name`` (a deployed stack: its CloudFormation outputs, then its resources); else the
running local runtime found from the current directory or its parents (``.ordersync-local/resources.json``);
explicit ``--table``/``--queue-url`` flags always win for what they name. ``--endpoint-url`` (or
``AWS_ENDPOINT_URL``) points the SDK elsewhere; a local endpoint (127.0.0.1, localhost) gets a region and
dummy credentials by itself, as moto needs no real ones.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ordersync_tools.cli.errors import CliError, http_url
from ordersync_tools.local.state import LocalState, find_state

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
LOCAL_REGION = "us-east-1"  # the local runtime's region
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # moto accepts any


@dataclass(frozen=True)
class Name:
    """How to find one resource: a stack output, a logical id, and (locally) the function variable naming it."""

    output: str
    logical_id: str
    variable: str | None = None


CLIENTS_TABLE = Name("ApiClientsTableName", "ApiClientsTable", "CLIENTS_TABLE")
ACTIONS_TABLE = Name("ActionsTableName", "ActionsTable", "ACTIONS_TABLE")
ACTIONS_QUEUE = Name("ActionsQueueUrl", "ActionsQueue", "ACTIONS_QUEUE_URL")
ACTIONS_DEAD_LETTER_QUEUE = Name("ActionsDeadLetterQueueUrl", "ActionsDeadLetterQueue")
POLL_STATE_TABLE = Name("PollStateTableName", "PollStateTable", "POLL_STATE_TABLE")
USAGE_PLAN = Name("", "OrdersyncApiUsagePlan")  # the usage plan SAM makes for OrdersyncApi (CreateUsagePlan: PER_API)


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """``--stack-name``, ``--region`` and ``--endpoint-url``."""
    group = parser.add_argument_group("where (default: the running `ordersync local` of this checkout)")
    group.add_argument("--stack-name", help="a deployed stack: read its resources from CloudFormation")
    group.add_argument("--region", help="AWS region of the stack (default: AWS_REGION or your profile's)")
    group.add_argument(
        "--endpoint-url",
        type=http_url,
        help="send AWS calls here instead (default: AWS_ENDPOINT_URL); a local one needs no credentials",
    )


def is_local(endpoint: str | None) -> bool:
    return bool(endpoint) and urlsplit(endpoint).hostname in LOCAL_HOSTS


@dataclass
class Target:
    """A resolved deployment: a boto3 session, an endpoint, and how to name its resources."""

    session: Any
    endpoint: str | None
    description: str
    stack_name: str | None = None
    local: LocalState | None = None
    _outputs: dict[str, str] | None = field(default=None, repr=False)

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)

    def find(self, name: Name) -> str | None:
        """The physical name or URL of ``name``, or None when the deployment has no such resource."""
        if self.local is not None:
            found = self.local.physical(name.logical_id)
            if found is None and name.variable:
                found = self.local.environment.get(name.variable)
            return found
        if self.stack_name is None:
            return None
        if name.output:
            if self._outputs is None:
                self._outputs = self._stack_outputs()
            if name.output in self._outputs:
                return self._outputs[name.output]
        return self._stack_resource(name.logical_id)

    def require(self, name: Name, flag: str) -> str:
        found = self.find(name)
        if not found:
            raise CliError(f"{self.description} has no {name.logical_id}: pass {flag}")
        return found

    def _stack_outputs(self) -> dict[str, str]:
        from botocore.exceptions import ClientError

        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error):
                raise CliError(self._no_stack()) from None
            raise
        return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}

    def _stack_resource(self, logical_id: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            detail = self.client("cloudformation").describe_stack_resource(
                StackName=self.stack_name, LogicalResourceId=logical_id
            )["StackResourceDetail"]
        except ClientError:
            return None
        physical: str | None = detail.get("PhysicalResourceId")
        return physical

    def _no_stack(self) -> str:
        region = self.session.region_name
        message = f"stack {self.stack_name!r} does not exist in {region}"
        if self.endpoint:
            message += f" at {self.endpoint}"
        if is_local(self.endpoint):
            return message + ": the local runtime has no stacks; drop --stack-name (and AWS_ENDPOINT_URL) to use it"
        return message + ": check the name and --region (aws cloudformation list-stacks)"


def resolve_target(args: argparse.Namespace, *, explicit: bool = False) -> Target:
    """The deployment ``args`` points at. ``explicit``: the command's own flags already name every resource."""
    import boto3

    endpoint: str | None = getattr(args, "endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL") or None
    region: str | None = getattr(args, "region", None)
    stack_name: str | None = getattr(args, "stack_name", None)
    local: LocalState | None = None
    if not stack_name and not explicit:
        local = find_state()
        if local is not None and (endpoint is None or endpoint.rstrip("/") == local.endpoint.rstrip("/")):
            endpoint, region = local.endpoint, region or local.region
        else:
            local = None
        if local is None:
            raise CliError(
                "no deployment to act on: pass --stack-name for a deployed stack, or start `ordersync local` "
                "in this checkout (it is found from here or any folder above)"
            )
    elif is_local(endpoint):
        running = find_state()
        if running is not None and endpoint and endpoint.rstrip("/") == running.endpoint.rstrip("/"):
            print(f"ordersync: the local runtime has no stacks; using its resources ({running.path})", file=sys.stderr)
            local, stack_name, region = running, None, region or running.region
    session_options: dict[str, Any] = {"region_name": region}
    if is_local(endpoint):
        session_options["region_name"] = region or LOCAL_REGION
        if not (os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")):
            session_options |= LOCAL_CREDENTIALS
    session = boto3.Session(**session_options)
    if session.region_name is None:
        raise CliError("no AWS region: pass --region (or set AWS_REGION)")
    if local is not None:
        description = f"the local runtime ({local.endpoint})"
    elif stack_name:
        description = f"stack {stack_name!r}"
    else:
        description = f"AWS at {endpoint}" if endpoint else f"AWS in {session.region_name}"
    return Target(session, endpoint, description, stack_name=stack_name, local=local)
