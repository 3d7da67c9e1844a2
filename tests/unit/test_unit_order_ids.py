"""Each platform declares the shape of its order ids (``PlatformProfile.order_id_pattern``): the ids of its
documentation's fixtures and of its simulator have it, URL syntax never does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ordersync_tools.simulators.bizon365 import Bizon365Simulator
from ordersync_tools.simulators.ecards import EcardsSimulator
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator

from ordersync import platforms
from ordersync.errors import ValidationFailedError
from ordersync.models import Platform
from ordersync.platforms.http import path_segment

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _documented_ids(platform: Platform) -> list[str]:
    if platform is Platform.TICKETSCLOUD:
        listed = _fixture("ticketscloud/orders_list_response.json")
        patched = _fixture("ticketscloud/patch_customer_response.json")
        return [item["id"] for item in listed["data"]] + [patched["data"]["id"]]
    if platform is Platform.ECARDS:
        listed = _fixture("ecards/list_orders_example.json")
        return [item["id"] for item in listed["data"]] + [_fixture("ecards/create_order_example.json")["orderId"]]
    return [str(_fixture("bizon365/order.json")["_id"]), str(_fixture("bizon365/order_partially_paid.json")["_id"])]


def _simulated_ids(platform: Platform) -> list[str]:
    if platform is Platform.TICKETSCLOUD:
        return TicketscloudSimulator(orders=20, seed=3).order_ids()
    if platform is Platform.ECARDS:
        return [str(order.id) for order in EcardsSimulator(orders=20, seed=3).orders]
    return [str(order["_id"]) for order in Bizon365Simulator(orders=20, seed=3).orders]


@pytest.mark.parametrize("platform", list(Platform))
def test_the_documented_and_simulated_order_ids_of_each_platform_have_its_declared_shape(platform: Platform) -> None:
    profile = platforms.profile(platform)
    ids = _documented_ids(platform) + _simulated_ids(platform)

    assert len(ids) > 2
    assert [order_id for order_id in ids if not profile.is_order_id(order_id)] == []


@pytest.mark.parametrize("platform", list(Platform))
@pytest.mark.parametrize("suffix", ["/..", "#x", "?x=1", "%2F", "\x00", " ", "\n"])
def test_no_platform_takes_url_syntax_for_an_order_id(platform: Platform, suffix: str) -> None:
    profile = platforms.profile(platform)
    valid = _simulated_ids(platform)[0]

    assert profile.is_order_id(valid)
    assert not profile.is_order_id(valid + suffix)
    assert not profile.is_order_id("..")


@pytest.mark.parametrize(
    ("value", "escaped"),
    [("a/b", "a%2Fb"), ("a#x", "a%23x"), ("a?x=1", "a%3Fx%3D1"), ("a%2F", "a%252F"), ("a b", "a%20b")],
)
def test_a_path_segment_escapes_every_reserved_character(value: str, escaped: str) -> None:
    assert path_segment(Platform.TICKETSCLOUD, "order_id", value) == escaped


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_a_path_segment_that_would_climb_the_path_is_refused(value: str) -> None:
    with pytest.raises(ValidationFailedError, match="order_id"):
        path_segment(Platform.TICKETSCLOUD, "order_id", value)
