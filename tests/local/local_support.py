"""Stand-ins shared by the local-runtime tests (a module with a unique name: conftest modules collide)."""

from __future__ import annotations

from typing import Any

from ordersync_tools.local.functions import Invocation


class RecordingFunction:
    """A stand-in for a function: records each event and answers from a script of outcomes."""

    def __init__(self, answer: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer = answer  # callable(event) -> Invocation, or None for success

    def __call__(self, event: dict[str, Any]) -> Invocation:
        self.events.append(event)
        if self.answer is None:
            return Invocation(True, None)
        outcome: Invocation = self.answer(event)
        return outcome

    def bodies(self) -> list[list[str]]:
        return [[record["body"] for record in event["Records"]] for event in self.events]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
