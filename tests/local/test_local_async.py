"""Asynchronous invocations: a failing scheduled function is retried twice, then its event goes to the
function's dead-letter queue; an event-pattern rule whose target is a function invokes it."""

from __future__ import annotations

import io
import json
import textwrap
from collections.abc import Iterator

import pytest
from ordersync_tools.local.resources import client
from ordersync_tools.local.runtime import LocalOptions, LocalRuntime, Reporter

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    Handler: app.lambda_handler
    Environment:
      Variables:
        SEEN_TABLE: !Ref SeenTable
Resources:
  SeenTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{ AttributeName: id, AttributeType: S }]
      KeySchema: [{ AttributeName: id, KeyType: HASH }]
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: async-bus
  FailedInvocations:
    Type: AWS::SQS::Queue
  FailingFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/failing/
      DeadLetterQueue: { Type: SQS, TargetArn: !GetAtt FailedInvocations.Arn }
      Events:
        Daily:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 day)
  ListenerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/listener/
      Events:
        OnTest:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern: { source: [tests] }
"""

FAILING = """
    def lambda_handler(event, context):
        raise RuntimeError("platform down")
"""

LISTENER = """
    import os, boto3

    def lambda_handler(event, context):
        boto3.resource("dynamodb").Table(os.environ["SEEN_TABLE"]).put_item(
            Item={"id": event["id"], "detail_type": event["detail-type"]}
        )
"""


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    root = tmp_path_factory.mktemp("async")
    (root / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    for name, source in (("failing", FAILING), ("listener", LISTENER)):
        (root / "functions" / name).mkdir(parents=True)
        (root / "functions" / name / "app.py").write_text(textwrap.dedent(source), encoding="utf-8")
    options = LocalOptions(template=root / "template.yaml", api_port=0, aws_port=0, state_dir=root / "state", speed=100)
    local = LocalRuntime(options, Reporter(io.StringIO(), json_lines=True))
    with local.running():
        yield local


def test_a_failing_scheduled_function_is_retried_twice_then_its_event_is_dead_lettered(runtime: LocalRuntime) -> None:
    code = runtime.run_once()

    assert code == 1
    assert runtime.function_stats["FailingFunction"].invocations == 3
    assert runtime.poll_stats["FailingFunction"] == {"ok": 0, "failed": 1}
    assert runtime.resources is not None
    queue_url = runtime.resources.physical("FailedInvocations")
    messages = client("sqs", runtime.endpoint).receive_message(
        QueueUrl=queue_url, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert len(messages) == 1
    assert json.loads(messages[0]["Body"]) == {}  # the schedule has no Input: Scheduler sends an empty object
    assert messages[0]["MessageAttributes"]["ErrorMessage"]["StringValue"] == "platform down"


def test_an_event_matching_a_rule_invokes_the_rules_function(runtime: LocalRuntime) -> None:
    client("events", runtime.endpoint).put_events(
        Entries=[{"Source": "tests", "DetailType": "Ping", "Detail": "{}", "EventBusName": "async-bus"}]
    )

    runtime.drain_taps()

    assert runtime.resources is not None
    items = client("dynamodb", runtime.endpoint).scan(TableName=runtime.resources.physical("SeenTable"))["Items"]
    assert [item["detail_type"]["S"] for item in items] == ["Ping"]
    assert runtime.events_published["Ping"] == 1
