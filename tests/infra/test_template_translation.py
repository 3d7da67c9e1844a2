"""template.yaml as CloudFormation sees it after the SAM transform: least-privilege IAM, and the
offline translation and YAML loading the checks and the local runtime rely on."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ordersync_tools.infra.template import (
    LOCAL_ARTIFACT_BUCKET,
    DuplicateKeyError,
    load_template,
    resolve_conditions,
    translate_template,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVERY_PLATFORM = {
    "TicketscloudBaseUrl": "https://ticketscloud.example.com",
    "Bizon365BaseUrl": "https://bizon365.example.com",
    "Bizon365ProjectId": "12345",
    "EcardsBaseUrl": "https://ecards.example.com",
    "SubscriberEndpoint": "https://partner.example.com/hooks",  # the optional partner subscription, too
}

SECRETS_BY_FUNCTION = {
    "TicketscloudPollerFunction": {"TicketscloudSecret"},
    "Bizon365PollerFunction": {"Bizon365Secret"},
    "EcardsPollerFunction": {"EcardsSecret"},
    "StatusPollerFunction": {"TicketscloudSecret", "Bizon365Secret", "EcardsSecret"},
    "StreamConsumerFunction": set(),
    "AuthorizerFunction": set(),
    "WebhookReceiverFunction": {"TicketscloudWebhookSecret"},
    "WebhookConsumerFunction": {"TicketscloudSecret"},
    "WebhookSignerFunction": {"SubscriberSigningSecret"},
}


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    """As deployed with every platform configured (IAM statements of a platform sit behind ``Fn::If``)."""
    return resolve_conditions(translate_template(TEMPLATE), EVERY_PLATFORM)


@pytest.fixture(scope="module")
def resources(translated: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = translated["Resources"]
    return found


def statements(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every inline IAM statement of every role and policy, with the logical id that holds it."""
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        if resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::SNS::TopicPolicy"}:
            documents.append(properties["PolicyDocument"])
        for document in documents:
            for statement in document["Statement"]:
                yield logical_id, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def referenced_ids(value: Any) -> set[str]:
    """Logical ids a (possibly intrinsic) value refers to through Ref, GetAtt or Sub."""
    if isinstance(value, list):
        return set().union(*(referenced_ids(item) for item in value))
    if not isinstance(value, dict):
        return set()
    if "Ref" in value:
        return {value["Ref"]}
    if "Fn::GetAtt" in value:
        return {value["Fn::GetAtt"][0]}
    if "Fn::Sub" in value:
        text, variables = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], {})
        names = {part.split("}")[0].split(".")[0] for part in text.split("${")[1:]}
        return (names - variables.keys() - {"AWS::Partition", "AWS::Region", "AWS::AccountId"}) | referenced_ids(
            list(variables.values())
        )
    return referenced_ids(list(value.values()))


def test_translation_leaves_no_serverless_resource(resources: dict[str, Any]) -> None:
    assert [rid for rid, resource in resources.items() if resource["Type"].startswith("AWS::Serverless::")] == []
    assert (
        sum(resource["Type"] == "AWS::Lambda::Function" for resource in resources.values()) == 12
    )  # the signer included


def test_translation_points_code_at_s3_keys_named_after_the_local_directories(resources: dict[str, Any]) -> None:
    code = resources["ApiFunction"]["Properties"]["Code"]
    (layer,) = [r["Properties"]["Content"] for r in resources.values() if r["Type"] == "AWS::Lambda::LayerVersion"]
    assert code == {"S3Bucket": LOCAL_ARTIFACT_BUCKET, "S3Key": "functions/api"}
    assert layer == {"S3Bucket": LOCAL_ARTIFACT_BUCKET, "S3Key": "layers/runtime"}


def test_translation_applies_parameter_overrides() -> None:
    translated = translate_template(TEMPLATE, {"Stage": "prod"})
    (layer_name,) = [
        resource["Properties"]["LayerName"]
        for resource in translated["Resources"].values()
        if resource["Type"] == "AWS::Lambda::LayerVersion"
    ]
    assert layer_name == {"Fn::Sub": "ordersync-prod"}


def test_no_iam_statement_allows_every_action_of_a_service(resources: dict[str, Any]) -> None:
    wildcards = [
        (logical_id, action)
        for logical_id, statement in statements(resources)
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        if action == "*" or action.endswith(":*")
    ]
    assert wildcards == []


def test_no_inline_iam_statement_applies_to_every_resource(resources: dict[str, Any]) -> None:
    unscoped = [
        logical_id
        for logical_id, statement in statements(resources)
        if statement["Effect"] == "Allow" and "*" in as_list(statement.get("Resource", []))
    ]
    assert unscoped == []


def test_function_roles_use_only_the_basic_managed_policies(resources: dict[str, Any]) -> None:
    allowed = {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
    }
    used = {
        arn
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Role" and logical_id.endswith("FunctionRole")
        for arn in resource["Properties"].get("ManagedPolicyArns", [])
    }
    assert used <= allowed


@pytest.mark.parametrize(("function", "secrets"), sorted(SECRETS_BY_FUNCTION.items()))
def test_each_function_reads_only_the_secrets_it_needs(
    resources: dict[str, Any], function: str, secrets: set[str]
) -> None:
    readable = {
        secret
        for logical_id, statement in statements(resources)
        if logical_id == f"{function}Role" and "secretsmanager:GetSecretValue" in as_list(statement["Action"])
        for secret in referenced_ids(statement["Resource"])
    }
    assert readable == secrets


def test_only_the_stream_consumer_and_the_webhook_signer_may_put_events(resources: dict[str, Any]) -> None:
    roles = {
        logical_id
        for logical_id, statement in statements(resources)
        if "events:PutEvents" in as_list(statement["Action"])
    }
    assert roles == {"StreamConsumerFunctionRole", "WebhookSignerFunctionRole"}


def test_schedules_are_named_per_stage(resources: dict[str, Any]) -> None:
    names = [
        resource["Properties"]["Name"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Scheduler::Schedule"
    ]
    pollers = ("bizon365", "ecards", "status", "ticketscloud", "ticketscloud-refund")
    expected = [{"Fn::Sub": "ordersync-${Stage}-action-reconcile"}]
    expected += [{"Fn::Sub": f"ordersync-${{Stage}}-{poller}-poll"} for poller in pollers]
    assert sorted(names, key=str) == expected


def test_load_template_reads_short_form_intrinsic_tags(tmp_path: Path) -> None:
    source = tmp_path / "t.yaml"
    source.write_text(
        "A: !Ref Stage\n"
        "B: !GetAtt Queue.Arn\n"
        "C: !Sub ordersync-${Stage}\n"
        "D: !If [IsProd, 1, 2]\n"
        "E: !Select [0, !GetAZs '']\n"
        "F: !Equals [!Ref Stage, prod]\n",
        encoding="utf-8",
    )
    assert load_template(source) == {
        "A": {"Ref": "Stage"},
        "B": {"Fn::GetAtt": ["Queue", "Arn"]},
        "C": {"Fn::Sub": "ordersync-${Stage}"},
        "D": {"Fn::If": ["IsProd", 1, 2]},
        "E": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        "F": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
    }


def test_load_template_rejects_a_key_given_twice(tmp_path: Path) -> None:
    """PyYAML would keep the last of two ``Environment`` blocks and silently drop the first."""
    source = tmp_path / "t.yaml"
    source.write_text("Fn:\n  Environment: {A: 1}\n  Timeout: 3\n  Environment: {B: 2}\n", encoding="utf-8")
    with pytest.raises(DuplicateKeyError, match="'Environment' at line 4"):
        load_template(source)


def test_template_check_fails_on_an_error_only_the_translation_reveals(tmp_path: Path) -> None:
    """cfn-lint alone accepts a bad runtime inside a Serverless function; the check must not."""
    spec = importlib.util.spec_from_file_location("check_template", ROOT / "scripts" / "check_template.py")
    assert spec is not None
    assert spec.loader is not None
    check_template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_template)
    broken = tmp_path / "template.yaml"
    broken.write_text(
        TEMPLATE.read_text(encoding="utf-8").replace("Runtime: python3.13", "Runtime: python3.99"), encoding="utf-8"
    )
    assert check_template.main([str(broken)]) == 1  # the clean template passes as a gate of scripts/check.sh
