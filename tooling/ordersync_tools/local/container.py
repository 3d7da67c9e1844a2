"""The inside of one local "Lambda container": a child process that imports one handler and answers invocations.

A process per function keeps what Lambda keeps apart apart: each function's environment variables (read once
per container, e.g. ``ordersync.config.settings()``), module-level clients and caches. The parent writes one
JSON line per invocation on stdin and reads one JSON line per answer on the original stdout; the handler's own
output (Powertools logs, metrics) goes to stderr, which the parent keeps in the function log.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import IO, Any

INIT_MARK = "__ordersync_local_init__"


@dataclass
class LambdaContext:
    """The attributes and method of Lambda's Python context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


def _error(error: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(error),
    }


def _write(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message, default=str) + "\n")
    channel.flush()


def main() -> int:
    # Keep the real stdout for the protocol; everything the handler prints goes to stderr.
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    handler_spec = os.environ["_HANDLER"]
    module_name, _, attribute = handler_spec.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except BaseException as error:
        _write(channel, {INIT_MARK: False, "error": _error(error)})
        return 1
    _write(channel, {INIT_MARK: True})
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    arn = os.environ.get("ORDERSYNC_LOCAL_FUNCTION_ARN", function_name)
    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(
            function_name=function_name,
            function_version="$LATEST",
            invoked_function_arn=arn,
            memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
            aws_request_id=request.get("request_id") or str(uuid.uuid4()),
            log_group_name=os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{function_name}"),
            log_stream_name="local",
            deadline_ms=int(request["deadline_ms"]),
        )
        try:
            result = handler(request["event"], context)
            answer: dict[str, Any] = {"ok": True, "result": result}
        except Exception as error:
            traceback.print_exception(error, file=sys.stderr)
            answer = {"ok": False, "error": _error(error)}
        sys.stderr.flush()
        try:
            _write(channel, answer)
        except (TypeError, ValueError) as error:
            _write(channel, {"ok": False, "error": _error(error)})
    # The runtime closed our input: leave at once, as a Lambda sandbox is torn down, without waiting for the
    # handler's pools and clients to finalise (seconds, times eight functions).
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
