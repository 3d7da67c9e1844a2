"""What a handler's ``import app`` loads: the cold start pays only for Powertools' ``Logger``/``Metrics``, the
composition root and a few light modules; everything else (pydantic models, boto3, httpx, the X-Ray SDK, the
poll engine, Powertools' batch utility and its parser) waits for the first invocation.

Each handler is imported in a fresh interpreter without ``site`` (as in ``tests/benchmarks/bench_cold_start.py``),
with the layer's sources and this environment's site-packages on the path."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = tuple(sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py")))

LIGHT_ORDERSYNC_MODULES = frozenset(
    {
        "ordersync",
        "ordersync.composition",
        "ordersync.tracing",
        "ordersync.sync",
        "ordersync.sync.telemetry",
        "ordersync.actions",
        "ordersync.actions.telemetry",
        "ordersync.webhooks",
        "ordersync.webhooks.telemetry",
        "ordersync.webhooks.signing",
    }
)
"""The ordersync modules a handler may import at its import: none of them defines a pydantic model."""

DEFERRED = (
    "aws_xray_sdk",
    "httpx",
    "boto3",
    "botocore.client",  # Powertools imports the botocore package itself (its user agent), no more
    "pydantic.main",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
)
"""Imported on the first invocation that needs them, never at a handler's import."""


@cache
def modules_after_import(handler: str) -> frozenset[str]:
    """``sys.modules`` of a fresh interpreter that has just run ``import app`` for ``handler``."""
    site_packages = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    paths = [str(ROOT / "functions" / handler), str(ROOT / "layers" / "runtime"), str(site_packages)]
    probe = f"import sys; sys.path[0:0] = {paths!r}\nimport app, json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-I", "-S", "-B", "-c", probe],
        capture_output=True,
        text=True,
        check=False,
        env={"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "ordersync"},
    )
    assert done.returncode == 0, done.stderr
    return frozenset(json.loads(done.stdout.splitlines()[-1]))


def test_every_handler_is_checked() -> None:
    assert {"poller", "stream_consumer", "api", "authorizer", "webhook_signer"} <= set(HANDLERS)


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_handler_import_loads_only_light_ordersync_modules(handler: str) -> None:
    ordersync = {name for name in modules_after_import(handler) if name.split(".")[0] == "ordersync"}
    assert ordersync <= LIGHT_ORDERSYNC_MODULES, sorted(ordersync - LIGHT_ORDERSYNC_MODULES)


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_handler_import_defers_models_sdks_and_http_to_the_first_invocation(handler: str) -> None:
    loaded = modules_after_import(handler)
    early = sorted(name for name in loaded if any(name == top or name.startswith(f"{top}.") for top in DEFERRED))
    assert early == []
