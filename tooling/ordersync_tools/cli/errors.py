"""Errors the ``ordersync`` command reports as one line, ``ordersync: <what went wrong and what to do>``, exit 2."""

from __future__ import annotations

import argparse
import re
from urllib.parse import urlsplit

USAGE_ERROR = 2


class CliError(Exception):
    """A failure the user can act on; its message says what went wrong and what to do."""


def aws_error_message(error: BaseException, *, endpoint: str | None = None) -> str | None:
    """One line for an AWS SDK error, or None when ``error`` is not one."""
    try:
        from botocore import exceptions
    except ModuleNotFoundError:  # pragma: no cover - boto3 is a dependency
        return None
    where = f" at {endpoint}" if endpoint else ""
    message: str | None = None
    if isinstance(error, exceptions.NoRegionError):
        message = "no AWS region: pass --region (or set AWS_REGION)"
    elif isinstance(error, exceptions.NoCredentialsError):
        message = "no AWS credentials: configure a profile (aws configure) or set AWS_PROFILE"
    elif isinstance(error, exceptions.EndpointConnectionError):
        url = error.kwargs.get("endpoint_url", endpoint or "")
        message = f"cannot reach AWS at {url}: is it running? check --endpoint-url and AWS_ENDPOINT_URL"
    elif isinstance(error, exceptions.ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "Error")
        message = f"AWS refused {error.operation_name}{where}: {code}: {details.get('Message', '')}"
    elif isinstance(error, exceptions.BotoCoreError):
        message = f"AWS SDK error{where}: {error}"
    return message


def http_url(text: str) -> str:
    """An argparse type: an absolute http(s) URL with a host."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL (e.g. http://127.0.0.1:18000)")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from error
    return text


def non_negative_int(text: str) -> int:
    """An argparse type: a count of at least 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 meaning any free port."""
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535; 0 picks a free one)")
    return value


CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def client_name(text: str) -> str:
    """An argparse type: the name rule of ``ordersync.clients_auth.ApiClient``."""
    if not CLIENT_NAME.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a client name: up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return text
