"""The routes of the ordersync API and the checks every request passes before them.

The resolver validates bodies with the platform clients' own pydantic models, so a documented platform limit
is refused here with ``422`` instead of reaching the platform. Accepting an action records it and queues it
(``ordersync.actions.accept``); the answer is ``202`` with the action's status URL.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, cast
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from ordersync import platforms
from ordersync.actions.accept import AcceptFailedError, ActionAcceptor
from ordersync.actions.models import AcceptedAction, ActionKind, ActionView
from ordersync.actions.ports import ActionStore
from ordersync.api import cursors
from ordersync.api.bodies import TicketscloudExportBody
from ordersync.api.errors import ApiError, error_response, validation_detail
from ordersync.api.idempotency import (
    REPLAYED,
    IdempotentAcceptance,
    InvalidIdempotencyKeyError,
    parse_idempotency_key,
)
from ordersync.api.openapi import BODIES, FAILURES, GATEWAY, IdempotencyKey, RouteDoc, Success, document_json
from ordersync.clients_auth import Access, Principal
from ordersync.models import OrderStatus, Platform
from ordersync.platforms.ecards import EcardsCreateOrderRequest
from ordersync.platforms.ticketscloud import TicketscloudOrderActions
from ordersync.platforms.ticketscloud.models import (
    TicketscloudCreateOrder,
    TicketscloudRefundCreate,
    TicketscloudRefundDecision,
    TicketscloudReservationChange,
    TicketscloudStatusChange,
)
from ordersync.sync.ports import OrderReader
from ordersync.sync.records import StoredOrder

logger = Logger(child=True)

MAX_BODY_BYTES = 64 * 1024
MAX_PAGE_SIZE = 100
ORDER_ACTION_PLATFORMS = frozenset({Platform.TICKETSCLOUD})
MAX_ORDER_ID_LENGTH = 100
"""An order id becomes the SQS ``MessageGroupId`` ``{platform}#{order_id}``: at most 128 visible ASCII characters."""
VISIBLE_ASCII = r"^[\x21-\x7e]+$"

TicketscloudOrderId = Annotated[
    str,
    Path(
        max_length=MAX_ORDER_ID_LENGTH,
        pattern=VISIBLE_ASCII,
        description="A Ticketscloud order id: 24 lowercase hexadecimal characters",
        # the route checks the decoded value against the platform's shape (422 naming order_id)
        json_schema_extra={"pattern": f"^{platforms.profile(Platform.TICKETSCLOUD).order_id_pattern}$"},
        openapi_examples={"order": {"value": "5bacf64ea0eb2f000c45160a"}},
    ),
]
StoredOrderId = Annotated[
    str,
    Path(
        max_length=512,  # a DynamoDB key part
        description="The platform's order id",
        openapi_examples={"order": {"value": "5bacf64ea0eb2f000c45160a"}},
    ),
]
ActionId = Annotated[
    str,
    Path(
        max_length=64,
        description="The action id the 202 answered",
        openapi_examples={"action": {"value": "0b6f1c1e-2a8c-4a43-9a55-2b1f0c7d9e11"}},
    ),
]
PlatformPath = Annotated[Platform, Path(description="Platform id (an unknown one is 404)")]


@dataclass
class ApiServices:
    """What the routes need; the Lambda builds it from the environment, tests from moto and fakes."""

    acceptor: ActionAcceptor
    actions: ActionStore
    orders: OrderReader | None = None
    idempotency: IdempotentAcceptance | None = None
    configured: frozenset[Platform] | None = None
    """The platforms this deployment talks to (a base URL each); ``None``: all of them. The routes of a platform
    left out stay (SAM cannot make one event of a function conditional): its actions answer ``404``."""


class OrderList(BaseModel):
    """One page of stored orders; pass ``next_cursor`` back as ``cursor`` for the next page."""

    orders: list[StoredOrder]
    next_cursor: str | None = Field(default=None, description="Opaque; absent on the last page")


def create_app(services: ApiServices) -> APIGatewayRestResolver:
    """Build the resolver with every route bound to ``services``."""
    app = APIGatewayRestResolver(enable_validation=True)
    routes = _Requests(app, services)
    _register_action_routes(app, routes)
    _register_lifecycle_routes(app, routes)
    _register_read_routes(app, routes)
    _register_error_handlers(app)
    return app


class _Requests:
    """What the routes share: who is calling, scope checks and accepting an action (idempotently)."""

    def __init__(self, app: APIGatewayRestResolver, services: ApiServices) -> None:
        self.app = app
        self.services = services

    def principal(self) -> Principal:
        authorizer = self.app.current_event.request_context.authorizer
        found = Principal.from_context(authorizer.raw_event if authorizer else None)
        if found is None:
            raise ApiError(401, "unauthorized", "missing or invalid bearer token")
        return found

    def require(self, platform: Platform, access: Access) -> Principal:
        caller = self.principal()
        if not caller.allows(platform, access):
            raise ApiError(
                403, "forbidden", f"client {caller.client_id!r} lacks the scope {platform.value}:{access.value}"
            )
        return caller

    def orders(self) -> OrderReader:
        if self.services.orders is None:
            raise ApiError(503, "unavailable", "the order store is not configured")
        return self.services.orders

    def status_url(self, action_id: str) -> str:
        """The action's URL, with the stage prefix API Gateway adds in front of the resource path."""
        event = self.app.current_event
        full = str(event.request_context.path or event.path)
        prefix = full[: -len(event.path)] if event.path and full.endswith(event.path) else ""
        return f"{prefix}/actions/{action_id}"

    def accept(
        self, kind: ActionKind, order_id: str | None, payload: dict[str, Any], idempotency_key: str | None
    ) -> Response[str]:
        """Record and queue the action once per ``Idempotency-Key``; answer ``202`` with its status URL."""
        configured = self.services.configured
        if configured is not None and kind.platform not in configured:
            raise ApiError(
                404,
                "platform_not_configured",
                f"this deployment does not talk to {kind.platform.value} (its base URL parameter is empty)",
            )
        caller = self.require(kind.platform, Access.ACT)

        def do_accept() -> dict[str, Any]:
            try:
                action = self.services.acceptor.accept(
                    kind=kind, order_id=order_id, client_id=caller.client_id, payload=payload
                )
            except AcceptFailedError as error:
                raise ApiError(503, "unavailable", f"{error}; nothing was queued, send it again") from error
            url = self.status_url(action.action_id)
            body = AcceptedAction(action_id=action.action_id, state=action.state, status_url=url, order_id=order_id)
            return {"status": 202, "location": url, "body": body.model_dump(mode="json")}

        key = self.idempotency_key(idempotency_key)
        if key is None or self.services.idempotency is None:
            answer = do_accept()
        else:
            event = self.app.current_event
            fingerprint = {"method": event.http_method, "path": event.path, "body": event.json_body}
            answer = self.run_idempotent(self.services.idempotency, caller, key, fingerprint, do_accept)
        headers = {"Location": answer["location"]}
        if answer.get(REPLAYED):
            headers["Idempotent-Replayed"] = "true"
        return Response(
            status_code=answer["status"],
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps(answer["body"]),
            headers=headers,
        )

    def idempotency_key(self, header: str | None) -> str | None:
        try:
            return parse_idempotency_key(header)
        except InvalidIdempotencyKeyError as error:
            raise ApiError(400, "invalid_idempotency_key", str(error)) from error

    def run_idempotent(
        self,
        idempotency: IdempotentAcceptance,
        caller: Principal,
        key: str,
        fingerprint: dict[str, Any],
        do_accept: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        context = self.app.lambda_context
        try:
            return idempotency.run(
                client_id=caller.client_id,
                key=key,
                fingerprint=fingerprint,
                accept=do_accept,
                context=context,
            )
        except IdempotencyValidationError as error:
            raise ApiError(
                422, "idempotency_key_reused", f"Idempotency-Key {key!r} was already used with a different request"
            ) from error
        except IdempotencyAlreadyInProgressError as error:
            raise ApiError(
                409, "request_in_progress", f"a request with Idempotency-Key {key!r} is still being processed"
            ) from error
        except IdempotencyPersistenceLayerError as error:
            logger.exception("idempotency store failed")
            raise ApiError(503, "unavailable", "the idempotency store is unavailable; send it again") from error


ORDER = "5bacf64ea0eb2f000c45160a"
ACTION = "0b6f1c1e-2a8c-4a43-9a55-2b1f0c7d9e11"
ACCEPTED = Success(
    202,
    "Recorded and queued; follow `Location` (= `status_url`)",
    example={"action_id": ACTION, "state": "queued", "status_url": f"/Prod/actions/{ACTION}", "order_id": ORDER},
    model=AcceptedAction,
    headers={
        "Location": {"description": "The action's status URL", "schema": {"type": "string"}, "required": True},
        "Idempotent-Replayed": {
            "description": "`true` when this answer is the stored answer of an earlier request with the same key",
            "schema": {"type": "string", "enum": ["true"]},
        },
    },
    links={"getAction": {"operationId": "getAction", "parameters": {"action_id": "$response.body#/action_id"}}},
)
ACCEPTING = GATEWAY | FAILURES | BODIES | {409: "", 422: ""}
"""Every POST that accepts an action: its body, its key, its scope, its store."""

POST_TICKETSCLOUD_ACTION = RouteDoc(
    operation_id="postTicketscloudAction",
    summary="Apply actions to a Ticketscloud order",
    description="Customer, vendor data, send tickets and promocodes, in any combination; applied in acceptance order.",
    success=ACCEPTED,
    refusals=ACCEPTING
    | {
        422: "`order_id` is not a Ticketscloud id, a field breaks a platform limit, "
        "or the Idempotency-Key was used with another body"
    },
    request_example={
        "customer": {"name": "Ivan Petrov", "email": "ivan@example.com", "lang": "ru"},
        "send_tickets": True,
    },
)
POST_ECARDS_ORDER = RouteDoc(
    operation_id="postEcardsOrder",
    summary="Create an e-gift-card order",
    description="`orderId` is optional: a uuid is made when it is absent, and returned as `order_id`.",
    success=ACCEPTED,
    refusals=ACCEPTING,
    request_example={
        "participant": {"email": "anna@example.com", "name": "Anna", "phone": "79251153242"},
        "ecards": [{"id": 1, "quantity": 1, "faceValue": "1000 ₽"}],
    },
)
POST_TICKETSCLOUD_EXPORT = RouteDoc(
    operation_id="postTicketscloudExport",
    summary="Have Ticketscloud e-mail an export of orders",
    description="`email` is required; `created_at`, `status`, `events` and `only_with_customer` filter.",
    success=ACCEPTED,
    refusals=ACCEPTING,
    request_example={
        "email": "reports@example.com",
        "created_at": {"from": "2026-11-01T00:00:00Z", "to": "2026-11-30T23:59:59Z"},
        "status": ["done"],
    },
)
GET_ACTION = RouteDoc(
    operation_id="getAction",
    summary="An action's state, attempts and the platform's answer",
    description="Visible to the client that sent it and to clients with read scope on its platform.",
    success=Success(
        200,
        "The action",
        example={
            "action_id": ACTION,
            "kind": "ticketscloud_order_actions",
            "platform": "ticketscloud",
            "order_id": ORDER,
            "state": "succeeded",
            "attempts": 1,
            "accepted_at": "2026-11-20T10:00:00Z",
            "updated_at": "2026-11-20T10:00:02Z",
            "started_at": "2026-11-20T10:00:01Z",
            "finished_at": "2026-11-20T10:00:02Z",
            "result": {"send_tickets": True},
            "errors": [],
            "last_error": None,
        },
    ),
    refusals=GATEWAY
    | FAILURES
    | {404: "No such action, or not one this client may see", 422: "`action_id` is too long"},
)
STORED_ORDER_EXAMPLE = {
    "order": {
        "platform": "ticketscloud",
        "order_id": ORDER,
        "number": "1234",
        "status": "fulfilled",
        "raw_status": "done",
        "created_at": "2026-11-20T09:55:00Z",
        "total": {"amount": "1500.00", "currency": "RUB"},
        "customer": {"name": "Ivan Petrov", "email": "ivan@example.com"},
        "items": [
            {"sku": "5bacf64ea0eb2f000c451600", "quantity": 1, "unit_price": {"amount": "1500.00", "currency": "RUB"}}
        ],
        "raw": {},
    },
    "content_hash": "9f2c1e",
    "version": 2,
    "first_seen_at": "2026-11-20T09:56:00Z",
    "last_changed_at": "2026-11-20T10:01:00Z",
    "last_seen_at": "2026-11-20T10:06:00Z",
    "watch_until": "2026-12-20T10:01:00Z",
}
GET_ORDER = RouteDoc(
    operation_id="getOrder",
    summary="One stored order",
    success=Success(200, "The order as ordersync keeps it", example=STORED_ORDER_EXAMPLE),
    refusals=GATEWAY | FAILURES | {404: "No such order, or an unknown platform", 422: "`order_id` is too long"},
)
LIST_ORDERS = RouteDoc(
    operation_id="listOrders",
    summary="Stored orders of one platform, most recently changed first",
    description="Pass `next_cursor` back as `cursor`, with the same query, for the next page.",
    success=Success(
        200,
        "One page",
        example={"orders": [STORED_ORDER_EXAMPLE], "next_cursor": "eyJwIjoi..."},
        links={
            "getOrder": {
                "operationId": "getOrder",
                "parameters": {
                    "platform": "$response.body#/orders/0/order/platform",
                    "order_id": "$response.body#/orders/0/order/order_id",
                },
            }
        },
    ),
    refusals=GATEWAY | FAILURES | {422: "A parameter is invalid, or `cursor` was not handed out for this query"},
)


def _register_action_routes(app: APIGatewayRestResolver, requests: _Requests) -> None:
    @app.post("/orders/ticketscloud/<order_id>/actions", **POST_TICKETSCLOUD_ACTION.options())
    def post_ticketscloud_actions(
        order_id: TicketscloudOrderId,
        actions: Annotated[TicketscloudOrderActions, Body(openapi_examples=POST_TICKETSCLOUD_ACTION.request_examples)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[str]:
        checked_id = order_id_of(Platform.TICKETSCLOUD, order_id)
        payload = actions.model_dump(mode="json", exclude_none=True)
        return requests.accept(ActionKind.TICKETSCLOUD_ORDER_ACTIONS, checked_id, payload, idempotency_key)

    @app.post("/orders/<platform>/<order_id>/actions", include_in_schema=False)
    def post_other_platform_actions(platform: str, order_id: str) -> Response[str]:
        del order_id
        known = platform_of(platform)
        raise ApiError(404, "not_found", f"platform {known.value!r} has no order actions (only ticketscloud has)")

    @app.post("/ecards/orders", **POST_ECARDS_ORDER.options())
    def post_ecards_order(
        order: Annotated[EcardsCreateOrderRequest, Body(openapi_examples=POST_ECARDS_ORDER.request_examples)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[str]:
        fixed, order_id = order.with_order_id()
        return requests.accept(ActionKind.ECARDS_CREATE_ORDER, str(order_id), fixed.to_body(), idempotency_key)

    @app.post("/exports/ticketscloud", **POST_TICKETSCLOUD_EXPORT.options())
    def post_ticketscloud_export(
        export: Annotated[TicketscloudExportBody, Body(openapi_examples=POST_TICKETSCLOUD_EXPORT.request_examples)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[str]:
        payload = export.to_request().model_dump(mode="json", exclude_none=True)
        return requests.accept(ActionKind.TICKETSCLOUD_EXPORT, None, payload, idempotency_key)

    @app.get("/actions/<action_id>", **GET_ACTION.options())
    def get_action(action_id: ActionId) -> ActionView:
        caller = requests.principal()
        action = requests.services.actions.get(action_id)
        if action is None or not (action.client_id == caller.client_id or caller.allows(action.platform, Access.READ)):
            raise ApiError(404, "not_found", f"no action {action_id!r}")
        return ActionView.of(action)


# -- the reseller's Ticketscloud order lifecycle (issue 10, point 5) -------------------------------------------
# Each is an action in the order's FIFO group (a create in a group of its own: it has no order id yet), checked
# here against the platform's documented rules (422 naming the field), with the scope ``ticketscloud:act``.

TicketscloudRefundId = Annotated[
    str,
    Path(
        max_length=MAX_ORDER_ID_LENGTH,
        pattern=VISIBLE_ASCII,
        description="A Ticketscloud refund request id: 24 lowercase hexadecimal characters",
        json_schema_extra={"pattern": "^[0-9a-f]{24}$"},
        openapi_examples={"refund": {"value": "5e1f0c7d9e115bacf64ea0eb"}},
    ),
]
TERMINAL_RAW_STATUSES = frozenset({"done", "cancelled", "canceled", "expired"})
"""A stored order in one of these never changes again by a PATCH: a reservation or status change is refused."""
EVENT = "5b23b53b9c9b19000c6c4180"
SET = "5d6648306b23e8a5f90ef047"
TICKET = "5d664830b8a2cb5ce0576457"
ACCEPTED_CREATE = Success(
    202,
    "Recorded and queued; the new order's id appears on the action (`GET /actions/{action_id}`) once applied",
    example={"action_id": ACTION, "state": "queued", "status_url": f"/Prod/actions/{ACTION}", "order_id": None},
    model=AcceptedAction,
    headers=ACCEPTED.headers,
    links=ACCEPTED.links,
)
POST_TICKETSCLOUD_ORDER = RouteDoc(
    operation_id="postTicketscloudOrder",
    summary="Create a Ticketscloud order with tickets reserved",
    description=(
        "`event` and either `tickets` (seat ids) or `random` (`{set id: count}`), never both; `all_or_nothing` "
        "reserves all or none. The order is `executed` and expires by itself (`expired_after`, about 15 minutes) "
        "unless finished. ordersync sets `vendor_data.raw.ordersync_action` to the action id, so a create whose "
        "answer was lost is looked up among the event's recent orders and never sent twice blindly."
    ),
    success=ACCEPTED_CREATE,
    refusals=ACCEPTING | {422: "`tickets` and `random` both or neither, an id not of the platform's shape, ..."},
    request_example={"event": EVENT, "random": {SET: 2}, "all_or_nothing": True, "vendor_data": {"order_id": "crm-1"}},
)
POST_TICKETSCLOUD_RESERVATION = RouteDoc(
    operation_id="postTicketscloudReservation",
    summary="Change a Ticketscloud order's reservation or tariffs",
    description=(
        "`tickets` or `random` is the whole desired state (send every ticket that should stay); `tariffs` maps "
        "ticket ids to tariff ids. Refused with 422 when ordersync has the order `done`, `cancelled` or `expired`."
    ),
    success=ACCEPTED,
    refusals=ACCEPTING | {422: "`tickets` and `random` both, nothing to change, or the order can no longer change"},
    request_example={"tickets": [TICKET], "tariffs": {TICKET: "5d664830e4c685ae48bd2d3d"}},
)
POST_TICKETSCLOUD_STATUS = RouteDoc(
    operation_id="postTicketscloudStatus",
    summary="Finish (`done`) or cancel (`cancelled`) a Ticketscloud order",
    description="`done` issues the barcodes. The platform refuses any change of a `done` order (400): ordersync "
    "refuses it first (422) when it has the order `done`, `cancelled` or `expired`.",
    success=ACCEPTED,
    refusals=ACCEPTING | {422: "`status` is not `done` or `cancelled`, or the order can no longer change"},
    request_example={"status": "done"},
)
POST_TICKETSCLOUD_REFUND = RouteDoc(
    operation_id="postTicketscloudRefundRequest",
    summary="Request a refund of tickets of a done Ticketscloud order",
    description="`culprit` is `user` or `org`; `tickets` the ids to refund. A refusal by the platform (event "
    "started, fewer than 3 days before it, tickets not of this order, ...) fails the action and keeps the "
    "platform's messages in its `errors`.",
    success=ACCEPTED,
    refusals=ACCEPTING | {422: "`culprit` unknown, no tickets, a ticket id repeated or not of the platform's shape"},
    request_example={"culprit": "user", "tickets": [TICKET]},
)
POST_TICKETSCLOUD_REFUND_DECISION = RouteDoc(
    operation_id="postTicketscloudRefundDecision",
    summary="Approve or reject a Ticketscloud refund request",
    description="Queued in the order's group; a request already decided is refused by the platform (the action "
    "fails, with its messages).",
    success=ACCEPTED,
    refusals=ACCEPTING | {422: "`status` is not `approved` or `rejected`, or an id is not of the platform's shape"},
    request_example={"status": "approved"},
)


def _register_lifecycle_routes(app: APIGatewayRestResolver, requests: _Requests) -> None:
    ticketscloud = Platform.TICKETSCLOUD

    def changeable(order_id: str) -> str:
        """The checked id, refused (422) when the stored order can no longer change."""
        checked = order_id_of(ticketscloud, order_id)
        orders = requests.services.orders
        stored = orders.get(ticketscloud, checked) if orders is not None else None
        if stored is not None and stored.order.raw_status in TERMINAL_RAW_STATUSES:
            raise _invalid("order_id", f"order {checked} is {stored.order.raw_status}: it cannot change", "order_final")
        return checked

    @app.post("/orders/ticketscloud", **POST_TICKETSCLOUD_ORDER.options())
    def post_ticketscloud_order(
        order: Annotated[TicketscloudCreateOrder, Body(openapi_examples=POST_TICKETSCLOUD_ORDER.request_examples)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[str]:
        payload = order.model_dump(mode="json", exclude_none=True)
        return requests.accept(ActionKind.TICKETSCLOUD_CREATE_ORDER, None, payload, idempotency_key)

    @app.post("/orders/ticketscloud/<order_id>/reservation", **POST_TICKETSCLOUD_RESERVATION.options())
    def post_ticketscloud_reservation(
        order_id: TicketscloudOrderId,
        change: Annotated[
            TicketscloudReservationChange, Body(openapi_examples=POST_TICKETSCLOUD_RESERVATION.request_examples)
        ],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[str]:
        payload = change.model_dump(mode="json", exclude_none=True)
        return requests.accept(ActionKind.TICKETSCLOUD_RESERVATION, changeable(order_id), payload, idempotency_key)

    @app.post("/orders/ticketscloud/<order_id>/status", **POST_TICKETSCLOUD_STATUS.options())
    def post_ticketscloud_status(
        order_id: TicketscloudOrderId,
        change: Annotated[TicketscloudStatusChange, Body(openapi_examples=POST_TICKETSCLOUD_STATUS.request_examples)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[str]:
        payload = change.model_dump(mode="json")
        return requests.accept(ActionKind.TICKETSCLOUD_ORDER_STATUS, changeable(order_id), payload, idempotency_key)

    @app.post("/orders/ticketscloud/<order_id>/refund-requests", **POST_TICKETSCLOUD_REFUND.options())
    def post_ticketscloud_refund_request(
        order_id: TicketscloudOrderId,
        refund: Annotated[TicketscloudRefundCreate, Body(openapi_examples=POST_TICKETSCLOUD_REFUND.request_examples)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[str]:
        checked = order_id_of(ticketscloud, order_id)
        payload = refund.model_dump(mode="json", exclude_none=True)
        return requests.accept(ActionKind.TICKETSCLOUD_REFUND_REQUEST, checked, payload, idempotency_key)

    @app.post(
        "/orders/ticketscloud/<order_id>/refund-requests/<refund_id>", **POST_TICKETSCLOUD_REFUND_DECISION.options()
    )
    def post_ticketscloud_refund_decision(
        order_id: TicketscloudOrderId,
        refund_id: TicketscloudRefundId,
        decision: Annotated[
            TicketscloudRefundDecision, Body(openapi_examples=POST_TICKETSCLOUD_REFUND_DECISION.request_examples)
        ],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[str]:
        checked = order_id_of(ticketscloud, order_id)
        refund = decoded_path_parameter("refund_id", refund_id)
        if not platforms.profile(ticketscloud).is_order_id(refund):
            raise _invalid("refund_id", f"not a Ticketscloud refund request id (24 lowercase hex): {refund!r}", "id")
        payload = {"refund_id": refund, "status": decision.status}
        return requests.accept(ActionKind.TICKETSCLOUD_REFUND_DECISION, checked, payload, idempotency_key)


def _register_read_routes(app: APIGatewayRestResolver, requests: _Requests) -> None:
    @app.get("/orders/<platform>/<order_id>", **GET_ORDER.options())
    def get_order(platform: PlatformPath, order_id: StoredOrderId) -> StoredOrder:
        requests.require(platform, Access.READ)
        value = decoded_path_parameter("order_id", order_id)
        order = requests.orders().get(platform, value)
        if order is None:
            raise ApiError(404, "not_found", f"no {platform.value} order {value!r}")
        return order

    @app.get("/orders", **LIST_ORDERS.options())
    def list_orders(
        platform: Annotated[Platform, Query(description="Platform id")],
        status: Annotated[OrderStatus | None, Query()] = None,
        changed_since: Annotated[datetime | None, Query(description="ISO 8601 with a zone")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    ) -> OrderList:
        requests.require(platform, Access.READ)
        if changed_since is not None and changed_since.tzinfo is None:
            raise ApiError(422, "validation_failed", "changed_since: must carry a time zone (e.g. Z)")
        query = {
            "platform": platform.value,
            "status": status.value if status is not None else None,
            "changed_since": changed_since.astimezone(UTC).isoformat() if changed_since is not None else None,
        }
        try:
            position = cursors.unbind(query, cursor) if cursor is not None else None
            found, next_position = requests.orders().list(platform, status, changed_since, limit, position)
        except ValueError as error:
            raise _invalid("cursor", str(error), "cursor") from error
        next_cursor = cursors.bind(query, next_position) if next_position is not None else None
        return OrderList(orders=found, next_cursor=next_cursor)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> Response[str]:
        """Public, like the template's route: the description holds no data and tells callers how to authenticate."""
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document(app))


def _register_error_handlers(app: APIGatewayRestResolver) -> None:
    def on_api_error(error: ApiError) -> Response[str]:
        return error.response()

    def on_validation_error(error: RequestValidationError) -> Response[str]:
        errors = list(error.errors())
        unknown_platform = next((item for item in errors if tuple(item.get("loc", ())) == ("path", "platform")), None)
        if unknown_platform is not None:  # a path that names no platform is no resource: 404, as before routing
            known = ", ".join(item.value for item in Platform)
            return error_response(
                404, "not_found", f"unknown platform {unknown_platform.get('input')!r} (one of {known})"
            )
        detail = validation_detail(errors)
        invalid_json = [item for item in errors if isinstance(item, dict) and item.get("type") == "json_invalid"]
        if invalid_json:
            reason = invalid_json[0].get("ctx", {}).get("error", "JSON decode error")
            where = invalid_json[0].get("loc", ("body", 0))[-1]
            message = f"body: not valid JSON ({reason} at character {where})"
            return error_response(400, "invalid_json", message, detail=[{"field": "body", "message": message}])
        first = detail[0] if detail else {"field": "body", "message": "invalid"}
        return error_response(422, "validation_failed", f"{first['field']}: {first['message']}", detail=detail)

    def on_not_found(_: Exception) -> Response[str]:
        event = app.current_event
        return error_response(404, "not_found", f"no route {event.http_method} {event.path}")

    def on_store_unavailable(error: Exception) -> Response[str]:
        """DynamoDB or SQS failed (throttled, unreachable): the request may succeed again, so not a ``500``."""
        logger.exception("a table or queue call failed")
        return error_response(503, "unavailable", f"a backing store failed ({type(error).__name__}); try again")

    def on_unexpected(error: Exception) -> Response[str]:
        logger.exception("unexpected error")
        return error_response(500, "internal_error", f"internal error ({type(error).__name__})")

    app.exception_handler(ApiError)(on_api_error)
    app.exception_handler(RequestValidationError)(on_validation_error)
    app.not_found(on_not_found)
    app.exception_handler([BotoCoreError, ClientError])(on_store_unavailable)
    app.exception_handler(Exception)(on_unexpected)


def platform_of(value: str) -> Platform:
    try:
        return Platform(value)
    except ValueError:
        known = ", ".join(item.value for item in Platform)
        raise ApiError(404, "not_found", f"unknown platform {value!r} (one of {known})") from None


def decoded_path_parameter(field: str, raw: str) -> str:
    """A path parameter's value, percent-decoded once.

    The resolver reads path parameters out of the event's ``path``, which API Gateway (REST) leaves as the client
    sent it, still percent-encoded; its own ``pathParameters`` are decoded once. Decoding here once makes ``%2F``
    the ``/`` it stands for, so checks see the value and never URL syntax. Not UTF-8 once decoded: ``422``."""
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise _invalid(field, "percent-escapes that are not UTF-8", "path_encoding") from None


def order_id_of(platform: Platform, raw: str) -> str:
    """The order id of a path, decoded once and shaped like ``platform``'s ids (its profile's
    ``order_id_pattern``), or ``422`` naming ``order_id``: an id is a value, never URL syntax, and one order
    never gets two FIFO groups."""
    value = decoded_path_parameter("order_id", raw)
    profile = platforms.profile(platform)
    if not profile.is_order_id(value):
        raise _invalid("order_id", f"not a {platform.value} order id ({profile.order_id_shape})", "order_id_shape")
    return value


def _invalid(field: str, message: str, kind: str) -> ApiError:
    return ApiError(
        422,
        "validation_failed",
        f"{field}: {message}",
        detail=[{"field": field, "message": message, "type": kind}],
    )


def openapi_document(app: APIGatewayRestResolver) -> str:
    """The served ``/openapi.json``: ``ordersync.api.openapi.document`` of this resolver, made once per app."""
    cached = getattr(app, "_ordersync_openapi", None)
    if cached is None:
        cached = document_json(app)
        setattr(app, "_ordersync_openapi", cached)  # noqa: B010
    return str(cached)


def standalone_document() -> str:
    """What ``/openapi.json`` serves, made without AWS: for ``scripts/openapi.py`` and the checked-in copy."""
    unused = cast("Any", None)  # the routes read their services only when a request comes
    return openapi_document(create_app(ApiServices(acceptor=unused, actions=unused)))


class OrdersyncApi:
    """The API handler: body size and content type are checked before routing, then the resolver runs."""

    def __init__(self, services: ApiServices) -> None:
        self.services = services
        self.app = create_app(services)

    def __call__(self, event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
        refusal = self._precheck(event)
        if refusal is not None:
            return refusal
        return self.app.resolve(_with_canonical_content_type(event), context)  # type: ignore[arg-type]

    def _precheck(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """Size, content type and encoding of a body, before the resolver (whose refusals of these are ``500``)."""
        if str(event.get("httpMethod", "")).upper() not in {"POST", "PUT", "PATCH"}:
            return None
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(str(raw), validate=True)
            except binascii.Error:
                return _lambda_error(400, "invalid_json", "body: not valid base64 (isBase64Encoded)")
        else:
            body = str(raw).encode("utf-8", errors="surrogatepass")
        if len(body) > MAX_BODY_BYTES:
            return _lambda_error(413, "payload_too_large", f"the body is {len(body)} bytes; at most {MAX_BODY_BYTES}")
        headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
        content_type = headers.get("content-type", "")
        if not is_json_media_type(content_type):
            shown = content_type or "none"
            return _lambda_error(
                415, "unsupported_media_type", f"Content-Type must be application/json (UTF-8), not {shown}"
            )
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            return _lambda_error(400, "invalid_json", f"body: not UTF-8 (byte {error.start})")
        return None


def is_json_media_type(content_type: str) -> bool:
    """``application/json`` in any casing, with no parameter but ``charset=utf-8`` (JSON is UTF-8, RFC 8259)."""
    media_type, *parameters = content_type.split(";")
    if media_type.strip().lower() != "application/json":
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if not name.strip():
            continue
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() not in {"utf-8", "utf8"}:
            return False
    return True


def _with_canonical_content_type(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a JSON ``Content-Type`` written as the resolver compares it (case-sensitively, by prefix)."""
    headers = event.get("headers") or {}
    names = [name for name in headers if str(name).lower() == "content-type"]
    if not names or not is_json_media_type(str(headers[names[-1]])):
        return event
    fixed = dict(event)
    fixed["headers"] = {name: value for name, value in headers.items() if str(name).lower() != "content-type"} | {
        "Content-Type": content_types.APPLICATION_JSON
    }
    multi = event.get("multiValueHeaders")
    if multi:
        fixed["multiValueHeaders"] = {
            name: value for name, value in multi.items() if str(name).lower() != "content-type"
        } | {"Content-Type": [content_types.APPLICATION_JSON]}
    return fixed


def _lambda_error(status: int, error: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"statusCode": status, "error": error, "message": message}),
        "isBase64Encoded": False,
    }
