"""Fixtures of the write-path tests (helpers live in ``writepath_support``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from writepath_support import (
    ApiGateway,
    ApiSetup,
    WritePathAws,
    create_orders_table,
    create_write_path_resources,
)

from ordersync.api.idempotency import IdempotentAcceptance
from ordersync.api.resolver import ApiServices, OrdersyncApi
from ordersync.aws.orders_repository import OrderRepository


@pytest.fixture
def wp_aws(aws: str) -> WritePathAws:
    """Fresh write-path tables and FIFO queues in moto."""
    del aws
    return create_write_path_resources()


@pytest.fixture
def api(wp_aws: WritePathAws) -> ApiSetup:
    """The API handler behind a played API Gateway, on moto, with four clients: ``actor`` (act on
    ticketscloud and ecards), ``reader`` (read ticketscloud), ``admin`` (``*``) and ``outsider`` (read bizon365)."""
    orders = OrderRepository(create_orders_table())
    services = ApiServices(
        acceptor=wp_aws.acceptor(),
        actions=wp_aws.actions(),
        orders=orders,
        idempotency=IdempotentAcceptance(wp_aws.idempotency_table),
    )
    clients = wp_aws.clients()
    now = datetime.now(UTC)
    scopes = {
        "actor": ["ticketscloud:act", "ecards:act"],
        "reader": ["ticketscloud:read"],
        "admin": ["*"],
        "outsider": ["bizon365:read"],
    }
    tokens = {name: clients.create(name, granted, now=now)[1] for name, granted in scopes.items()}
    return ApiSetup(wp_aws, ApiGateway(OrdersyncApi(services), clients), services, orders, tokens)
