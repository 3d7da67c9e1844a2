"""The platform options the template sets reach the clients: Bizon365's token header, the e-cards zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ordersync.platforms.bizon365 import profile as bizon365
from ordersync.platforms.bizon365.client import Bizon365Client
from ordersync.platforms.ecards import profile as ecards
from ordersync.platforms.ecards.client import EcardsClient


def test_bizon365_sends_its_token_in_x_token_unless_told_otherwise() -> None:
    config = bizon365.settings({"BIZON365_BASE_URL": "https://bizon.test", "BIZON365_PROJECT_ID": "7"})
    client = bizon365.build_client(config, "secret", timeout_seconds=5)

    assert isinstance(client, Bizon365Client)
    assert client.transport._client.headers["X-Token"] == "secret"


def test_bizon365_token_header_comes_from_its_setting() -> None:
    environ = {"BIZON365_BASE_URL": "https://bizon.test", "BIZON365_PROJECT_ID": "7", "BIZON365_TOKEN_HEADER": "X-Api"}
    client = bizon365.build_client(bizon365.settings(environ), "secret", timeout_seconds=5)

    assert isinstance(client, Bizon365Client)
    assert client.transport._client.headers["X-Api"] == "secret"
    assert "X-Token" not in client.transport._client.headers


def test_the_ecards_zone_comes_from_its_setting() -> None:
    environ = {"ECARDS_BASE_URL": "https://ecards.test", "ECARDS_TIMEZONE": "Asia/Yekaterinburg"}
    client = ecards.build_client(ecards.settings(environ), "secret", timeout_seconds=5)

    assert isinstance(client, EcardsClient)
    assert client.timezone == ZoneInfo("Asia/Yekaterinburg")
    assert ecards.settings({}).timezone == "Europe/Moscow"
