"""The HTTP server of the local API and of the simulators."""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any


class QuietHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that lets a client hang up: a reset or broken connection is the client's business,
    not a traceback on the terminal (over the live summary)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)
