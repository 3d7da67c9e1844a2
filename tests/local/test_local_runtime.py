"""The runtime wires a template's functions as AWS would: schedule -> table -> stream -> bus, API -> queue -> worker."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ordersync_tools.cli.local import curl_commands
from ordersync_tools.local.resources import client
from ordersync_tools.local.runtime import LocalOptions, LocalRuntime, Reporter
from ordersync_tools.simulators.ticketscloud import DEFAULT_TOKEN

from ordersync.models import Platform


@pytest.fixture(scope="module")
def runtime(tiny_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    options = LocalOptions(
        template=tiny_project,
        api_port=0,
        aws_port=0,
        state_dir=tmp_path_factory.mktemp("state"),
        simulator_orders=5,
        client_token="fixed-token",
    )
    local = LocalRuntime(options, Reporter(io.StringIO(), json_lines=True))
    with local.running():
        assert local.run_once() == 0
        yield local


def test_a_scheduled_function_ran_once_and_its_orders_are_counted(runtime: LocalRuntime) -> None:
    summary = runtime.summary()

    assert summary["polls"] == {"PollerFunction": {"ok": 1, "failed": 0}}
    assert summary["orders"] == {"ticketscloud": {"pending": 3}}


def test_stream_records_reached_the_consumer_and_its_events_were_published(runtime: LocalRuntime) -> None:
    summary = runtime.summary()
    events = (runtime.options.state_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()

    assert summary["stream"]["records"] == 3
    assert summary["events_by_type"] == {"Order Created": 3}
    assert sorted(json.loads(line)["detail"]["pk"] for line in events) == [f"ticketscloud#{i}" for i in range(3)]


def test_secrets_hold_the_token_of_the_platform_in_use(runtime: LocalRuntime) -> None:
    secret = client("secretsmanager", runtime.endpoint).get_secret_value(SecretId="tiny/ticketscloud")

    assert json.loads(secret["SecretString"]) == {"token": DEFAULT_TOKEN}


def test_a_demo_client_with_the_given_token_is_stored_by_its_hash(runtime: LocalRuntime) -> None:
    items = client("dynamodb", runtime.endpoint).scan(
        TableName=runtime.specs["ApiFunction"].environment["CLIENTS_TABLE"]
    )

    (item,) = items["Items"]
    assert item["client_name"] == {"S": "demo"}
    assert item["token_hash"] == {"S": hashlib.sha256(b"fixed-token").hexdigest()}
    assert runtime.client_token == "fixed-token"


def test_functions_get_the_simulator_url_and_the_embedded_aws(runtime: LocalRuntime) -> None:
    environment = runtime.specs["PollerFunction"].environment

    assert environment["TICKETSCLOUD_BASE_URL"] == runtime.platform_urls[Platform.TICKETSCLOUD]
    assert environment["AWS_ENDPOINT_URL"] == runtime.endpoint


def test_an_action_posted_to_the_api_reaches_the_worker_through_the_fifo_queue(runtime: LocalRuntime) -> None:
    url = runtime.gateways[0].url

    response = httpx.post(
        f"{url}/orders/ticketscloud/1/actions", headers={"Authorization": "Bearer good"}, content='{"a": 1}', timeout=10
    )
    while runtime.drain_step():
        pass

    assert response.status_code == 202
    items = client("dynamodb", runtime.endpoint).scan(TableName="tiny-test-log")["Items"]
    assert [item["body"]["S"] for item in items] == ['{"a": 1}']


def test_curl_commands_cover_every_route_and_send_the_demo_token_where_one_is_needed(runtime: LocalRuntime) -> None:
    commands = curl_commands(runtime)

    assert len(commands) == 3
    (health,) = [c for c in commands if "/health" in c]
    assert "Authorization" not in health
    (post,) = [c for c in commands if "-X POST" in c]
    assert "Authorization: Bearer fixed-token" in post
    assert "/orders/ticketscloud/" in post


def test_once_does_not_wait_out_a_long_visibility_timeout_to_retry_and_redrive_a_failed_action(
    tiny_project: Path, tmp_path: Path
) -> None:
    options = LocalOptions(
        template=tiny_project, api_port=0, aws_port=0, state_dir=tmp_path, simulator_orders=1, once_timeout=20
    )
    local = LocalRuntime(options, Reporter(io.StringIO(), json_lines=True))
    with local.running():
        assert local.resources is not None
        ((_, fifo),) = local.fifo_sources
        fifo.visibility_timeout = 3600.0  # longer than --once-timeout, as the actions queue's 360 s at speed 1
        response = httpx.post(
            f"{local.gateways[0].url}/orders/ticketscloud/1/actions",
            headers={"Authorization": "Bearer good"},
            content='{"fail": true}',
            timeout=10,
        )
        started = time.monotonic()

        code = local.run_once()

        elapsed = time.monotonic() - started
        dead = client("sqs", local.endpoint).receive_message(
            QueueUrl=local.resources.physical("ActionsDeadLetterQueue"), WaitTimeSeconds=0
        )

    assert response.status_code == 202
    assert code == 1  # a dead-lettered action is a failure of --once
    assert elapsed < 15
    assert fifo.stats.failed_attempts == 2  # maxReceiveCount 2: delivered twice, then redriven
    assert fifo.stats.dead_lettered == 1
    assert [m["Body"] for m in dead["Messages"]] == ['{"fail": true}']
    assert not any("did not drain" in error for error in local.errors)


def test_a_platform_url_given_as_a_parameter_override_is_used_instead_of_its_simulator(
    tiny_project: Path, tmp_path: Path
) -> None:
    given = "http://127.0.0.1:9/ticketscloud"
    options = LocalOptions(
        template=tiny_project,
        api_port=0,
        aws_port=0,
        state_dir=tmp_path,
        simulator_orders=1,
        parameter_overrides={"TicketscloudBaseUrl": given},
    )
    local = LocalRuntime(options, Reporter(io.StringIO(), json_lines=True))
    with local.running():
        environment = local.specs["PollerFunction"].environment
        simulated = set(local.simulators)
        used = dict(local.platform_urls)

    assert environment["TICKETSCLOUD_BASE_URL"] == given
    assert used[Platform.TICKETSCLOUD] == given
    assert Platform.TICKETSCLOUD not in simulated
    assert simulated == {Platform.BIZON365, Platform.ECARDS}
