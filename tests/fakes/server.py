"""Serve any fake helpdesk handler (``httpx.Request -> httpx.Response``) over real HTTP on localhost.

The fakes are written as ``httpx.MockTransport`` handlers; this adapter puts the same handler
behind a real socket so ``ax sync`` can be driven end to end through the CLI. A handler that
raises a transport error (a simulated timeout) makes the server drop the connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_HOP_HEADERS = ("content-length", "transfer-encoding", "connection", "content-encoding")
Handler = Callable[[httpx.Request], httpx.Response]


def _request_handler(handler: Handler, base_url: list[str]) -> type[BaseHTTPRequestHandler]:
    class _Adapter(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two sends: without TCP_NODELAY each small response would wait
        # ~40 ms for the client's delayed ACK, an artefact of this harness no real API shows
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = httpx.Request(
                self.command, base_url[0] + self.path, headers=list(self.headers.items()), content=body
            )
            try:
                response = handler(request)
            except httpx.TransportError:
                self.close_connection = True  # the client sees a dropped connection
                return
            payload = response.read()
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in (
                    "content-length",
                    "transfer-encoding",
                    "connection",
                    "content-encoding",
                ):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    return _Adapter


@contextmanager
def serve(handler: Handler) -> Iterator[str]:
    """Run ``handler`` on an ephemeral localhost port; yields the base URL."""
    base_url: list[str] = [""]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _request_handler(handler, base_url))
    base_url[0] = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base_url[0]
    finally:
        server.shutdown()
        server.server_close()
