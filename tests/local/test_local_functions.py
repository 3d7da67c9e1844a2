"""Each function runs in its own warm process with its own environment and a Lambda-like context."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ordersync_tools.local.functions import FunctionContainer, FunctionSpec, Invocation

HANDLER = """
    import os, time

    IMPORTED_AT = time.time()

    def lambda_handler(event, context):
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("fail"):
            raise ValueError(event["fail"])
        print("handler output goes to the function log")
        return {
            "platform": os.environ.get("PLATFORM"),
            "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
            "imported_at": IMPORTED_AT,
            "function_name": context.function_name,
            "remaining": context.get_remaining_time_in_millis(),
            "request_id": context.aws_request_id,
        }
"""


def spec(code_dir: Path, *, platform: str, timeout: float = 3.0, handler: str = "app.lambda_handler") -> FunctionSpec:
    return FunctionSpec(
        logical_id=f"{platform}Poller",
        name=f"local-{platform}-poller",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:local-{platform}-poller",
        code_dir=code_dir,
        handler=handler,
        timeout=timeout,
        memory_mb=256,
        environment={
            "PLATFORM": platform,
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_LAMBDA_FUNCTION_NAME": f"local-{platform}-poller",
            "_HANDLER": handler,
        },
        paths=(code_dir,),
    )


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("function")
    (directory / "app.py").write_text(textwrap.dedent(HANDLER), encoding="utf-8")
    (directory / "broken.py").write_text("raise ImportError('broken at import')\n", encoding="utf-8")
    return directory


@pytest.fixture
def logs() -> list[str]:
    return []


@pytest.fixture
def container(code_dir: Path, logs: list[str]) -> Iterator[FunctionContainer]:
    container = FunctionContainer(spec(code_dir, platform="bizon365"), log=lambda _fid, line: logs.append(line))
    container.start()
    assert container.wait_ready(timeout=30)
    try:
        yield container
    finally:
        container.stop()


def test_a_function_sees_its_own_environment_and_a_lambda_context(container: FunctionContainer) -> None:
    outcome = container.invoke({})

    assert outcome.ok
    assert outcome.result["platform"] == "bizon365"
    assert outcome.result["endpoint"] == "http://127.0.0.1:9"
    assert outcome.result["function_name"] == "local-bizon365-poller"
    assert 0 < outcome.result["remaining"] <= 3000


def test_two_functions_from_the_same_code_keep_their_environments_apart(code_dir: Path) -> None:
    first = FunctionContainer(spec(code_dir, platform="ecards"))
    second = FunctionContainer(spec(code_dir, platform="ticketscloud"))
    try:
        first.start()
        second.start()
        assert first.wait_ready(timeout=30)
        assert second.wait_ready(timeout=30)

        platforms = [first.invoke({}).result["platform"], second.invoke({}).result["platform"]]
    finally:
        first.stop()
        second.stop()

    assert platforms == ["ecards", "ticketscloud"]


def test_the_container_stays_warm_between_invocations(container: FunctionContainer) -> None:
    first = container.invoke({})
    second = container.invoke({})

    assert first.result["imported_at"] == second.result["imported_at"]
    assert first.result["request_id"] != second.result["request_id"]


def test_a_handler_error_is_reported_and_its_output_logged(container: FunctionContainer, logs: list[str]) -> None:
    container.invoke({})
    outcome = container.invoke({"fail": "no such order"})

    assert not outcome.ok
    assert outcome.error_type == "ValueError"
    assert outcome.error_message == "no such order"
    assert "handler output goes to the function log" in logs
    assert any("ValueError: no such order" in line for line in logs)


def test_an_invocation_over_the_timeout_is_stopped_and_the_next_one_gets_a_fresh_container(code_dir: Path) -> None:
    container = FunctionContainer(spec(code_dir, platform="ecards", timeout=0.5))
    container.start()
    try:
        assert container.wait_ready(timeout=30)
        timed_out = container.invoke({"sleep": 5})
        after = container.invoke({})
    finally:
        container.stop()

    assert timed_out.error_type == "TaskTimedOut"
    assert timed_out.duration < 3
    assert after.ok


def test_an_import_error_is_an_init_error(code_dir: Path) -> None:
    container = FunctionContainer(spec(code_dir, platform="ecards", handler="broken.lambda_handler"))
    container.start()

    ready = container.wait_ready(timeout=30)

    assert not ready
    assert container.init_error == "ImportError: broken at import"


def test_terminate_ends_an_invocation_in_flight_within_its_grace_instead_of_waiting_for_the_handler(
    code_dir: Path,
) -> None:
    container = FunctionContainer(spec(code_dir, platform="ecards", timeout=60))
    container.start()
    outcomes: list[Invocation] = []
    try:
        assert container.wait_ready(timeout=30)
        invoking = threading.Thread(target=lambda: outcomes.append(container.invoke({"sleep": 30})))
        invoking.start()
        time.sleep(0.3)  # the handler is now sleeping
        started = time.monotonic()

        container.terminate(grace=0.5)
        invoking.join(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        container.stop()

    assert not invoking.is_alive()
    assert elapsed < 5
    (outcome,) = outcomes
    assert outcome.error_type == "Runtime.ExitError"
    assert container._process is None
