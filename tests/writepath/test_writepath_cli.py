"""``ordersync clients`` and ``ordersync actions redrive`` against moto."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)
from ordersync_tools.cli import main
from writepath_support import WritePathAws, load_event, records_from_sqs

from ordersync.actions.models import Action, ActionKind, ActionState
from ordersync.api.authorizer import authorize
from ordersync.clients_auth import hash_token
from ordersync.models import utc_now


def test_clients_create_prints_the_token_once_and_stores_only_its_hash(
    wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "clients",
            "create",
            "crm",
            "--scope",
            "ecards:act",
            "--scope",
            "ticketscloud:read",
            "--table",
            wp_aws.clients_table,
        ]
    )
    assert code == 0
    token = capsys.readouterr().out.strip()
    client = wp_aws.clients().find_by_token(token)
    assert client is not None
    assert client.scopes == ("ecards:act", "ticketscloud:read")
    item = boto3.resource("dynamodb").Table(wp_aws.clients_table).get_item(Key={"client_name": "crm"})["Item"]
    assert item["token_hash"] == hash_token(token)
    assert token not in json.dumps(item, default=str)


def test_clients_create_refuses_a_bad_scope(wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clients", "create", "crm", "--scope", "ecards:write", "--table", wp_aws.clients_table]) == 2
    assert "invalid scope 'ecards:write'" in capsys.readouterr().err


def test_clients_create_refuses_an_existing_name(wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]) -> None:
    main(["clients", "create", "crm", "--scope", "*", "--table", wp_aws.clients_table])
    assert main(["clients", "create", "crm", "--scope", "*", "--table", wp_aws.clients_table]) == 2
    assert "already exists" in capsys.readouterr().err


def test_clients_list_shows_names_states_and_scopes_but_no_secrets(
    wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["clients", "create", "b-client", "--scope", "*", "--table", wp_aws.clients_table])
    main(["clients", "create", "a-client", "--scope", "bizon365:read", "--table", wp_aws.clients_table])
    main(["clients", "revoke", "b-client", "--table", wp_aws.clients_table])
    capsys.readouterr()
    assert main(["clients", "list", "--json", "--table", wp_aws.clients_table]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["client_name"] for row in rows] == ["a-client", "b-client"]
    assert rows[0]["revoked_at"] is None
    assert rows[1]["revoked_at"] is not None
    assert all("token_hash" not in row for row in rows)


def test_clients_revoke_stops_the_token(wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]) -> None:
    main(["clients", "create", "crm", "--scope", "*", "--table", wp_aws.clients_table])
    token = capsys.readouterr().out.strip()
    assert main(["clients", "revoke", "crm", "--table", wp_aws.clients_table]) == 0
    assert wp_aws.clients().find_by_token(token) is None


def test_clients_revoke_of_an_unknown_name_fails(wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clients", "revoke", "nobody", "--table", wp_aws.clients_table]) == 2
    assert "no client named 'nobody'" in capsys.readouterr().err


def _stack(name: str, outputs: dict[str, str]) -> None:
    """A stack whose outputs name the resources, as ``sam deploy`` leaves them."""
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{name}-marker"}}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_clients_commands_find_the_table_from_the_stack_outputs(
    wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]
) -> None:
    _stack("ordersync-dev", {"ApiClientsTableName": wp_aws.clients_table})
    assert main(["clients", "create", "crm", "--scope", "*", "--stack-name", "ordersync-dev"]) == 0
    captured = capsys.readouterr()
    assert wp_aws.clients().find_by_token(captured.out.strip()) is not None
    assert "no usage plan" in captured.err


def test_redrive_finds_the_queues_and_table_from_the_stack_outputs(
    wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = {
        "ActionsQueueUrl": wp_aws.queue_url,
        "ActionsDeadLetterQueueUrl": wp_aws.dlq_url,
        "ActionsTableName": wp_aws.actions_table,
    }
    _stack("ordersync-dev", outputs)
    [action] = _accepted(wp_aws, "o1", 1)
    _dead_letter(wp_aws, [action])
    assert main(["actions", "redrive", "--stack-name", "ordersync-dev"]) == 0
    assert "moved 1 action(s)" in capsys.readouterr().out
    assert wp_aws.actions().get(action.action_id).state is ActionState.QUEUED  # type: ignore[union-attr]


def _dead_letter(wp_aws: WritePathAws, actions: list[Action]) -> None:
    """What SQS does after maxReceiveCount: the message, unchanged, in the FIFO dead-letter queue."""
    sqs = boto3.client("sqs")
    for action in actions:
        sqs.send_message(
            QueueUrl=wp_aws.dlq_url,
            MessageBody=action.to_message().model_dump_json(),
            MessageGroupId=action.group_id,
            MessageDeduplicationId=action.action_id,
        )


def _accepted(wp_aws: WritePathAws, order_id: str, count: int) -> list[Action]:
    repository = wp_aws.actions()
    actions = []
    for i in range(count):
        action = Action.accept(
            kind=ActionKind.TICKETSCLOUD_ORDER_ACTIONS,
            order_id=order_id,
            client_id="crm",
            payload={"vendor_data": {"order_id": f"{order_id}-{i}"}},
            now=utc_now(),
        )
        repository.create(action)
        repository.finish(action.action_id, ActionState.DEAD_LETTERED, now=utc_now())
        actions.append(action)
    return actions


def test_redrive_moves_dead_lettered_actions_back_in_their_original_order_and_marks_them_queued(
    wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _accepted(wp_aws, "o1", 12)
    second = _accepted(wp_aws, "o2", 3)
    _dead_letter(wp_aws, [first[0], second[0], *first[1:], *second[1:]])
    code = main(
        [
            "actions",
            "redrive",
            "--queue-url",
            wp_aws.queue_url,
            "--dlq-url",
            wp_aws.dlq_url,
            "--table",
            wp_aws.actions_table,
        ]
    )
    assert code == 0
    assert "moved 15 action(s)" in capsys.readouterr().out

    records = records_from_sqs(boto3.client("sqs"), wp_aws.queue_url)
    by_group: dict[str, list[str]] = {}
    for record in records:
        by_group.setdefault(record["attributes"]["MessageGroupId"], []).append(json.loads(record["body"])["action_id"])
    assert by_group == {
        "ticketscloud#o1": [action.action_id for action in first],
        "ticketscloud#o2": [action.action_id for action in second],
    }
    assert all(wp_aws.actions().get(a.action_id).state is ActionState.QUEUED for a in first + second)  # type: ignore[union-attr]
    assert all(wp_aws.actions().get(a.action_id).finished_at is None for a in first + second)  # type: ignore[union-attr]
    assert boto3.client("sqs").receive_message(QueueUrl=wp_aws.dlq_url).get("Messages", []) == []


def test_redrive_sorts_a_batch_dead_lettered_out_of_order(wp_aws: WritePathAws) -> None:
    actions = _accepted(wp_aws, "o1", 3)
    _dead_letter(wp_aws, [actions[2], actions[0], actions[1]])
    assert main(["actions", "redrive", "--queue-url", wp_aws.queue_url, "--dlq-url", wp_aws.dlq_url]) == 0

    records = records_from_sqs(boto3.client("sqs"), wp_aws.queue_url)
    assert [json.loads(r["body"])["action_id"] for r in records] == [a.action_id for a in actions]


def test_redrive_without_queues_explains_what_it_needs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no local runtime above it
    assert main(["actions", "redrive", "--queue-url", "https://sqs.us-east-1.amazonaws.com/1/q.fifo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ordersync: no deployment to act on")
    assert "--stack-name" in err


def test_clients_in_a_usage_plan_get_their_own_api_key_which_the_authorizer_returns(
    wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]
) -> None:
    apigateway = boto3.client("apigateway")
    plan = apigateway.create_usage_plan(name="ordersync", throttle={"rateLimit": 10.0, "burstLimit": 20})["id"]
    table = ["--table", wp_aws.clients_table]
    assert main(["clients", "create", "crm", "--scope", "*", "--usage-plan-id", plan, *table]) == 0
    token = capsys.readouterr().out.strip()
    client = wp_aws.clients().find_by_token(token)
    assert client is not None
    assert client.usage_key_id is not None
    keys = apigateway.get_usage_plan_keys(usagePlanId=plan)["items"]
    assert [key["id"] for key in keys] == [client.usage_key_id]
    event = load_event("authorizer-request.json")
    event["headers"]["Authorization"] = f"Bearer {token}"
    policy = authorize(APIGatewayAuthorizerRequestEvent(event), wp_aws.clients())
    assert policy["usageIdentifierKey"] == client.usage_key
    assert main(["clients", "revoke", "crm", *table]) == 0
    assert apigateway.get_api_keys()["items"] == []


def test_clients_list_of_a_stack_that_does_not_exist_is_one_line(
    wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]
) -> None:
    del wp_aws
    assert main(["clients", "list", "--stack-name", "ordersync"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ordersync: stack 'ordersync' does not exist in us-east-1 at http://127.0.0.1:")
    assert "the local runtime has no stacks; drop --stack-name" in err  # these tests' moto is a local endpoint
    assert len(err.splitlines()) == 1


def _no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_clients_list_of_a_stack_without_a_region_asks_for_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_aws_configuration(monkeypatch, tmp_path)
    assert main(["clients", "list", "--stack-name", "ordersync"]) == 2
    assert capsys.readouterr().err == "ordersync: no AWS region: pass --region (or set AWS_REGION)\n"


def test_clients_list_of_a_stack_without_credentials_says_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_aws_configuration(monkeypatch, tmp_path)
    assert main(["clients", "list", "--stack-name", "ordersync", "--region", "eu-central-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ordersync: no AWS credentials")
    assert len(err.splitlines()) == 1


def test_clients_create_json_prints_the_token_in_an_object(
    wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["clients", "create", "crm", "--scope", "*", "--json", "--table", wp_aws.clients_table]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["client_name"] == "crm"
    assert created["scopes"] == ["*"]
    assert wp_aws.clients().find_by_token(created["token"]) is not None


def test_clients_revoke_says_the_token_works_for_up_to_5_minutes_more(
    wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["clients", "create", "crm", "--scope", "*", "--table", wp_aws.clients_table])
    capsys.readouterr()
    assert main(["clients", "revoke", "crm", "--table", wp_aws.clients_table]) == 0
    assert "keeps working for up to 5 minutes" in capsys.readouterr().out


def test_the_revoke_note_matches_the_authorizer_cache_of_the_template() -> None:
    from ordersync_tools.cli.clients import AUTHORIZER_CACHE_SECONDS

    template = (Path(__file__).parents[2] / "template.yaml").read_text(encoding="utf-8")
    assert f"ReauthorizeEvery: {AUTHORIZER_CACHE_SECONDS}" in template


def test_redrive_dry_run_counts_and_moves_nothing(wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]) -> None:
    _dead_letter(wp_aws, _accepted(wp_aws, "o1", 2))
    queues = ["--queue-url", wp_aws.queue_url, "--dlq-url", wp_aws.dlq_url]
    assert main(["actions", "redrive", "--dry-run", "--json", *queues]) == 0
    assert json.loads(capsys.readouterr().out)["dead_lettered"] == 2
    assert main(["actions", "redrive", "--json", *queues]) == 0
    assert json.loads(capsys.readouterr().out)["moved"] == 2


def test_redrive_finds_the_dead_letter_queue_from_the_redrive_policy(
    wp_aws: WritePathAws, capsys: pytest.CaptureFixture[str]
) -> None:
    _stack("ordersync-dev", {"ActionsQueueUrl": wp_aws.queue_url})
    _dead_letter(wp_aws, _accepted(wp_aws, "o1", 1))
    assert main(["actions", "redrive", "--stack-name", "ordersync-dev"]) == 0
    assert "moved 1 action(s)" in capsys.readouterr().out
