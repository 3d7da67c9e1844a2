"""``ordersync simulate``: serve one or all platform simulators on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from ordersync.models import Platform
from ordersync.simulators.base import PlatformSimulator

SIMULATED_ORDER = (Platform.TICKETSCLOUD, Platform.BIZON365, Platform.ECARDS)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="serve platform simulators over HTTP",
        description="Serve a simulator of one platform, or all three on consecutive ports from --port.",
    )
    parser.add_argument("platform", choices=[*(p.value for p in SIMULATED_ORDER), "all"])
    parser.add_argument("--port", type=int, default=18000, help="port to listen on (first port with 'all')")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--orders", type=int, default=100, help="orders to seed per platform")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    parser.set_defaults(run=run)


def build_simulator(platform: Platform, *, orders: int, seed: int) -> PlatformSimulator:
    """The simulator of ``platform`` with its default token."""
    # Imported here so that ``ordersync --help`` stays fast.
    from ordersync.simulators.bizon365 import Bizon365Simulator
    from ordersync.simulators.ecards import EcardsSimulator
    from ordersync.simulators.ticketscloud import TicketscloudSimulator

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
            simulator.start(port=args.port + offset, host=args.host)
            simulators.append(simulator)
            token = getattr(simulator, "token", "")
            print(f"{platform.value:<13} {simulator.base_url}  token={token}", flush=True)
        print("Serving; Ctrl-C to stop.", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for simulator in simulators:
            simulator.stop()
    return 0
