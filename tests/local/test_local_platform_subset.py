"""The real template run by ``ordersync local`` with a platform left out, and ``ordersync state`` against that running
runtime without flags: the end-to-end case of a reseller with two of the three platforms."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
from ordersync_tools.cli import main
from ordersync_tools.cli.local import EXAMPLE_BODIES

from ordersync.models import Platform

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_runtime_without_ecards_polls_the_others_refuses_ecards_actions_and_shows_poller_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ordersync_tools.local.runtime import LocalOptions, LocalRuntime, Reporter

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    options = LocalOptions(
        template=ROOT / "template.yaml",
        aws_port=0,
        api_port=0,
        state_dir=checkout / ".ordersync-local",
        simulator_orders=5,
        platforms=frozenset({Platform.TICKETSCLOUD, Platform.BIZON365}),
    )
    runtime = LocalRuntime(options, Reporter(io.StringIO(), json_lines=True))
    with runtime.running():
        exit_code = runtime.run_once()
        summary = runtime.summary()
        answer = httpx.post(
            f"{runtime.gateways[0].url}/ecards/orders",
            json=EXAMPLE_BODIES["/ecards/orders"],
            headers={"Authorization": f"Bearer {runtime.client_token}"},
            timeout=30,
        )
        monkeypatch.chdir(checkout)  # the CLI finds the running runtime from here, without flags
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # as in a user's shell: no endpoint of an earlier test
        shown_code = main(["state", "show", "ticketscloud"])
        shown = capsys.readouterr().out
        json_code = main(["state", "show", "ticketscloud", "--json"])
        printed = capsys.readouterr()
        assert json_code == 0, printed.err
        shown_json = json.loads(printed.out)
        ecards_code = main(["state", "show", "ecards"])
        ecards_err = capsys.readouterr().err

    assert exit_code == 0
    assert set(summary["orders"]) == {"ticketscloud", "bizon365"}
    assert "EcardsPollerFunction" not in runtime.containers
    assert {"TicketscloudPollerFunction", "Bizon365PollerFunction", "StatusPollerFunction"} <= set(runtime.containers)
    assert answer.status_code == 404
    assert answer.json()["error"] == "platform_not_configured"
    assert shown_code == json_code == 0
    assert shown.splitlines()[0] == "poller#ticketscloud"
    assert f"cursor         {shown_json['cursor']}" in shown
    assert shown_json["cursor"]
    assert shown_json["lease_held"] is False
    assert shown_json["counters"]["runs_completed"] == 1
    assert ecards_code == 2
    assert "no state for poller#ecards" in ecards_err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--platforms", "ticketscloud,tickets"], "unknown: tickets"),
        (["--platforms", ","], "name one or more of ticketscloud, bizon365, ecards"),
        (["--ecards-url", "ftp://x"], "is not an http(s) URL"),
    ],
)
def test_bad_platform_options_exit_2_naming_the_problem(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["local", *arguments])

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_an_empty_platform_url_and_a_platform_list_both_leave_platforms_out() -> None:
    from ordersync_tools.cli import build_parser

    args = build_parser().parse_args(["local", "--ecards-url", "", "--platforms", "ticketscloud, ecards"])

    assert args.ecards_url == ""
    assert args.platforms == frozenset({Platform.TICKETSCLOUD, Platform.ECARDS})


def test_leaving_every_platform_out_is_refused_as_cloudformation_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = ["--ticketscloud-url", "", "--bizon365-url", "", "--ecards-url", ""]
    options = ["--once", "--aws-port", "0", "--api-port", "0", "--state-dir", str(tmp_path)]

    code = main(["local", "--template", str(ROOT / "template.yaml"), *options, *empty])

    assert code == 2
    assert "rule AtLeastOnePlatform" in capsys.readouterr().err
