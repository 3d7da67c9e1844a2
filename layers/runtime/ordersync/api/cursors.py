"""List cursors bound to the query that handed them out.

``GET /orders`` answers ``next_cursor``: the store's position wrapped with the query it belongs to (platform,
status, ``changed_since``; not ``limit``, which may change between pages). A cursor comes back only with the same
query, else ``InvalidCursorError`` (the API's ``422`` naming ``cursor``); the store then checks the position's
own shape against the query, so DynamoDB is never handed a start key it would refuse (which was a ``503``).

Why the query is embedded and checked rather than the cursor signed (HMAC): a position only says where to resume
among orders the caller may list anyway, so a forged one gains nothing the caller cannot read; what must not
happen is a cursor read under another query (another platform's index, another time range) or a key of a shape
the store refuses, and both are caught by checking, without a signing key to provision, share between
containers and rotate (a rotation would invalidate every cursor in flight).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping


class InvalidCursorError(ValueError):
    """A cursor the API did not hand out, or handed out for another query."""


def bind(query: Mapping[str, str | None], position: str) -> str:
    """``position`` (the store's cursor) as an opaque cursor that only ``query`` accepts back."""
    document = {"q": dict(query), "p": position}
    return base64.urlsafe_b64encode(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).decode()


def unbind(query: Mapping[str, str | None], cursor: str) -> str:
    """The store's position of ``cursor``, which ``query`` must have handed out."""
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise InvalidCursorError("not a cursor this API handed out") from None
    if not isinstance(document, dict) or set(document) != {"q", "p"} or not isinstance(document["p"], str):
        raise InvalidCursorError("not a cursor this API handed out")
    if document["q"] != dict(query):
        raise InvalidCursorError("handed out for another query (platform, status or changed_since differ)")
    return document["p"]
