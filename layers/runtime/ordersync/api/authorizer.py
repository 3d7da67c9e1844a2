"""The Lambda REQUEST authorizer: bearer token -> client -> an Allow policy carrying the client's scopes.

The policy allows every route of the stage, because API Gateway caches it per token for all routes; the
API handler checks the scope of each route and answers ``403`` itself. An unknown, revoked or missing token
raises ``Unauthorized``, which API Gateway turns into ``401``.
"""

from __future__ import annotations

from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)

from ordersync.clients_auth import ApiClient, Principal, bearer_token

logger = Logger(child=True)


class ClientLookup(Protocol):
    def find_by_token(self, token: str) -> ApiClient | None: ...


class UnauthorizedError(Exception):
    """Raised with the exact message ``Unauthorized``: API Gateway's cue to answer ``401``."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def authorize(event: APIGatewayAuthorizerRequestEvent, clients: ClientLookup) -> dict[str, Any]:
    token = bearer_token(event.headers.get("Authorization"))
    client = clients.find_by_token(token) if token else None
    if client is None:
        logger.info("token refused", extra={"has_token": token is not None})
        raise UnauthorizedError
    principal = Principal(client_id=client.client_name, scopes=frozenset(client.scopes))
    policy = APIGatewayAuthorizerResponse.from_route_arn(
        event.method_arn,
        principal_id=client.client_name,
        context=principal.to_context(),
        usage_identifier_key=client.usage_key,
    )
    policy.allow_all_routes()
    return policy.asdict()
