#!/usr/bin/env python3
"""Local LemonLDAP::NG OpenID Connect provider for development and end-to-end tests.

The counterpart of dev/provider/provider.mjs with a second, independent implementation:
LemonLDAP::NG 2.16 from Debian 12 (apt-get install lemonldap-ng, see .ci/run). Its portal
runs as a PSGI app (dev/lemonldap/portal.psgi) under `plackup` on 127.0.0.1 over plain
HTTP, served at the root of the issuer URL; no nginx, no FastCGI, no database. Everything
it needs is written into a state directory: the configuration (lmConf-1.json, File
backend), the local lemonldap-ng.ini, the sessions (Apache::Session::File), a fresh RSA
2048 signing key made with `openssl genpkey`, and the portal's log (portal.log).

One confidential relying party: authorization code flow only, PKCE required (S256 or
plain), client_secret_basic or client_secret_post, ID tokens signed RS256, refresh tokens
on, consent skipped. Users are the built-in demo ones, password = login: dwho/dwho,
rtyler/rtyler, msmith/msmith. Claims: sub (= the login), name, preferred_username, email.
See dev/lemonldap/QUIRKS.md for what a relying party sees differently from oidc-provider
(no back-channel logout, no refresh token rotation, no revocation endpoint, ...).

Environment:
  LLNG_PORT                       listen port on 127.0.0.1 (default 3001)
  LLNG_ISSUER                     announced issuer = portal URL (default http://localhost:${LLNG_PORT})
  OIDC_CLIENT_ID                  client id (default local-spa)
  OIDC_CLIENT_SECRET              client secret (required)
  LLNG_REDIRECT_URIS              comma-separated redirect URIs (required)
  LLNG_POST_LOGOUT_REDIRECT_URIS  comma-separated post-logout redirect URIs (optional)
  LLNG_ACCESS_TOKEN_TTL           access token lifetime, seconds (default 3600)
  LLNG_ID_TOKEN_TTL               ID token lifetime, seconds (default 3600)
  LLNG_SESSION_TTL                SSO session lifetime, seconds (default 72000); an online
                                  refresh token dies with the session
  LLNG_LOGOUT_BYPASS_CONFIRM      1: RP-initiated logout with an id_token_hint logs out at
                                  once; default 0: the portal asks "Do you want to logout?"
  LLNG_FRONTCHANNEL_LOGOUT_URI    the client's front-channel logout URI (optional): the portal's
                                  logout page then holds an iframe to it, with iss and sid
                                  (sid = the user's login, not a session id)
  LLNG_BACKCHANNEL_LOGOUT_URI     refused: LemonLDAP::NG 2.16 has no back-channel logout
                                  (its discovery says backchannel_logout_supported: false)
  LLNG_STATE_DIR                  state directory (default: a fresh temporary directory,
                                  removed at exit; a given one is kept)
  LLNG_LOG_LEVEL                  portal log level: error, warn, notice, info, debug (default warn)
  LLNG_PLACKUP                    plackup command (default plackup)

Start: `OIDC_CLIENT_SECRET=... LLNG_REDIRECT_URIS=... python3 dev/lemonldap/lemonldap.py`
Prints `lemonldap ready at <issuer>` once <issuer>/.well-known/openid-configuration answers
200. SIGTERM or SIGINT stops the portal and exits 0. Bad settings: exit 2 with a message.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
PSGI = os.path.join(HERE, "portal.psgi")
PORTAL_MODULE = "/usr/share/perl5/Lemonldap/NG/Portal/Main.pm"
START_TIMEOUT = 60.0


def fail(message, code=2):
    print(f"lemonldap: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def uri_list(name):
    values = [s.strip() for s in os.environ.get(name, "").split(",") if s.strip()]
    for value in values:
        parsed = urllib.parse.urlsplit(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            fail(f"{name}: not an absolute http(s) URI: {value}")
        if " " in value:
            fail(f"{name}: URIs cannot contain spaces: {value}")
    return values


def seconds(name, default):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        fail(f"{name} is not a positive number of seconds: {raw}")
    return value


def settings():
    env = os.environ
    port_raw = env.get("LLNG_PORT") or "3001"
    try:
        port = int(port_raw)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        fail(f"LLNG_PORT is not a valid port: {port_raw}")
    issuer = env.get("LLNG_ISSUER") or f"http://localhost:{port}"
    parsed = urllib.parse.urlsplit(issuer)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path not in ("", "/"):
        fail(f"LLNG_ISSUER must be a scheme and host with no path (the portal is served at its root): {issuer}")
    issuer = issuer.rstrip("/")
    cookie_domain = parsed.hostname
    secret = env.get("OIDC_CLIENT_SECRET", "")
    if not secret:
        fail("OIDC_CLIENT_SECRET is required")
    redirect_uris = uri_list("LLNG_REDIRECT_URIS")
    if not redirect_uris:
        fail("LLNG_REDIRECT_URIS is required (comma-separated URIs)")
    if env.get("LLNG_BACKCHANNEL_LOGOUT_URI"):
        fail(
            "LLNG_BACKCHANNEL_LOGOUT_URI is set, but LemonLDAP::NG 2.16 has no OpenID Connect "
            "back-channel logout (only front-channel iframes; see dev/lemonldap/QUIRKS.md)"
        )
    bypass = env.get("LLNG_LOGOUT_BYPASS_CONFIRM", "0")
    if bypass not in ("0", "1"):
        fail(f"LLNG_LOGOUT_BYPASS_CONFIRM must be 0 or 1: {bypass}")
    level = env.get("LLNG_LOG_LEVEL") or "warn"
    if level not in ("error", "warn", "notice", "info", "debug"):
        fail(f"LLNG_LOG_LEVEL must be one of error, warn, notice, info, debug: {level}")
    return {
        "port": port,
        "issuer": issuer,
        "cookie_domain": cookie_domain,
        "client_id": env.get("OIDC_CLIENT_ID") or "local-spa",
        "client_secret": secret,
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": uri_list("LLNG_POST_LOGOUT_REDIRECT_URIS"),
        "frontchannel_logout_uri": (uri_list("LLNG_FRONTCHANNEL_LOGOUT_URI") or [None])[0],
        "access_token_ttl": seconds("LLNG_ACCESS_TOKEN_TTL", 3600),
        "id_token_ttl": seconds("LLNG_ID_TOKEN_TTL", 3600),
        "session_ttl": seconds("LLNG_SESSION_TTL", 72000),
        "logout_bypass_confirm": int(bypass),
        "log_level": level,
        "plackup": env.get("LLNG_PLACKUP") or "plackup",
    }


def signing_key(state):
    """A fresh RSA 2048 key pair (PEM) and a key id."""
    private_path = os.path.join(state, "oidc-sig.key")
    try:
        subprocess.run(
            ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", private_path],
            check=True, capture_output=True,
        )
        public = subprocess.run(
            ["openssl", "pkey", "-in", private_path, "-pubout"],
            check=True, capture_output=True, text=True,
        ).stdout
    except FileNotFoundError:
        fail("openssl is required (apt-get install openssl)")
    except subprocess.CalledProcessError as err:
        fail(f"openssl failed: {err.stderr.decode(errors='replace').strip()}")
    with open(private_path, encoding="ascii") as f:
        private = f.read()
    return private, public, uuid.uuid4().hex


def configuration(s, state, private_key, public_key, key_id):
    """The whole LemonLDAP::NG configuration (what the manager would save as lmConf-1.json)."""
    sessions = os.path.join(state, "sessions")
    psessions = os.path.join(state, "psessions")
    rp = {
        "oidcRPMetaDataOptionsClientID": s["client_id"],
        "oidcRPMetaDataOptionsClientSecret": s["client_secret"],
        "oidcRPMetaDataOptionsPublic": 0,
        "oidcRPMetaDataOptionsDisplayName": "local SPA login",
        # Space-separated lists, as the manager stores them.
        "oidcRPMetaDataOptionsRedirectUris": " ".join(s["redirect_uris"]),
        "oidcRPMetaDataOptionsPostLogoutRedirectUris": " ".join(s["post_logout_redirect_uris"]),
        # Without it a token request with a wrong code_verifier, or none, is accepted.
        "oidcRPMetaDataOptionsRequirePKCE": 1,
        # Online refresh tokens, tied to the SSO session, with every code exchange.
        "oidcRPMetaDataOptionsRefreshToken": 1,
        "oidcRPMetaDataOptionsAllowOffline": 0,
        "oidcRPMetaDataOptionsIDTokenSignAlg": "RS256",
        "oidcRPMetaDataOptionsAccessTokenExpiration": s["access_token_ttl"],
        "oidcRPMetaDataOptionsIDTokenExpiration": s["id_token_ttl"],
        "oidcRPMetaDataOptionsBypassConsent": 1,
        "oidcRPMetaDataOptionsLogoutBypassConfirm": s["logout_bypass_confirm"],
        "oidcRPMetaDataOptionsUserIDAttr": "uid",
        "oidcRPMetaDataOptionsIDTokenForceClaims": 0,
    }
    if s["frontchannel_logout_uri"]:
        rp["oidcRPMetaDataOptionsLogoutUrl"] = s["frontchannel_logout_uri"]
        rp["oidcRPMetaDataOptionsLogoutType"] = "front"
        rp["oidcRPMetaDataOptionsLogoutSessionRequired"] = 1
    return {
        "cfgNum": 1,
        "cfgVersion": "2.16.1",
        "cfgAuthor": "dev/lemonldap/lemonldap.py",
        "cfgDate": str(int(time.time())),
        "cfgLog": "",
        # The portal, at the root of the issuer URL, plain HTTP, host-only cookies.
        "portal": s["issuer"] + "/",
        # Required; the portal sets its cookies with Domain=.<domain>.
        "domain": s["cookie_domain"],
        "cookieName": "lemonldap",
        "securedCookie": 0,
        "httpOnly": 1,
        "https": 0,
        "timeout": s["session_ttl"],
        "trustedDomains": "",
        # Login form: a CSRF token in the form (requireToken), valid formTimeout seconds.
        "requireToken": 1,
        "formTimeout": 600,
        # The default captcha module needs Image::Magick even when every captcha is off.
        "captcha": "LocalDev::NoCaptcha",
        "captcha_login_enabled": 0,
        "captcha_mail_enabled": 0,
        "captcha_register_enabled": 0,
        "portalDisplayRegister": 0,
        "portalDisplayResetPassword": 0,
        "portalDisplayChangePassword": 0,
        "portalCheckLogins": 0,
        "loginHistoryEnabled": 0,
        "notification": 0,
        "stayConnected": 0,
        "checkXSS": 1,
        # Users: the built-in demo accounts (password = login).
        "authentication": "Demo",
        "userDB": "Same",
        "passwordDB": "Demo",
        "registerDB": "Null",
        "demoExportedVars": {"cn": "cn", "mail": "mail", "uid": "uid"},
        "exportedVars": {},
        "macros": {},
        "groups": {},
        "whatToTrace": "uid",
        "locationRules": {},
        "exportedHeaders": {},
        "applicationList": {},
        # Sessions: plain files under the state directory.
        "globalStorage": "Apache::Session::File",
        "globalStorageOptions": {
            "Directory": sessions,
            "LockDirectory": os.path.join(sessions, "lock"),
            "generateModule": "Lemonldap::NG::Common::Apache::Session::Generate::SHA256",
        },
        "persistentStorage": "Apache::Session::File",
        "persistentStorageOptions": {
            "Directory": psessions,
            "LockDirectory": os.path.join(psessions, "lock"),
        },
        "localSessionStorage": "Cache::FileCache",
        "localSessionStorageOptions": {
            "cache_depth": 3,
            "cache_root": os.path.join(state, "cache"),
            "default_expires_in": 600,
            "directory_umask": "007",
            "namespace": "lemonldap-ng-sessions",
        },
        # The OpenID Connect provider.
        "issuerDBOpenIDConnectActivation": 1,
        "issuerDBOpenIDConnectPath": "^/oauth2/",
        "issuerDBOpenIDConnectRule": 1,
        "oidcServiceMetaDataIssuer": s["issuer"],
        "oidcServicePrivateKeySig": private_key,
        "oidcServicePublicKeySig": public_key,
        "oidcServiceKeyIdSig": key_id,
        "oidcServiceAllowAuthorizationCodeFlow": 1,
        "oidcServiceAllowImplicitFlow": 0,
        "oidcServiceAllowHybridFlow": 0,
        "oidcServiceAllowDynamicRegistration": 0,
        "oidcServiceAccessTokenExpiration": s["access_token_ttl"],
        "oidcServiceIDTokenExpiration": s["id_token_ttl"],
        "oidcServiceAuthorizationCodeExpiration": 60,
        "oidcRPMetaDataOptions": {"spa": rp},
        # Claim name -> session attribute, released by scope (profile: name, preferred_username;
        # email: email); sub comes from oidcRPMetaDataOptionsUserIDAttr.
        "oidcRPMetaDataExportedVars": {
            "spa": {"name": "cn", "email": "mail", "preferred_username": "uid"},
        },
        "oidcRPMetaDataExtraClaims": {},
        "oidcRPMetaDataMacros": {},
    }


def local_ini(s, state):
    conf = os.path.join(state, "conf")
    return f"""; written by dev/lemonldap/lemonldap.py
[all]
logLevel = {s['log_level']}
checkTime = 600

[configuration]
type = File
dirName = {conf}
prettyPrint = 1

[portal]
staticPrefix = /static
templateDir = /usr/share/lemonldap-ng/portal/templates
languages = en
"""


def write_state(s, state):
    for sub in ("conf", "sessions/lock", "psessions/lock", "cache"):
        os.makedirs(os.path.join(state, sub), exist_ok=True)
    private_key, public_key, key_id = signing_key(state)
    conf = configuration(s, state, private_key, public_key, key_id)
    with open(os.path.join(state, "conf", "lmConf-1.json"), "w", encoding="utf-8") as f:
        json.dump(conf, f, indent=2, sort_keys=True)
    ini = os.path.join(state, "lemonldap-ng.ini")
    with open(ini, "w", encoding="utf-8") as f:
        f.write(local_ini(s, state))
    return ini


def probe_status(url):
    """The HTTP status of a GET, or None while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None


def log_tail(path, lines=30):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def main():
    s = settings()
    if not os.path.exists(PORTAL_MODULE):
        fail("LemonLDAP::NG is not installed (as root: apt-get install --no-install-recommends lemonldap-ng "
             "libstring-random-perl libio-string-perl libdigest-hmac-perl, as .ci/run does)")
    if shutil.which(s["plackup"]) is None:
        fail(f"{s['plackup']} not found (Debian: libplack-perl, a dependency of lemonldap-ng)")

    given = os.environ.get("LLNG_STATE_DIR")
    if given:
        state = os.path.abspath(given)
        os.makedirs(state, exist_ok=True)
    else:
        state = tempfile.mkdtemp(prefix="lemonldap-")
    ini = write_state(s, state)
    log_path = os.path.join(state, "portal.log")
    log = open(log_path, "ab")

    env = dict(os.environ, LLNG_DEFAULTCONFFILE=ini, PLACK_ENV="deployment")
    command = [
        s["plackup"], "-I", os.path.join(HERE, "lib"), "-E", "deployment", "-s", "HTTP::Server::PSGI",
        "--host", "127.0.0.1", "--port", str(s["port"]), PSGI,
    ]
    started = time.monotonic()
    child = subprocess.Popen(
        command, env=env, cwd=state, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        start_new_session=True,
    )

    stopping = None  # the time of the first SIGTERM/SIGINT

    def stop(signum, _frame):
        # Only flags and forwards: the main loop reaps the portal (a wait in a signal
        # handler would contend with the main loop's own).
        nonlocal stopping
        if stopping is not None:
            return
        stopping = time.monotonic()
        print(f"lemonldap: {signal.Signals(signum).name}, shutting down", flush=True)
        signal_group(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def cleanup():
        log.close()
        if not given:
            shutil.rmtree(state, ignore_errors=True)

    discovery = s["issuer"] + "/.well-known/openid-configuration"
    # Poll through loopback: the issuer's host may be a name only the browser knows.
    probe = f"http://127.0.0.1:{s['port']}/.well-known/openid-configuration"
    while stopping is None:
        if child.poll() is not None:
            tail = log_tail(log_path)
            cleanup()
            fail(f"the portal exited with status {child.returncode} before it was ready:\n{tail}", 1)
        status = probe_status(probe)
        if status == 200:
            break
        if status is not None and "Initialization failed" in log_tail(log_path, 200):
            # A configuration the portal refuses: it answers 500 to everything, for good.
            terminate(child)
            tail = log_tail(log_path)
            cleanup()
            fail(f"the portal could not load its configuration (HTTP {status}):\n{tail}", 1)
        if time.monotonic() - started > START_TIMEOUT:
            terminate(child)
            tail = log_tail(log_path)
            cleanup()
            fail(f"{discovery} did not answer 200 within {START_TIMEOUT:.0f}s:\n{tail}", 1)
        time.sleep(0.05)
    if stopping is None:
        elapsed = time.monotonic() - started
        print(f"lemonldap: portal up in {elapsed:.2f}s, state in {state}", file=sys.stderr, flush=True)
        print(f"lemonldap ready at {s['issuer']}", flush=True)

    while True:
        try:
            child.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            if stopping is not None and time.monotonic() - stopping > 5:
                signal_group(child, signal.SIGKILL)
    cleanup()
    if stopping is not None:
        sys.exit(0)
    fail(f"the portal exited with status {child.returncode}:\n{log_tail(log_path)}", 1)


def signal_group(child, signum):
    """Sends signum to the portal's process group (plackup and anything it started)."""
    if child.returncode is not None:
        return
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass


def terminate(child):
    """SIGTERM to the portal's process group, SIGKILL after 5 s (outside signal handlers)."""
    signal_group(child, signal.SIGTERM)
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        signal_group(child, signal.SIGKILL)
        child.wait()


if __name__ == "__main__":
    main()
