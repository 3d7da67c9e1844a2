"""The live summary counts every 5xx the local API answered, including those its function answered itself."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from ordersync_tools.local.api import LocalApiGateway, RestApi, rest_apis
from ordersync_tools.local.functions import Invocation
from ordersync_tools.local.resources import ResourceBuilder
from ordersync_tools.local.runtime import LocalOptions, LocalRuntime, Reporter, render_summary
from ordersync_tools.local.template import Template


@pytest.fixture
def api(tiny_template: Template, aws: str) -> RestApi:
    resources = ResourceBuilder(tiny_template, aws).build()
    (only,) = rest_apis(tiny_template, resources.resolver)
    return only


def answering(*statuses: int) -> Any:
    """A function that answers each request with the next of ``statuses``."""
    queue = list(statuses)

    def function(_function_id: str, _event: dict[str, Any]) -> Invocation:
        return Invocation(True, {"statusCode": queue.pop(0), "body": '{"statusCode": 0}'})

    return function


def test_a_5xx_the_function_answered_itself_is_reported_as_an_error(api: RestApi) -> None:
    reported: list[str] = []
    gateway = LocalApiGateway(api, answering(503), port=0, on_error=reported.append)

    status, _, _ = gateway.handle("GET", "/health", [], b"")

    assert status == 503
    assert reported == ["ApiFunction answered 503 to GET /health"]


def test_the_live_summary_errors_line_counts_every_5xx_the_api_answered(api: RestApi, tmp_path: Path) -> None:
    runtime = LocalRuntime(LocalOptions(state_dir=tmp_path), Reporter(io.StringIO(), json_lines=False))
    gateway = LocalApiGateway(api, answering(200, 500, 503, 404), port=0, on_error=lambda m: runtime._error("api", m))
    runtime.gateways.append(gateway)
    gateway.start()
    try:
        statuses = [httpx.get(f"{gateway.url}/health", timeout=10).status_code for _ in range(4)]
    finally:
        gateway.stop()

    summary = runtime.summary()

    assert statuses == [200, 500, 503, 404]
    assert summary["errors"] == summary["api_server_errors"] == 2
    assert "errors        2 (API 5xx answers: 2)" in render_summary(summary).splitlines()
