"""``ordersync local`` options, run in-process on the tiny project."""

from __future__ import annotations

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
