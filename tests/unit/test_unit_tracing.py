"""``LazyTracer``: Powertools' Tracer, whose X-Ray SDK is imported on first use rather than at a handler's import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from aws_lambda_powertools import Tracer

from ordersync.tracing import LazyTracer

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = ("poller", "status_poller", "stream_consumer", "api", "authorizer", "action_worker")


@pytest.fixture(autouse=True)
def _fresh_tracer_config() -> None:
    """Powertools keeps Tracer's configuration on the class: start each test from its defaults."""
    Tracer._reset_config()


def test_it_is_the_powertools_tracer_and_decorating_builds_nothing() -> None:
    tracer = LazyTracer(service="bench")

    @tracer.capture_method
    def double(value: int) -> int:
        return value * 2

    @tracer.capture_lambda_handler
    def handler(event: dict[str, int], context: object) -> int:
        return double(event["value"])

    assert isinstance(tracer, Tracer)
    assert not tracer.built
    assert handler({"value": 21}, None) == 42
    assert tracer.built
    assert tracer.disabled  # outside Lambda, Powertools turns tracing off by itself
    assert tracer.service == "bench"


def test_first_use_runs_powertools_init_with_the_arguments_given() -> None:
    tracer = LazyTracer(disabled=True, auto_patch=False)
    tracer.put_annotation(key="platform", value="ecards")  # a no-op when disabled, but it builds the tracer
    assert tracer.built
    assert tracer.disabled is True
    assert tracer.auto_patch is False
    assert "aws_xray_sdk" in type(tracer.provider).__module__


def test_unknown_attributes_are_still_attribute_errors() -> None:
    tracer = LazyTracer()
    with pytest.raises(AttributeError):
        _ = tracer.no_such_attribute  # type: ignore[attr-defined]
    assert not tracer.built


def test_no_handler_imports_the_xray_sdk() -> None:
    """Each handler imported in a fresh interpreter (without ``site``, as in the cold-start benchmark)."""
    site_packages = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    probe = (
        "import importlib.util, sys\n"
        "for name in sys.argv[1:]:\n"
        "    spec = importlib.util.spec_from_file_location(f'app_{name}', f'functions/{name}/app.py')\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "    assert not module.tracer.built, name\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'aws_xray_sdk'))\n"
    )
    paths = [str(ROOT / "layers" / "runtime"), str(site_packages)]
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-I", "-S", "-c", f"import sys; sys.path[0:0] = {paths!r}\n{probe}", *HANDLERS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "ordersync"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
