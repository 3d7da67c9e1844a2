"""The template's functions, run locally: one child process per function (see ``container``), invoked one
event at a time as a Lambda container is, with the function's timeout enforced by the parent."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ordersync_tools.local.container import INIT_MARK
from ordersync_tools.local.template import NO_VALUE, LocalTemplateError, Resolver, Template

# Environment a child keeps from the parent; everything else comes from the template, as in Lambda.
_KEPT_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT", "VIRTUAL_ENV")
INIT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class FunctionSpec:
    """What the runtime needs to run one ``AWS::Lambda::Function``, with its references resolved."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    timeout: float
    memory_mb: int
    environment: dict[str, str]
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class Invocation:
    """One invocation's outcome, as Lambda reports it: a result or an error, and how long it took."""

    ok: bool
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    duration: float = 0.0


def function_specs(
    template: Template,
    resolver: Resolver,
    aws_environment: Mapping[str, str],
    missing: dict[str, str] | None = None,
) -> dict[str, FunctionSpec]:
    """Every function of the template with its environment resolved against the local resources.

    A function whose code directory does not exist is left out and named in ``missing`` (logical id -> why).
    """
    specs: dict[str, FunctionSpec] = {}
    layer_dirs: dict[str, Path] = {}
    for logical_id in template.of_type("AWS::Lambda::LayerVersion"):
        layer_dirs[logical_id] = template.code_path(template.properties(logical_id).get("Content"))
    for logical_id in template.of_type("AWS::Lambda::Function"):
        props = template.properties(logical_id)
        if "Code" not in props or "Handler" not in props:
            raise LocalTemplateError(f"{logical_id} has no local Code/Handler (container images are not supported)")
        code_dir = template.code_path(props["Code"])
        if not (code_dir / (str(props["Handler"]).rpartition(".")[0].replace(".", "/") + ".py")).is_file():
            if missing is None:
                raise LocalTemplateError(f"{logical_id}: no handler {props['Handler']} in {code_dir}")
            missing[logical_id] = f"no handler {props['Handler']} in {code_dir.relative_to(template.root)}"
            continue
        variables = resolver.resolve((props.get("Environment") or {}).get("Variables") or {})
        environment = {key: _env_value(value) for key, value in variables.items() if value is not NO_VALUE}
        paths = [code_dir]
        for layer in props.get("Layers") or []:
            layer_id = layer.get("Ref") if isinstance(layer, dict) else None
            if layer_id in layer_dirs:
                paths.append(layer_dirs[layer_id])
        name = str(resolver.ref(logical_id))
        arn = str(resolver.get_att(logical_id, "Arn"))
        memory = int(props.get("MemorySize", 128))
        environment = {
            **environment,
            **aws_environment,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "_HANDLER": str(props["Handler"]),
            "ORDERSYNC_LOCAL_FUNCTION_ARN": arn,
        }
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=name,
            arn=arn,
            code_dir=code_dir,
            handler=str(props["Handler"]),
            timeout=float(props.get("Timeout", 3)),
            memory_mb=memory,
            environment=environment,
            paths=tuple(paths),
        )
    return specs


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class FunctionContainer:
    """A warm container of one function. ``invoke`` is serialised: one event at a time, like Lambda."""

    def __init__(self, spec: FunctionSpec, *, log: Callable[[str, str], None] | None = None) -> None:
        self.spec = spec
        self._log = log or (lambda _name, _line: None)
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self.init_error: str | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the child; ``wait_ready`` collects its init outcome (so that all functions init in parallel)."""
        extra = os.pathsep.join(str(path) for path in self.spec.paths)
        environment = {key: os.environ[key] for key in _KEPT_ENVIRONMENT if key in os.environ}
        environment.update(self.spec.environment)
        environment["PYTHONPATH"] = extra
        environment["PYTHONUNBUFFERED"] = "1"
        answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._answers = answers
        self._process = subprocess.Popen(
            [sys.executable, "-m", "ordersync_tools.local.container"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            cwd=self.spec.code_dir,
            env=environment,
            start_new_session=True,  # a Ctrl-C in the terminal stops the runtime, which then stops its functions
        )
        stdout, stderr = self._process.stdout, self._process.stderr
        if stdout is None or stderr is None:
            raise RuntimeError("the function process has no pipes")
        self._threads = [
            threading.Thread(target=self._read_answers, args=(stdout, answers), daemon=True),
            threading.Thread(target=self._read_logs, args=(stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def wait_ready(self, timeout: float = INIT_TIMEOUT_SECONDS) -> bool:
        """True when the handler imported; otherwise ``init_error`` says why (Lambda's init error)."""
        try:
            answer = self._answers.get(timeout=timeout)
        except queue.Empty:
            answer = {INIT_MARK: False, "error": {"errorType": "InitTimeout", "errorMessage": f"{timeout:g}s"}}
        if answer is None:
            answer = {INIT_MARK: False, "error": {"errorType": "InitError", "errorMessage": "process exited"}}
        if answer.get(INIT_MARK):
            self.init_error = None
            return True
        error = answer.get("error") or {}
        self.init_error = f"{error.get('errorType')}: {error.get('errorMessage')}"
        self._kill()
        return False

    def close_input(self) -> None:
        """Tell the child to exit after its current invocation; ``stop`` then waits for it. Closing every
        container's input first lets them all shut down at once."""
        process = self._process
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()

    def terminate(self, grace: float) -> None:
        """Stop the child within ``grace`` seconds even while an invocation runs (a Ctrl-C must not wait out a
        240 s poll): the invocation in flight then ends as a process exit. Takes no lock, unlike ``stop``."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=max(0.0, grace))
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)

    def stop(self) -> None:
        with self._lock:
            self._kill()

    def _kill(self, *, graceful: bool = True) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=2 if graceful else 0.01)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        for thread in self._threads:
            thread.join(timeout=2)

    # -- invoking ------------------------------------------------------------------------------------
    def invoke(self, event: Any) -> Invocation:
        with self._lock:
            started = time.monotonic()
            if self._process is None or self._process.poll() is not None:
                self._kill()
                self.start()
                if not self.wait_ready():
                    return Invocation(False, None, "InitError", self.init_error, time.monotonic() - started)
            process = self._process
            if process is None or process.stdin is None:
                return Invocation(False, None, "Runtime.ExitError", "the function's process is gone")
            request = {
                "event": event,
                "request_id": str(uuid.uuid4()),
                "deadline_ms": int(time.time() * 1000 + self.spec.timeout * 1000),
            }
            try:
                process.stdin.write(json.dumps(request, default=str) + "\n")
                process.stdin.flush()
                answer = self._answers.get(timeout=self.spec.timeout + 1.0)
            except (OSError, ValueError, queue.Empty):  # ValueError: the input was closed by ``terminate``
                answer = None
            duration = time.monotonic() - started
            if answer is None:
                timed_out = duration >= self.spec.timeout
                self._log(self.spec.logical_id, f"container stopped ({'timed out' if timed_out else 'exited'})")
                self._kill(graceful=False)
                if timed_out:
                    return Invocation(False, None, "TaskTimedOut", f"timed out after {self.spec.timeout:g}s", duration)
                return Invocation(False, None, "Runtime.ExitError", "the function's process exited", duration)
            if answer.get("ok"):
                return Invocation(True, answer.get("result"), duration=duration)
            error = answer.get("error") or {}
            return Invocation(False, None, error.get("errorType"), error.get("errorMessage"), duration)

    # -- readers -------------------------------------------------------------------------------------
    def _read_answers(self, stream: IO[str], answers: queue.Queue[dict[str, Any] | None]) -> None:
        for line in stream:
            try:
                answers.put(json.loads(line))
            except ValueError:
                self._log(self.spec.logical_id, line.rstrip())
        answers.put(None)

    def _read_logs(self, stream: IO[str]) -> None:
        for line in stream:
            self._log(self.spec.logical_id, line.rstrip("\n"))
