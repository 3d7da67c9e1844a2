"""The sync benchmark compares like with like: both variants read every order of the simulated platform, so the
ratios it prints (and the README quotes) measure ordersync against a baseline doing the same work."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ordersync.models import Platform

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sync.py"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``bench_sync`` imported from its file. Its embedded AWS rewrites the process environment: monkeypatch
    records the values first, so that the moto server of the other tests is pointed at again afterwards."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, os.environ.get(name, "testing"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    spec = importlib.util.spec_from_file_location("readpath_bench_sync", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("platform", list(Platform))
def test_both_variants_of_the_benchmark_store_every_order_and_ordersync_makes_the_minimum_requests(
    bench: ModuleType, platform: Platform
) -> None:
    quick = ["--repeat", "1", "--baseline-repeat", "1", "--platform-latency", "0", "--dynamodb-latency", "0"]
    args = bench.parse_args(["150", "--platform", platform.value, *quick])

    rows = bench.run_benchmark(args)

    phases = {(row.variant, row.phase): row for row in rows}
    orders = phases["ordersync", "full"].orders
    assert orders > 0
    assert [run.written for run in phases["ordersync", "full"].runs] == [orders]
    assert [run.written for run in phases["baseline", "full"].runs] == [orders]
    assert [run.written for run in phases["ordersync", "no-change"].runs] == [0]
    assert [run.write_units for run in phases["ordersync", "no-change"].runs] == [0]
    for phase in ("full", "no-change"):
        row = phases["ordersync", phase]
        assert [run.requests for run in row.runs] == [row.minimum_requests]
    bench.check_full_syncs(rows)  # the guard the script runs after printing its table


def test_the_benchmark_writes_only_the_changed_orders_of_the_changed_phase(bench: ModuleType) -> None:
    args = bench.parse_args(
        ["300", "--repeat", "1", "--baseline-repeat", "0", "--platform-latency", "0", "--dynamodb-latency", "0"]
    )

    rows = bench.run_benchmark(args)

    changed = next(row for row in rows if (row.variant, row.phase) == ("ordersync", "1% changed"))
    assert [run.written for run in changed.runs] == [changed.must_write]
    assert changed.must_write == 3


def test_the_benchmark_refuses_figures_from_a_full_sync_that_missed_orders(bench: ModuleType) -> None:
    short = bench.Row("baseline", "full", 100, 1, 100, [bench.Run(1.0, 1.0, 1, {}, 70, 70.0, 0.0, 100.0, 50.0)])

    with pytest.raises(RuntimeError, match="wrote 70 of 100"):
        bench.check_full_syncs([short])
