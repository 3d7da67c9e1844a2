"""Benchmark of cold starts: how long each handler's ``import app`` takes in a fresh interpreter, against a floor.

Run: ``python tests/benchmarks/bench_cold_start.py [--runs 7] [--build] [--layer DIR] [--importtime 8]`` with the
project's virtual environment (boto3 and Powertools with its tracer are copied from its site-packages into a
directory of their own, standing in for the Lambda runtime's boto3 and the Powertools layer: the rest of the
virtual environment, such as the ``rich`` and ``click`` that httpx imports when they are there, stays out).
``--build`` runs ``sam build OrdersyncLayer`` first (``--sam`` names the SAM CLI; python3.13 must be on PATH);
without it the layer already built in ``.aws-sam/build/OrdersyncLayer/python`` is used.

Each measurement is one new interpreter started with ``-I -S -B``: no environment variables of Python, no
``site`` (so no ``.pth`` file, no editable install of ordersync), no ``.pyc`` written. Its ``sys.path`` is what
Lambda gives a function: the function's directory, then the layer, then the runtime's site-packages. The layer
and the function are copied to a temporary directory first, so that a ``__pycache__`` left in the repository or
in the build directory by another run is not read: as on Lambda, whose ``/opt`` is read-only, only the
``.pyc`` files the layer ships are. The environment is the functions' own (``template.yaml``'s Globals) without
``LAMBDA_TASK_ROOT``; ``--lambda-env`` adds it, which turns Powertools' Tracer on as it is on Lambda.

The floor is ``import boto3, httpx, pydantic, aws_lambda_powertools`` in the same conditions: what every handler
has to import anyway, at its import or at its first invocation. Each handler is measured twice: ``import app``
alone, and ``import app`` followed by the floor's imports (``+floor``), whose difference to the floor is what the
handler's own code costs beyond them, whether the handler imports boto3 and httpx at once or later. Figures:
median, min and max milliseconds of ``--runs`` interpreters (run round by round), and the median's difference to
and ratio with the floor's median. ``--functions`` takes the handlers from another checkout (to compare with an
earlier commit and its layer).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from importlib.metadata import distribution
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILT_LAYER = ROOT / ".aws-sam" / "build" / "OrdersyncLayer" / "python"
HANDLERS = (
    "poller",
    "status_poller",
    "stream_consumer",
    "api",
    "authorizer",
    "action_worker",
    "action_reconciler",
    "webhook_receiver",
    "webhook_consumer",
    "webhook_signer",
)
FLOOR = "import boto3, httpx, pydantic, aws_lambda_powertools"

ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "STAGE": "dev",
    "PLATFORM": "ticketscloud",
    "TICKETSCLOUD_BASE_URL": "https://ticketscloud.invalid",
    "TICKETSCLOUD_SECRET_NAME": "ordersync/dev/ticketscloud",
    "ORDERS_TABLE": "orders",
    "POLL_STATE_TABLE": "poll-state",
    "ACTIONS_TABLE": "actions",
    "CLIENTS_TABLE": "clients",
    "IDEMPOTENCY_TABLE": "idempotency",
    "ACTIONS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/actions.fifo",
    "EVENT_BUS_NAME": "orders",
    "WEBHOOK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/webhook-hints.fifo",
    "TICKETSCLOUD_WEBHOOK_SECRET_NAME": "ordersync/dev/ticketscloud-webhook",
    "SUBSCRIBER_SECRET_NAME": "ordersync/dev/subscriber",
    "POWERTOOLS_SERVICE_NAME": "ordersync",
    "POWERTOOLS_METRICS_NAMESPACE": "ordersync",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}
"""Enough of the functions' environment for any handler's import (none reads it at import time today)."""

PROBE = """
import sys, time
sys.path[0:0] = sys.argv[2:]
wall, cpu = time.perf_counter_ns(), time.process_time_ns()
exec(sys.argv[1])
print(time.perf_counter_ns() - wall, time.process_time_ns() - cpu)
"""
"""Run by each interpreter: put the paths first, time the statement, print wall and CPU nanoseconds."""

RUNTIME_DISTRIBUTIONS = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
    "aws-lambda-powertools",
    "aws-xray-sdk",
    "wrapt",
    "typing_extensions",
)
"""What the Lambda runtime (boto3) and the Powertools layer (``[tracer]``) put on the path besides our layer."""


def copy_runtime_site(target: Path) -> Path:
    """The distributions of ``RUNTIME_DISTRIBUTIONS``, with their ``.pyc``, copied from this interpreter."""
    target.mkdir(parents=True)
    for name in RUNTIME_DISTRIBUTIONS:
        dist = distribution(name)
        site = Path(str(dist.locate_file("")))
        tops = {Path(str(file)).parts[0] for file in dist.files or () if not str(file).startswith("..")}
        for top in sorted(tops - {"__pycache__"}):
            source = site / top
            if source.is_dir():
                shutil.copytree(source, target / top, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target / top)
                cached = site / "__pycache__"
                for pyc in cached.glob(f"{source.stem}.*.pyc"):
                    (target / "__pycache__").mkdir(exist_ok=True)
                    shutil.copy2(pyc, target / "__pycache__" / pyc.name)
    return target


def build_layer(sam: str) -> None:
    subprocess.run([sam, "build", "OrdersyncLayer"], cwd=ROOT, check=True)  # noqa: S603


def measure(
    statement: str, paths: list[Path], environment: dict[str, str], *, clock: str = "wall", importtime: bool = False
) -> float:
    """Milliseconds ``statement`` took in a new interpreter (``clock``: wall or the process's CPU time); with
    ``importtime``, the ``-X importtime`` report too."""
    command = [sys.executable, "-I", "-S", "-B"]
    if importtime:
        command += ["-X", "importtime"]
    command += ["-c", PROBE, statement, *map(str, paths)]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{statement!r} failed:\n{done.stderr}")
    if importtime:
        print_top_imports(done.stderr)
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return int(wall if clock == "wall" else cpu) / 1e6


def print_top_imports(report: str, top: int = 8) -> None:
    """The top-level packages that cost most of their own time (``self`` of ``-X importtime``, summed)."""
    own: dict[str, int] = defaultdict(int)
    for line in report.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        self_us, _cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        own[name.split(".")[0]] += int(self_us)
    for name, micros in sorted(own.items(), key=lambda item: -item[1])[:top]:
        print(f"      {name:<24} {micros / 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per handler (default 7)")
    parser.add_argument("--layer", type=Path, default=BUILT_LAYER, help="the built layer's python/ directory")
    parser.add_argument("--build", action="store_true", help="run `sam build OrdersyncLayer` first")
    parser.add_argument("--sam", default=shutil.which("sam") or "sam", help="the SAM CLI (for --build)")
    parser.add_argument(
        "--runtime-site",
        type=Path,
        help="a directory holding boto3 and Powertools (default: copied from this interpreter's site-packages)",
    )
    parser.add_argument("--functions", type=Path, default=ROOT / "functions", help="where <handler>/app.py are")
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall", help="wall time, or CPU time (steadier on a busy machine)"
    )
    parser.add_argument("--lambda-env", action="store_true", help="set LAMBDA_TASK_ROOT, as Lambda does")
    parser.add_argument("--importtime", type=int, default=0, metavar="TOP", help="print each one's TOP imports")
    parser.add_argument("handlers", nargs="*", default=list(HANDLERS))
    args = parser.parse_args()

    if args.build:
        build_layer(args.sam)
    if not (args.layer / "ordersync").is_dir():
        parser.error(f"no built layer in {args.layer}: run with --build or `sam build` first")
    pycs = sum(1 for _ in (args.layer / "ordersync").rglob("*.pyc"))
    print(f"layer: {args.layer} ({pycs} .pyc in ordersync/); {args.runs} runs each; floor: {FLOOR}")

    with tempfile.TemporaryDirectory(prefix="ordersync-cold-start-") as scratch:
        opt = Path(scratch) / "opt" / "python"
        shutil.copytree(args.layer, opt)
        runtime_site = args.runtime_site or copy_runtime_site(Path(scratch) / "runtime")
        environment = dict(ENVIRONMENT)
        task_root = Path(scratch) / "task"
        if args.lambda_env:
            environment["LAMBDA_TASK_ROOT"] = str(task_root)
            environment["AWS_LAMBDA_FUNCTION_NAME"] = "ordersync-bench"

        cases: dict[str, tuple[str, list[Path]]] = {"floor": (FLOOR, [opt, runtime_site])}
        for name in args.handlers:
            function_dir = task_root / name
            function_dir.mkdir(parents=True)
            shutil.copy2(args.functions / name / "app.py", function_dir / "app.py")
            paths = [function_dir, opt, runtime_site]
            cases[name] = ("import app", paths)
            cases[f"{name} +floor"] = (f"import app; {FLOOR}", paths)
        if args.importtime:
            for label, (statement, paths) in cases.items():
                if not label.endswith("+floor"):
                    print(f"  {label}: top imports (self time, one run)")
                    measure(statement, paths, environment, importtime=True)
        samples: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.runs):  # one of each per round, so that a busy moment hits all of them alike
            for label, (statement, paths) in cases.items():
                samples[label].append(measure(statement, paths, environment, clock=args.clock))

    floor = statistics.median(samples["floor"])
    print(f"{args.clock} ms{'':<12} {'median':>8} {'min':>8} {'max':>8} {'vs floor':>9} {'x floor':>8}")
    for label, runs in samples.items():
        median = statistics.median(runs)
        print(
            f"{label:<21} {median:8.1f} {min(runs):8.1f} {max(runs):8.1f} {median - floor:+9.1f} {median / floor:8.2f}"
        )


if __name__ == "__main__":
    main()
