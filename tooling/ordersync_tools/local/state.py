"""What a running ``ordersync local`` publishes in its state directory, so that other commands find it.

``resources.json`` is written once the runtime is up and removed when it stops. It names the embedded AWS
endpoint and region, the REST API URL, every created resource (logical id -> type and physical id) and the
table and queue names the functions read from their environment. ``ordersync clients`` and
``ordersync actions`` look for it in the current directory and its parents, so they work anywhere in the
checkout without flags. Light on purpose: imported by the CLI, it needs neither moto nor boto3.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_DIR_NAME = ".ordersync-local"
RESOURCES_FILE = "resources.json"


@dataclass(frozen=True)
class LocalState:
    """A running local runtime, as its ``resources.json`` describes it."""

    path: Path
    endpoint: str
    region: str
    pid: int
    api_url: str | None = None
    resources: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> {"type", "physical"}
    environment: dict[str, str] = field(default_factory=dict)  # e.g. CLIENTS_TABLE -> its table name

    def physical(self, logical_id: str) -> str | None:
        resource = self.resources.get(logical_id)
        return resource.get("physical") if resource else None


def write_state(state_dir: Path, data: dict[str, Any]) -> Path:
    """Publish ``data`` (plus this process's id) atomically as ``state_dir/resources.json``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / RESOURCES_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps({**data, "pid": os.getpid()}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def remove_state(state_dir: Path) -> None:
    """Withdraw what ``write_state`` published, if it was this process that published it."""
    path = state_dir / RESOURCES_FILE
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()


def read_state(path: Path) -> LocalState | None:
    """The state in ``path``, or None when it is unreadable or its runtime is no longer running."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        state = LocalState(
            path=path,
            endpoint=str(data["endpoint"]),
            region=str(data["region"]),
            pid=int(data["pid"]),
            api_url=data.get("api_url"),
            resources=dict(data.get("resources") or {}),
            environment=dict(data.get("environment") or {}),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if _alive(state.pid) else None


def find_state(start: Path | None = None) -> LocalState | None:
    """The running local runtime whose state directory is in ``start`` (default: here) or one of its parents."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / STATE_DIR_NAME / RESOURCES_FILE
        if candidate.is_file():
            return read_state(candidate)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
