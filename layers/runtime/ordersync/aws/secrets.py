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
