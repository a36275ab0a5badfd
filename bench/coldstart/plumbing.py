"""HTTP plumbing of the harness's own servers (the counting proxies and the Runtime API
emulators): a threading server on loopback, a handler that answers without Nagle delays, the
request body reader, and a free port for the services."""

from __future__ import annotations

import http.server
import socket
import ssl
import sys
import threading


def read_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += handler.rfile.read(size)
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        # A function process killed mid-connection is expected; anything else is reported.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class QuickHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, TCP_NODELAY, and each response sent with one write: headers and
    body written separately on a Nagle socket would wait for the client's delayed ACK (40 ms
    on Linux), a harness artifact that would be charged to the function."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 20  # buffered: flushed once per response (handlers call wfile.flush())


def serve(handler_cls, tls: ssl.SSLContext | None = None) -> tuple[Server, int]:
    """A server on loopback, behind TLS under `tls` when given (each handshake in the
    connection's own thread, at its first read, so that connections do not wait for each other)."""
    server = Server(("127.0.0.1", 0), handler_cls)
    if tls:
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, server.server_address[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
