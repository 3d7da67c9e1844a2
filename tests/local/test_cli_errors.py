"""Each way the ``ordersync`` command used to end in a traceback now ends in one line (or the subcommand's usage)
and exit code 2."""

from __future__ import annotations

import http.server
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
from ordersync_tools.cli import main
from ordersync_tools.local import api
from ordersync_tools.simulators import base


def usage_error(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command expecting argparse's exit 2; returns what it printed on stderr."""
    with pytest.raises(SystemExit) as raised:
        main(arguments)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_local_outside_the_checkout_says_where_to_run_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    assert main(["local", "--once"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("ordersync: no template.yaml here or in any folder above")
    assert "--template" in err
    assert len(err.strip().splitlines()) == 1


def test_local_finds_the_template_of_the_checkout_from_a_subfolder(
    tiny_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tiny_project.parent / "functions")
    with socket.socket() as busy:  # a port in use stops it right after the template was found
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["local", "--once", "--api-port", str(port), "--aws-port", "0"]) == 2

    assert f"ordersync: port {port} (--api-port) is in use" in capsys.readouterr().err


def test_local_with_a_missing_template_names_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["local", "--template", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err.startswith("ordersync: --template ")


def test_local_api_port_99999_is_a_usage_error_of_local(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["local", "--api-port", "99999"], capsys)
    assert "usage: ordersync local" in err
    assert "99999 is not a port" in err


def test_local_negative_orders_is_a_usage_error_before_any_simulator_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = usage_error(["local", "--orders", "-1"], capsys)
    assert "usage: ordersync local" in err
    assert "-1 is negative" in err


def test_local_platform_url_that_is_not_a_url_is_refused_at_parse_time(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["local", "--ticketscloud-url", "not-a-url"], capsys)
    assert "argument --ticketscloud-url: 'not-a-url' is not an http(s) URL" in err


def test_a_misspelt_option_prints_the_usage_of_its_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["local", "--onec"], capsys)
    assert err.startswith("usage: ordersync local")
    assert "unrecognized arguments: --onec" in err


def test_a_misspelt_option_of_a_nested_subcommand_prints_its_usage(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["clients", "list", "--stak-name", "x"], capsys)
    assert err.startswith("usage: ordersync clients list")


def test_simulate_on_a_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["simulate", "ecards", "--port", str(port), "--orders", "1"])

    err = capsys.readouterr().err
    assert code == 2
    assert err == f"ordersync: port {port} is in use: stop what uses it, or pass another --port (0: any free)\n"


def test_clients_create_with_a_space_in_the_name_is_a_usage_error_not_a_pydantic_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = usage_error(["clients", "create", "a b", "--scope", "*"], capsys)
    assert "usage: ordersync clients create" in err
    assert "'a b' is not a client name" in err
    assert "pydantic" not in err


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--version"])
    assert raised.value.code == 0
    assert capsys.readouterr().out.startswith("ordersync ")


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("server_class", [api.QuietHTTPServer, base.QuietHTTPServer], ids=["api", "simulator"])
def test_a_client_resetting_its_connection_prints_no_traceback(
    server_class: type[http.server.ThreadingHTTPServer], capfd: pytest.CaptureFixture[str]
) -> None:
    server = server_class(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with socket.create_connection(server.server_address[:2]) as hang_up:
            hang_up.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        time.sleep(0.3)
        with socket.create_connection(server.server_address[:2]) as polite:  # and it still serves
            polite.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert polite.recv(100).startswith(b"HTTP/1.0 204")
    finally:
        server.shutdown()
        server.server_close()

    assert "Traceback" not in capfd.readouterr().err
