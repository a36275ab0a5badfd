"""The API Gateway side of an invocation: the HTTP API (payload 2.0) events the functions get,
and the cookies a function's answer sets (which the browser would send to the callback)."""

from __future__ import annotations

import base64
import secrets
import time
import urllib.parse

from .common import PROXY_PATH, PROXY_QUERY


def apigw_event(path: str, query: dict[str, str], cookies: list[str], method: str = "GET", headers: dict | None = None) -> dict:
    """An API Gateway HTTP API (payload 2.0) event, as in functions/login/tests/data: a GET
    unless `method` says otherwise, with `headers` added to the browser's."""
    raw = urllib.parse.urlencode(query)
    event = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": raw,
        "headers": {
            "accept": "application/json",
            "host": "login.example.com",
            "sec-fetch-mode": "cors",
            "user-agent": "Mozilla/5.0",
            "x-forwarded-proto": "https",
            **(headers or {}),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "login.example.com",
            "domainPrefix": "login",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "Mozilla/5.0",
            },
            "requestId": base64.b64encode(secrets.token_bytes(10)).decode(),
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if cookies:
        event["cookies"] = list(cookies)
    return event


def response_cookies(resp: dict) -> list[str]:
    """name=value of every cookie set by an API Gateway v2 response (empty values dropped)."""
    values = list(resp.get("cookies") or [])
    for headers in (resp.get("headers") or {}, resp.get("multiValueHeaders") or {}):
        for k, v in headers.items():
            if k.lower() == "set-cookie":
                values += v if isinstance(v, list) else [v]
    out = []
    for value in values:
        pair = value.split(";", 1)[0].strip()
        name, _, v = pair.partition("=")
        if v:
            out.append(f"{name}={v}")
    return out


def refresh_event(cookie: str) -> dict:
    """`POST /api/refresh` as the app sends it: `X-CSRF: 1` and the session handle cookie."""
    return apigw_event("/api/refresh", {}, [cookie], "POST", {"x-csrf": "1"})


def authorizer_event(token: str) -> dict:
    """An API Gateway HTTP API REQUEST authorizer event (payload 2.0) for `GET /api/orders`
    with `Authorization: Bearer <token>`, as in functions/authorizer's tests: what API Gateway
    sends when its authorizer cache holds no decision for this token."""
    path = "/api/orders"
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/$default/GET{path}",
        "identitySource": [f"Bearer {token}"],
        "routeKey": f"GET {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"authorization": f"Bearer {token}", "host": "api.example.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10"},
            "requestId": base64.b64encode(secrets.token_bytes(10)).decode(),
            "routeKey": f"GET {path}",
            "stage": "$default",
        },
    }


def proxy_event(api: str, cookies: list[str]) -> dict:
    """`GET /api/remote/<api>/items/42?view=full` as the SPA sends it to the proxy: its session
    cookies, `X-CSRF: 1` and `Sec-Fetch-Site: same-origin` (a same-origin `fetch`)."""
    return apigw_event(f"/api/remote/{api}/{PROXY_PATH}", PROXY_QUERY, cookies, "GET", {"x-csrf": "1", "sec-fetch-site": "same-origin"})


def forwarded_headers(event: dict) -> dict:
    """The headers of `event` that the proxy passes on to the upstream (all but the session's,
    `X-CSRF` and `Host`): what the harness sends on its direct calls, with the bearer."""
    dropped = {"cookie", "x-csrf", "host", "authorization"}
    return {k: v for k, v in event["headers"].items() if k.lower() not in dropped}
