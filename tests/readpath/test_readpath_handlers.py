"""The read-path Lambda handlers, end to end: environment as template.yaml sets it, the token from Secrets
Manager, the simulator over HTTP and moto in server mode; metrics and logs read from what they print."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from readpath_support import FakeLambdaContext, load_handler

from ordersync.models import Platform

ROOT = Path(__file__).resolve().parents[2]


def printed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = []
    for line in capsys.readouterr().out.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


@pytest.fixture
def ecards_env(handler_env, harness_factory, monkeypatch) -> Any:
    harness = harness_factory(Platform.ECARDS, orders=45)
    secret_name = f"ordersync/ecards-{uuid.uuid4().hex[:8]}"
    boto3.client("secretsmanager").create_secret(
        Name=secret_name, SecretString=json.dumps({"token": harness.simulator.token})
    )
    monkeypatch.setenv("PLATFORM", "ecards")
    monkeypatch.setenv("ECARDS_BASE_URL", harness.simulator.base_url)
    monkeypatch.setenv("ECARDS_SECRET_NAME", secret_name)
    from ordersync import composition

    composition.reset()
    return harness


def test_the_poller_handler_syncs_its_platform_and_reports_metrics(ecards_env, capsys) -> None:
    handler = load_handler("poller")
    capsys.readouterr()

    result = handler.lambda_handler({"execution_id": "schedule-event-1"}, FakeLambdaContext(aws_request_id="run-42"))

    lines = printed(capsys)
    metrics = next(line for line in lines if "_aws" in line)
    logs = [line for line in lines if "_aws" not in line]
    assert result["outcome"] == "completed"
    assert len(ecards_env.stored()) == 45
    assert metrics["platform"] == "ecards"
    assert metrics["OrdersSeen"] == [45.0]  # EMF values are lists
    assert metrics["OrdersWritten"] == [45.0]
    assert metrics["PollCompleted"] == [1.0]
    assert metrics["PlatformRequests"] == [3.0]
    assert logs
    assert all(line["platform"] == "ecards" and line["run_id"] == "run-42" for line in logs)
    assert all(line.get("correlation_id") == "schedule-event-1" for line in logs)


def test_customer_contacts_never_reach_the_handler_logs(ecards_env, capsys) -> None:
    handler = load_handler("poller")
    logins = {order.participant_login for order in ecards_env.simulator.orders}

    handler.lambda_handler({"execution_id": "schedule-event-2"}, FakeLambdaContext())

    out = capsys.readouterr().out
    assert not any(login in out for login in logins)
    assert "@" not in out.replace("@timestamp", "")


def test_a_failed_poll_fails_the_invocation_without_a_completion_metric(ecards_env, capsys) -> None:
    handler = load_handler("poller")
    ecards_env.simulator.faults.server_error_share = 1.0
    ecards_env.simulator.faults.retry_after = 0.0

    with pytest.raises(handler.PollFailedError):
        handler.lambda_handler({"execution_id": "schedule-event-3"}, FakeLambdaContext())

    metrics = next(line for line in printed(capsys) if "_aws" in line)
    assert "PollCompleted" not in metrics
    assert metrics["OrdersWritten"] == [0.0]


def test_the_status_poller_handler_checks_each_configured_platform(ecards_env, capsys) -> None:
    load_handler("poller").lambda_handler({"execution_id": "schedule-event-4"}, FakeLambdaContext())
    status = load_handler("status_poller")
    capsys.readouterr()

    result = status.lambda_handler({"execution_id": "schedule-event-5"}, FakeLambdaContext(aws_request_id="status-7"))

    metrics = [line for line in printed(capsys) if "_aws" in line]
    assert list(result) == ["ecards"]
    assert result["ecards"]["outcome"] == "completed"
    assert [(blob["platform"], blob["poller"]) for blob in metrics] == [("ecards", "status")]
    assert metrics[0]["PollCompleted"] == [1.0]


def test_a_platform_whose_status_run_cannot_start_does_not_stop_the_others(ecards_env, monkeypatch, capsys) -> None:
    load_handler("poller").lambda_handler({"execution_id": "schedule-event-6"}, FakeLambdaContext())
    monkeypatch.setenv("TICKETSCLOUD_BASE_URL", "http://127.0.0.1:9")  # configured, but its secret is missing
    monkeypatch.setenv("TICKETSCLOUD_SECRET_NAME", f"ordersync/missing-{uuid.uuid4().hex[:8]}")
    from ordersync import composition

    composition.reset()
    status = load_handler("status_poller")
    capsys.readouterr()

    with pytest.raises(status.StatusPollFailedError, match="ticketscloud"):
        status.lambda_handler({"execution_id": "schedule-event-7"}, FakeLambdaContext(aws_request_id="status-8"))

    lines = printed(capsys)
    metrics = [line for line in lines if "_aws" in line]
    failures = [line for line in lines if line.get("message") == "status run could not start"]
    assert [(blob["platform"], blob["poller"]) for blob in metrics] == [("ecards", "status")]
    assert metrics[0]["PollCompleted"] == [1.0]
    assert [line["platform"] for line in failures] == ["ticketscloud"]


@pytest.fixture
def ticketscloud_env(handler_env, harness_factory, monkeypatch) -> Any:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=40)
    secret_name = f"ordersync/ticketscloud-{uuid.uuid4().hex[:8]}"
    boto3.client("secretsmanager").create_secret(
        Name=secret_name, SecretString=json.dumps({"token": harness.simulator.token})
    )
    monkeypatch.setenv("PLATFORM", "ticketscloud")
    monkeypatch.setenv("TICKETSCLOUD_BASE_URL", harness.simulator.base_url)
    monkeypatch.setenv("TICKETSCLOUD_SECRET_NAME", secret_name)
    from ordersync import composition

    composition.reset()
    return harness


def test_the_poller_handler_with_target_refunds_runs_the_refund_poll_with_its_own_metrics(
    ticketscloud_env, capsys
) -> None:
    handler = load_handler("poller")
    handler.lambda_handler({"execution_id": "orders-1"}, FakeLambdaContext(aws_request_id="orders-run"))
    capsys.readouterr()
    event = json.loads((ROOT / "events" / "schedule-ticketscloud-refunds.json").read_text(encoding="utf-8"))

    result = handler.lambda_handler(event, FakeLambdaContext(aws_request_id="refunds-run"))

    metrics = next(line for line in printed(capsys) if "_aws" in line)
    refunded = [stored for stored in ticketscloud_env.stored().values() if stored.order.refunds is not None]
    assert result["outcome"] == "completed"
    assert result["poller"] == "refunds#ticketscloud"
    assert result["refunds_seen"] == len(ticketscloud_env.simulator.refund_requests()) > 0
    assert refunded
    assert (metrics["platform"], metrics["poller"]) == ("ticketscloud", "refunds")
    assert metrics["PollCompleted"] == [1.0]
