"""Platform credentials from Secrets Manager, cached by Powertools parameters across invocations."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters

SECRET_CACHE_SECONDS = 300


class SecretFormatError(ValueError):
    """The secret exists but does not hold JSON ``{"token": "..."}``."""


def platform_token(secret_name: str) -> str:
    """Return the ``token`` of a platform's secret (JSON ``{"token": "..."}``)."""
    value: Any = parameters.get_secret(secret_name, transform="json", max_age=SECRET_CACHE_SECONDS)
    if not isinstance(value, dict) or not isinstance(value.get("token"), str) or not value["token"]:
        raise SecretFormatError(f'secret {secret_name!r} must hold JSON {{"token": "..."}}')
    token: str = value["token"]
    return token


WEBHOOK_SECRET_CACHE_SECONDS = 60
"""Shorter than the platform tokens' cache: a rotated webhook secret is accepted within a minute."""


def webhook_secrets(secret_name: str) -> tuple[str, ...]:
    """The secrets a webhook URL may carry: JSON ``{"current": "...", "previous": "..."}``, ``previous`` optional
    (set it to the old value while the platform still calls the old URL, then remove it)."""
    value: Any = parameters.get_secret(secret_name, transform="json", max_age=WEBHOOK_SECRET_CACHE_SECONDS)
    if not isinstance(value, dict) or not isinstance(value.get("current"), str) or not value["current"]:
        raise SecretFormatError(f'secret {secret_name!r} must hold JSON {{"current": "...", "previous": "..."}}')
    found = [value["current"], value.get("previous")]
    return tuple(item for item in found if isinstance(item, str) and item)


def subscriber_signing_secret(secret_name: str) -> str:
    """The Standard Webhooks signing secret of the partner subscription: JSON ``{"secret": "whsec_..."}``."""
    value: Any = parameters.get_secret(secret_name, transform="json", max_age=SECRET_CACHE_SECONDS)
    if not isinstance(value, dict) or not isinstance(value.get("secret"), str) or not value["secret"]:
        raise SecretFormatError(f'secret {secret_name!r} must hold JSON {{"secret": "whsec_..."}}')
    secret: str = value["secret"]
    return secret
