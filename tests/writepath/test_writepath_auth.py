"""Tokens, scopes and the authorizer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)
from writepath_support import load_event

from ordersync.api.authorizer import UnauthorizedError, authorize
from ordersync.clients_auth import (
    Access,
    ApiClient,
    Principal,
    ScopeError,
    bearer_token,
    hash_token,
    new_client,
    parse_scope,
)
from ordersync.models import Platform

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("scope", ["*", "ticketscloud:read", "ecards:act", " Bizon365:READ "])
def test_valid_scopes_are_accepted_and_normalised(scope: str) -> None:
    assert parse_scope(scope) == scope.strip().lower()


@pytest.mark.parametrize("scope", ["ticketscloud", "ticketscloud:write", "shopify:read", ":act", ""])
def test_invalid_scopes_are_refused_naming_the_scope(scope: str) -> None:
    with pytest.raises(ScopeError, match="invalid scope"):
        parse_scope(scope)


def test_a_new_client_stores_only_the_hash_of_its_token() -> None:
    client, token = new_client("crm", ["ecards:act"], now=NOW)
    assert token.startswith("osk_")
    assert token not in client.model_dump_json()
    assert client.token_hash == hash_token(token)
    assert client.verifies(token)
    assert not client.verifies(token + "x")


def test_a_revoked_client_no_longer_verifies_its_token() -> None:
    client, token = new_client("crm", ["*"], now=NOW)
    assert not client.model_copy(update={"revoked_at": NOW}).verifies(token)


def test_a_client_without_scopes_is_refused() -> None:
    with pytest.raises(ScopeError, match="at least one scope"):
        new_client("crm", [], now=NOW)


def test_act_does_not_imply_read_and_star_allows_everything() -> None:
    actor = Principal(client_id="a", scopes=frozenset({"ticketscloud:act"}))
    assert actor.allows(Platform.TICKETSCLOUD, Access.ACT)
    assert not actor.allows(Platform.TICKETSCLOUD, Access.READ)
    assert not actor.allows(Platform.ECARDS, Access.ACT)
    admin = Principal(client_id="b", scopes=frozenset({"*"}))
    assert all(admin.allows(platform, access) for platform in Platform for access in Access)


def test_principal_round_trips_through_the_authorizer_context() -> None:
    principal = Principal(client_id="crm", scopes=frozenset({"ecards:act", "ticketscloud:read"}))
    context = principal.to_context()
    assert all(isinstance(value, str) for value in context.values())
    assert Principal.from_context(context) == principal


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), (None, None), ("", None)],
)
def test_bearer_token_is_read_from_the_authorization_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


class _Clients:
    def __init__(self, client: ApiClient, token: str) -> None:
        self.client, self.token = client, token

    def find_by_token(self, token: str) -> ApiClient | None:
        return self.client if token == self.token else None


def test_authorizer_allows_every_route_and_passes_client_and_scopes() -> None:
    client, token = new_client("partner-crm", ["ticketscloud:act"], now=NOW)
    event = load_event("authorizer-request.json")
    event["headers"]["Authorization"] = f"Bearer {token}"
    policy = authorize(APIGatewayAuthorizerRequestEvent(event), _Clients(client, token))
    assert policy["principalId"] == "partner-crm"
    assert policy["context"] == {"client_id": "partner-crm", "scopes": "ticketscloud:act"}
    statement = policy["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:abcdef123/Prod/*/*"]


@pytest.mark.parametrize("event_name", ["authorizer-request.json", "authorizer-request-no-token.json"])
def test_authorizer_refuses_unknown_or_missing_tokens_with_unauthorized(event_name: str) -> None:
    client, token = new_client("partner-crm", ["*"], now=NOW)
    with pytest.raises(UnauthorizedError, match=r"^Unauthorized$"):
        authorize(APIGatewayAuthorizerRequestEvent(load_event(event_name)), _Clients(client, token))
