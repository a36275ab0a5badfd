"""The counting reverse proxies in front of moto and the provider: every request a function
makes passes one, which records it with its start and end times and status (requests marked
with HARNESS_HEADER are the harness's own and not counted); `classify` names what a recorded
request was (secret, discovery, jwks, token, userinfo, par, revocation, or the DynamoDB
operation by its `X-Amz-Target`: GetItem, PutItem, UpdateItem, DeleteItem...)."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse

from .common import HARNESS_HEADER, now
from .plumbing import QuickHandler, read_body, serve

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "content-length",
    "x-forwarded-proto",
    HARNESS_HEADER.lower(),
}


class Proxy:
    """A counting reverse proxy to one upstream on loopback. Keeps the Host header, so the
    upstream builds its URLs with the proxy's address."""

    def __init__(self, name: str, upstream_port: int, tls=None):
        """`tls`: an `ssl.SSLContext` to serve HTTPS with (the upstream stays plain HTTP on
        loopback, told the scheme by X-Forwarded-Proto)."""
        self.name = name
        self.upstream_port = upstream_port
        self.records: list[dict] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(QuickHandler):
            def log_message(self, *args):  # quiet
                pass

            def handle_any(self):
                start = now()
                harness = HARNESS_HEADER in self.headers
                body = read_body(self)
                upstream = getattr(self, "_upstream", None)
                for attempt in (0, 1):
                    if upstream is None:
                        upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                        self._upstream = upstream
                    try:
                        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                        for k, v in self.headers.items():
                            if k.lower() not in HOP_BY_HOP:
                                upstream.putheader(k, v)
                        if tls:
                            upstream.putheader("X-Forwarded-Proto", "https")
                        if body or self.command in ("POST", "PUT", "PATCH"):
                            upstream.putheader("Content-Length", str(len(body)))
                        upstream.endheaders(body or None)
                        resp = upstream.getresponse()
                        data = resp.read()
                        break
                    except (http.client.HTTPException, OSError):
                        upstream.close()
                        upstream = None
                        self._upstream = None
                        if attempt:
                            self.send_error(502)
                            return
                self.send_response_only(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                self.wfile.flush()
                end = now()
                # A refusal's OAuth error code (`use_dpop_nonce`...) or AWS error type, read
                # after the answer is sent.
                error = None
                if resp.status >= 400 and data[:1] == b"{":
                    try:
                        found = json.loads(data)
                        error = found.get("error") or found.get("__type")
                    except (ValueError, AttributeError):
                        pass
                with proxy.lock:
                    proxy.records.append(
                        {
                            "upstream": proxy.name,
                            "method": self.command,
                            "path": urllib.parse.urlsplit(self.path).path,
                            "target": self.headers.get("X-Amz-Target", ""),
                            "status": resp.status,
                            "error": str(error).rsplit("#", 1)[-1] if error else None,
                            "start": start,
                            "end": end,
                            "harness": harness,
                            "client_port": self.client_address[1],
                        }
                    )

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_any

        self.server, self.port = serve(Handler, tls)

    def between(self, start: float, end: float) -> list[dict]:
        with self.lock:
            return [r for r in self.records if not r["harness"] and start <= r["start"] <= end]


# The DynamoDB operations, by the `X-Amz-Target` prefix of DynamoDB's JSON protocol.
DYNAMODB_TARGET = "DynamoDB_20120810."


def classify(record: dict, paths: dict[str, str]) -> str:
    """`paths`: the provider's endpoints by path, as its discovery document names them
    (ProviderInstance.paths: `jwks`, `token`, `userinfo`, `par`, `revocation`...)."""
    if record["upstream"] == "moto":
        target = record["target"].split(".")[-1]
        return {"GetSecretValue": "secret"}.get(target, target or "aws")
    path = record["path"]
    if path.endswith("/.well-known/openid-configuration"):
        return "discovery"
    if path in paths:
        return paths[path]
    return {"/token": "token", "/me": "userinfo"}.get(path, path)

