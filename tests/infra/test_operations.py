"""What an operator meets: the dashboard names every metric the code emits, with the dimensions it emits
them under, and every alarm has a runbook section its description points to."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ordersync_tools.infra.template import load_template, translate_template

from ordersync.actions import telemetry as action_telemetry
from ordersync.sync import telemetry as sync_telemetry
from ordersync.webhooks import telemetry as webhook_telemetry

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
# Where metrics are named: the two telemetry modules and the handlers that add their own.
METRIC_SOURCES = [
    Path(sync_telemetry.__file__),
    Path(action_telemetry.__file__),
    *sorted((ROOT / "functions").glob("*/app.py")),
]


@pytest.fixture(scope="module")
def translated_resources() -> dict[str, Any]:
    resources: dict[str, Any] = translate_template(TEMPLATE)["Resources"]
    return resources


def emitted_metric_names() -> set[str]:
    """Every literal ``add_metric(name=...)`` in the metric sources, and every ``ActionMetric``."""
    names = {metric.value for metric in action_telemetry.ActionMetric}
    names |= {metric.value for metric in webhook_telemetry.WebhookMetric}
    for source in METRIC_SOURCES:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_metric":
                for keyword in node.keywords:
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        names.add(keyword.value.value)
    return names


def dashboard_metrics(resources: dict[str, Any]) -> Iterator[list[Any]]:
    """Each metric row of each widget of the dashboard (namespace, name, dimension pairs, options)."""
    body = resources["OperationsDashboard"]["Properties"]["DashboardBody"]
    sub = body["Fn::Sub"] if isinstance(body, dict) else body
    text, variables = (sub, {}) if isinstance(sub, str) else sub
    for name, value in variables.items():  # lines of one platform: as with every platform configured
        chosen = value["Fn::If"][1] if isinstance(value, dict) and "Fn::If" in value else value
        text = text.replace(f"${{{name}}}", chosen["Fn::Sub"] if isinstance(chosen, dict) else chosen)
    for widget in json.loads(text)["widgets"]:
        yield from widget["properties"].get("metrics", [])


def dimensions(row: list[Any]) -> dict[str, str]:
    pairs = [item for item in row[2:] if isinstance(item, str)]
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


def test_the_sources_emit_the_metrics_the_alarms_and_dashboard_rely_on() -> None:
    names = emitted_metric_names()
    # A guard on the reader, not a copy of the list: the AST walk must find the read and write paths.
    assert {"OrdersSeen", "PollCompleted", "ActionsDeadLettered", "ChangeToEventLagSeconds"} <= names


def test_the_dashboard_is_a_cloudwatch_dashboard_in_the_translated_template(
    translated_resources: dict[str, Any],
) -> None:
    assert translated_resources["OperationsDashboard"]["Type"] == "AWS::CloudWatch::Dashboard"
    assert list(dashboard_metrics(translated_resources))


def test_the_dashboard_names_every_metric_the_code_emits(translated_resources: dict[str, Any]) -> None:
    on_dashboard = {row[1] for row in dashboard_metrics(translated_resources) if row[0] == sync_telemetry.NAMESPACE}

    assert sorted(emitted_metric_names() - on_dashboard) == []
    assert sorted(on_dashboard - emitted_metric_names()) == []


def test_dashboard_metrics_use_the_namespace_and_dimensions_the_code_emits(
    translated_resources: dict[str, Any],
) -> None:
    assert sync_telemetry.NAMESPACE == action_telemetry.NAMESPACE
    rows = [row for row in dashboard_metrics(translated_resources) if row[0] == sync_telemetry.NAMESPACE]
    for row in rows:
        dims = dimensions(row)
        assert dims.get("service") == "ordersync", row  # POWERTOOLS_SERVICE_NAME, Powertools' default dimension
        assert set(dims) <= {"service", "platform", "poller"}, row
        assert dims.get("poller", "status") == "status", row
    per_platform = {row[1] for row in rows if "platform" in dimensions(row)}
    assert per_platform >= {"OrdersSeen", "OrdersWritten", "PollDurationMs", "PollCompleted"}


def test_the_dashboard_shows_the_queues_the_stream_and_the_api(translated_resources: dict[str, Any]) -> None:
    aws_metrics = {(row[0], row[1]) for row in dashboard_metrics(translated_resources)}
    assert {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/ApiGateway", "4XXError"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "Latency"),
    } <= aws_metrics
    queues = {dimensions(row)["QueueName"] for row in dashboard_metrics(translated_resources) if row[0] == "AWS/SQS"}
    assert queues == {
        "${ActionsQueue.QueueName}",
        "${ActionsDeadLetterQueue.QueueName}",
        "${PollerDeadLetterQueue.QueueName}",
        "${StreamFailureQueue.QueueName}",
        "${WebhookQueue.QueueName}",
        "${WebhookDeadLetterQueue.QueueName}",
    }


@pytest.fixture(scope="module")
def alarms() -> dict[str, Any]:
    resources = load_template(TEMPLATE)["Resources"]
    return {rid: r for rid, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def runbook_sections() -> list[str]:
    return re.findall(r"^## (\S+)$", RUNBOOKS.read_text(encoding="utf-8"), flags=re.MULTILINE)


def test_every_alarm_has_a_runbook_section_and_every_section_an_alarm(alarms: dict[str, Any]) -> None:
    sections = runbook_sections()
    assert len(sections) == len(set(sections))
    assert sorted(alarms) == sorted(sections)


@pytest.mark.parametrize(
    "alarm_id",
    sorted(rid for rid, r in load_template(TEMPLATE)["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"),
)
def test_each_alarm_description_ends_with_a_pointer_to_its_section(alarms: dict[str, Any], alarm_id: str) -> None:
    description = " ".join(alarms[alarm_id]["Properties"]["AlarmDescription"].split())
    assert description.endswith(f"Runbook docs/runbooks.md#{alarm_id.lower()}")


def test_each_runbook_section_says_what_it_means_what_to_look_at_and_what_to_do() -> None:
    text = RUNBOOKS.read_text(encoding="utf-8")
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        heading = section.splitlines()[0]
        for part in ("**Means**", "**Look at**", "**Do**"):
            assert part in section, (heading, part)


def test_env_json_sets_every_functions_environment_for_sam_local_invoke() -> None:
    template = load_template(TEMPLATE)
    shared = set(template["Globals"]["Function"]["Environment"]["Variables"])
    env = json.loads((ROOT / "events" / "env.json").read_text(encoding="utf-8"))
    functions = {rid: r for rid, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}

    assert sorted(env) == sorted(functions)
    for rid, resource in functions.items():
        own = set(resource["Properties"].get("Environment", {}).get("Variables", {}))
        assert set(env[rid]) == shared | own, rid
        assert all(isinstance(value, str) and value for value in env[rid].values()), rid


def test_readme_pairs_every_sample_event_with_a_function() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    functions = {
        rid for rid, r in load_template(TEMPLATE)["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    }
    rows = dict(re.findall(r"^\| `events/([\w.-]+\.json)` \| `(\w+)` \|", readme, flags=re.MULTILINE))
    samples = {path.name for path in (ROOT / "events").glob("*.json")} - {"env.json"}

    assert sorted(rows) == sorted(samples)
    assert set(rows.values()) <= functions
