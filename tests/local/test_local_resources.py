"""Resources are derived from the template itself: keys, indexes, streams, TTL, redrive, buses, secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ordersync_tools.local.functions import function_specs
from ordersync_tools.local.resources import LocalResources, ResourceBuilder, client
from ordersync_tools.local.template import LocalTemplateError, Template, parse_parameter_overrides


@pytest.fixture
def built(tiny_template: Template, aws: str) -> LocalResources:
    return ResourceBuilder(tiny_template, aws).build()


def test_tables_get_their_keys_indexes_stream_and_ttl(built: LocalResources, aws: str) -> None:
    ddb = client("dynamodb", aws)
    name = built.physical("OrdersTable")

    table = ddb.describe_table(TableName=name)["Table"]
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["by-platform"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_names_given_by_the_template_are_kept_with_parameters_resolved(built: LocalResources) -> None:
    assert built.physical("LogTable") == "tiny-test-log"
    assert built.physical("EventsBus") == "tiny-test-events"


def test_the_fifo_queue_redrives_to_its_dead_letter_queue(built: LocalResources, aws: str) -> None:
    sqs = client("sqs", aws)

    attributes = sqs.get_queue_attributes(QueueUrl=built.physical("ActionsQueue"), AttributeNames=["All"])["Attributes"]

    assert attributes["FifoQueue"] == "true"
    assert attributes["VisibilityTimeout"] == "2"
    policy = json.loads(attributes["RedrivePolicy"])
    assert policy["maxReceiveCount"] == 2
    assert policy["deadLetterTargetArn"].endswith(":ordersync-local-ActionsDeadLetterQueue.fifo")


def test_secrets_are_created_under_their_parameter_names(built: LocalResources, aws: str) -> None:
    secret = client("secretsmanager", aws).get_secret_value(SecretId="tiny/ticketscloud")

    assert set(json.loads(secret["SecretString"])) == {"token"}


def test_every_event_on_the_bus_reaches_the_local_tap(built: LocalResources, aws: str) -> None:
    client("events", aws).put_events(
        Entries=[{"Source": "t", "DetailType": "Order Created", "Detail": "{}", "EventBusName": "tiny-test-events"}]
    )

    messages = client("sqs", aws).receive_message(QueueUrl=built.tap_queue_url, MaxNumberOfMessages=10)["Messages"]

    assert [json.loads(m["Body"])["detail-type"] for m in messages] == ["Order Created"]


def test_a_type_that_cannot_be_created_is_named(built: LocalResources) -> None:
    assert built.unsupported == {"ErrorsAlarm": "AWS::CloudWatch::Alarm"}
    assert any("CANNOT BE CREATED LOCALLY AWS::CloudWatch::Alarm: ErrorsAlarm" in line for line in built.describe())


def test_schedules_come_from_the_template_with_their_rate(built: LocalResources) -> None:
    assert [(s.function_id, s.expression) for s in built.schedules] == [("PollerFunction", "rate(5 minutes)")]


def test_function_environments_resolve_refs_to_the_local_resources(
    tiny_template: Template, built: LocalResources
) -> None:
    specs = function_specs(tiny_template, built.resolver, {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"})

    environment = specs["WorkerFunction"].environment
    assert environment["ORDERS_TABLE"] == built.physical("OrdersTable")
    assert environment["ACTIONS_QUEUE_URL"] == built.physical("ActionsQueue")
    assert environment["EVENT_BUS_NAME"] == "tiny-test-events"
    assert environment["STAGE"] == "test"
    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "ordersync-local-WorkerFunction"
    assert specs["WorkerFunction"].timeout == 10


def test_a_parameter_without_default_or_value_is_left_empty_and_named(tiny_template: Template) -> None:
    assert tiny_template.unset_parameters == ("TicketscloudBaseUrl",)
    assert tiny_template.parameters["TicketscloudBaseUrl"] == ""


def test_parameter_overrides_are_applied(tiny_project: Path) -> None:
    template = Template.from_file(tiny_project, {"Stage": "qa"})

    assert template.parameters["Stage"] == "qa"


def test_an_override_of_an_undeclared_parameter_is_refused(tiny_project: Path) -> None:
    with pytest.raises(LocalTemplateError, match="Nope"):
        Template.from_file(tiny_project, {"Nope": "1"})


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["Stage=qa LogLevel=DEBUG"], {"Stage": "qa", "LogLevel": "DEBUG"}),
        (["Stage=qa", "Name='a b'"], {"Stage": "qa", "Name": "a b"}),
        (["ParameterKey=Stage,ParameterValue=qa"], {"Stage": "qa"}),
    ],
)
def test_parameter_overrides_are_parsed_as_sam_deploy_does(arguments: list[str], expected: dict[str, Any]) -> None:
    assert parse_parameter_overrides(arguments) == expected


def test_the_project_template_translates_and_names_what_it_cannot_create(aws: str) -> None:
    template_path = Path(__file__).resolve().parents[2] / "template.yaml"
    if not template_path.exists():
        pytest.skip("the project's template.yaml is not there yet")
    template = Template.from_file(template_path)

    built = ResourceBuilder(template, aws).build()

    created = {logical_id for logical_id, (type_, _) in built.created.items() if type_ == "AWS::DynamoDB::Table"}
    assert {"OrdersTable", "ActionsTable", "ApiClientsTable"} <= created
    assert "ActionsQueue" in built.created
    assert all(type_ != "AWS::IAM::Role" for type_ in built.unsupported.values())
    assert len(built.schedules) >= 1
