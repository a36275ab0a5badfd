"""The harness's direct calls to the upstream API (dev/upstream), the baseline of the proxy's
added latency: the same request the proxy sends there (method, path below the API's base,
query, the browser's forwarded headers, a bearer), made by the harness itself, timed from the
request's first byte written to the answer's last byte read, over a kept connection (warm) or
a new one (cold: its TCP connect included). The answer is checked as the proxy's is."""

from __future__ import annotations

import http.client
import json
import urllib.parse

from .common import PROXY_PATH, PROXY_QUERY, now


def check_answer(status: int, body: bytes, bearer: str, who: str) -> None:
    """A `200` of the upstream's `/open` base for this request, that saw a bearer of kind
    `bearer` (`jwt` or `opaque`), no cookie and no `X-CSRF`."""
    if status != 200:
        raise RuntimeError(f"{who}: the upstream answered {status}: {body[:300]!r}")
    seen = json.loads(body)
    expected = {"verified": "none", "bearer": bearer, "path": f"/open/{PROXY_PATH}", "cookie": False, "x_csrf": False, "authorization_scheme": "Bearer"}
    wrong = {k: seen.get(k) for k, v in expected.items() if seen.get(k) != v}
    if wrong:
        raise RuntimeError(f"{who}: the upstream saw {wrong}, expected {expected}")


class Direct:
    """Direct calls to `base` (the upstream's origin) with `headers` and `Authorization:
    Bearer <token>`."""

    def __init__(self, base: str, headers: dict, token: str, bearer: str):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.target = f"/open/{PROXY_PATH}?{urllib.parse.urlencode(PROXY_QUERY)}"
        self.headers = {**headers, "Authorization": f"Bearer {token}"}
        self.bearer = bearer
        self.conn: http.client.HTTPConnection | None = None

    def call(self, fresh: bool = False) -> float:
        """One call, ms: on a new connection when `fresh` (or none is open yet), which is then
        kept for the next calls."""
        if fresh or self.conn is None:
            self.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        t0 = now()
        self.conn.request("GET", self.target, headers=self.headers)
        resp = self.conn.getresponse()
        body = resp.read()
        t1 = now()
        check_answer(resp.status, body, self.bearer, "direct call")
        return round((t1 - t0) * 1000, 3)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
