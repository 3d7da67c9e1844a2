"""``ordersync local``: the whole application of ``template.yaml`` on one machine, no AWS account, no Docker.

``LocalRuntime.start`` brings up moto in server mode on 127.0.0.1, creates the template's resources in it,
starts the platform simulators (unless a platform URL is given), seeds the secrets, starts one warm process
per function, creates a demo API client and serves the REST API. ``run_forever`` then drives the schedules,
the FIFO queue, the stream and the event taps until ``stop``; ``run_once`` runs each schedule once and drains.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
import importlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import boto3
import httpx

from ordersync.models import Platform
from ordersync_tools.local.api import LocalApiGateway, RestApi, rest_apis
from ordersync_tools.local.fifo import FifoEventSource, honour_visibility_changes, redrive_settings
from ordersync_tools.local.functions import FunctionContainer, FunctionSpec, Invocation, function_specs
from ordersync_tools.local.resources import LocalResources, ResourceBuilder, Schedule, client, seed_secret
from ordersync_tools.local.schedules import ScheduleExpressionError, Timer
from ordersync_tools.local.state import remove_state, write_state
from ordersync_tools.local.stream import StreamEventSource, send_to_queue
from ordersync_tools.local.template import ACCOUNT_ID, REGION, Template, base_url_parameters, load_template
from ordersync_tools.local.webhooks import LocalSubscriber, render_webhooks, webhook_secret
from ordersync_tools.simulators import simulator_module
from ordersync_tools.simulators.base import Faults

ASYNC_RETRY_DELAYS = (1.0, 2.0)  # Lambda waits 1 and 2 minutes between async retries; locally seconds / speed
IDLE_WAIT = 0.2
STOP_GRACE_SECONDS = 2.0  # on stop, how long a function still invoking may take to finish
ONCE_VISIBILITY_WAIT = 1.0  # --once: real seconds a failed message waits before its visibility timeout is skipped
DEMO_CLIENT_NAME = "demo"
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
}


class LocalRuntimeError(RuntimeError):
    """The runtime cannot start as asked (a port in use, a template it cannot run...)."""


@dataclass
class LocalOptions:
    template: Path = Path("template.yaml")
    api_port: int = 3000
    aws_port: int = 4566
    speed: float = 1.0
    client_token: str | None = None
    platform_urls: dict[Platform, str] = field(default_factory=dict)
    """A platform's API instead of its simulator; an empty URL leaves the platform out, as in a deployment."""
    platform_tokens: dict[Platform, str] = field(default_factory=dict)
    platforms: frozenset[Platform] | None = None
    """Only these platforms (``--platforms``); the others' base URL parameters are empty. ``None``: all."""
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    state_dir: Path = Path(".ordersync-local")
    simulator_orders: int = 100
    simulator_live: bool = True
    """The simulators behave as the platforms were seen to live; ``False`` (``--tidy``): as their docs say."""
    once_timeout: float = 300.0
    platform_faults: Faults | None = None  # every simulator's fault injection (--platform-faults)
    webhooks: bool = True
    """The simulators call the API's webhook routes on every order change."""
    webhook_faults: dict[str, float] = field(default_factory=dict)
    """``WebhookFaults`` of the simulators' calls (lost, repeated, out_of_order, bad_secret: probabilities)."""
    subscriber_url: str | None = None
    """Deliver change events there, signed per Standard Webhooks."""
    subscriber_secret: str | None = None


@dataclass
class FunctionStats:
    invocations: int = 0
    errors: int = 0
    seconds: float = 0.0


class Reporter:
    """Everything the runtime tells the user: plain lines, or JSON lines with ``--json``."""

    def __init__(self, stream: TextIO, *, json_lines: bool) -> None:
        self.stream = stream
        self.json_lines = json_lines
        self._lock = threading.Lock()
        self._block_lines = 0  # lines of the live block at the bottom; 0 once anything is printed below it

    def line(self, text: str, **fields: Any) -> None:
        with self._lock:
            if self.json_lines:
                if fields:
                    self.stream.write(json.dumps(fields, default=str) + "\n")
            elif text:
                self.stream.write(text + "\n")
            self.stream.flush()
            self._block_lines = 0

    def block(self, text: str, *, redraw: bool) -> None:
        """Print ``text``; with ``redraw``, over the previous block when nothing was printed since."""
        if self.json_lines:
            return
        with self._lock:
            if redraw and self._block_lines:
                self.stream.write(f"\x1b[{self._block_lines}F\x1b[J")
            self.stream.write(text + "\n")
            self.stream.flush()
            self._block_lines = text.count("\n") + 1


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class LocalRuntime:
    """One local deployment of the template. Use as a context manager, or ``start()`` then ``stop()``."""

    def __init__(self, options: LocalOptions, reporter: Reporter) -> None:
        self.options = options
        self.reporter = reporter
        self.stopping = threading.Event()
        self.started_at = time.monotonic()
        self.endpoint = ""
        self.template: Template | None = None
        self.resources: LocalResources | None = None
        self.specs: dict[str, FunctionSpec] = {}
        self.containers: dict[str, FunctionContainer] = {}
        self.function_stats: dict[str, FunctionStats] = collections.defaultdict(FunctionStats)
        self.poll_stats: dict[str, dict[str, int]] = collections.defaultdict(lambda: {"ok": 0, "failed": 0})
        self.errors: collections.deque[str] = collections.deque(maxlen=20)
        self.error_count = 0
        self.events_published: collections.Counter[str] = collections.Counter()
        self.simulators: dict[Platform, Any] = {}
        self.platform_urls: dict[Platform, str] = {}
        self.gateways: list[LocalApiGateway] = []
        self.fifo_sources: list[tuple[str, FifoEventSource]] = []
        self.stream_sources: list[tuple[str, StreamEventSource]] = []
        self.client_token: str | None = None
        self._moto: Any = None
        self._threads: list[threading.Thread] = []
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="local-invoke")
        self._stats_lock = threading.Lock()
        self._log_file: TextIO | None = None
        self._events_file: TextIO | None = None
        self.webhook_senders: dict[Platform, Any] = {}
        self.subscriber: LocalSubscriber | None = None
        self.webhook_reads = 0
        self.webhook_changed = 0

    # == start ======================================================================================
    def start(self) -> None:
        options = self.options
        for name, port in (("--aws-port", options.aws_port), ("--api-port", options.api_port)):
            if port and not port_free(port):
                raise LocalRuntimeError(f"port {port} ({name}) is in use: stop what uses it or pick another port")
        options.state_dir.mkdir(parents=True, exist_ok=True)
        self._log_file = (options.state_dir / "functions.log").open("w", encoding="utf-8")
        self._events_file = (options.state_dir / "events.jsonl").open("w", encoding="utf-8")
        self._start_moto()
        # The platforms come first: their base URLs are parameters, whose Conditions decide what the template holds.
        overrides = {**options.parameter_overrides, **self._start_platforms()}
        self.template = Template.from_file(options.template, overrides)
        self.resources = ResourceBuilder(self.template, self.endpoint).build()
        for line in self.resources.describe():
            self.reporter.line(f"  {line}")
        self.reporter.line(
            "",
            type="resources",
            created={logical_id: type_ for logical_id, (type_, _) in self.resources.created.items()},
            emulated=self.resources.emulated,
            no_local_effect=self.resources.no_local_effect,
            unsupported=self.resources.unsupported,
        )
        for schedule in self.resources.schedules:
            try:
                Timer(schedule.expression, options.speed, datetime.now(UTC))
            except ScheduleExpressionError as error:
                raise LocalRuntimeError(f"{schedule.source_id}: {error}") from error
        self.specs = self._local_specs()
        self._seed_secrets()
        self._start_functions()
        self.client_token = self._demo_client()
        self._start_api()
        self._start_webhooks()
        self._wire_event_sources()
        self._publish_state()

    def _publish_state(self) -> None:
        """Tell other commands (``ordersync clients``, ``ordersync actions``) where this runtime's resources are."""
        assert self.resources is not None  # noqa: S101
        environment: dict[str, str] = {}
        for spec in self.specs.values():
            for name, value in spec.environment.items():
                if name.endswith(("_TABLE", "_QUEUE_URL")) and value:
                    environment.setdefault(name, value)
        write_state(
            self.options.state_dir,
            {
                "endpoint": self.endpoint,
                "region": REGION,
                "api_url": self.gateways[0].url if self.gateways else None,
                "resources": {
                    logical_id: {"type": type_, "physical": physical}
                    for logical_id, (type_, physical) in self.resources.created.items()
                },
                "environment": environment,
            },
        )

    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call is noise here
        port = self.options.aws_port or _free_port()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._moto.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        # moto keeps its state per process, not per server: start from a clean one.
        httpx.post(f"{self.endpoint}/moto-api/reset", timeout=30).raise_for_status()

    def _start_platforms(self) -> dict[str, str]:
        """Decide each platform's base URL, starting a simulator where nothing else gives one, and return them as
        parameter overrides: given on the command line (empty: left out), left out by ``--platforms``, set by
        ``--parameter-overrides`` or a parameter default, else its simulator's."""
        parameters = base_url_parameters(self.options.template)
        declared = load_template(self.options.template).get("Parameters") or {}
        overrides: dict[str, str] = {}
        for platform in Platform:
            parameter = parameters.get(platform)
            module = simulator_module(platform)
            token = self.options.platform_tokens.get(platform) or str(module.DEFAULT_TOKEN)
            self.options.platform_tokens[platform] = token
            given = self.options.platform_urls.get(platform)
            default = (declared.get(parameter) or {}).get("Default", "") if parameter else ""
            from_template = self.options.parameter_overrides.get(parameter, default) if parameter else ""
            if given is not None or (self.options.platforms is not None and platform not in self.options.platforms):
                url, source = given or "", "given on the command line"
            elif from_template or (parameter and parameter in self.options.parameter_overrides):
                url, source = str(from_template), "from the template's parameters"
            else:
                simulator = module.SIMULATOR(
                    orders=self.options.simulator_orders, seed=1, token=token, live=self.options.simulator_live
                )
                if self.options.platform_faults is not None:
                    simulator.faults = copy.deepcopy(self.options.platform_faults)
                simulator.start(0)
                self.simulators[platform] = simulator
                url, source = simulator.base_url, "simulator"
            if parameter:
                overrides[parameter] = url
            if not url:
                self.reporter.line(f"  {platform.value}: left out (empty base URL)")
                continue
            self.platform_urls[platform] = url.rstrip("/")
            where = f"simulator on {url}" if source == "simulator" else f"{url} ({source})"
            self.reporter.line(f"  {platform.value}: {where}")
        return overrides

    def _local_specs(self) -> dict[str, FunctionSpec]:
        assert self.template is not None  # noqa: S101
        assert self.resources is not None  # noqa: S101
        environment = {**AWS_ENVIRONMENT, "AWS_ENDPOINT_URL": self.endpoint}
        missing: dict[str, str] = {}
        specs = function_specs(self.template, self.resources.resolver, environment, missing)
        for logical_id, reason in missing.items():
            self._error(logical_id, f"not run locally: {reason}")
        overrides = {_variable(platform, "BASE_URL"): url for platform, url in self.platform_urls.items()}
        defaults: dict[str, str] = {}
        for platform in self.platform_urls:  # what a platform's simulator needs set when the template leaves it empty
            simulator = importlib.import_module(f"ordersync_tools.simulators.{platform.value}")
            defaults |= getattr(simulator, "LOCAL_ENVIRONMENT", {})
        local: dict[str, FunctionSpec] = {}
        for logical_id, spec in specs.items():
            env = {**spec.environment, **{k: v for k, v in overrides.items() if k in spec.environment}}
            env |= {name: value for name, value in defaults.items() if env.get(name) == ""}
            local[logical_id] = dataclasses.replace(spec, environment=env)
        return local

    def _seed_secrets(self) -> None:
        for platform in self.platform_urls:  # a platform left out has no secret, as in a deployment
            key = _variable(platform, "SECRET_NAME")
            names = {spec.environment[key] for spec in self.specs.values() if spec.environment.get(key)}
            for name in names:
                seed_secret(self.endpoint, name, self.options.platform_tokens[platform])

    def _start_functions(self) -> None:
        self.containers = {fid: FunctionContainer(spec, log=self._function_log) for fid, spec in self.specs.items()}
        for container in self.containers.values():
            container.start()
        for function_id, container in self.containers.items():
            if not container.wait_ready():
                self._error(function_id, f"init failed: {container.init_error}")
        ready = [fid for fid, c in self.containers.items() if c.init_error is None]
        self.reporter.line(f"  functions ready: {', '.join(ready) or 'none'}", type="functions", ready=ready)

    def _demo_client(self) -> str | None:
        tables = {spec.environment.get("CLIENTS_TABLE") for spec in self.specs.values()} - {None, ""}
        if not tables:
            return None
        table_name = str(next(iter(tables)))
        try:
            auth = importlib.import_module("ordersync.clients_auth")
        except ModuleNotFoundError:
            return None
        token = self.options.client_token or str(auth.new_token())
        api_client = auth.ApiClient(
            client_name=DEMO_CLIENT_NAME,
            token_hash=auth.hash_token(token),
            scopes=("*",),
            created_at=datetime.now(UTC),
        )
        item = api_client.model_dump(mode="json", exclude_none=True) | {"scopes": list(api_client.scopes)}
        resource = boto3.resource(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
        )
        resource.Table(table_name).put_item(Item=item)
        return token

    def _start_api(self) -> None:
        assert self.template is not None  # noqa: S101
        assert self.resources is not None  # noqa: S101
        apis: list[RestApi] = rest_apis(self.template, self.resources.resolver)
        for index, api in enumerate(apis):
            port = self.options.api_port + index if self.options.api_port else 0
            gateway = LocalApiGateway(api, self.invoke, port=port, on_error=lambda m: self._error("api", m))
            gateway.start()
            self.gateways.append(gateway)

    def _start_webhooks(self) -> None:
        """Point each simulator that sends webhooks at its route of the local API, with the route's secret; start
        the subscriber delivery when ``--subscriber-url`` is given."""
        if self.options.subscriber_url:
            self.subscriber = LocalSubscriber(
                self.options.subscriber_url,
                secret=self.options.subscriber_secret,
                on_error=lambda message: self._error("subscriber", message),
            )
            self.subscriber.start()
            self.reporter.line(
                f"  subscriber: change events to {self.subscriber.url}, signing secret {self.subscriber.secret}",
                type="subscriber",
                url=self.subscriber.url,
                secret=self.subscriber.secret,
            )
        if not self.options.webhooks or not self.gateways:
            return
        gateway = self.gateways[0]
        for platform, simulator in self.simulators.items():
            resource = f"/webhooks/{platform.value}/{{secret}}"
            if not hasattr(simulator, "send_webhooks") or not any(r.resource == resource for r in gateway.api.routes):
                continue
            variable = _variable(platform, "WEBHOOK_SECRET_NAME")
            names = {spec.environment.get(variable) for spec in self.specs.values()} - {None, ""}
            secret = webhook_secret(self.endpoint, str(next(iter(names)))) if names else None
            if secret is None:
                self._error(platform.value, f"webhooks not wired: no secret named by {variable}")
                continue
            faults = simulator_module(platform).WebhookFaults(**self.options.webhook_faults)
            url = f"{gateway.url}/webhooks/{platform.value}/{secret}"
            self.webhook_senders[platform] = simulator.send_webhooks(url, faults)
            self.reporter.line(f"  {platform.value}: webhooks to {gateway.url}/webhooks/{platform.value}/<secret>")

    def _wire_event_sources(self) -> None:
        assert self.template is not None  # noqa: S101
        assert self.resources is not None  # noqa: S101
        resolver = self.resources.resolver
        sqs = client("sqs", self.endpoint)
        for mapping_id in self.template.of_type("AWS::Lambda::EventSourceMapping"):
            props = resolver.resolve(self.template.properties(mapping_id))
            function_id = next(
                (fid for fid, spec in self.specs.items() if props.get("FunctionName") in (spec.name, spec.arn)), None
            )
            source_arn = str(props.get("EventSourceArn", ""))
            if function_id is None:
                self._error(mapping_id, "event source mapping names no local function")
                continue
            response_types = props.get("FunctionResponseTypes") or []

            def invoke(event: dict[str, Any], fid: str = function_id) -> Invocation:
                return self.invoke(fid, event)

            if source_arn.startswith("arn:aws:sqs:"):
                queue_url = self._queue_url(source_arn)
                attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
                max_receive, dead_letter_arn = redrive_settings(attributes)
                dead_letter_url = self._queue_url(dead_letter_arn) if dead_letter_arn else None
                source = FifoEventSource(
                    sqs,
                    queue_url=queue_url,
                    queue_arn=source_arn,
                    invoke=invoke,
                    batch_size=int(props.get("BatchSize", 10)),
                    visibility_timeout=float(attributes.get("VisibilityTimeout", 30)) / self.options.speed,
                    max_receive_count=max_receive,
                    dead_letter_url=dead_letter_url,
                    dead_letter_fifo=bool(dead_letter_arn and dead_letter_arn.endswith(".fifo")),
                    report_batch_item_failures="ReportBatchItemFailures" in response_types,
                    speed=self.options.speed,
                )
                honour_visibility_changes()
                self.fifo_sources.append((function_id, source))
            elif ":dynamodb:" in source_arn and "/stream/" in source_arn:
                destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
                stream = StreamEventSource(
                    client("dynamodbstreams", self.endpoint),
                    stream_arn=source_arn,
                    invoke=invoke,
                    function_arn=self.specs[function_id].arn,
                    batch_size=int(props.get("BatchSize", 100)),
                    starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
                    bisect_on_error=str(props.get("BisectBatchOnFunctionError", "false")).lower() == "true",
                    maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                    report_batch_item_failures="ReportBatchItemFailures" in response_types,
                    on_failure=send_to_queue(sqs, self._queue_url(destination)) if destination else None,
                )
                self.stream_sources.append((function_id, stream))
            else:
                self._error(mapping_id, f"event source {source_arn} is not emulated locally")

    def _queue_url(self, arn: str) -> str:
        name = arn.rsplit(":", 1)[-1]
        return f"{self.endpoint}/{ACCOUNT_ID}/{name}"

    # == invoking ===================================================================================
    def invoke(self, function_id: str, event: dict[str, Any]) -> Invocation:
        """Invoke a function synchronously and count the outcome."""
        container = self.containers.get(function_id)
        if container is None:
            outcome = Invocation(False, None, "ResourceNotFoundException", f"{function_id} is not running locally")
        else:
            outcome = container.invoke(event)
        with self._stats_lock:
            stats = self.function_stats[function_id]
            stats.invocations += 1
            stats.seconds += outcome.duration
            if not outcome.ok:
                stats.errors += 1
        if isinstance(outcome.result, dict) and "webhook_reads" in outcome.result:  # the webhook consumer's
            with self._stats_lock:
                self.webhook_reads += int(outcome.result.get("webhook_reads", 0))
                self.webhook_changed += int(outcome.result.get("webhook_changed", 0))
        if not outcome.ok and outcome.error_message != "Unauthorized":
            self._error(function_id, f"{outcome.error_type}: {outcome.error_message}")
        elif isinstance(outcome.result, dict) and outcome.result.get("batchItemFailures"):
            failures = len(outcome.result["batchItemFailures"])
            self._error(function_id, f"{failures} batch item failure(s)")
        return outcome

    def invoke_async(self, function_id: str, event: dict[str, Any]) -> Invocation:
        """Lambda's asynchronous invocation: two retries, then the function's dead-letter queue."""
        outcome = self.invoke(function_id, event)
        for delay in ASYNC_RETRY_DELAYS:
            if outcome.ok or self.stopping.is_set():
                break
            self.stopping.wait(delay / self.options.speed)
            outcome = self.invoke(function_id, event)
        if not outcome.ok:
            self._async_dead_letter(function_id, event, outcome)
        return outcome

    def _async_dead_letter(self, function_id: str, event: dict[str, Any], outcome: Invocation) -> None:
        assert self.template is not None  # noqa: S101
        assert self.resources is not None  # noqa: S101
        config = self.template.properties(function_id).get("DeadLetterConfig") or {}
        target = self.resources.resolver.resolve(config.get("TargetArn"))
        if not isinstance(target, str) or not target.startswith("arn:aws:sqs:"):
            return
        client("sqs", self.endpoint).send_message(
            QueueUrl=self._queue_url(target),
            MessageBody=json.dumps(event, default=str),
            MessageAttributes={
                "ErrorCode": {"DataType": "String", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": str(outcome.error_message)[:256]},
            },
        )

    def run_schedule(self, schedule: Schedule) -> Invocation:
        event: dict[str, Any]
        if schedule.payload is not None:
            event = schedule.payload
        else:
            event = {
                "version": "0",
                "id": str(time.time_ns()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": ACCOUNT_ID,
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": REGION,
                "resources": [schedule.arn],
                "detail": {},
            }
        outcome = self.invoke_async(schedule.function_id, event)
        with self._stats_lock:
            self.poll_stats[schedule.function_id]["ok" if outcome.ok else "failed"] += 1
        return outcome

    # == draining ===================================================================================
    def drain_taps(self) -> int:
        """Log and count the events on the buses; deliver rule targets that are functions."""
        assert self.resources is not None  # noqa: S101
        sqs = client("sqs", self.endpoint)
        moved = 0
        for message in _receive_all(sqs, self.resources.tap_queue_url):
            event = json.loads(message["Body"])
            with self._stats_lock:
                self.events_published[str(event.get("detail-type"))] += 1
            if self._events_file is not None:
                self._events_file.write(json.dumps(event) + "\n")
                self._events_file.flush()
            if self.subscriber is not None:
                self.subscriber.offer(event)
            moved += 1
        for delivery in self.resources.rule_deliveries:
            for message in _receive_all(sqs, delivery.queue_url):
                self.invoke_async(delivery.function_id, json.loads(message["Body"]))
                moved += 1
        return moved

    def drain_step(self) -> bool:
        """One round over every event source; True when anything moved."""
        moved = False
        for _, fifo in self.fifo_sources:
            moved |= fifo.pump() > 0
            while fifo.step():
                moved = True
        for _, stream in self.stream_sources:
            moved |= stream.poll() > 0
        moved |= self.drain_taps() > 0
        return moved

    def run_once(self) -> int:
        """Run each schedule once, then drain the queue, the stream and the buses. Returns the exit code."""
        assert self.resources is not None  # noqa: S101
        futures = [self._executor.submit(self.run_schedule, s) for s in self.resources.schedules]
        for future in futures:
            future.result()
        deadline = time.monotonic() + self.options.once_timeout
        quiet_rounds = 0
        while quiet_rounds < 3 and time.monotonic() < deadline and not self.stopping.is_set():
            if self.drain_step():
                quiet_rounds = 0
                continue
            waits = [w for _, fifo in self.fifo_sources if (w := fifo.next_ready_in()) is not None]
            if waits:
                # Only failed messages waiting out their visibility timeout are left: give a transient fault a
                # moment, then fast-forward (at speed 1 the actions queue's 360 s outlast --once-timeout).
                quiet_rounds = 0
                self.stopping.wait(min(*waits, ONCE_VISIBILITY_WAIT) or IDLE_WAIT)
                for _, fifo in self.fifo_sources:
                    fifo.skip_visibility_wait()
                continue
            quiet_rounds += 1
            self.stopping.wait(IDLE_WAIT)
        if time.monotonic() >= deadline:
            self._error("runtime", f"--once did not drain within {self.options.once_timeout:g}s")
        return 1 if self.error_count else 0

    def run_forever(self, *, summary_interval: float = 2.0, live: bool = False) -> None:
        """Drive schedules and event sources until ``stop`` (or Ctrl-C in the caller)."""
        assert self.resources is not None  # noqa: S101
        for schedule in self.resources.schedules:
            self._spawn(f"schedule-{schedule.source_id}", self._schedule_loop, schedule)
        self._spawn("event-sources", self._sources_loop)
        self._spawn("taps", self._loop, self.drain_taps)
        self._spawn("summary", self._summary_loop, summary_interval, live)
        while not self.stopping.wait(0.5):
            pass

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _schedule_loop(self, schedule: Schedule) -> None:
        timer = Timer(schedule.expression, self.options.speed, datetime.now(UTC))
        started = time.monotonic()
        fired = 0
        while not self.stopping.is_set():
            wait = timer.seconds_until_next(fired, time.monotonic() - started)
            if self.stopping.wait(wait):
                return
            fired += 1
            self._guard(self.run_schedule, schedule)

    def _sources_loop(self) -> None:
        while not self.stopping.is_set():
            moved = False
            for _, fifo in self.fifo_sources:
                moved |= bool(self._guard(fifo.pump))
                while not self.stopping.is_set() and self._guard(fifo.step):
                    moved = True
            for _, stream in self.stream_sources:
                moved |= bool(self._guard(stream.poll))
            if not moved:
                self.stopping.wait(IDLE_WAIT)

    def _loop(self, step: Callable[[], int]) -> None:
        while not self.stopping.is_set():
            if not self._guard(step):
                self.stopping.wait(IDLE_WAIT)

    def _guard(self, step: Callable[..., Any], *args: Any) -> Any:
        """Run one step of a loop; an error is counted and shown, never fatal to the runtime."""
        try:
            return step(*args)
        except Exception as error:
            if not self.stopping.is_set():
                self._error("runtime", f"{type(error).__name__}: {error}")
            return None

    def _summary_loop(self, interval: float, live: bool) -> None:
        last = ""
        while not self.stopping.wait(interval):
            summary = self.summary()
            if self.reporter.json_lines:
                self.reporter.line("", type="summary", **summary)
                continue
            text = render_summary(summary)
            body = text.split("\n", 1)[-1]
            if not live and body == last:
                continue  # in a log file, print only what changed
            last = body
            self.reporter.block(text, redraw=live)

    # == summary ====================================================================================
    def summary(self) -> dict[str, Any]:
        """Counts a person (or ``--json``) reads at a glance."""
        with self._stats_lock:
            polls = {fid: dict(counts) for fid, counts in self.poll_stats.items()}
            events = dict(self.events_published)
            functions = {
                fid: {"invocations": s.invocations, "errors": s.errors, "seconds": round(s.seconds, 2)}
                for fid, s in self.function_stats.items()
            }
        queue = {"received": 0, "succeeded": 0, "retried": 0, "dead_lettered": 0}
        for _, fifo in self.fifo_sources:
            queue["received"] += fifo.stats.received
            queue["succeeded"] += fifo.stats.succeeded
            queue["retried"] += fifo.stats.failed_attempts
            queue["dead_lettered"] += fifo.stats.dead_lettered
        stream = {"records": 0, "delivered": 0, "discarded": 0}
        for _, source in self.stream_sources:
            stream["records"] += source.stats.records
            stream["delivered"] += source.stats.delivered
            stream["discarded"] += source.stats.discarded
        api_requests: dict[str, int] = collections.Counter()
        for gateway in self.gateways:
            for status, count in gateway.stats.by_status.items():
                api_requests[str(status)] += count
        api_server_errors = sum(gateway.stats.server_errors for gateway in self.gateways)
        return (
            {
                "uptime_seconds": round(time.monotonic() - self.started_at, 1),
                "orders": self._count_table("ORDERS_TABLE", ("platform", "status")),
                "polls": polls,
                "actions": self._count_table("ACTIONS_TABLE", ("platform", "state")),
                "action_messages": queue,
                "stream": stream,
                "events_published": sum(events.values()),
                "events_by_type": events,
                "api_requests": dict(api_requests),
                "functions": functions,
                "errors": self.error_count,  # every 5xx the API answered is one of them (the gateway reports each)
                "api_server_errors": api_server_errors,
                "recent_errors": list(self.errors)[-5:],
            }
            | self._webhook_summary()
        )

    def _webhook_summary(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.webhook_senders:
            deliveries = [d for sender in self.webhook_senders.values() for d in sender.deliveries]
            answers: collections.Counter[str] = collections.Counter(
                str(d.status) for d in deliveries if d.status is not None
            )
            with self._stats_lock:
                reads, changed = self.webhook_reads, self.webhook_changed
            found["webhooks"] = {
                "sent": sum(answers.values()),
                "answers": dict(answers),
                "lost": sum(1 for d in deliveries if d.status is None),
                "reads": reads,
                "changed": changed,
            }
        if self.subscriber is not None:
            stats = self.subscriber.stats
            found["subscriber"] = {
                "url": self.subscriber.url,
                "delivered": stats.delivered,
                "attempts": stats.attempts,
                "failed_attempts": stats.failed_attempts,
                "dead_lettered": stats.dead_lettered,
            }
        return found

    def _count_table(self, variable: str, attributes: tuple[str, str]) -> dict[str, dict[str, int]]:
        names = {spec.environment.get(variable) for spec in self.specs.values()} - {None, ""}
        if not names:
            return {}
        counts: dict[str, dict[str, int]] = collections.defaultdict(lambda: collections.defaultdict(int))
        ddb = client("dynamodb", self.endpoint)
        arguments: dict[str, Any] = {
            "TableName": next(iter(names)),
            "ProjectionExpression": "#a, #b",
            "ExpressionAttributeNames": {"#a": attributes[0], "#b": attributes[1]},
        }
        try:
            while True:
                page = ddb.scan(**arguments)
                for item in page.get("Items", []):
                    first = item.get(attributes[0], {}).get("S", "?")
                    second = item.get(attributes[1], {}).get("S", "?")
                    counts[first][second] += 1
                if "LastEvaluatedKey" not in page:
                    break
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except Exception:
            return {}
        return {key: dict(value) for key, value in counts.items()}

    # == logs and errors ============================================================================
    def _function_log(self, function_id: str, line: str) -> None:
        if self._log_file is not None:
            with contextlib.suppress(ValueError):
                self._log_file.write(f"{datetime.now(UTC):%H:%M:%S} {function_id} | {line}\n")
                self._log_file.flush()

    def _error(self, source: str, message: str) -> None:
        with self._stats_lock:
            self.error_count += 1
            self.errors.append(f"{datetime.now(UTC):%H:%M:%S} {source}: {message}")
        self._function_log(source, f"ERROR {message}")
        if self.reporter.json_lines:
            self.reporter.line("", type="error", source=source, message=message)

    # == stop =======================================================================================
    def stop(self) -> None:
        """Close everything this runtime started: loops, API, functions, simulators, moto."""
        self.stopping.set()
        remove_state(self.options.state_dir)
        for _, stream in self.stream_sources:
            stream.stopping.set()
        for gateway in self.gateways:
            gateway.stop()
        # Idle functions exit at once; one still invoking gets a moment, then is stopped, so that the loops
        # below are not left waiting for a long poll to finish.
        for container in self.containers.values():
            container.close_input()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for container in self.containers.values():
            container.terminate(grace=deadline - time.monotonic())
        for thread in self._threads:
            thread.join(timeout=10)
        self._executor.shutdown(wait=True, cancel_futures=True)
        for container in self.containers.values():
            container.close_input()
        for container in self.containers.values():
            container.stop()
        self._stop_webhooks()
        for simulator in self.simulators.values():
            simulator.stop()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        for handle in (self._log_file, self._events_file):
            if handle is not None:
                handle.close()
        self._log_file = self._events_file = None

    def _stop_webhooks(self) -> None:
        for simulator in self.simulators.values():
            if hasattr(simulator, "stop_webhooks"):
                simulator.stop_webhooks()
        if self.subscriber is not None:
            self.subscriber.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[LocalRuntime]:
        try:
            self.start()
            yield self
        finally:
            self.stop()


def _receive_all(sqs: Any, queue_url: str) -> Iterator[dict[str, Any]]:
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        yield from messages


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def render_summary(summary: dict[str, Any]) -> str:
    """The live summary as a few aligned lines."""
    statuses = sorted({status for counts in summary["orders"].values() for status in counts})
    lines = [f"── ordersync local · up {summary['uptime_seconds']:.0f}s " + "─" * 40]
    if summary["orders"]:
        width = max(15, *(len(s) + 2 for s in statuses))  # partially_refunded is 18 long
        lines.append("orders        " + "".join(f"{s:>{width}}" for s in statuses) + f"{'total':>8}")
        for platform, counts in sorted(summary["orders"].items()):
            cells = "".join(f"{counts.get(s, 0):>{width}}" for s in statuses)
            lines.append(f"{platform:<14}{cells}{sum(counts.values()):>8}")
    else:
        lines.append("orders        none yet")
    polls = summary["polls"]
    poll_text = ", ".join(
        f"{fid.removesuffix('Function')} {c['ok']}" + (f" ({c['failed']} failed)" if c["failed"] else "")
        for fid, c in sorted(polls.items())
    )
    lines.append(f"polls run     {poll_text or 'none yet'}")
    states: collections.Counter[str] = collections.Counter()
    for counts in summary["actions"].values():
        states.update(counts)
    messages = summary["action_messages"]
    lines.append(
        f"actions       queued {messages['received']}, succeeded {states.get('succeeded', 0)}, "
        f"failed {states.get('failed', 0)}, dead-lettered {messages['dead_lettered']}, retried {messages['retried']}"
    )
    by_type = ", ".join(f"{k} {v}" for k, v in sorted(summary["events_by_type"].items()))
    lines.append(f"events        published {summary['events_published']}" + (f" ({by_type})" if by_type else ""))
    stream = summary["stream"]
    lines.append(
        f"stream        {stream['records']} records, {stream['delivered']} delivered, {stream['discarded']} discarded"
    )
    api = ", ".join(f"{status}: {count}" for status, count in sorted(summary["api_requests"].items()))
    lines.append(f"api requests  {api or 'none yet'}")
    lines.extend(render_webhooks(summary))
    api_5xx = summary.get("api_server_errors", 0)
    lines.append(f"errors        {summary['errors']}" + (f" (API 5xx answers: {api_5xx})" if api_5xx else ""))
    lines.extend(f"  {error}" for error in summary["recent_errors"])
    return "\n".join(lines)


def _variable(platform: Platform, name: str) -> str:
    """The environment variable ``<PREFIX>_<NAME>`` of ``platform`` (its profile declares the prefix)."""
    from ordersync import platforms

    return f"{platforms.profile(platform).env_prefix}_{name}"
