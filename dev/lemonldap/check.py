#!/usr/bin/env python3
"""End-to-end check of a running local LemonLDAP::NG (dev/lemonldap/lemonldap.py), done the
way our backend and a browser will: discovery, authorization code + PKCE S256, the portal's
login form submitted as a browser would (no JavaScript), the code exchange with
client_secret_basic, the ID token (signature against the JWKS, header, claims, at_hash), a
wrong code_verifier, refresh (rotation?), revocation, userinfo, RP-initiated logout, and
back-channel logout (a listener on loopback; LemonLDAP::NG 2.16 has none, so the check
reports what discovery says and that nothing arrived). Python 3 standard library only.
Exits 0 when every check passes; prints one line per check and the findings as JSON.

Run (from the repository root):

  OIDC_CLIENT_SECRET=s3cret LLNG_PORT=3101 \\
  LLNG_REDIRECT_URIS=http://localhost:9999/cb \\
  LLNG_POST_LOGOUT_REDIRECT_URIS=http://localhost:9999/bye \\
  LLNG_FRONTCHANNEL_LOGOUT_URI=http://localhost:9999/frontchannel \\
  python3 dev/lemonldap/lemonldap.py &

  python3 dev/lemonldap/check.py --issuer http://localhost:3101 --client-secret s3cret \\
      --redirect-uri http://localhost:9999/cb --post-logout-redirect-uri http://localhost:9999/bye

The redirect URIs are never served: the check stops at the redirect to them. Options
default to the launcher's environment variables (LLNG_PORT, OIDC_CLIENT_ID,
OIDC_CLIENT_SECRET, the first of LLNG_REDIRECT_URIS and of LLNG_POST_LOGOUT_REDIRECT_URIS).
"""

import argparse
import base64
import hashlib
import html.parser
import http.cookiejar
import http.server
import json
import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

FAILURES = []
FINDINGS = {}


def ok(name, condition, detail=""):
    print(f"{'ok  ' if condition else 'FAIL'} {name}{': ' + str(detail) if detail else ''}", flush=True)
    if not condition:
        FAILURES.append(name)
    return condition


def note(key, value):
    FINDINGS[key] = value
    print(f"     {key}: {json.dumps(value)}", flush=True)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token):
    header, payload, signature = token.split(".")
    return json.loads(unb64url(header)), json.loads(unb64url(payload)), signature


# --- HTTP: no automatic redirects, cookies kept -------------------------------------------


class LocalhostPolicy(http.cookiejar.DefaultCookiePolicy):
    """The portal sets Domain=.localhost; the default policy rejects a domain with no dot
    inside, as browsers do not (Chromium keeps such a cookie for localhost)."""

    def set_ok_domain(self, cookie, request):
        host = urllib.parse.urlsplit(request.get_full_url()).hostname
        if cookie.domain.lstrip(".") == host:
            return True
        return super().set_ok_domain(cookie, request)

    def return_ok_domain(self, cookie, request):
        host = urllib.parse.urlsplit(request.get_full_url()).hostname
        if cookie.domain.lstrip(".") == host:
            return True
        return super().return_ok_domain(cookie, request)

    def domain_return_ok(self, domain, request):
        host = urllib.parse.urlsplit(request.get_full_url()).hostname
        if domain.lstrip(".") == host:
            return True
        return super().domain_return_ok(domain, request)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Response:
    def __init__(self, status, headers, body, url):
        self.status, self.headers, self.body, self.url = status, headers, body, url

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")


class Browser:
    def __init__(self):
        self.jar = http.cookiejar.CookieJar(policy=LocalhostPolicy())
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def request(self, method, url, data=None, headers=None, cookies=True):
        body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        if body is not None and "Content-Type" not in req.headers:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        opener = self.opener if cookies else urllib.request.build_opener(NoRedirect())
        try:
            with opener.open(req, timeout=15) as r:
                return Response(r.status, r.headers, r.read(), url)
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read(), url)

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, data, **kw):
        return self.request("POST", url, data=data, **kw)

    def cookies(self):
        return [
            {"name": c.name, "domain": c.domain, "path": c.path, "secure": c.secure,
             "httponly": c.has_nonstandard_attr("HttpOnly"), "expires": c.expires,
             "samesite": c.get_nonstandard_attr("SameSite")}
            for c in self.jar
        ]


def follow_until(browser, response, stop_prefix, limit=10):
    """Follows redirects within the portal; returns (last response, Location that starts with
    stop_prefix or None, list of hops)."""
    hops = []
    for _ in range(limit):
        if response.status not in (301, 302, 303, 307, 308):
            return response, None, hops
        location = urllib.parse.urljoin(response.url, response.headers["Location"])
        hops.append((response.status, location))
        if location.startswith(stop_prefix):
            return response, location, hops
        response = browser.get(location)
    return response, None, hops


# --- HTML forms ---------------------------------------------------------------------------


class Forms(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms, self.iframes, self.form = [], [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.form = {"attrs": a, "inputs": [], "buttons": []}
            self.forms.append(self.form)
        elif tag == "input" and self.form is not None:
            self.form["inputs"].append(a)
        elif tag == "button" and self.form is not None:
            self.form["buttons"].append(a)
        elif tag == "iframe":
            self.iframes.append(a.get("src"))

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None


def parse_forms(text):
    p = Forms()
    p.feed(text)
    return p


def form_fields(form):
    return {i["name"]: i.get("value") or "" for i in form["inputs"] if i.get("name")}


# --- RS256 verification (PKCS#1 v1.5) with integers only ----------------------------------

SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def rs256_valid(token, jwk):
    signing_input, _, signature = token.rpartition(".")
    n = int.from_bytes(unb64url(jwk["n"]), "big")
    e = int.from_bytes(unb64url(jwk["e"]), "big")
    k = (n.bit_length() + 7) // 8
    em = pow(int.from_bytes(unb64url(signature), "big"), e, n).to_bytes(k, "big")
    digest = hashlib.sha256(signing_input.encode()).digest()
    t = SHA256_DIGEST_INFO + digest
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return secrets.compare_digest(em, expected)


def half_hash(value):
    return b64url(hashlib.sha256(value.encode()).digest()[:16])


# --- back-channel listener ----------------------------------------------------------------


class Catcher(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        Catcher.received.append({"method": "POST", "path": self.path,
                                 "content_type": self.headers.get("Content-Type"), "body": body})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        Catcher.received.append({"method": "GET", "path": self.path})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


# --- the flow -----------------------------------------------------------------------------


def authorize(browser, meta, args, nonce, challenge, scope, login=True):
    """GET the authorization endpoint, log in if the portal asks, and return the redirect to
    our redirect_uri (parsed query), or None."""
    state = secrets.token_urlsafe(16)
    query = {
        "response_type": "code", "client_id": args.client_id, "redirect_uri": args.redirect_uri,
        "scope": scope, "state": state, "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256",
    }
    url = meta["authorization_endpoint"] + "?" + urllib.parse.urlencode(query)
    response = browser.get(url)
    response, location, hops = follow_until(browser, response, args.redirect_uri)
    if location is None and login:
        ok("authorize answers the login form", response.status == 200, response.status)
        page = parse_forms(response.text)
        form = next((f for f in page.forms if f["attrs"].get("id") == "lform"), None)
        if not ok("login form #lform present", form is not None):
            return None, state, response
        fields = form_fields(form)
        FINDINGS.setdefault("login_form", {
            "id": form["attrs"].get("id"), "action": form["attrs"].get("action"),
            "method": form["attrs"].get("method"),
            "inputs": [{k: v for k, v in i.items() if k in ("id", "name", "type")} for i in form["inputs"]],
            "buttons": form["buttons"],
            "url_field_decoded": base64.b64decode(fields.get("url", "")).decode(errors="replace"),
        })
        fields["user"], fields["password"] = args.user, args.password
        # action="#": a browser posts to the page's own URL (the authorize URL).
        action = urllib.parse.urljoin(url, form["attrs"].get("action") or "").split("#")[0]
        response = browser.post(action, fields)
        FINDINGS.setdefault("login_post_status", response.status)
        response, location, hops2 = follow_until(browser, response, args.redirect_uri)
        hops += hops2
    FINDINGS.setdefault("authorize_hops", hops)
    if location is None:
        return None, state, response
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query)), state, response


def token_request(browser, meta, args, data, auth=True):
    headers = {"Accept": "application/json"}
    if auth:
        basic = base64.b64encode(
            f"{urllib.parse.quote(args.client_id, safe='')}:{urllib.parse.quote(args.client_secret, safe='')}".encode()
        ).decode()
        headers["Authorization"] = f"Basic {basic}"
    return browser.post(meta["token_endpoint"], data, headers=headers, cookies=False)


def main():
    env = os.environ
    first = lambda name: (env.get(name, "").split(",")[0].strip() or None)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--issuer", default=f"http://localhost:{env.get('LLNG_PORT', '3001')}")
    p.add_argument("--client-id", default=env.get("OIDC_CLIENT_ID") or "local-spa")
    p.add_argument("--client-secret", default=env.get("OIDC_CLIENT_SECRET"))
    p.add_argument("--redirect-uri", default=first("LLNG_REDIRECT_URIS"))
    p.add_argument("--post-logout-redirect-uri", default=first("LLNG_POST_LOGOUT_REDIRECT_URIS"))
    p.add_argument("--scope", default="openid profile email")
    p.add_argument("--user", default="dwho")
    p.add_argument("--password", default="dwho")
    p.add_argument("--backchannel-port", type=int, default=0,
                   help="listen on this loopback port for a back-channel logout POST (0: any free port)")
    args = p.parse_args()
    if not args.client_secret or not args.redirect_uri:
        p.error("--client-secret and --redirect-uri are required (or OIDC_CLIENT_SECRET, LLNG_REDIRECT_URIS)")

    listener = http.server.HTTPServer(("127.0.0.1", args.backchannel_port), Catcher)
    threading.Thread(target=listener.serve_forever, daemon=True).start()

    browser = Browser()

    # Discovery.
    r = browser.get(args.issuer + "/.well-known/openid-configuration")
    if not ok("discovery answers 200", r.status == 200, r.status):
        return finish()
    meta = r.json()
    ok("discovery issuer equals the issuer", meta.get("issuer") == args.issuer, meta.get("issuer"))
    for key in ("id_token_signing_alg_values_supported", "token_endpoint_auth_methods_supported",
                "code_challenge_methods_supported", "grant_types_supported", "scopes_supported",
                "end_session_endpoint", "revocation_endpoint", "introspection_endpoint",
                "backchannel_logout_supported", "backchannel_logout_session_supported",
                "frontchannel_logout_supported", "authorization_response_iss_parameter_supported"):
        note(f"discovery.{key}", meta.get(key))
    jwks = browser.get(meta["jwks_uri"]).json()
    note("jwks", [{k: v for k, v in key.items() if k != "n"} for key in jwks["keys"]])

    # 1. A code, then a WRONG code_verifier: refused.
    verifier = b64url(secrets.token_bytes(32))
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    nonce = secrets.token_urlsafe(16)
    t0 = time.monotonic()
    got, state, last = authorize(browser, meta, args, nonce, challenge, args.scope)
    if not ok("login ends in a redirect to redirect_uri with a code", got is not None and "code" in got,
              got if got is not None else f"{last.status} {last.text[:300]}"):
        return finish()
    note("login_seconds", round(time.monotonic() - t0, 3))
    ok("redirect carries our state", got.get("state") == state)
    note("redirect_params", sorted(got))
    note("redirect_has_iss (RFC 9207)", "iss" in got)
    note("cookies_after_login", browser.cookies())
    wrong = token_request(browser, meta, args, {
        "grant_type": "authorization_code", "code": got["code"], "redirect_uri": args.redirect_uri,
        "code_verifier": b64url(secrets.token_bytes(32)),
    })
    ok("a wrong code_verifier is refused", wrong.status == 400, f"{wrong.status} {wrong.text}")
    retry = token_request(browser, meta, args, {
        "grant_type": "authorization_code", "code": got["code"], "redirect_uri": args.redirect_uri,
        "code_verifier": verifier,
    })
    note("code still usable with the right verifier after a wrong one", retry.status == 200)

    # 2. A second authorization rides the SSO session (no form), then the right exchange.
    verifier = b64url(secrets.token_bytes(32))
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    nonce = secrets.token_urlsafe(16)
    got, state, last = authorize(browser, meta, args, nonce, challenge, args.scope, login=False)
    if not ok("second authorization: redirect with a code, no login form", got is not None and "code" in got,
              got if got is not None else last.status):
        return finish()
    no_verifier = token_request(browser, meta, args, {
        "grant_type": "authorization_code", "code": got["code"], "redirect_uri": args.redirect_uri,
    })
    ok("an exchange without code_verifier is refused", no_verifier.status == 400, no_verifier.status)
    got, state, last = authorize(browser, meta, args, nonce, challenge, args.scope, login=False)
    ok("third authorization: a code", got is not None and "code" in got)
    tr = token_request(browser, meta, args, {
        "grant_type": "authorization_code", "code": got["code"], "redirect_uri": args.redirect_uri,
        "code_verifier": verifier,
    })
    if not ok("code exchange with client_secret_basic and the right verifier", tr.status == 200,
              f"{tr.status} {tr.text[:300]}"):
        return finish()
    tokens = tr.json()
    note("token_response_keys", sorted(tokens))
    note("token_response.token_type", tokens.get("token_type"))
    note("token_response.expires_in", tokens.get("expires_in"))
    note("token_response.scope", tokens.get("scope"))
    note("token_response.cache_control", tr.headers.get("Cache-Control"))
    ok("a refresh token with the code exchange", "refresh_token" in tokens)
    note("access_token_is_jwt", tokens["access_token"].count(".") == 2)

    # The ID token.
    header, claims, _ = jwt_parts(tokens["id_token"])
    note("id_token.header", header)
    note("id_token.claims", claims)
    ok("id_token alg RS256", header.get("alg") == "RS256", header.get("alg"))
    key = next((k for k in jwks["keys"] if k.get("kid") == header.get("kid")), None)
    ok("id_token kid is in the JWKS", key is not None, header.get("kid"))
    ok("id_token signature verifies against the JWKS", key is not None and rs256_valid(tokens["id_token"], key))
    ok("iss", claims.get("iss") == args.issuer, claims.get("iss"))
    aud = claims.get("aud")
    ok("aud holds the client id", aud == args.client_id or (isinstance(aud, list) and args.client_id in aud), aud)
    note("id_token.aud_type", type(aud).__name__)
    ok("sub is the login", claims.get("sub") == args.user, claims.get("sub"))
    ok("nonce", claims.get("nonce") == nonce)
    ok("auth_time is a number", isinstance(claims.get("auth_time"), int), claims.get("auth_time"))
    ok("at_hash matches the access token", claims.get("at_hash") == half_hash(tokens["access_token"]),
       claims.get("at_hash"))
    note("id_token.has_sid", "sid" in claims)
    note("id_token.lifetime", claims.get("exp", 0) - claims.get("iat", 0))

    # Userinfo.
    ui = browser.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"},
                     cookies=False)
    ok("userinfo answers 200", ui.status == 200, f"{ui.status} {ui.text[:200]}")
    if ui.status == 200:
        note("userinfo.content_type", ui.headers.get("Content-Type"))
        info = ui.json()
        note("userinfo", info)
        ok("userinfo sub, name, email, preferred_username",
           info.get("sub") == args.user and info.get("name") and info.get("email")
           and info.get("preferred_username") == args.user)

    # Refresh.
    refresh = tokens.get("refresh_token")
    if refresh:
        rr = token_request(browser, meta, args, {"grant_type": "refresh_token", "refresh_token": refresh})
        ok("refresh grant answers 200", rr.status == 200, f"{rr.status} {rr.text[:200]}")
        if rr.status == 200:
            fresh = rr.json()
            note("refresh_response_keys", sorted(fresh))
            note("refresh.rotates", "refresh_token" in fresh and fresh["refresh_token"] != refresh)
            if "id_token" in fresh:
                h2, c2, _ = jwt_parts(fresh["id_token"])
                note("refresh.id_token.claims", c2)
                ok("refreshed id_token: same sub, at_hash of the new access token",
                   c2.get("sub") == args.user and c2.get("at_hash") == half_hash(fresh["access_token"]))
            again = token_request(browser, meta, args, {"grant_type": "refresh_token", "refresh_token": refresh})
            note("refresh.old_token_still_works", again.status == 200)
        bad = token_request(browser, meta, args, {"grant_type": "refresh_token", "refresh_token": "nope"})
        note("refresh.unknown_token_answer", f"{bad.status} {bad.text}")
        noauth = token_request(browser, meta, args, {"grant_type": "refresh_token", "refresh_token": refresh},
                               auth=False)
        note("refresh.without_client_auth", f"{noauth.status} {noauth.text}")

    # Revocation.
    if meta.get("revocation_endpoint"):
        rv = browser.post(meta["revocation_endpoint"], {"token": refresh, "token_type_hint": "refresh_token"},
                          cookies=False)
        note("revocation_status", rv.status)
    else:
        note("revocation", "no revocation_endpoint announced")

    # Introspection (announced by LemonLDAP::NG).
    if meta.get("introspection_endpoint"):
        basic = base64.b64encode(f"{args.client_id}:{args.client_secret}".encode()).decode()
        ir = browser.post(meta["introspection_endpoint"], {"token": tokens["access_token"]},
                          headers={"Authorization": f"Basic {basic}"}, cookies=False)
        note("introspection", f"{ir.status} {ir.text[:300]}")

    # RP-initiated logout. The back-channel listener is up: see whether anything arrives.
    backchannel_uri = f"http://127.0.0.1:{listener.server_address[1]}/backchannel"
    note("backchannel_listener", backchannel_uri)
    query = {"id_token_hint": tokens["id_token"], "state": "bye-state"}
    if args.post_logout_redirect_uri:
        query["post_logout_redirect_uri"] = args.post_logout_redirect_uri
    url = meta["end_session_endpoint"] + "?" + urllib.parse.urlencode(query)
    lo = browser.get(url)
    stop = args.post_logout_redirect_uri or "\0"
    lo, location, hops = follow_until(browser, lo, stop)
    note("logout_asks_confirmation", location is None and lo.status == 200)
    if location is None and lo.status == 200:
        page = parse_forms(lo.text)
        note("logout_confirm_forms", [
            {"attrs": f["attrs"], "inputs": [{k: v for k, v in i.items() if k in ("id", "name", "type", "value")}
                                              for i in f["inputs"]], "buttons": f["buttons"]}
            for f in page.forms])
        form = next((f for f in page.forms
                     if any(b.get("name") == "confirm" for b in f["buttons"] + f["inputs"])), None)
        if ok("logout asks for confirmation with a confirm form", form is not None):
            # The submit button posts the form as it is (its hidden `confirm` is an opaque
            # token; the refuse button's JavaScript swaps in the negated one).
            fields = form_fields(form)
            action = urllib.parse.urljoin(url, form["attrs"].get("action") or "").split("#")[0]
            note("logout_confirm_post_to", action)
            lo = browser.post(action, fields)
            with open(os.environ.get("CHECK_DUMP", os.devnull), "w") as dump:
                dump.write(lo.text)
            page = parse_forms(lo.text) if lo.status == 200 else None
            if page and page.iframes:
                note("logout_page_iframes (front-channel)", page.iframes)
            lo, location, hops2 = follow_until(browser, lo, stop)
            hops += hops2
            if location is None and page is not None:
                # With a front-channel logout URI: an information page holding the iframes,
                # whose Continue button (or a 30 s JavaScript timer) GETs the redirect.
                info = next((f for f in page.forms
                             if (f["attrs"].get("action") or "").startswith(stop)), None)
                if info is not None:
                    note("logout_info_page", {"attrs": info["attrs"], "buttons": info["buttons"]})
                    base = info["attrs"]["action"].split("?")[0]
                    location = base + "?" + urllib.parse.urlencode(form_fields(info))
    note("logout_hops", hops)
    if args.post_logout_redirect_uri:
        ok("logout redirects to post_logout_redirect_uri", location is not None, f"{lo.status} {lo.text[:200]}")
        if location:
            note("logout_redirect", location)
            ok("logout redirect carries state", "state=bye-state" in location)
    if refresh:
        after = token_request(browser, meta, args, {"grant_type": "refresh_token", "refresh_token": refresh})
        note("refresh_after_logout", f"{after.status} {after.text}")
    ui2 = browser.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"},
                      cookies=False)
    note("userinfo_after_logout", ui2.status)

    time.sleep(1)
    arrived = [m for m in Catcher.received if m["path"].startswith("/backchannel")]
    if arrived:
        for m in arrived:
            form = dict(urllib.parse.parse_qsl(m.get("body", "")))
            if "logout_token" in form:
                h, c, _ = jwt_parts(form["logout_token"])
                note("logout_token.header", h)
                note("logout_token.claims", c)
    note("backchannel_logout_received", len(arrived))
    if meta.get("backchannel_logout_supported") is False:
        ok("no back-channel logout POST (none announced)", not arrived)
    listener.shutdown()
    return finish()


def finish():
    print(json.dumps(FINDINGS, indent=2, default=str), file=sys.stderr)
    print(f"{'FAILED: ' + ', '.join(FAILURES) if FAILURES else 'all checks passed'}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
