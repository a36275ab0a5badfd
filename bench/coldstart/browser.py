"""The scripted browser: signs in at the local provider for a login URL (cookie jar, login and
consent forms) up to the redirect that carries `code`, `state` and `iss`. Every request it
makes carries HARNESS_HEADER, so the proxies do not count it."""

from __future__ import annotations

import html
import http.client
import re
import ssl
import urllib.parse

from .common import HARNESS_HEADER


# The harness's trust for HTTPS URLs (the TLS run's test CA); None: the system's.
TLS_CONTEXT: ssl.SSLContext | None = None


def connection(url: str, timeout: float = 30) -> http.client.HTTPConnection:
    """A connection to `url`'s host, over TLS for `https` (trusting TLS_CONTEXT)."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        return http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout, context=TLS_CONTEXT)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)


class Browser:
    """The scripted user agent of the sign-in: a cookie jar per host (ports shared, as browsers
    do), no automatic redirects, every request marked as the harness's."""

    def __init__(self):
        self.jar: dict[str, dict[str, str]] = {}

    def request(self, method: str, url: str, form: dict | None = None):
        u = urllib.parse.urlsplit(url)
        conn = connection(url)
        headers = {HARNESS_HEADER: "1", "User-Agent": "bench-coldstart", "Accept": "text/html"}
        cookies = self.jar.get(u.hostname, {})
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, (u.path or "/") + (f"?{u.query}" if u.query else ""), body, headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        for value in resp.msg.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0]
            name, _, v = pair.partition("=")
            jar = self.jar.setdefault(u.hostname, {})
            if not v or "max-age=0" in value.lower() or "expires=thu, 01 jan 1970" in value.lower():
                jar.pop(name.strip(), None)
            else:
                jar[name.strip()] = v
        return resp.status, resp.msg, data.decode("utf-8", "replace")

    def sign_in(self, authorize_url: str, user: str, password: str) -> str:
        """Follows the provider's login and consent up to the redirect that carries `code`."""
        url = authorize_url
        for _ in range(12):
            status, headers, page = self.request("GET", url)
            if 300 <= status < 400:
                nxt = urllib.parse.urljoin(url, headers["Location"])
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(nxt).query)
                if "code" in q or "error" in q:
                    return nxt
                url = nxt
                continue
            if status != 200:
                raise RuntimeError(f"provider answered {status} at {url}")
            m = re.search(r'action="([^"]+)"', page)
            if not m:
                raise RuntimeError(f"no form at {url}")
            action = urllib.parse.urljoin(url, html.unescape(m.group(1)))
            if 'name="login"' in page:
                form = {"prompt": "login", "login": user, "password": password}
            else:
                form = {"prompt": "consent"}
            status, headers, page = self.request("POST", action, form)
            if not 300 <= status < 400:
                raise RuntimeError(f"form post to {action} answered {status}")
            url = urllib.parse.urljoin(action, headers["Location"])
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
            if "code" in q or "error" in q:
                return url
        raise RuntimeError("the provider sign-in did not end in a redirect to the app")
