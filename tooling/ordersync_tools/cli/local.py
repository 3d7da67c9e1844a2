"""``ordersync local``: run the whole application of ``template.yaml`` here (see ``ordersync_tools.local``)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ordersync.models import Platform
from ordersync_tools.cli.errors import CliError, http_url, non_negative_int, port_number
from ordersync_tools.local.state import RESOURCES_FILE, STATE_DIR_NAME

if TYPE_CHECKING:
    from ordersync_tools.simulators.base import Faults


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "local",
        help="run the whole application locally: API, functions, AWS (moto), platform simulators",
        description=(
            "Run every function of template.yaml as AWS would wire it, against an embedded AWS (moto) and the "
            "platform simulators: the REST API on --api-port, schedules, the FIFO actions queue, the stream and "
            "the event bus. No AWS account and no Docker needed. Run it anywhere in the checkout; while it runs, "
            "`ordersync clients` and `ordersync actions` act on it without flags. Ctrl-C stops everything."
        ),
    )
    parser.add_argument(
        "--template",
        type=Path,
        help="the SAM template (default: template.yaml here or in the nearest folder above that has one)",
    )
    parser.add_argument(
        "--api-port", type=port_number, default=3000, help="port of the REST API; 0: any free (default: %(default)s)"
    )
    parser.add_argument(
        "--aws-port",
        type=port_number,
        default=4566,
        help="port of the embedded AWS; 0: any free (default: 4566)",
    )
    parser.add_argument("--speed", type=float, default=1.0, help="run schedules N times faster (default: 1)")
    parser.add_argument("--once", action="store_true", help="run each schedule once, drain, print the summary, exit")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of the live summary")
    parser.add_argument("--client-token", help="token of the demo API client (default: a new random one)")
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        metavar="KEY=VALUE",
        help="template parameters, as in sam deploy: Key=Value or ParameterKey=Key,ParameterValue=Value",
    )
    parser.add_argument(
        "--orders", type=non_negative_int, default=100, help="orders each simulator starts with (default: 100)"
    )
    parser.add_argument(
        "--tidy",
        action="store_true",
        help="simulators behave as the platforms' docs describe (full pages, exact totals, free=1 adding free "
        "orders) instead of as the platforms were seen to live (the default)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help=f"where logs and {RESOURCES_FILE} go (default: {STATE_DIR_NAME} next to the template)",
    )
    parser.add_argument(
        "--platform-faults",
        metavar="SPEC",
        help=(
            "make every simulator misbehave, e.g. 5xx=0.15,429=0.1,retry-after=1,unreadable=0.05,slow=0.05,"
            "slow-seconds=3 (shares of requests; see README 'Platform faults')"
        ),
    )
    parser.add_argument(
        "--subscriber-url",
        type=http_url,
        help="deliver change events to this URL, signed per Standard Webhooks (webhook-id, -timestamp, -signature)",
    )
    parser.add_argument("--subscriber-secret", help="the signing secret, whsec_<base64> (default: a new one, printed)")
    parser.add_argument(
        "--no-webhooks", action="store_true", help="the simulators do not call the webhook routes on order changes"
    )
    parser.add_argument(
        "--webhook-faults",
        help="faults of the simulators' webhook calls, e.g. lost=0.1,repeated=0.2,out_of_order=0.1,bad_secret=0.05",
    )
    parser.add_argument("--summary-interval", type=float, default=2.0, help="seconds between summaries")
    parser.add_argument("--once-timeout", type=float, default=300.0, help="give up draining after this many seconds")
    parser.add_argument(
        "--platforms",
        type=platform_list,
        metavar="P1,P2",
        help=f"run only these platforms (of {','.join(p.value for p in Platform)}); the others are left out "
        "as a deployment with their base URL empty leaves them out (default: all)",
    )
    for platform in Platform:
        parser.add_argument(
            f"--{platform.value}-url",
            type=http_url_or_empty,
            help=f"use this {platform.value} API instead of its simulator; '' leaves {platform.value} out",
        )
        parser.add_argument(f"--{platform.value}-token", help=f"{platform.value} token (default: the simulator's)")
    parser.set_defaults(run=run)


def http_url_or_empty(text: str) -> str:
    """An argparse type: an http(s) URL, or empty to leave the platform out."""
    return text if text == "" else http_url(text)


def platform_list(text: str) -> frozenset[Platform]:
    """An argparse type: comma-separated platform names, e.g. ``ticketscloud,bizon365``."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = {platform.value: platform for platform in Platform}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{text!r}: name one or more of {', '.join(known)}, separated by commas"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return frozenset(known[name] for name in names)


def find_template(given: Path | None) -> Path:
    """``given``, or template.yaml in the current folder or the nearest one above (the checkout root)."""
    if given is not None:
        if not given.is_file():
            raise CliError(f"--template {given}: no such file")
        return given
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "template.yaml").is_file():
            return folder / "template.yaml"
    raise CliError(
        "no template.yaml here or in any folder above: run `ordersync local` inside the ordersync checkout, "
        "or pass --template PATH"
    )


def platform_faults(spec: str | None) -> Faults | None:
    from ordersync_tools.simulators.base import Faults

    if spec is None:
        return None
    try:
        return Faults.parse(spec)
    except ValueError as error:
        raise CliError(f"--platform-faults: {error}") from None


def run(args: argparse.Namespace) -> int:
    # Imported here so that `ordersync --help` and other subcommands stay fast.
    from ordersync_tools.local.runtime import (
        LocalOptions,
        LocalRuntime,
        LocalRuntimeError,
        Reporter,
        render_summary,
    )
    from ordersync_tools.local.template import LocalTemplateError, parse_parameter_overrides

    if args.speed <= 0:
        raise CliError("--speed must be positive (2 runs schedules twice as fast)")
    try:
        overrides = parse_parameter_overrides(args.parameter_overrides)
    except LocalTemplateError as error:
        raise CliError(str(error)) from None
    template = find_template(args.template)
    reporter = Reporter(sys.stdout, json_lines=args.json)
    options = LocalOptions(
        template=template,
        api_port=args.api_port,
        aws_port=args.aws_port,
        speed=args.speed,
        client_token=args.client_token,
        platform_urls={p: u for p in Platform if (u := getattr(args, f"{p.value}_url")) is not None},
        platform_tokens={p: t for p in Platform if (t := getattr(args, f"{p.value}_token"))},
        parameter_overrides=overrides,
        state_dir=args.state_dir or template.parent / STATE_DIR_NAME,
        simulator_orders=args.orders,
        simulator_live=not args.tidy,
        once_timeout=args.once_timeout,
        platform_faults=platform_faults(args.platform_faults),
        platforms=args.platforms,
        webhooks=not args.no_webhooks,
        webhook_faults=_webhook_faults(args.webhook_faults),
        subscriber_url=args.subscriber_url,
        subscriber_secret=args.subscriber_secret,
    )
    runtime = LocalRuntime(options, reporter)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        runtime.stopping.set()

    previous_handlers: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous_handlers[signum] = signal.signal(signum, on_signal)
    started = time.monotonic()
    reporter.line("ordersync local: starting (embedded AWS, simulators, functions)...")
    try:
        runtime.start()
        _banner(runtime, time.monotonic() - started)
        if args.once:
            code = runtime.run_once()
            summary = runtime.summary()
            reporter.line(render_summary(summary), type="summary", final=True, exit_code=code, **summary)
        else:
            _examples_after_first_polls(runtime)
            live = sys.stdout.isatty() and not args.json
            runtime.run_forever(summary_interval=args.summary_interval, live=live)
            reporter.line("ordersync local: stopping...", type="stopping")
            code = 0
    except (LocalRuntimeError, LocalTemplateError) as error:
        print(f"ordersync: {error}", file=sys.stderr)
        code = 2
    finally:
        runtime.stop()
        for restored, handler in previous_handlers.items():
            signal.signal(restored, handler)
        reporter.line("ordersync local: stopped", type="stopped")
    return code


def _webhook_faults(text: str | None) -> dict[str, float]:
    from ordersync_tools.local.webhooks import parse_faults

    try:
        return parse_faults(text)
    except ValueError:
        raise CliError(f"--webhook-faults {text!r}: write name=probability pairs, e.g. lost=0.1,repeated=0.2") from None


def _banner(runtime: Any, seconds: float) -> None:
    api_url = runtime.gateways[0].url if runtime.gateways else None
    state_dir = runtime.options.state_dir
    runtime.reporter.line(
        "\n".join(
            [
                f"ordersync local is up ({seconds:.1f}s)",
                f"  API           {api_url or '(the template has no REST API)'}",
                f"  AWS (moto)    {runtime.endpoint}   e.g. aws --endpoint-url {runtime.endpoint} dynamodb list-tables",
                f"  demo token    {runtime.client_token or '(no clients table)'}",
                f"  function logs tail -f {state_dir / 'functions.log'}",
                f"  events        tail -f {state_dir / 'events.jsonl'}",
                "Ctrl-C stops everything.",
            ]
        ),
        type="ready",
        api_url=api_url,
        aws_endpoint=runtime.endpoint,
        client_token=runtime.client_token,
        platforms={p.value: url for p, url in runtime.platform_urls.items()},
        functions=sorted(runtime.containers),
        function_log=str(state_dir / "functions.log"),
        events_log=str(state_dir / "events.jsonl"),
        startup_seconds=round(seconds, 2),
    )


def _examples_after_first_polls(runtime: Any) -> None:
    """Print ready ``curl`` commands once the first polls have filled the orders table (in the background)."""

    def show() -> None:
        deadline = time.monotonic() + 120
        while not runtime.stopping.wait(0.5) and time.monotonic() < deadline:
            if sum(sum(c.values()) for c in runtime.poll_stats.values()) >= len(runtime.resources.schedules):
                break
        if runtime.stopping.is_set():
            return
        commands = curl_commands(runtime)
        runtime.reporter.line("try:\n" + "\n".join(f"  {c}" for c in commands), type="examples", curl=commands)

    threading.Thread(target=show, name="examples", daemon=True).start()


EXAMPLE_BODIES: dict[str, dict[str, Any]] = {
    "/orders/ticketscloud/{order_id}/actions": {
        "vendor_data": {"order_id": "crm-1001"},
        "customer": {"name": "Anna Petrova", "email": "anna@example.com", "lang": "en"},
    },
    "/ecards/orders": {
        "participant": {"email": "anna@example.com", "name": "Anna Petrova", "phone": "+79990000000"},
        "ecards": [{"id": 1, "quantity": 1, "faceValue": "1000 ₽"}],
    },
    "/exports/ticketscloud": {"email": "reports@example.com"},
    "/orders/ticketscloud": {"event": "$EVENT_ID", "random": {"$SET_ID": 1}, "all_or_nothing": True},
    "/orders/ticketscloud/{order_id}/reservation": {"random": {"$SET_ID": 2}},
    "/orders/ticketscloud/{order_id}/status": {"status": "done"},
    "/orders/ticketscloud/{order_id}/refund-requests": {"culprit": "user", "tickets": ["$TICKET_ID"]},
    "/orders/ticketscloud/{order_id}/refund-requests/{refund_id}": {"status": "approved"},
}


def curl_commands(runtime: Any) -> list[str]:
    """One ready command per route of the first REST API, with a real order id where one is stored."""
    if not runtime.gateways:
        return []
    gateway = runtime.gateways[0]
    sample = _sample_order(runtime)
    auth = f'-H "Authorization: Bearer {runtime.client_token}" ' if runtime.client_token else ""
    commands: list[str] = []
    for route in sorted(gateway.api.routes, key=lambda r: (r.resource, r.method)):
        path = route.resource.replace("{platform}", sample[0]).replace("{order_id}", sample[1])
        if "{" in path:
            path = path.replace("{action_id}", "$ACTION_ID").replace("{refund_id}", "$REFUND_ID")
        if route.resource == "/orders" and route.method == "GET":
            path = f"/orders?platform={sample[0]}"
        header = auth if route.authorizer else ""
        url = f"{gateway.url}{path}"
        if route.method in ("POST", "PUT", "PATCH"):
            body = json.dumps(EXAMPLE_BODIES.get(route.resource, {}), ensure_ascii=False)
            commands.append(
                f"curl -s -X {route.method} {header}-H 'Content-Type: application/json' -d '{body}' '{url}'"
            )
        else:
            commands.append(f"curl -s {header}'{url}'")
    return commands


def _sample_order(runtime: Any) -> tuple[str, str]:
    """A ticketscloud order still open (actions apply to those), else any stored order."""
    names = {spec.environment.get("ORDERS_TABLE") for spec in runtime.specs.values()} - {None, ""}
    if not names:
        return ("ticketscloud", "$ORDER_ID")
    from ordersync_tools.local.resources import client

    ddb = client("dynamodb", runtime.endpoint)
    try:
        items = ddb.scan(TableName=next(iter(names)), Limit=500).get("Items", [])
    except Exception:
        return ("ticketscloud", "$ORDER_ID")
    fallback: tuple[str, str] | None = None
    for item in items:
        platform, _, order_id = item.get("pk", {}).get("S", "").partition("#")
        if platform == "ticketscloud" and item.get("status", {}).get("S") == "pending":
            return (platform, order_id)
        if fallback is None and order_id:
            fallback = (platform, order_id)
    return fallback or ("ticketscloud", "$ORDER_ID")
