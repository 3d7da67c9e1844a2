"""``Idempotency-Key`` on ``POST`` (draft-ietf-httpapi-idempotency-key-header), on Powertools idempotency.

The key is scoped to the calling client. The stored fingerprint is the method, the path and the parsed JSON
body, so the same key with another body is refused (``422``) and a repeat while the first request is still
being accepted is refused (``409``). A failed acceptance (``503``) stores nothing: the client may retry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60
REPLAYED = "replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as a structured-field string holds


class InvalidIdempotencyKeyError(ValueError):
    pass


def parse_idempotency_key(header: str | None) -> str | None:
    """The key of an ``Idempotency-Key`` header: a structured-field string (``"..."``) or, leniently, bare."""
    if header is None:
        return None
    value = header.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not _KEY.match(value) or '"' in value or "\\" in value:
        raise InvalidIdempotencyKeyError("Idempotency-Key must be a quoted string of 1 to 255 visible ASCII characters")
    return value


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools calls this only when it answers from the store: tell the caller it is a replay."""
    del idempotent_data
    if isinstance(response, dict):
        return response | {REPLAYED: True}
    return response  # pragma: no cover - accept() always returns a dict


class IdempotentAcceptance:
    """Runs an acceptance once per (client, key) within 24 hours and replays its answer after that."""

    def __init__(self, table_name: str, *, persistence: BasePersistenceLayer | None = None) -> None:
        self.config = IdempotencyConfig(
            event_key_jmespath="key",
            payload_validation_jmespath="request",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
            response_hook=_mark_replayed,
        )
        self.persistence = persistence or DynamoDBPersistenceLayer(table_name=table_name)
        self._run = idempotent_function(
            data_keyword_argument="request", persistence_store=self.persistence, config=self.config
        )(_accept_once)

    def run(
        self,
        *,
        client_id: str,
        key: str,
        fingerprint: dict[str, Any],
        accept: Callable[[], dict[str, Any]],
        context: LambdaContext | None = None,
    ) -> dict[str, Any]:
        """Return ``accept()``'s answer, or the stored answer of the first request with this key."""
        if context is not None:
            self.config.register_lambda_context(context)
        result: dict[str, Any] = self._run(request={"key": f"{client_id}:{key}", "request": fingerprint}, accept=accept)
        return result


def _accept_once(request: dict[str, Any], accept: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The function Powertools makes idempotent; ``request`` is what it hashes."""
    del request
    return accept()
