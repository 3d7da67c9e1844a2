"""``ordersync simulate``: serve one or all platform simulators on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from ordersync.models import Platform
from ordersync_tools.simulators.base import PlatformSimulator

SIMULATED_ORDER = (Platform.TICKETSCLOUD, Platform.BIZON365, Platform.ECARDS)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="serve platform simulators over HTTP",
        description="Serve a simulator of one platform, or all three on consecutive ports from --port.",
    )
    parser.add_argument("platform", choices=[*(p.value for p in SIMULATED_ORDER), "all"])
    parser.add_argument(
        "--port",
        type=_port,
        default=18000,
        help="port to listen on (first port with 'all'; 0: a free port for each simulator)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--orders", type=_non_negative, default=100, help="orders to seed per platform")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    parser.set_defaults(run=run)


def _non_negative(text: str) -> int:
    """An argparse type: a count of at least 0 (a usage error otherwise, not a traceback)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _port(text: str) -> int:
    """An argparse type: 0 (any free port) or a port that leaves room for the three simulators of 'all'."""
    value = _non_negative(text)
    if value > 65535 - (len(SIMULATED_ORDER) - 1):
        raise argparse.ArgumentTypeError(f"{value} leaves no room for consecutive ports")
    return value


def build_simulator(platform: Platform, *, orders: int, seed: int) -> PlatformSimulator:
    """The simulator of ``platform`` with its default token."""
    # Imported here so that ``ordersync --help`` stays fast.
    from ordersync_tools.simulators.bizon365 import Bizon365Simulator
    from ordersync_tools.simulators.ecards import EcardsSimulator
    from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator

    simulator_classes: dict[Platform, type[PlatformSimulator]] = {
        Platform.TICKETSCLOUD: TicketscloudSimulator,
        Platform.BIZON365: Bizon365Simulator,
        Platform.ECARDS: EcardsSimulator,
    }
    simulator: PlatformSimulator = simulator_classes[platform](orders=orders, seed=seed)  # type: ignore[call-arg]
    return simulator


def run(args: argparse.Namespace) -> int:
    platforms = SIMULATED_ORDER if args.platform == "all" else (Platform(args.platform),)
    simulators: list[PlatformSimulator] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        for offset, platform in enumerate(platforms):
            simulator = build_simulator(platform, orders=args.orders, seed=args.seed)
            # Port 0 asks the system for a free port; adding the offset to it would ask for ports 1 and 2.
            simulator.start(port=args.port + offset if args.port else 0, host=args.host)
            simulators.append(simulator)
            print(f"{platform.value:<13} {simulator.base_url}  {_credentials(simulator)}", flush=True)
        print("Serving; Ctrl-C to stop.", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for simulator in simulators:
            simulator.stop()
    return 0


def _credentials(simulator: PlatformSimulator) -> str:
    """What a client needs besides the URL: the token, and Bizon365's project id (part of its path)."""
    parts = [f"token={getattr(simulator, 'token', '')}"]
    project_id = getattr(simulator, "project_id", None)
    if project_id is not None:
        parts.append(f"project={project_id}")
    return "  ".join(parts)
