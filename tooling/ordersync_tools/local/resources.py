"""Creates the template's resources in the embedded AWS with boto3, in dependency order.

moto's CloudFormation skips secrets and schedules and ignores TTL, so each supported type is created by its
own API call here. Every resource type is accounted for: created, run by the runtime itself, without local
effect, or named as one this runtime cannot create.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from ordersync_tools.local.template import (
    ACCOUNT_ID,
    REGION,
    LocalTemplateError,
    Resolver,
    Template,
    physical_name,
    references,
)

TAP_RULE_NAME = "ordersync-local-tap"
TAP_QUEUE_NAME = "ordersync-local-events"

# Run by the runtime itself rather than created in moto.
EMULATED_TYPES = frozenset(
    {
        "AWS::Lambda::Function",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Lambda::LayerVersion",
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Stage",
        "AWS::Scheduler::Schedule",
    }
)
# Nothing to do on one machine: access control, versions, deployment plumbing.
NO_LOCAL_EFFECT_TYPES = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::Lambda::Version",
        "AWS::Lambda::Permission",
        "AWS::Lambda::Alias",
        "AWS::ApiGateway::Account",
        "AWS::ApiGateway::UsagePlan",
        "AWS::ApiGateway::UsagePlanKey",
        "AWS::ApiGateway::ApiKey",
        "AWS::ApiGateway::GatewayResponse",
        "AWS::Events::Archive",
        "AWS::Scheduler::ScheduleGroup",
        "AWS::SNS::TopicPolicy",
        "AWS::SNS::Subscription",
    }
)


def client(service: str, endpoint: str) -> Any:
    """A boto3 client of the embedded AWS, whatever the caller's environment says."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
    )


@dataclass(frozen=True)
class Schedule:
    """A scheduled invocation of a function (an EventBridge rule or a Scheduler schedule)."""

    source_id: str
    function_id: str
    expression: str
    payload: dict[str, Any] | None  # None: the standard "Scheduled Event"
    arn: str


@dataclass(frozen=True)
class RuleDelivery:
    """An event-pattern rule whose target is a function: moto delivers to a local queue the runtime drains."""

    rule_id: str
    function_id: str
    queue_url: str


@dataclass
class LocalResources:
    """What was created, and the resolver that now maps every reference onto it."""

    resolver: Resolver
    created: dict[str, tuple[str, str]] = field(default_factory=dict)  # logical id -> (type, physical id)
    emulated: dict[str, str] = field(default_factory=dict)  # logical id -> type
    no_local_effect: dict[str, str] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)
    schedules: list[Schedule] = field(default_factory=list)
    rule_deliveries: list[RuleDelivery] = field(default_factory=list)
    tap_queue_url: str = ""
    secrets: dict[str, str] = field(default_factory=dict)  # secret name -> ARN

    def physical(self, logical_id: str) -> str:
        return self.created[logical_id][1]

    def describe(self) -> list[str]:
        """Start-up lines: what was created, what runs locally, and every type that could not be created."""
        lines: list[str] = []
        by_type: dict[str, list[str]] = defaultdict(list)
        for logical_id, (type_, _) in self.created.items():
            by_type[type_].append(logical_id)
        for type_, ids in sorted(by_type.items()):
            lines.append(f"created {type_}: {', '.join(ids)}")
        for label, mapping in (
            ("run by the local runtime", self.emulated),
            ("CANNOT BE CREATED LOCALLY", self.unsupported),
        ):
            grouped: dict[str, list[str]] = defaultdict(list)
            for logical_id, type_ in mapping.items():
                grouped[type_].append(logical_id)
            for type_, ids in sorted(grouped.items()):
                lines.append(f"{label} {type_}: {', '.join(ids)}")
        counts: dict[str, int] = defaultdict(int)
        for type_ in self.no_local_effect.values():
            counts[type_] += 1
        if counts:
            described = ", ".join(f"{type_} x{count}" for type_, count in sorted(counts.items()))
            lines.append(f"no local effect, not created: {described}")
        return lines


class ResourceBuilder:
    """Creates the template's resources against the moto server at ``endpoint``."""

    def __init__(self, template: Template, endpoint: str) -> None:
        self.template = template
        self.endpoint = endpoint
        self.resolver = Resolver(template)
        self.result = LocalResources(self.resolver)
        self._creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::Events::EventBus": self._bus,
            "AWS::Events::Rule": self._rule,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::SSM::Parameter": self._ssm_parameter,
            "AWS::SNS::Topic": self._topic,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::Scheduler::Schedule": self._scheduler_schedule,
        }

    def build(self) -> LocalResources:
        self._name_functions()
        pending = {
            logical_id: resource
            for logical_id, resource in self.template.resources.items()
            if self._classify(logical_id, resource.get("Type", ""))
        }
        while pending:
            ready = [
                logical_id
                for logical_id, resource in pending.items()
                if not (references(resource.get("Properties", {})) | set(_depends_on(resource))) & set(pending)
            ]
            if not ready:
                raise LocalTemplateError(f"circular references between {sorted(pending)}")
            for logical_id in ready:
                resource = pending.pop(logical_id)
                properties = self.resolver.resolve(resource.get("Properties") or {})
                self._creators[resource["Type"]](logical_id, properties)
        self._tap()
        return self.result

    def _classify(self, logical_id: str, type_: str) -> bool:
        """True when this builder creates the resource; otherwise records where it went."""
        if type_ == "AWS::Scheduler::Schedule":
            self.result.emulated[logical_id] = type_
            return True
        if type_ in self._creators:
            return True
        if type_ in EMULATED_TYPES:
            self.result.emulated[logical_id] = type_
        elif type_ in NO_LOCAL_EFFECT_TYPES:
            self.result.no_local_effect[logical_id] = type_
        else:
            self.result.unsupported[logical_id] = type_
        return False

    def _name_functions(self) -> None:
        for logical_id in self.template.of_type("AWS::Lambda::Function"):
            props = self.template.properties(logical_id)
            name = props.get("FunctionName")
            name = self.resolver.resolve(name) if name is not None else physical_name(logical_id)
            self.resolver.refs[logical_id] = name
            self.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        for logical_id in self.template.of_type("AWS::ApiGateway::RestApi"):
            self.resolver.refs[logical_id] = "local"
            self.resolver.attributes[(logical_id, "RootResourceId")] = "root"

    def _function_of_arn(self, arn: Any) -> str | None:
        for logical_id in self.template.of_type("AWS::Lambda::Function"):
            if arn in (self.resolver.attributes[(logical_id, "Arn")], self.resolver.refs[logical_id]):
                return logical_id
        return None

    # -- creators ------------------------------------------------------------------------------------
    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        ddb = client("dynamodb", self.endpoint)
        name = props.get("TableName") or physical_name(logical_id)
        args: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        provisioned = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        if args["BillingMode"] == "PROVISIONED":
            args["ProvisionedThroughput"] = props.get("ProvisionedThroughput", provisioned)
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(key):
                indexes = []
                for declared in props[key]:
                    index = {k: v for k, v in declared.items() if k in ("IndexName", "KeySchema", "Projection")}
                    if args["BillingMode"] == "PROVISIONED" and key == "GlobalSecondaryIndexes":
                        index["ProvisionedThroughput"] = provisioned
                    indexes.append(index)
                args[key] = indexes
        stream = props.get("StreamSpecification")
        if stream:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        description = ddb.create_table(**args)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            ddb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr and str(pitr.get("PointInTimeRecoveryEnabled")).lower() == "true":
            ddb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        self._record(logical_id, "AWS::DynamoDB::Table", name, Arn=description["TableArn"])
        if "LatestStreamArn" in description:
            self.resolver.attributes[(logical_id, "StreamArn")] = description["LatestStreamArn"]

    def _queue(self, logical_id: str, props: dict[str, Any]) -> None:
        sqs = client("sqs", self.endpoint)
        fifo = str(props.get("FifoQueue", "false")).lower() == "true"
        name = props.get("QueueName") or physical_name(logical_id, suffix=".fifo" if fifo else "")
        attributes: dict[str, str] = {}
        for key in (
            "ContentBasedDeduplication",
            "DeduplicationScope",
            "DelaySeconds",
            "FifoQueue",
            "FifoThroughputLimit",
            "MaximumMessageSize",
            "MessageRetentionPeriod",
            "ReceiveMessageWaitTimeSeconds",
            "VisibilityTimeout",
        ):
            if key in props:
                value = props[key]
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in props:
                value = props[key]
                attributes[key] = value if isinstance(value, str) else json.dumps(value)
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._record(logical_id, "AWS::SQS::Queue", url, Arn=arn, QueueName=name, QueueUrl=url)

    def _bus(self, logical_id: str, props: dict[str, Any]) -> None:
        events = client("events", self.endpoint)
        arn = events.create_event_bus(Name=props["Name"])["EventBusArn"]
        self._record(logical_id, "AWS::Events::EventBus", props["Name"], Arn=arn, Name=props["Name"])

    def _rule(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or physical_name(logical_id)
        bus = str(props.get("EventBusName", "default")).rsplit("/", 1)[-1]
        arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{'' if bus == 'default' else bus + '/'}{name}"
        targets = props.get("Targets") or []
        if "ScheduleExpression" in props:
            self.result.emulated[logical_id] = "AWS::Events::Rule"
            self.resolver.refs[logical_id] = name
            self.resolver.attributes[(logical_id, "Arn")] = arn
            for target in targets:
                function_id = self._function_of_arn(target.get("Arn"))
                if function_id is None:
                    self.result.unsupported[f"{logical_id}/{target.get('Id')}"] = "AWS::Events::Rule schedule target"
                    continue
                payload = json.loads(target["Input"]) if "Input" in target else None
                self.result.schedules.append(
                    Schedule(logical_id, function_id, props["ScheduleExpression"], payload, arn)
                )
            return
        events = client("events", self.endpoint)
        pattern = props.get("EventPattern") or {}
        events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=pattern if isinstance(pattern, str) else json.dumps(pattern),
            State=props.get("State", "ENABLED"),
        )
        local_targets: list[dict[str, Any]] = []
        for target in targets:
            target_arn = str(target.get("Arn"))
            function_id = self._function_of_arn(target_arn)
            if function_id is not None:
                queue_name = f"ordersync-local-rule-{logical_id}"[:80]
                url = client("sqs", self.endpoint).create_queue(QueueName=queue_name)["QueueUrl"]
                target_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}"
                self.result.rule_deliveries.append(RuleDelivery(logical_id, function_id, url))
            elif not target_arn.startswith("arn:aws:sqs:"):
                self.result.unsupported[f"{logical_id}/{target.get('Id')}"] = "AWS::Events::Rule target " + (
                    target_arn.split(":")[2] if target_arn.count(":") > 2 else target_arn
                )
                continue
            local_target = {"Id": str(target["Id"]), "Arn": target_arn}
            for key in ("Input", "InputPath", "InputTransformer"):
                if key in target:
                    local_target[key] = target[key]
            local_targets.append(local_target)
        if local_targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=local_targets)
        self._record(logical_id, "AWS::Events::Rule", name, Arn=arn)

    def _scheduler_schedule(self, logical_id: str, props: dict[str, Any]) -> None:
        target = props.get("Target") or {}
        function_id = self._function_of_arn(target.get("Arn"))
        arn = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{props.get('Name') or logical_id}"
        self.resolver.attributes[(logical_id, "Arn")] = arn
        if function_id is None:
            self.result.emulated.pop(logical_id, None)
            self.result.unsupported[logical_id] = "AWS::Scheduler::Schedule target"
            return
        payload = json.loads(target["Input"]) if "Input" in target else {}
        self.result.schedules.append(Schedule(logical_id, function_id, props["ScheduleExpression"], payload, arn))

    def _secret(self, logical_id: str, props: dict[str, Any]) -> None:
        sm = client("secretsmanager", self.endpoint)
        name = props.get("Name") or physical_name(logical_id)
        value = props.get("SecretString")
        if value is None:
            generate = props.get("GenerateSecretString") or {}
            generated = secrets.token_urlsafe(24)
            if "SecretStringTemplate" in generate and "GenerateStringKey" in generate:
                document = json.loads(generate["SecretStringTemplate"])
                document[generate["GenerateStringKey"]] = generated
                value = json.dumps(document)
            else:
                value = generated
        arn = sm.create_secret(Name=name, SecretString=value)["ARN"]
        self.result.secrets[name] = arn
        self._record(logical_id, "AWS::SecretsManager::Secret", arn, Id=arn)

    def _ssm_parameter(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or f"/{physical_name(logical_id)}"
        client("ssm", self.endpoint).put_parameter(
            Name=name, Value=str(props["Value"]), Type=props.get("Type", "String"), Overwrite=True
        )
        self._record(logical_id, "AWS::SSM::Parameter", name, Value=props["Value"], Type=props.get("Type"))

    def _topic(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("TopicName") or physical_name(logical_id)
        arn = client("sns", self.endpoint).create_topic(Name=name)["TopicArn"]
        self._record(logical_id, "AWS::SNS::Topic", arn, TopicArn=arn, TopicName=name)

    def _log_group(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("LogGroupName") or physical_name(logical_id)
        client("logs", self.endpoint).create_log_group(logGroupName=name)
        self._record(
            logical_id, "AWS::Logs::LogGroup", name, Arn=f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}"
        )

    def _record(self, logical_id: str, type_: str, ref: str, **attributes: Any) -> None:
        self.resolver.refs[logical_id] = ref
        for name, value in attributes.items():
            self.resolver.attributes[(logical_id, name)] = value
        self.result.created[logical_id] = (type_, ref)

    def _tap(self) -> None:
        """Route every event on every bus to a local queue, so that the runtime can count and log them."""
        sqs = client("sqs", self.endpoint)
        events = client("events", self.endpoint)
        url = sqs.create_queue(QueueName=TAP_QUEUE_NAME)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{TAP_QUEUE_NAME}"
        buses = [ref for type_, ref in self.result.created.values() if type_ == "AWS::Events::EventBus"]
        for bus in [*buses, "default"]:
            events.put_rule(Name=TAP_RULE_NAME, EventBusName=bus, EventPattern=json.dumps({"account": [ACCOUNT_ID]}))
            events.put_targets(Rule=TAP_RULE_NAME, EventBusName=bus, Targets=[{"Id": "local-tap", "Arn": arn}])
        self.result.tap_queue_url = url


def _depends_on(resource: dict[str, Any]) -> list[str]:
    depends = resource.get("DependsOn") or []
    return [depends] if isinstance(depends, str) else list(depends)


def seed_secret(endpoint: str, name: str, token: str) -> None:
    """Store ``{"token": token}`` under ``name``, creating the secret when the template does not declare it."""
    sm = client("secretsmanager", endpoint)
    value = json.dumps({"token": token})
    try:
        sm.put_secret_value(SecretId=name, SecretString=value)
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=name, SecretString=value)
