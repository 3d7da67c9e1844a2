"""A platform's error body is kept as it came, and what it says is read whatever its shape."""

from __future__ import annotations

from typing import Any

import pytest

from ordersync.actions.apply import error_of
from ordersync.errors import PermanentError, platform_reasons
from ordersync.models import Platform


@pytest.mark.parametrize(
    ("body", "reasons"),
    [
        ({"errors": ["Event 1 not found", "Set 2 not found"]}, ("Event 1 not found", "Set 2 not found")),
        ({"errors": [{"code": "order_done", "msg": "Order is done"}]}, ("order_done: Order is done",)),
        ({"reason": "forbidden"}, ("forbidden",)),
        ({"message": "project not found"}, ("project not found",)),
        ({"error": "unauthorized", "message": "wrong token"}, ("wrong token", "unauthorized")),
        ({"errors": "one text"}, ("one text",)),
        ("<html>Bad gateway</html>", ("<html>Bad gateway</html>",)),
        (["a", {"msg": "b"}], ("a", "b")),
        ({"something": {"else": 1}}, ()),
        (None, ()),
    ],
)
def test_any_error_body_gives_what_it_says(body: Any, reasons: tuple[str, ...]) -> None:
    assert platform_reasons(body) == reasons


def test_a_long_reason_is_cut() -> None:
    (reason,) = platform_reasons({"errors": ["x" * 1000]})

    assert len(reason) == 300


def test_the_action_error_keeps_the_platforms_body_as_it_came() -> None:
    body = {"errors": ["Event 5bacf64ea0eb2f000c45160b not found"], "extra": [1, {"nested": True}]}
    error = PermanentError(Platform.TICKETSCLOUD, "PATCH /x: HTTP 400: Event not found", status_code=400, body=body)

    shown = error_of(error)

    assert (shown.code, shown.status_code, shown.detail) == ("http_400", 400, body)
    assert "Event not found" in shown.message
