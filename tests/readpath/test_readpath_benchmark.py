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
    rows = bench.run_benchmark(platform, [150])

    phases = {(row.variant, row.phase): row for row in rows}
    orders = phases["ordersync", "full sync"].orders
    assert orders > 0
    assert phases["ordersync", "full sync"].written == orders
    assert phases["baseline", "full sync"].written == orders
    assert phases["baseline", "full sync"].orders == orders
    assert phases["ordersync", "no-change sync"].written == 0
    assert phases["ordersync", "no-change sync"].write_units == 0
    for phase in ("full sync", "no-change sync"):
        assert phases["ordersync", phase].requests == phases["ordersync", phase].minimum_requests
    bench.check_full_syncs(rows)  # the guard the script runs after printing its table


def test_the_benchmark_refuses_figures_from_a_full_sync_that_missed_orders(bench: ModuleType) -> None:
    short = bench.Phase("baseline", "full sync", 100, 1.0, 1, 1, 70, 70.0, 0.0, 100.0)

    with pytest.raises(RuntimeError, match="wrote 70 of 100"):
        bench.check_full_syncs([short])
