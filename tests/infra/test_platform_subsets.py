"""A reseller with one or two of the three platforms deploys the same template with the others' base URLs empty:
each such deployment validates, translates, passes cfn-lint and checkov, and holds nothing of the platforms left
out (no poller, schedule, secret, log group, alarm, IAM statement or dashboard line of theirs).

``sam validate`` and checkov take no parameter values, so they run on the template as deployed with them, which
``scripts/check_template.py --parameter-overrides ... --resolved-out FILE`` writes (Conditions evaluated, the
values written in as defaults)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ordersync_tools.infra.template import RuleFailedError, load_template, resolve_conditions, translate_template

from ordersync.models import Platform

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
BASE_URL_PARAMETER = {
    Platform.TICKETSCLOUD: "TicketscloudBaseUrl",
    Platform.BIZON365: "Bizon365BaseUrl",
    Platform.ECARDS: "EcardsBaseUrl",
}
LOGICAL_PREFIX = {Platform.TICKETSCLOUD: "Ticketscloud", Platform.BIZON365: "Bizon365", Platform.ECARDS: "Ecards"}
LEFT_OUT = [
    (Platform.ECARDS,),
    (Platform.TICKETSCLOUD,),
    (Platform.BIZON365,),
    (Platform.BIZON365, Platform.ECARDS),
    (Platform.TICKETSCLOUD, Platform.ECARDS),
    (Platform.TICKETSCLOUD, Platform.BIZON365),
]


def overrides_leaving_out(left_out: tuple[Platform, ...]) -> dict[str, str]:
    values = {parameter: f"https://{platform.value}.example.com" for platform, parameter in BASE_URL_PARAMETER.items()}
    values["Bizon365ProjectId"] = "12345"
    for platform in left_out:
        values[BASE_URL_PARAMETER[platform]] = ""
    return values


def tool(name: str) -> str | None:
    """The checkout's pinned copy (``scripts/check.sh`` installs it under ``.tools``), else one on PATH."""
    pinned = ROOT / ".tools" / name / "bin" / name
    return str(pinned) if pinned.is_file() else shutil.which(name)


def check_template_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_template", ROOT / "scripts" / "check_template.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Deployment:
    """The template as deployed leaving ``left_out`` out: its check's exit code, the resolved SAM file and its
    translation."""

    def __init__(self, left_out: tuple[Platform, ...], directory: Path) -> None:
        self.left_out = left_out
        self.resolved = directory / "template.yaml"  # JSON is YAML: sam validate wants a .yaml name
        arguments = [f"{key}={value}" for key, value in overrides_leaving_out(left_out).items()]
        self.check_exit_code = check_template_module().main(
            [str(TEMPLATE), "--parameter-overrides", *arguments, "--resolved-out", str(self.resolved)]
        )
        self.resources: dict[str, Any] = translate_template(self.resolved)["Resources"]

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {rid: r for rid, r in self.resources.items() if r["Type"] == type_}


@pytest.fixture(scope="module", params=LEFT_OUT, ids=lambda left: "without-" + "-".join(p.value for p in left))
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    left_out: tuple[Platform, ...] = request.param
    return Deployment(left_out, tmp_path_factory.mktemp("deployment"))


def mentions(value: Any) -> Iterator[str]:
    """Every string inside a (possibly intrinsic) value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from mentions(item)
    elif isinstance(value, list):
        for item in value:
            yield from mentions(item)


def test_the_deployed_template_translates_and_passes_cfn_lint(deployment: Deployment) -> None:
    assert deployment.check_exit_code == 0


@pytest.mark.slow
@pytest.mark.parametrize("lint", [False, True], ids=["validate", "validate-lint"])
def test_the_deployed_template_passes_sam_validate(deployment: Deployment, lint: bool) -> None:
    sam = tool("sam")
    if sam is None:
        pytest.skip("no SAM CLI (scripts/check.sh installs it under .tools/sam)")
    command = [sam, "validate", "--template-file", str(deployment.resolved), "--region", "us-east-1"]
    result = subprocess.run(  # noqa: S603 - our own arguments
        [*command, "--lint"] if lint else command, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_the_deployed_template_passes_checkov(deployment: Deployment) -> None:
    checkov = tool("checkov")
    if checkov is None:
        pytest.skip("no checkov (scripts/check.sh installs it under .tools/checkov)")
    result = subprocess.run(  # noqa: S603 - our own arguments
        [checkov, "-f", str(deployment.resolved), "--framework", "cloudformation", "--skip-download", "--compact"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed checks" in result.stdout  # it did scan the template


def test_only_the_configured_platforms_have_pollers(deployment: Deployment) -> None:
    platforms = {
        function["Properties"].get("Environment", {}).get("Variables", {}).get("PLATFORM")
        for function in deployment.of_type("AWS::Lambda::Function").values()
    } - {None}
    assert platforms == {p.value for p in Platform} - {p.value for p in deployment.left_out}
    shared = {"StatusPollerFunction", "StreamConsumerFunction", "ApiFunction", "AuthorizerFunction"}
    assert shared | {"ActionWorkerFunction"} <= deployment.of_type("AWS::Lambda::Function").keys()


def test_no_schedule_polls_a_platform_left_out(deployment: Deployment) -> None:
    names = {json.dumps(s["Properties"]["Name"]) for s in deployment.of_type("AWS::Scheduler::Schedule").values()}
    assert '{"Fn::Sub": "ordersync-${Stage}-status-poll"}' in names  # the status poller's schedule stays
    assert [name for name in names for p in deployment.left_out if f"-{p.value}-" in name] == []
    configured = set(Platform) - set(deployment.left_out)
    assert all(any(f"-{p.value}-" in name for name in names) for p in configured)


def test_no_alarm_watches_a_platform_left_out(deployment: Deployment) -> None:
    alarms = deployment.of_type("AWS::CloudWatch::Alarm")
    left_out = {p.value for p in deployment.left_out}
    watched = [
        (rid, text) for rid, alarm in alarms.items() for text in mentions(alarm["Properties"]) if text in left_out
    ]
    assert watched == []
    assert [rid for rid in alarms for p in deployment.left_out if rid.startswith(LOGICAL_PREFIX[p])] == []
    assert {"StatusPollStalledAlarm", "FunctionErrorsAlarm"} <= alarms.keys()


def test_nothing_refers_to_a_resource_of_a_platform_left_out(deployment: Deployment) -> None:
    prefixes = tuple(LOGICAL_PREFIX[p] for p in deployment.left_out)
    assert [rid for rid in deployment.resources if rid.startswith(prefixes)] == []
    logical_id = re.compile(rf"\b({'|'.join(prefixes)})(Secret|PollerFunction)\b")  # not EcardsSecretName
    referring = {
        rid for rid, resource in deployment.resources.items() for text in mentions(resource) if logical_id.search(text)
    }
    assert referring == set()


def test_the_status_alarm_takes_the_minimum_over_the_configured_platforms(deployment: Deployment) -> None:
    metrics = deployment.resources["StatusPollStalledAlarm"]["Properties"]["Metrics"]
    queries = [query for query in metrics if "MetricStat" in query]
    assert len(queries) == 3 - len(deployment.left_out)
    (expression,) = [query["Expression"] for query in metrics if "Expression" in query]
    assert "METRICS()" in expression


def test_a_deployment_without_any_platform_is_refused() -> None:
    template = load_template(TEMPLATE)
    with pytest.raises(RuleFailedError, match="AtLeastOnePlatform"):
        resolve_conditions(template, overrides_leaving_out(tuple(Platform)))


def test_bizon365_without_its_project_is_refused() -> None:
    template = load_template(TEMPLATE)
    with pytest.raises(RuleFailedError, match="Bizon365NeedsItsProject"):
        resolve_conditions(template, overrides_leaving_out(()) | {"Bizon365ProjectId": ""})


def test_the_check_refuses_values_a_rule_forbids(tmp_path: Path) -> None:
    arguments = [f"{key}=" for key in BASE_URL_PARAMETER.values()]
    code = check_template_module().main([str(TEMPLATE), "--parameter-overrides", *arguments])
    assert code == 1
