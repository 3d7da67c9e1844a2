"""template.yaml's webhooks: the route in, the hints queue and its consumer, and the optional signed subscription
out, which exists only when a partner endpoint is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ordersync_tools.infra.template import load_template, translate_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
SUBSCRIPTION = {
    "SubscriberSigningSecret",
    "WebhookSignerFunction",
    "WebhookSignerLogGroup",
    "SubscriberConnection",
    "SubscriberApiDestination",
    "SubscriberDeliveryRule",
    "SubscriberDeliveryRole",
    "SubscriberDeadLetterQueue",
    "SubscriberDeadLetterQueuePolicy",
    "SubscriberDeadLetterQueueAlarm",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return found


def test_the_webhook_route_is_on_the_api_outside_the_authorizer_and_the_usage_plan(template: dict[str, Any]) -> None:
    event = props(template, "WebhookReceiverFunction")["Events"]["PostTicketscloudWebhook"]
    assert event["Properties"]["Path"] == "/webhooks/ticketscloud/{secret}"
    assert event["Properties"]["Method"] == "POST"
    assert event["Properties"]["RestApiId"] == {"Ref": "OrdersyncApi"}
    assert event["Properties"]["Auth"] == {"Authorizer": "NONE", "ApiKeyRequired": False}


def test_the_webhook_route_has_its_own_throttle(template: dict[str, Any]) -> None:
    settings = props(template, "OrdersyncApi")["MethodSettings"]
    (route,) = [s for s in settings if s["ResourcePath"] == "/~1webhooks~1ticketscloud~1{secret}"]
    assert route["HttpMethod"] == "POST"
    assert route["ThrottlingRateLimit"] == {"Ref": "WebhookThrottleRateLimit"}
    assert route["ThrottlingBurstLimit"] == {"Ref": "WebhookThrottleBurstLimit"}


def test_the_hints_queue_coalesces_per_order_and_delivers_after_the_window(template: dict[str, Any]) -> None:
    queue = props(template, "WebhookQueue")
    assert queue["FifoQueue"] is True
    assert queue["ContentBasedDeduplication"] is False  # the receiver names each window
    assert queue["DeduplicationScope"] == "messageGroup"
    assert queue["DelaySeconds"] == {"Ref": "WebhookCoalesceSeconds"}
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]}
    receiver = props(template, "WebhookReceiverFunction")["Environment"]["Variables"]
    assert receiver["WEBHOOK_COALESCE_SECONDS"] == {"Ref": "WebhookCoalesceSeconds"}


def test_the_consumer_reads_the_hints_with_bounded_concurrency_and_partial_failures(template: dict[str, Any]) -> None:
    hints = props(template, "WebhookConsumerFunction")["Events"]["Hints"]["Properties"]
    assert hints["Queue"] == {"Fn::GetAtt": ["WebhookQueue", "Arn"]}
    assert hints["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert hints["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "WebhookConsumerMaximumConcurrency"}


def test_the_webhook_secret_holds_a_current_key_named_by_its_parameter(template: dict[str, Any]) -> None:
    secret = props(template, "TicketscloudWebhookSecret")
    assert secret["Name"] == {"Ref": "TicketscloudWebhookSecretName"}
    assert secret["GenerateSecretString"]["GenerateStringKey"] == "current"


def test_every_subscription_resource_exists_only_with_a_subscriber_endpoint(template: dict[str, Any]) -> None:
    conditional = {rid for rid, r in template["Resources"].items() if r.get("Condition") == "HasSubscriber"}
    assert conditional == SUBSCRIPTION
    assert template["Conditions"]["HasSubscriber"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "SubscriberEndpoint"}, ""]}]}
    assert template["Parameters"]["SubscriberEndpoint"]["Default"] == ""


def test_deliveries_go_through_an_api_destination_with_retries_a_dead_letter_queue_and_the_signature_headers(
    template: dict[str, Any],
) -> None:
    (target,) = props(template, "SubscriberDeliveryRule")["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["SubscriberApiDestination", "Arn"]}
    assert target["InputPath"] == "$.detail.body"
    assert target["HttpParameters"]["HeaderParameters"] == {
        name: f"$.detail.headers.{name}" for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["SubscriberDeadLetterQueue", "Arn"]}}
    assert props(template, "SubscriberConnection")["AuthorizationType"] == "API_KEY"
    signer_rule = props(template, "WebhookSignerFunction")["Events"]["ChangeEvents"]["Properties"]
    assert signer_rule["Pattern"]["detail-type"] == {"Ref": "SubscriberEventTypes"}
    assert signer_rule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["SubscriberDeadLetterQueue", "Arn"]}}


def test_the_template_translates_with_a_subscriber_endpoint() -> None:
    translated = translate_template(TEMPLATE, {"SubscriberEndpoint": "https://partner.example.com/hooks"})
    types = {resource["Type"] for resource in translated["Resources"].values()}
    assert {"AWS::Events::Connection", "AWS::Events::ApiDestination"} <= types
