"""The API as an integrator meets it, through ``ordersync local``: schemathesis against its OpenAPI document, and
a client generated from that document with ``openapi-python-client``."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from ordersync.api.openapi import IDEMPOTENCY_KEY_PATTERN

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "osk_openapi-test-token"
SCHEMATHESIS_CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 10  # per operation and phase: a few hundred cases, about a minute on two cores

pytestmark = pytest.mark.slow


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def local_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ordersync local`` on free ports with a known client token (scopes ``*``); yields the API's URL."""
    state_dir = tmp_path_factory.mktemp("openapi-local")
    command = [
        str(BIN / "ordersync"),
        "local",
        "--json",
        "--aws-port",
        str(free_port()),
        "--api-port",
        str(free_port()),
        "--state-dir",
        str(state_dir),
        "--orders",
        "5",
        "--client-token",
        TOKEN,
    ]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    process = subprocess.Popen(  # noqa: S603 - our own entry point
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    ready: dict[str, Any] = {}
    seen = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("{") and json.loads(line).get("type") == "ready":
                ready.update(json.loads(line))
                seen.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert seen.wait(timeout=180), "ordersync local did not get ready"
        yield str(ready["api_url"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_the_local_api_serves_the_checked_in_document_without_a_token(local_api: str) -> None:
    answer = httpx.get(f"{local_api}/openapi.json", timeout=30)

    assert answer.status_code == 200
    assert answer.text + "\n" == (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")


def test_schemathesis_finds_no_server_error_undocumented_status_or_schema_violation(
    local_api: str, tmp_path: Path
) -> None:
    """Every check but ``unsupported_method`` (API Gateway never answers 405; see schemathesis.toml)."""
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - schemathesis' own entry point
        [
            str(BIN / "st"),
            "--no-color",
            "--config-file",
            str(SCHEMATHESIS_CONFIG),
            "run",
            f"{local_api}/openapi.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--checks",
            "all",
            "--exclude-checks",
            "unsupported_method",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--workers",
            "1",
            "--seed",
            "7",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,  # schemathesis keeps a cache in its working directory: not in the checkout
    )
    cases = re.search(r"(\d+) generated", result.stdout)
    print(f"schemathesis: {cases.group(1) if cases else '?'} cases in {time.monotonic() - started:.0f}s")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert cases is not None
    assert int(cases.group(1)) >= 200


@pytest.fixture(scope="module")
def generated_client(local_api: str, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """A client made by ``openapi-python-client`` from the served document, importable as ``ordersync_client``."""
    where = tmp_path_factory.mktemp("generated")
    document = where / "openapi.json"
    document.write_text(httpx.get(f"{local_api}/openapi.json", timeout=30).text, encoding="utf-8")
    environment = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # it formats with ruff
    subprocess.run(  # noqa: S603 - the generator's own entry point
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--meta",
            "none",
            "--output-path",
            str(where / "ordersync_client"),
        ],
        cwd=where,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module("ordersync_client")
    finally:
        sys.path.remove(str(where))


def _module(name: str) -> Any:
    return importlib.import_module(f"ordersync_client.{name}")


def test_a_generated_client_parses_a_401_into_an_error_body(local_api: str, generated_client: ModuleType) -> None:
    client = generated_client.AuthenticatedClient(base_url=local_api, token="osk_not-a-real-token")

    answer = _module("api.default.get_action").sync_detailed(action_id="any", client=client)

    assert answer.status_code == 401
    assert isinstance(answer.parsed, _module("models").ErrorBody)
    assert answer.parsed.error == "unauthorized"


def test_a_generated_client_parses_a_404_into_an_error_body(local_api: str, generated_client: ModuleType) -> None:
    client = generated_client.AuthenticatedClient(base_url=local_api, token=TOKEN)
    models = _module("models")

    answer = _module("api.default.get_order").sync_detailed(
        platform=models.Platform.TICKETSCLOUD, order_id="f" * 24, client=client
    )

    assert answer.status_code == 404
    assert isinstance(answer.parsed, models.ErrorBody)
    assert answer.parsed.error == "not_found"


def test_a_generated_client_parses_a_422_into_an_error_body_with_its_detail(
    local_api: str, generated_client: ModuleType
) -> None:
    client = generated_client.AuthenticatedClient(base_url=local_api, token=TOKEN)
    models = _module("models")

    answer = _module("api.default.list_orders").sync_detailed(
        client=client, platform=models.Platform.TICKETSCLOUD, cursor="bm90LWEtY3Vyc29y"
    )

    assert answer.status_code == 422
    assert isinstance(answer.parsed, models.ErrorBody)
    assert answer.parsed.detail[0].field == "cursor"


def test_a_generated_client_sends_an_idempotency_key_and_gets_the_first_answer_again(
    local_api: str, generated_client: ModuleType
) -> None:
    client = generated_client.AuthenticatedClient(base_url=local_api, token=TOKEN)
    models = _module("models")
    post = _module("api.default.post_ticketscloud_action").sync_detailed
    key = '"generated-client-key-1"'
    assert re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key)

    first = post(
        order_id="5bacf64ea0eb2f000c45160a",
        client=client,
        body=models.TicketscloudOrderActions(send_tickets=True),
        idempotency_key=key,
    )
    again = post(
        order_id="5bacf64ea0eb2f000c45160a",
        client=client,
        body=models.TicketscloudOrderActions(send_tickets=True),
        idempotency_key=key,
    )

    assert first.status_code == again.status_code == 202
    assert isinstance(first.parsed, models.AcceptedAction)
    assert again.parsed.action_id == first.parsed.action_id
    assert again.headers.get("Idempotent-Replayed") == "true"
