"""template.yaml as written: the parameters, resources, settings and names the other parts rely on."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ordersync_tools.infra.template import load_template, resolve_conditions

from ordersync import platforms
from ordersync.actions.apply import OVERDUE_AFTER_SECONDS
from ordersync.api.openapi import ErrorBody
from ordersync.config import Settings
from ordersync.models import Platform

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
URL = re.compile(r"https?:|://", re.IGNORECASE)
EVERY_PLATFORM = {
    "TicketscloudBaseUrl": "https://ticketscloud.example.com",
    "Bizon365BaseUrl": "https://bizon365.example.com",
    "Bizon365ProjectId": "12345",
    "EcardsBaseUrl": "https://ecards.example.com",
}

REQUIRED_PARAMETERS = [
    "Stage",
    "TicketscloudBaseUrl",
    "TicketscloudSecretName",
    "TicketscloudTimezone",
    "Bizon365BaseUrl",
    "Bizon365ProjectId",
    "Bizon365SecretName",
    "Bizon365TokenHeader",
    "EcardsBaseUrl",
    "EcardsSecretName",
    "EcardsTimezone",
    "TicketscloudPollRate",
    "Bizon365PollRate",
    "EcardsPollRate",
    "StatusPollRate",
    "TicketscloudRefundPollRate",
]

FUNCTIONS = {
    "TicketscloudPollerFunction": "functions/poller/",
    "Bizon365PollerFunction": "functions/poller/",
    "EcardsPollerFunction": "functions/poller/",
    "StatusPollerFunction": "functions/status_poller/",
    "StreamConsumerFunction": "functions/stream_consumer/",
    "ApiFunction": "functions/api/",
    "AuthorizerFunction": "functions/authorizer/",
    "ActionWorkerFunction": "functions/action_worker/",
    "ActionReconcilerFunction": "functions/action_reconciler/",
    "WebhookReceiverFunction": "functions/webhook_receiver/",
    "WebhookConsumerFunction": "functions/webhook_consumer/",
    "WebhookSignerFunction": "functions/webhook_signer/",
}

CONDITIONAL_FUNCTIONS = {"WebhookSignerFunction": "HasSubscriber"}
"""Functions that exist only under a condition (a partner subscription)."""

# Settings that only some functions receive (docs/design.md); every other setting goes to every function.
FUNCTION_ONLY_SETTINGS = {
    "ACTIONS_MAX_RECEIVE_COUNT": {"ActionWorkerFunction"},
    "ACTIONS_DEAD_LETTER_QUEUE_URL": {"ActionWorkerFunction"},
    "ACTION_MAX_ATTEMPTS": {"ActionWorkerFunction"},
    "ACTION_RETRY_BASE_SECONDS": {"ActionWorkerFunction"},
    "ACTION_RETRY_MAX_SECONDS": {"ActionWorkerFunction"},
    "EVENT_DETAIL": {"StreamConsumerFunction"},
    "WEBHOOK_QUEUE_URL": {"WebhookReceiverFunction"},
    "WEBHOOK_COALESCE_SECONDS": {"WebhookReceiverFunction"},
    "SUBSCRIBER_SECRET_NAME": {"WebhookSignerFunction"},
}

POLLERS = {
    "TicketscloudPollerFunction": ("ticketscloud", "TicketscloudPollRate"),
    "Bizon365PollerFunction": ("bizon365", "Bizon365PollRate"),
    "EcardsPollerFunction": ("ecards", "EcardsPollRate"),
}

DESIGN_RESOURCES = {
    "OrdersTable": "AWS::DynamoDB::Table",
    "PollStateTable": "AWS::DynamoDB::Table",
    "ActionsTable": "AWS::DynamoDB::Table",
    "ApiClientsTable": "AWS::DynamoDB::Table",
    "IdempotencyTable": "AWS::DynamoDB::Table",
    "ActionsQueue": "AWS::SQS::Queue",
    "ActionsDeadLetterQueue": "AWS::SQS::Queue",
    "PollerDeadLetterQueue": "AWS::SQS::Queue",
    "StreamFailureQueue": "AWS::SQS::Queue",
    "OrderEventsBus": "AWS::Events::EventBus",
    "TicketscloudSecret": "AWS::SecretsManager::Secret",
    "Bizon365Secret": "AWS::SecretsManager::Secret",
    "EcardsSecret": "AWS::SecretsManager::Secret",
    "OrdersyncLayer": "AWS::Serverless::LayerVersion",
    "OrdersyncApi": "AWS::Serverless::Api",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"]
    return found


def props(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = resources[logical_id]["Properties"]
    return found


def function_environment(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's environment as Lambda sees it: the Globals merged with its own variables."""
    merged = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    own = template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
    merged.update(own)
    return merged


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a (possibly intrinsic) value, however deeply nested."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def test_template_declares_every_required_parameter(template: dict[str, Any]) -> None:
    missing = [name for name in REQUIRED_PARAMETERS if name not in template["Parameters"]]
    assert missing == []


def test_ticketscloud_timezone_defaults_to_moscow(template: dict[str, Any]) -> None:
    assert template["Parameters"]["TicketscloudTimezone"]["Default"] == "Europe/Moscow"


def test_bizon365_token_header_defaults_to_x_token_and_ecards_timezone_to_moscow(template: dict[str, Any]) -> None:
    assert template["Parameters"]["Bizon365TokenHeader"]["Default"] == "X-Token"
    assert template["Parameters"]["EcardsTimezone"]["Default"] == "Europe/Moscow"
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["BIZON365_TOKEN_HEADER"] == {"Ref": "Bizon365TokenHeader"}
    assert variables["ECARDS_TIMEZONE"] == {"Ref": "EcardsTimezone"}


def test_base_urls_have_no_default_host(template: dict[str, Any]) -> None:
    for name in ("TicketscloudBaseUrl", "Bizon365BaseUrl", "EcardsBaseUrl"):
        assert "Default" not in template["Parameters"][name], name


def test_poll_rates_default_to_schedule_expressions(template: dict[str, Any]) -> None:
    for name in ("TicketscloudPollRate", "Bizon365PollRate", "EcardsPollRate", "StatusPollRate"):
        assert template["Parameters"][name]["Default"].startswith("rate("), name
    assert template["Parameters"]["TicketscloudRefundPollRate"]["Default"].startswith("rate(")


def test_the_ticketscloud_poller_has_a_refund_schedule_of_its_own_that_retries_and_dead_letters(
    resources: dict[str, Any],
) -> None:
    schedule = props(resources, "TicketscloudPollerFunction")["Events"]["RefundSchedule"]
    settings = schedule["Properties"]
    assert schedule["Type"] == "ScheduleV2"
    assert settings["ScheduleExpression"] == {"Ref": "TicketscloudRefundPollRate"}
    assert json.loads(settings["Input"])["target"] == "refunds"
    assert settings["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert settings["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["PollerDeadLetterQueue", "Arn"]}}


def test_the_refund_watch_is_gone(template: dict[str, Any]) -> None:
    assert "RefundWatchDays" not in template["Parameters"]
    assert "REFUND_WATCH_DAYS" not in json.dumps(template)


def test_every_design_resource_exists_with_its_type(resources: dict[str, Any]) -> None:
    actual = {logical_id: resources[logical_id]["Type"] for logical_id in DESIGN_RESOURCES if logical_id in resources}
    assert actual == DESIGN_RESOURCES


def test_every_function_exists_with_its_code_directory(resources: dict[str, Any]) -> None:
    actual = {
        logical_id: resource["Properties"]["CodeUri"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert actual == FUNCTIONS


def test_functions_run_python313_on_x86_with_tracing_and_both_layers(template: dict[str, Any]) -> None:
    function_globals = template["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["x86_64"]
    assert function_globals["Tracing"] == "Active"
    assert function_globals["Layers"][-1] == {"Ref": "OrdersyncLayer"}  # last: its dependencies win
    assert function_globals["Layers"][0] == {"Ref": "PowertoolsLayerArn"}


def test_powertools_layer_is_the_published_one_for_python313_at_the_version_the_tests_use(
    template: dict[str, Any],
) -> None:
    from aws_lambda_powertools.shared.version import VERSION

    parameter = template["Parameters"]["PowertoolsLayerArn"]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == f"/aws/service/powertools/python/x86_64/python3.13/{VERSION}"


def test_layer_is_built_by_sam_for_python313_with_its_pyc(resources: dict[str, Any]) -> None:
    """``BuildMethod: makefile``: the Makefile installs the requirements for Lambda's CPython 3.13 on x86_64, copies
    the package and compiles everything (unchecked-hash ``.pyc``: Lambda's ``/opt`` is read-only)."""
    layer = resources["OrdersyncLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/runtime/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Metadata"]["BuildArchitecture"] == "x86_64"
    makefile = (TEMPLATE.parent / "layers" / "runtime" / "Makefile").read_text(encoding="utf-8")
    assert "\nbuild-OrdersyncLayer:\n" in makefile
    assert "PYTHON ?= python3.13\n" in makefile
    recipe = " ".join(makefile.split("\nbuild-OrdersyncLayer:\n", 1)[1].replace("\\\n", " ").split())
    assert "pip install" in recipe
    assert '--target "$(TARGET)"' in recipe
    assert "TARGET = $(ARTIFACTS_DIR)/python" in makefile
    assert "--platform manylinux2014_x86_64 --implementation cp --python-version 3.13 --only-binary=:all:" in recipe
    assert '--requirement "$(SOURCE)/requirements.txt"' in recipe
    assert 'cp -R "$(SOURCE)/ordersync" "$(TARGET)/ordersync"' in recipe
    assert '-m compileall -q -j 0 --invalidation-mode unchecked-hash "$(TARGET)"' in recipe


def test_layer_requirements_ship_neither_boto3_nor_powertools() -> None:
    requirements = (TEMPLATE.parent / "layers" / "runtime" / "requirements.txt").read_text(encoding="utf-8").lower()
    names = {line.split(">")[0].split("=")[0].split("<")[0].strip() for line in requirements.splitlines()}
    names.discard("")
    names = {name for name in names if not name.startswith("#")}
    assert names == {"httpx", "pydantic"}


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_environment_sets_every_setting_it_needs(template: dict[str, Any], logical_id: str) -> None:
    environment = function_environment(template, logical_id)
    expected = {
        name.upper()
        for name in Settings.model_fields
        if logical_id in FUNCTION_ONLY_SETTINGS.get(name.upper(), {logical_id})
    } | {name for platform in Platform for name in platforms.environment_names(platform)}
    assert expected - environment.keys() == set()


def test_function_only_settings_stay_with_their_functions(template: dict[str, Any]) -> None:
    placed = {
        name: {logical_id for logical_id in FUNCTIONS if name in function_environment(template, logical_id)}
        for name in FUNCTION_ONLY_SETTINGS
    }
    assert placed == FUNCTION_ONLY_SETTINGS


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_environment_holds_no_hard_coded_host(template: dict[str, Any], logical_id: str) -> None:
    environment = function_environment(template, logical_id)
    hosts = [text for value in environment.values() for text in strings_in(value) if URL.search(text)]
    assert hosts == []


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_environment_values_are_references_or_fixed_ids(template: dict[str, Any], logical_id: str) -> None:
    """Configuration comes from Parameters and resources; only ids that never vary (platform, service
    name) are literals."""
    fixed = {"PLATFORM", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    literal = {
        name
        for name, value in function_environment(template, logical_id).items()
        if not (isinstance(value, dict) and value.keys() & {"Ref", "Fn::GetAtt", "Fn::Sub"})
    }
    assert literal <= fixed


def test_settings_read_the_template_environment_names(template: dict[str, Any]) -> None:
    names = template["Globals"]["Function"]["Environment"]["Variables"].keys()
    environ = dict.fromkeys(names, "7")
    settings = Settings.from_env(environ)
    assert settings.poll_lookback_minutes == 7
    assert settings.orders_table == "7"


@pytest.mark.parametrize(("logical_id", "platform_and_rate"), sorted(POLLERS.items()))
def test_pollers_get_their_platform_and_schedule(
    resources: dict[str, Any], logical_id: str, platform_and_rate: tuple[str, str]
) -> None:
    platform, rate_parameter = platform_and_rate
    properties = props(resources, logical_id)
    schedule = properties["Events"]["Schedule"]
    assert properties["Environment"]["Variables"]["PLATFORM"] == platform
    assert schedule["Type"] == "ScheduleV2"
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": rate_parameter}


@pytest.mark.parametrize("logical_id", [*sorted(POLLERS), "StatusPollerFunction"])
def test_scheduled_functions_retry_and_dead_letter_to_the_poller_queue(
    resources: dict[str, Any], logical_id: str
) -> None:
    properties = props(resources, logical_id)
    schedule = properties["Events"]["Schedule"]["Properties"]
    poller_dlq = {"Fn::GetAtt": ["PollerDeadLetterQueue", "Arn"]}
    assert schedule["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert schedule["DeadLetterConfig"] == {"Arn": poller_dlq}
    assert properties["DeadLetterQueue"] == {"Type": "SQS", "TargetArn": poller_dlq}
    assert properties["Timeout"] < 300  # a run ends before the next default-rate run starts


def test_status_poller_is_scheduled_by_its_rate(resources: dict[str, Any]) -> None:
    schedule = props(resources, "StatusPollerFunction")["Events"]["Schedule"]
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": "StatusPollRate"}


def test_actions_queue_is_high_throughput_fifo(resources: dict[str, Any]) -> None:
    queue = props(resources, "ActionsQueue")
    assert queue["FifoQueue"] is True
    assert queue["DeduplicationScope"] == "messageGroup"
    assert queue["FifoThroughputLimit"] == "perMessageGroupId"


def test_actions_queue_redrives_to_the_fifo_dead_letter_queue_only_far_above_the_attempt_budget(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    redrive = props(resources, "ActionsQueue")["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ActionsDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "ActionsMaxReceiveCount"},
    }
    parameters = template["Parameters"]
    assert parameters["ActionsMaxReceiveCount"]["Default"] >= 10 * parameters["ActionMaxAttempts"]["Default"]
    assert props(resources, "ActionsDeadLetterQueue")["FifoQueue"] is True


def test_action_worker_knows_the_queue_max_receive_count(template: dict[str, Any]) -> None:
    environment = function_environment(template, "ActionWorkerFunction")
    assert environment["ACTIONS_MAX_RECEIVE_COUNT"] == {"Ref": "ActionsMaxReceiveCount"}


def test_an_action_is_overdue_after_the_worker_timeout_plus_the_visibility_timeout(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    worker_timeout = props(resources, "ActionWorkerFunction").get("Timeout", template["Globals"]["Function"]["Timeout"])
    visibility = props(resources, "ActionsQueue")["VisibilityTimeout"]
    assert worker_timeout + visibility == OVERDUE_AFTER_SECONDS


def test_the_action_worker_backs_off_and_dead_letters_through_the_queues(template: dict[str, Any]) -> None:
    environment = function_environment(template, "ActionWorkerFunction")
    assert environment["ACTIONS_DEAD_LETTER_QUEUE_URL"] == {"Ref": "ActionsDeadLetterQueue"}
    assert environment["ACTION_MAX_ATTEMPTS"] == {"Ref": "ActionMaxAttempts"}
    assert environment["ACTION_RETRY_BASE_SECONDS"] == {"Ref": "ActionRetryBaseSeconds"}
    assert environment["ACTION_RETRY_MAX_SECONDS"] == {"Ref": "ActionRetryMaxSeconds"}
    policies = props(template["Resources"], "ActionWorkerFunction")["Policies"]
    statements = [statement for policy in policies for statement in policy.get("Statement", [])]
    assert {
        "Sid": "BackOffFailedActions",
        "Effect": "Allow",
        "Action": ["sqs:ChangeMessageVisibility"],
        "Resource": {"Fn::GetAtt": ["ActionsQueue", "Arn"]},
    } in statements
    assert {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["ActionsDeadLetterQueue", "QueueName"]}}} in policies


def test_the_actions_table_has_a_sparse_index_of_open_actions_by_platform_and_deadline(
    resources: dict[str, Any],
) -> None:
    (index,) = props(resources, "ActionsTable")["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "open-actions"
    assert index["KeySchema"] == [
        {"AttributeName": "open_platform", "KeyType": "HASH"},
        {"AttributeName": "overdue_at", "KeyType": "RANGE"},
    ]


def test_the_action_reconciler_runs_on_its_schedule_with_least_privilege(template: dict[str, Any]) -> None:
    reconciler = template["Resources"]["ActionReconcilerFunction"]["Properties"]
    schedule = reconciler["Events"]["Schedule"]
    assert schedule["Type"] == "ScheduleV2"
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": "ActionReconcileRate"}
    statements = reconciler["Policies"][0]["Statement"]
    assert {action for statement in statements for action in statement["Action"]} == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
    }
    assert {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["ActionsQueue", "QueueName"]}}} in reconciler[
        "Policies"
    ]
    assert "ActionReconcilerLogGroup" in template["Resources"]
    assert "ActionsOverdueAlarm" in template["Resources"]


def test_actions_queue_visibility_timeout_is_at_least_six_worker_timeouts(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    worker_timeout = props(resources, "ActionWorkerFunction").get("Timeout", template["Globals"]["Function"]["Timeout"])
    assert props(resources, "ActionsQueue")["VisibilityTimeout"] >= 6 * worker_timeout


def test_action_worker_reads_the_actions_queue_with_partial_batch_failures(resources: dict[str, Any]) -> None:
    event = props(resources, "ActionWorkerFunction")["Events"]["Actions"]
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["ActionsQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "ActionWorkerMaximumConcurrency"}
    assert 1 <= event["Properties"]["BatchSize"] <= 10  # the FIFO limit


def test_stream_consumer_reads_the_orders_stream_safely(resources: dict[str, Any]) -> None:
    event = props(resources, "StreamConsumerFunction")["Events"]["OrdersStream"]
    settings = event["Properties"]
    assert event["Type"] == "DynamoDB"
    assert settings["Stream"] == {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
    assert settings["StartingPosition"] == "TRIM_HORIZON"
    assert settings["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert settings["BisectBatchOnFunctionError"] is True
    assert settings["MaximumRetryAttempts"] >= 1
    assert settings["BatchSize"] >= 1
    assert settings["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["StreamFailureQueue", "Arn"]},
    }


def test_event_detail_defaults_to_redacted_and_reaches_the_stream_consumer_only(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["EventDetail"]
    assert parameter["Default"] == "redacted"
    assert sorted(parameter["AllowedValues"]) == ["full", "redacted"]
    assert function_environment(template, "StreamConsumerFunction")["EVENT_DETAIL"] == {"Ref": "EventDetail"}
    settings = Settings.from_env({"EVENT_DETAIL": "full"})
    assert settings.event_detail == "full"
    assert Settings.from_env({}).event_detail == "redacted"


def test_orders_table_has_the_design_keys_stream_and_recovery(resources: dict[str, Any]) -> None:
    table = props(resources, "OrdersTable")
    indexes = {
        index["IndexName"]: [key["AttributeName"] for key in index["KeySchema"]]
        for index in table["GlobalSecondaryIndexes"]
    }
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert indexes == {
        "by-shard-changed": ["changed_shard", "last_changed_at"],
        "open-orders": ["open_platform", "next_check_at"],
    }
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


@pytest.mark.parametrize(
    ("logical_id", "key", "ttl"),
    [
        ("PollStateTable", "poller", None),
        ("ActionsTable", "action_id", "expires_at"),
        ("ApiClientsTable", "client_name", None),
        ("IdempotencyTable", "id", "expiration"),
    ],
)
def test_tables_have_the_design_keys_and_ttl(
    resources: dict[str, Any], logical_id: str, key: str, ttl: str | None
) -> None:
    table = props(resources, logical_id)
    assert table["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
    assert table.get("TimeToLiveSpecification", {}).get("AttributeName") == ttl


def test_clients_table_is_searchable_by_token_hash(resources: dict[str, Any]) -> None:
    (index,) = props(resources, "ApiClientsTable")["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-token-hash"
    assert index["KeySchema"] == [{"AttributeName": "token_hash", "KeyType": "HASH"}]


def test_every_table_and_queue_is_encrypted_at_rest(resources: dict[str, Any]) -> None:
    unencrypted = [
        logical_id
        for logical_id, resource in resources.items()
        if (
            resource["Type"] == "AWS::DynamoDB::Table"
            and resource["Properties"]["SSESpecification"]["SSEEnabled"] is not True
        )
        or (resource["Type"] == "AWS::SQS::Queue" and resource["Properties"].get("SqsManagedSseEnabled") is not True)
    ]
    assert unencrypted == []


@pytest.mark.parametrize(
    ("logical_id", "parameter"),
    [
        ("TicketscloudSecret", "TicketscloudSecretName"),
        ("Bizon365Secret", "Bizon365SecretName"),
        ("EcardsSecret", "EcardsSecretName"),
    ],
)
def test_secrets_are_named_by_parameters_and_hold_a_token_key(
    resources: dict[str, Any], logical_id: str, parameter: str
) -> None:
    secret = props(resources, logical_id)
    assert secret["Name"] == {"Ref": parameter}
    assert secret["GenerateSecretString"]["GenerateStringKey"] == "token"
    assert '{"token": "..."}' in secret["Description"]


def test_api_routes_are_the_documented_ones(resources: dict[str, Any]) -> None:
    events = props(resources, "ApiFunction")["Events"].values()
    routes = {(event["Properties"]["Method"], event["Properties"]["Path"]) for event in events}
    assert routes == {
        ("POST", "/orders/ticketscloud/{order_id}/actions"),
        ("POST", "/orders/ticketscloud"),
        ("POST", "/orders/ticketscloud/{order_id}/reservation"),
        ("POST", "/orders/ticketscloud/{order_id}/status"),
        ("POST", "/orders/ticketscloud/{order_id}/refund-requests"),
        ("POST", "/orders/ticketscloud/{order_id}/refund-requests/{refund_id}"),
        ("POST", "/ecards/orders"),
        ("POST", "/exports/ticketscloud"),
        ("GET", "/actions/{action_id}"),
        ("GET", "/orders/{platform}/{order_id}"),
        ("GET", "/orders"),
        ("GET", "/openapi.json"),
    }
    assert all(event["Properties"]["RestApiId"] == {"Ref": "OrdersyncApi"} for event in events)


def test_only_the_openapi_route_skips_the_authorizer(resources: dict[str, Any]) -> None:
    events = props(resources, "ApiFunction")["Events"].values()
    open_routes = [event["Properties"]["Path"] for event in events if "Auth" in event["Properties"]]
    assert open_routes == ["/openapi.json"]


def test_every_gateway_response_is_an_error_body_with_its_own_status(resources: dict[str, Any]) -> None:
    """API Gateway's own answers (token, throttling, a failed or slow function) have the API's one error shape."""
    responses = props(resources, "OrdersyncApi")["GatewayResponses"]
    assert {"UNAUTHORIZED", "THROTTLED", "ACCESS_DENIED", "DEFAULT_5XX", "INTEGRATION_TIMEOUT"} <= set(responses)
    for kind, response in responses.items():
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert ErrorBody.model_validate(body).statusCode == response["StatusCode"], kind


def test_api_uses_a_cached_request_authorizer_on_the_authorization_header(resources: dict[str, Any]) -> None:
    auth = props(resources, "OrdersyncApi")["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert authorizer["FunctionPayloadType"] == "REQUEST"
    assert authorizer["FunctionArn"] == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}
    assert authorizer["Identity"]["Headers"] == ["Authorization"]
    assert authorizer["Identity"]["ReauthorizeEvery"] > 0


def test_api_stage_is_throttled_traced_and_access_logged(resources: dict[str, Any]) -> None:
    api = props(resources, "OrdersyncApi")
    assert api["StageName"] == {"Ref": "Stage"}
    assert api["TracingEnabled"] is True
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["OrdersyncApiAccessLogGroup", "Arn"]}
    assert api["Auth"]["UsagePlan"]["Throttle"]["RateLimit"] == {"Ref": "ApiThrottleRateLimit"}
    assert api["MethodSettings"][0]["ThrottlingRateLimit"] == {"Ref": "ApiThrottleRateLimit"}


@pytest.mark.parametrize("queue", ["ActionsDeadLetterQueue", "PollerDeadLetterQueue", "StreamFailureQueue"])
def test_each_failure_queue_has_an_alarm_on_visible_messages(resources: dict[str, Any], queue: str) -> None:
    alarms = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
        in resource["Properties"].get("Dimensions", [])
    ]
    assert len(alarms) == 1
    assert alarms[0]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarms[0]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


@pytest.mark.parametrize(
    "dimension",
    [("platform", "ticketscloud"), ("platform", "bizon365"), ("platform", "ecards")],
)
def test_each_poller_alarms_after_three_periods_without_a_completed_run(
    resources: dict[str, Any], dimension: tuple[str, str]
) -> None:
    name, value = dimension
    (alarm,) = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and resource["Properties"].get("MetricName") == "PollCompleted"
        and {"Name": name, "Value": value} in resource["Properties"]["Dimensions"]
        and not any(item["Name"] == "poller" for item in resource["Properties"]["Dimensions"])
    ]
    assert alarm["Namespace"] == "ordersync"
    assert alarm["EvaluationPeriods"] == 3
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["ComparisonOperator"] == "LessThanThreshold"


def test_the_refund_poll_alarms_after_two_hours_without_a_completed_run_with_the_dimensions_it_emits(
    resources: dict[str, Any],
) -> None:
    alarm = props(resources, "TicketscloudRefundPollStalledAlarm")
    # The poller handler adds poller=refunds to the platform dimension for a refund run.
    assert {item["Name"]: item["Value"] for item in alarm["Dimensions"]} == {
        "service": "ordersync",
        "platform": "ticketscloud",
        "poller": "refunds",
    }
    assert alarm["MetricName"] == "PollCompleted"
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 7200
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["ComparisonOperator"] == "LessThanThreshold"


def test_status_poller_alarm_watches_the_slowest_platform_with_the_dimensions_it_emits(
    template: dict[str, Any],
) -> None:
    alarm = props(resolve_conditions(template, EVERY_PLATFORM)["Resources"], "StatusPollStalledAlarm")
    watched = [
        {item["Name"]: item["Value"] for item in query["MetricStat"]["Metric"]["Dimensions"]}
        for query in alarm["Metrics"]
        if "MetricStat" in query
    ]
    # The status poller flushes PollCompleted once per platform with dimensions service, platform and poller.
    assert sorted(dims["platform"] for dims in watched) == ["bizon365", "ecards", "ticketscloud"]
    assert all(dims.keys() == {"service", "platform", "poller"} and dims["poller"] == "status" for dims in watched)
    (expression,) = [query["Expression"] for query in alarm["Metrics"] if "Expression" in query]
    assert expression.startswith("MIN(")
    assert alarm["EvaluationPeriods"] == 3
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["ComparisonOperator"] == "LessThanThreshold"


def test_function_errors_alarm_covers_every_function(template: dict[str, Any]) -> None:
    metrics = props(resolve_conditions(template, EVERY_PLATFORM)["Resources"], "FunctionErrorsAlarm")["Metrics"]
    functions = {
        query["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"] for query in metrics if "MetricStat" in query
    }
    assert functions == set(FUNCTIONS) - set(CONDITIONAL_FUNCTIONS)


def test_alarm_email_subscription_is_optional(template: dict[str, Any], resources: dict[str, Any]) -> None:
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    assert resources["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"


def test_outputs_name_every_table_queue_bus_and_the_api(template: dict[str, Any]) -> None:
    expected = {
        "ApiUrl",
        "OrdersTableName",
        "PollStateTableName",
        "ActionsTableName",
        "ApiClientsTableName",
        "IdempotencyTableName",
        "ActionsQueueUrl",
        "ActionsDeadLetterQueueUrl",
        "PollerDeadLetterQueueUrl",
        "StreamFailureQueueUrl",
        "OrderEventsBusName",
    }
    assert expected - template["Outputs"].keys() == set()
    assert template["Outputs"]["ApiClientsTableName"]["Value"] == {"Ref": "ApiClientsTable"}


def test_every_checkov_skip_gives_a_reason(resources: dict[str, Any]) -> None:
    skips = [
        (logical_id, skip)
        for logical_id, resource in resources.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips  # the template does skip some checks, each for a stated reason
    assert [(logical_id, skip["id"]) for logical_id, skip in skips if len(skip.get("comment", "")) < 20] == []
