"""``ordersync local`` options, run in-process on the tiny project."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest
from ordersync_tools.cli import main


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_once_with_json_prints_ready_then_a_final_summary_and_exits_zero(
    tiny_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "local",
            "--template",
            str(tiny_project),
            "--once",
            "--json",
            "--aws-port",
            "0",
            "--api-port",
            "0",
            "--state-dir",
            str(tmp_path),
            "--orders",
            "2",
            "--client-token",
            "cli-token",
            "--parameter-overrides",
            "Stage=cli",
        ]
    )

    lines = json_lines(capsys.readouterr().out)
    kinds = [line["type"] for line in lines]
    assert code == 0
    assert kinds.index("ready") < kinds.index("summary") < kinds.index("stopped")
    ready = next(line for line in lines if line["type"] == "ready")
    summary = next(line for line in lines if line["type"] == "summary")
    assert ready["client_token"] == "cli-token"
    assert summary["final"] is True
    assert summary["orders"] == {"ticketscloud": {"pending": 3}}
    assert summary["events_published"] == 3


def test_once_without_json_prints_a_readable_summary(
    tiny_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--once", "--aws-port", "0", "--api-port", "0", "--state-dir", str(tmp_path), "--orders", "2"]

    code = main(["local", "--template", str(tiny_project), *options])

    out = capsys.readouterr().out
    assert code == 0
    assert "ordersync local is up" in out
    assert "CANNOT BE CREATED LOCALLY AWS::CloudWatch::Alarm: ErrorsAlarm" in out
    assert "events        published 3 (Order Created 3)" in out


def test_a_port_in_use_is_reported_and_nothing_starts(
    tiny_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["local", "--template", str(tiny_project), "--once", "--api-port", str(port), "--aws-port", "0"])

    assert code == 2
    assert f"port {port} (--api-port) is in use" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--speed", "0"], "--speed must be positive"), (["--parameter-overrides", "Stage"], "not Key=Value")],
)
def test_bad_options_exit_2_with_a_message(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", *arguments]) == 2
    assert message in capsys.readouterr().err


def _without_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No region, no credentials, no profile: what a fresh machine has."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_clients_and_redrive_find_the_running_local_runtime_without_flags(
    tiny_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ordersync_tools.local.runtime import LocalOptions, LocalRuntime, Reporter

    checkout = tmp_path / "checkout"
    (checkout / "docs").mkdir(parents=True)
    state_dir = checkout / ".ordersync-local"
    _without_aws_configuration(monkeypatch, tmp_path)
    options = LocalOptions(template=tiny_project, aws_port=0, api_port=0, state_dir=state_dir, simulator_orders=1)
    runtime = LocalRuntime(options, Reporter(io.StringIO(), json_lines=True))
    with runtime.running():
        published = json.loads((state_dir / "resources.json").read_text(encoding="utf-8"))
        assert published["endpoint"] == runtime.endpoint
        assert published["resources"]["ClientsTable"]["type"] == "AWS::DynamoDB::Table"
        monkeypatch.chdir(checkout / "docs")  # anywhere in the checkout

        assert main(["clients", "create", "crm", "--scope", "ticketscloud:act"]) == 0
        token = capsys.readouterr().out.strip()
        assert main(["clients", "list", "--json"]) == 0
        listed = {row["client_name"]: row for row in json_lines(capsys.readouterr().out)}
        # The case: AWS_ENDPOINT_URL at the local runtime and --stack-name, on a machine with no AWS setup.
        monkeypatch.setenv("AWS_ENDPOINT_URL", runtime.endpoint)
        assert main(["clients", "list", "--stack-name", "ordersync"]) == 0
        by_stack = capsys.readouterr()
        assert main(["actions", "redrive", "--dry-run", "--json"]) == 0
        dry_run = json.loads(capsys.readouterr().out)

    assert token
    assert set(listed) == {"crm", "demo"}
    assert listed["crm"]["scopes"] == ["ticketscloud:act"]
    assert "crm\tactive\tticketscloud:act" in by_stack.out
    assert "the local runtime has no stacks; using its resources" in by_stack.err
    assert dry_run["dead_lettered"] == 0
    assert dry_run["dlq_url"].endswith(".fifo")
    assert not (state_dir / "resources.json").exists()  # withdrawn at stop


def test_clients_with_no_runtime_running_and_no_stack_say_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    state_dir = tmp_path / ".ordersync-local"
    state_dir.mkdir()
    # What a runtime killed with SIGKILL leaves behind: its process is gone, so the file is ignored.
    stale = {"endpoint": "http://127.0.0.1:1", "region": "us-east-1", "pid": 2**22 + 12345}
    (state_dir / "resources.json").write_text(json.dumps(stale), encoding="utf-8")

    assert main(["clients", "list"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("ordersync: no deployment to act on: pass --stack-name")
    assert "start `ordersync local`" in err
