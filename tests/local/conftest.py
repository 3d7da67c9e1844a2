"""Fixtures of the local-runtime tests: a tiny SAM project whose handlers are a few lines each, so the runtime's
own wiring is tested apart from ordersync's real functions."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from local_support import FakeClock
from ordersync_tools.local.resources import client
from ordersync_tools.local.template import Template

TINY_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: test
  TicketscloudBaseUrl:
    Type: String
  TicketscloudSecretName:
    Type: String
    Default: tiny/ticketscloud
  PollRate:
    Type: String
    Default: rate(5 minutes)
Globals:
  Function:
    Runtime: python3.13
    Handler: app.lambda_handler
    Timeout: 10
    Environment:
      Variables:
        STAGE: !Ref Stage
        ORDERS_TABLE: !Ref OrdersTable
        ACTIONS_QUEUE_URL: !Ref ActionsQueue
        EVENT_BUS_NAME: !Ref EventsBus
        TICKETSCLOUD_BASE_URL: !Ref TicketscloudBaseUrl
        TICKETSCLOUD_SECRET_NAME: !Ref TicketscloudSecretName
        LOG_TABLE: !Ref LogTable
        CLIENTS_TABLE: !Ref ClientsTable
Resources:
  ClientsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - { AttributeName: client_name, AttributeType: S }
      KeySchema:
        - { AttributeName: client_name, KeyType: HASH }
  OrdersTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - { AttributeName: pk, AttributeType: S }
        - { AttributeName: platform, AttributeType: S }
      KeySchema:
        - { AttributeName: pk, KeyType: HASH }
      GlobalSecondaryIndexes:
        - IndexName: by-platform
          KeySchema:
            - { AttributeName: platform, KeyType: HASH }
          Projection: { ProjectionType: ALL }
      StreamSpecification:
        StreamViewType: NEW_AND_OLD_IMAGES
      TimeToLiveSpecification:
        AttributeName: expires_at
        Enabled: true
  LogTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub tiny-${Stage}-log
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - { AttributeName: id, AttributeType: S }
      KeySchema:
        - { AttributeName: id, KeyType: HASH }
  ActionsQueue:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      VisibilityTimeout: 2
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt ActionsDeadLetterQueue.Arn
        maxReceiveCount: 2
  ActionsDeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
  EventsBus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub tiny-${Stage}-events
  TicketscloudSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Ref TicketscloudSecretName
      GenerateSecretString:
        SecretStringTemplate: "{}"
        GenerateStringKey: token
  ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: tiny
      MetricName: Errors
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
  PollerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/poller/
      Events:
        Schedule:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: !Ref PollRate
  StreamFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/stream/
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt OrdersTable.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            BisectBatchOnFunctionError: true
            MaximumRetryAttempts: 1
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref Stage
      Auth:
        DefaultAuthorizer: TokenAuthorizer
        Authorizers:
          TokenAuthorizer:
            FunctionPayloadType: REQUEST
            FunctionArn: !GetAtt AuthorizerFunction.Arn
            Identity:
              Headers: [Authorization]
              ReauthorizeEvery: 300
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/api/
      Events:
        GetOrder:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /orders/{platform}/{order_id}
            Method: GET
        PostAction:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /orders/{platform}/{order_id}/actions
            Method: POST
        Health:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /health
            Method: GET
            Auth:
              Authorizer: NONE
  AuthorizerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/authorizer/
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Events:
        Actions:
          Type: SQS
          Properties:
            Queue: !GetAtt ActionsQueue.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
"""

HANDLERS = {
    "poller": """
        import json, os, boto3

        def lambda_handler(event, context):
            secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["TICKETSCLOUD_SECRET_NAME"])
            table = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])
            for number in range(3):
                table.put_item(Item={"pk": f"ticketscloud#{number}", "platform": "ticketscloud", "status": "pending"})
            token = json.loads(secret["SecretString"])["token"]
            return {"token": token, "remaining": context.get_remaining_time_in_millis()}
    """,
    "stream": """
        import json, os, boto3

        def lambda_handler(event, context):
            entries = []
            for r in event["Records"]:
                detail = {"pk": r["dynamodb"]["Keys"]["pk"]["S"], "at": r["dynamodb"]["ApproximateCreationDateTime"]}
                entries.append({"Source": "tiny", "DetailType": "Order Created",
                                "EventBusName": os.environ["EVENT_BUS_NAME"], "Detail": json.dumps(detail)})
            boto3.client("events").put_events(Entries=entries)
    """,
    "api": """
        import json, os, boto3

        def lambda_handler(event, context):
            if event["httpMethod"] == "POST":
                params = event["pathParameters"]
                boto3.client("sqs").send_message(
                    QueueUrl=os.environ["ACTIONS_QUEUE_URL"], MessageBody=event["body"],
                    MessageGroupId=f"{params['platform']}#{params['order_id']}",
                    MessageDeduplicationId=event["requestContext"]["requestId"],
                )
                return {"statusCode": 202, "body": json.dumps({"queued": True})}
            body = {"path": event["pathParameters"], "authorizer": event["requestContext"].get("authorizer"),
                    "resource": event["resource"], "stage": event["requestContext"]["stage"]}
            return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
    """,
    "authorizer": """
        def lambda_handler(event, context):
            if event["headers"].get("Authorization") != "Bearer good":
                raise Exception("Unauthorized")
            resource = event["methodArn"].split("/")[0] + "/*"
            statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}
            return {"principalId": "demo", "context": {"client_id": "demo"},
                    "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}
    """,
    "worker": """
        import json, os, boto3

        def lambda_handler(event, context):
            table = boto3.resource("dynamodb").Table(os.environ["LOG_TABLE"])
            failures = []
            for record in event["Records"]:
                if "fail" in record["body"]:
                    failures.append({"itemIdentifier": record["messageId"]})
                    continue
                table.put_item(Item={"id": record["messageId"], "body": record["body"]})
            return {"batchItemFailures": failures}
    """,
}


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SAM project with one function per trigger type; returns its template path (read-only: shared)."""
    tmp_path = tmp_path_factory.mktemp("tiny")
    template = tmp_path / "template.yaml"
    template.write_text(TINY_TEMPLATE, encoding="utf-8")
    for name, source in HANDLERS.items():
        directory = tmp_path / "functions" / name
        directory.mkdir(parents=True)
        (directory / "app.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return template


@pytest.fixture(scope="session")
def tiny_template(tiny_project: Path) -> Template:
    """The tiny project's template, translated once for the session."""
    return Template.from_file(tiny_project)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqs(aws: str) -> Any:
    return client("sqs", aws)


@pytest.fixture
def fifo_queues(sqs: Any) -> tuple[str, str, str]:
    """A FIFO queue and its FIFO dead-letter queue: (queue url, queue arn, dead-letter url)."""
    dead_letter_url = sqs.create_queue(QueueName="dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue_url = sqs.create_queue(
        QueueName="actions.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return queue_url, arn, dead_letter_url
