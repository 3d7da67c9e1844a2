"""API-client tokens and scopes (``clients_auth``) and the REQUEST authorizer (``api.authorizer``)."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)
from builders import NOW, load_event
from fakes import FakeClientLookup
from pydantic import ValidationError

from ordersync.api.authorizer import UnauthorizedError, authorize
from ordersync.clients_auth import (
    Access,
    Principal,
    ScopeError,
    bearer_token,
    hash_token,
    new_client,
    normalise_scopes,
    parse_scope,
)
from ordersync.models import Platform


# -- tokens and scopes --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scope", ["*", "ticketscloud:read", "ecards:act", " Bizon365:READ "])
def test_valid_scopes_are_accepted_and_normalised(scope: str) -> None:
    assert parse_scope(scope) == scope.strip().lower()


@pytest.mark.parametrize("scope", ["ticketscloud", "ticketscloud:write", "shopify:read", ":act", ""])
def test_invalid_scopes_are_refused_naming_the_scope(scope: str) -> None:
    with pytest.raises(ScopeError, match="invalid scope"):
        parse_scope(scope)


def test_a_clients_scopes_are_deduplicated_and_sorted() -> None:
    assert normalise_scopes(["ecards:act", "ECARDS:ACT", "bizon365:read"]) == ("bizon365:read", "ecards:act")


def test_a_client_without_scopes_is_refused() -> None:
    with pytest.raises(ScopeError, match="at least one scope"):
        new_client("crm", [], now=NOW)


def test_a_client_name_must_be_a_plain_identifier() -> None:
    with pytest.raises(ValidationError):
        new_client("crm with spaces", ["*"], now=NOW)


def test_a_new_client_keeps_only_the_hash_of_its_token() -> None:
    client, token = new_client("crm", ["ecards:act"], now=NOW)

    assert token.startswith("osk_")
    assert token not in client.model_dump_json()
    assert client.token_hash == hash_token(token)


def test_every_new_token_is_different() -> None:
    tokens = {new_client("crm", ["*"], now=NOW)[1] for _ in range(20)}

    assert len(tokens) == 20


def test_a_client_verifies_its_own_token_only() -> None:
    client, token = new_client("crm", ["*"], now=NOW)

    assert client.verifies(token)
    assert not client.verifies(token + "x")


def test_a_revoked_client_no_longer_verifies_its_token() -> None:
    client, token = new_client("crm", ["*"], now=NOW)

    assert not client.model_copy(update={"revoked_at": NOW}).verifies(token)


def test_act_does_not_imply_read() -> None:
    actor = Principal(client_id="a", scopes=frozenset({"ticketscloud:act"}))

    assert actor.allows(Platform.TICKETSCLOUD, Access.ACT)
    assert not actor.allows(Platform.TICKETSCLOUD, Access.READ)
    assert not actor.allows(Platform.ECARDS, Access.ACT)


def test_star_allows_everything() -> None:
    admin = Principal(client_id="b", scopes=frozenset({"*"}))

    assert all(admin.allows(platform, access) for platform in Platform for access in Access)


def test_a_principal_round_trips_through_the_flat_authorizer_context() -> None:
    principal = Principal(client_id="crm", scopes=frozenset({"ecards:act", "ticketscloud:read"}))

    context = principal.to_context()

    assert all(isinstance(value, str) for value in context.values())
    assert Principal.from_context(context) == principal


@pytest.mark.parametrize("context", [None, {}, {"client_id": ""}, {"scopes": "*"}])
def test_a_context_without_a_client_is_no_principal(context: dict[str, object] | None) -> None:
    assert Principal.from_context(context) is None


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), (None, None), ("", None)],
)
def test_the_bearer_token_is_read_from_the_authorization_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


# -- the authorizer -----------------------------------------------------------------------------------------------
def authorizer_event(token: str | None) -> APIGatewayAuthorizerRequestEvent:
    event = load_event("authorizer-request.json")
    if token is None:
        del event["headers"]["Authorization"]
    else:
        event["headers"]["Authorization"] = f"Bearer {token}"
    return APIGatewayAuthorizerRequestEvent(event)


def test_the_authorizer_allows_every_route_and_passes_on_the_client_and_its_scopes() -> None:
    clients = FakeClientLookup()
    token = clients.create("partner-crm", ["ticketscloud:act", "ecards:act"])

    policy = authorize(authorizer_event(token), clients)

    assert policy["principalId"] == "partner-crm"
    assert policy["context"] == {"client_id": "partner-crm", "scopes": "ecards:act ticketscloud:act"}
    [statement] = policy["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:abcdef123/Prod/*/*"]


@pytest.mark.parametrize("token", [None, "osk_unknown"])
def test_the_authorizer_refuses_a_missing_or_unknown_token_with_unauthorized(token: str | None) -> None:
    clients = FakeClientLookup()
    clients.create("partner-crm", ["*"])

    with pytest.raises(UnauthorizedError, match=r"^Unauthorized$"):
        authorize(authorizer_event(token), clients)


def test_the_authorizer_refuses_a_revoked_clients_token() -> None:
    clients = FakeClientLookup()
    token = clients.create("partner-crm", ["*"])
    clients.revoke("partner-crm")

    with pytest.raises(UnauthorizedError):
        authorize(authorizer_event(token), clients)


def test_the_authorizer_passes_the_clients_usage_key_for_throttling() -> None:
    clients = FakeClientLookup()
    token = clients.create("partner-crm", ["*"])
    clients.clients["partner-crm"] = clients.clients["partner-crm"].model_copy(
        update={"usage_key": "key-value", "usage_key_id": "key-id"}
    )

    policy = authorize(authorizer_event(token), clients)

    assert policy["usageIdentifierKey"] == "key-value"
