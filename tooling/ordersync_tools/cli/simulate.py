"""``ordersync simulate``: serve one or all platform simulators on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import errno
import json
import signal
import threading
from typing import Any

from ordersync.models import Platform
from ordersync_tools.cli.errors import CliError, non_negative_int
from ordersync_tools.simulators.base import PlatformSimulator

SIMULATED_ORDER = tuple(Platform)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="serve platform simulators over HTTP",
        description=(
            "Serve a simulator of one partner platform, or all three on consecutive ports from --port, with "
            "seeded orders. Each line printed gives the base URL and the token its API client needs."
        ),
    )
    parser.add_argument(
        "platform", choices=[*(p.value for p in SIMULATED_ORDER), "all"], help="the platform to serve, or all"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=18000,
        help="port to listen on (first port with 'all'; 0: a free port for each simulator)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--orders", type=non_negative_int, default=100, help="orders to seed per platform")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    parser.add_argument("--json", action="store_true", help="print one JSON object per simulator, then one when up")
    parser.add_argument(
        "--tidy",
        action="store_true",
        help="behave as the platforms' docs describe instead of as the platforms were seen to live (the default)",
    )
    parser.set_defaults(run=run)


def _port(text: str) -> int:
    """An argparse type: 0 (any free port) or a port that leaves room for the three simulators of 'all'."""
    value = non_negative_int(text)
    if value > 65535 - (len(SIMULATED_ORDER) - 1):
        raise argparse.ArgumentTypeError(f"{value} leaves no room for consecutive ports")
    return value


def build_simulator(platform: Platform, *, orders: int, seed: int, live: bool = True) -> PlatformSimulator:
    """The simulator of ``platform`` with its default token, live or tidy."""
    # Imported here so that ``ordersync --help`` stays fast.
    from ordersync_tools.simulators import simulator_module

    simulator_class: type[PlatformSimulator] = simulator_module(platform).SIMULATOR
    simulator: PlatformSimulator = simulator_class(orders=orders, seed=seed, live=live)  # type: ignore[call-arg]
    return simulator


def run(args: argparse.Namespace) -> int:
    platforms = SIMULATED_ORDER if args.platform == "all" else (Platform(args.platform),)
    simulators: list[PlatformSimulator] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        for offset, platform in enumerate(platforms):
            simulator = build_simulator(platform, orders=args.orders, seed=args.seed, live=not args.tidy)
            # Port 0 asks the system for a free port; adding the offset to it would ask for ports 1 and 2.
            port = args.port + offset if args.port else 0
            try:
                simulator.start(port=port, host=args.host)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    raise CliError(
                        f"port {port} is in use: stop what uses it, or pass another --port (0: any free)"
                    ) from None
                raise CliError(f"cannot listen on {args.host}:{port}: {error.strerror or error}") from None
            simulators.append(simulator)
            if args.json:
                print(
                    json.dumps({"platform": platform.value, "url": simulator.base_url, **_fields(simulator)}),
                    flush=True,
                )
            else:
                print(f"{platform.value:<13} {simulator.base_url}  {_credentials(simulator)}", flush=True)
        print(json.dumps({"serving": True}) if args.json else "Serving; Ctrl-C to stop.", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for simulator in simulators:
            simulator.stop()
    return 0


def _fields(simulator: PlatformSimulator) -> dict[str, str]:
    """What a client needs besides the URL: the token, and Bizon365's project id (part of its path)."""
    fields = {"token": str(getattr(simulator, "token", ""))}
    project_id = getattr(simulator, "project_id", None)
    if project_id is not None:
        fields["project"] = str(project_id)
    return fields


def _credentials(simulator: PlatformSimulator) -> str:
    return "  ".join(f"{key}={value}" for key, value in _fields(simulator).items())
