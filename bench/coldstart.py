#!/usr/bin/env python3
"""Cold-start harness: the login and callback functions, and their peers, as fresh processes
behind a Lambda Runtime API emulator, against moto and the local OpenID provider on loopback.

    python3 bench/coldstart.py [--n 20] [--impls rust,python,node] [--alg ES256] [--skip-build]
                               [--profile release|dev]

Python 3.11 standard library only. What it does:

1. Builds `cargo build --release -p login -p callback` (native, this machine's architecture;
   under $CARGO_TARGET_DIR when set) unless --skip-build. `--profile dev` uses the debug build
   instead: a smoke run (CI) that shows the harness works, not a measurement.
2. Starts moto (`.venv/bin/moto_server`) and the local provider (`dev/provider/provider.mjs`),
   each behind a counting reverse proxy of its own in this process. The functions reach
   Secrets Manager through `AWS_ENDPOINT_URL` = the moto proxy, and the provider through
   `OIDC_ISSUER` = the provider proxy (the provider is started with `PROVIDER_ISSUER` = that
   URL, so its discovery document's `issuer` matches and every endpoint points at the proxy).
   The proxies record every request with its start and end times; requests made by this
   harness itself (seeding, the scripted sign-in) carry `X-Bench-Harness` and are not counted.
3. Seeds one secret (the product's JSON format; signing key from `openssl genpkey`).
4. For each of N rounds and each implementation, interleaved: a fresh login process serves two
   `GET /api/login` events (cold, then warm); this harness signs in at the provider for each
   login URL (cookie jar, login form `prompt=login&login=alice&password=alice`, consent
   `prompt=consent`) up to the redirect carrying `code`, `state` and `iss`; then a fresh
   callback process serves two `GET /api/callback?code&state&iss` events with the
   transaction cookies (cold, then warm). Each process gets its own Runtime API emulator (a
   tiny HTTP server here) that hands out the events and records when the process first asks
   for one (end of init) and when each response arrives. Peak RSS is VmHWM from
   /proc/<pid>/status, read after the last response and before the process is killed.
   One unrecorded warm-up round per implementation comes first (warm page cache, moto and the
   provider warmed up).
5. Writes every measurement to target/bench/coldstart.json (bench/report.py turns it into
   BENCHMARKS.md). Logs of every process go to target/bench/logs/.
"""

from __future__ import annotations

import argparse
import base64
import html
import http.client
import http.server
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "bench"
# Where cargo puts its builds (CI keeps it outside the clone).
CARGO_TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
LOGS = OUT / "logs"
CLIENT_ID = "bench-spa"
SECRET_ID = "spa-login/bench"
REDIRECT_URI = "http://localhost:5173/callback"
SESSION_ISSUER = "https://login.example.com"
SESSION_AUDIENCE = "https://api.example.com"
HARNESS_HEADER = "X-Bench-Harness"
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
    HARNESS_HEADER.lower(),
}
INVOKE_TIMEOUT = 60.0

now = time.perf_counter


def log(msg: str) -> None:
    print(f"coldstart: {msg}", flush=True)


# --------------------------------------------------------------------------------------------
# HTTP plumbing


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


def serve(handler_cls) -> tuple[Server, int]:
    server = Server(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, server.server_address[1]


class Proxy:
    """A counting reverse proxy to one upstream on loopback. Keeps the Host header, so the
    upstream builds its URLs with the proxy's address."""

    def __init__(self, name: str, upstream_port: int):
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
                with proxy.lock:
                    proxy.records.append(
                        {
                            "upstream": proxy.name,
                            "method": self.command,
                            "path": urllib.parse.urlsplit(self.path).path,
                            "target": self.headers.get("X-Amz-Target", ""),
                            "status": resp.status,
                            "start": start,
                            "end": end,
                            "harness": harness,
                            "client_port": self.client_address[1],
                        }
                    )

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_any

        self.server, self.port = serve(Handler)

    def between(self, start: float, end: float) -> list[dict]:
        with self.lock:
            return [r for r in self.records if not r["harness"] and start <= r["start"] <= end]


class RuntimeApi:
    """A Lambda Runtime API emulator for one process: hands out `events` in order, records when
    the process first asks for one (end of init) and when each answer arrives."""

    def __init__(self, events: list[dict], function_name: str):
        self.events = [(str(uuid.uuid4()), e) for e in events]
        self.index = 0
        self.first_next: float | None = None
        self.handed: dict[str, float] = {}
        self.responses: dict[str, tuple[float, bytes]] = {}
        self.errors: list[tuple[str, bytes]] = []
        self.closed = False
        self.cond = threading.Condition()
        api = self
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"

        class Handler(QuickHandler):
            def log_message(self, *args):
                pass

            def reply(self, status: int, body: bytes, headers: dict | None = None):
                try:
                    self.send_response_only(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:
                    # The process was killed once its last answer was recorded.
                    self.close_connection = True

            def do_GET(self):
                t = now()
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.reply(404, b'{"errorMessage":"not found"}')
                with api.cond:
                    if api.first_next is None:
                        api.first_next = t
                    while api.index >= len(api.events) and not api.closed:
                        api.cond.wait()
                    if api.closed:
                        self.close_connection = True
                        return self.reply(410, b'{"errorMessage":"shutting down"}')
                    request_id, event = api.events[api.index]
                    api.index += 1
                    # Before the write: the function cannot act on the event earlier than this,
                    # so every request it makes for the event starts after it.
                    api.handed[request_id] = now()
                body = json.dumps(event).encode()
                deadline = int((time.time() + INVOKE_TIMEOUT) * 1000)
                self.reply(
                    200,
                    body,
                    {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                    },
                )

            def do_POST(self):
                t = now()
                body = read_body(self)
                parts = self.path.split("/")
                with api.cond:
                    if self.path == "/2018-06-01/runtime/init/error":
                        api.errors.append(("init", body))
                    elif len(parts) == 6 and parts[3] == "invocation" and parts[5] == "response":
                        api.responses[parts[4]] = (t, body)
                    elif len(parts) == 6 and parts[3] == "invocation" and parts[5] == "error":
                        api.errors.append((parts[4], body))
                    else:
                        return self.reply(404, b'{"errorMessage":"not found"}')
                    api.cond.notify_all()
                self.reply(202, b'{"status":"OK"}')

        self.server, self.port = serve(Handler)

    def wait_all(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.responses) < len(self.events) and not self.errors:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return not self.errors

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


class Browser:
    """The scripted user agent of the sign-in: a cookie jar per host (ports shared, as browsers
    do), no automatic redirects, every request marked as the harness's."""

    def __init__(self):
        self.jar: dict[str, dict[str, str]] = {}

    def request(self, method: str, url: str, form: dict | None = None):
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
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


# --------------------------------------------------------------------------------------------
# Services


class Services:
    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def spawn(self, name: str, cmd: list[str], **kw) -> subprocess.Popen:
        out = open(LOGS / f"{name}.log", "ab")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        out.close()
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def wait_http(url: str, seconds: float, what: str, headers: dict | None = None) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            u = urllib.parse.urlsplit(url)
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
            conn.request("GET", u.path or "/", headers=headers or {})
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up at {url}; see {LOGS}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_secret(alg: str) -> dict:
    if alg == "ES256":
        cmd = ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    elif alg == "RS256":
        cmd = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
    else:
        raise SystemExit(f"--alg must be ES256 or RS256, not {alg}")
    pem = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {
        "client_secret": secrets.token_urlsafe(32),
        "signing_keys": [{"kid": "bench-1", "private_key_pem": pem}],
        "cookie_keys": [base64.b64encode(secrets.token_bytes(32)).decode()],
    }


def secretsmanager(port: int, action: str, payload: dict) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    date = time.strftime("%Y%m%d", time.gmtime())
    conn.request(
        "POST",
        "/",
        json.dumps(payload),
        {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"secretsmanager.{action}",
            # moto routes by the credential scope and does not check the signature.
            "Authorization": f"AWS4-HMAC-SHA256 Credential=bench/{date}/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
            HARNESS_HEADER: "1",
        },
    )
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"Secrets Manager {action} answered {resp.status}: {data[:300]!r}")
    return json.loads(data)


# --------------------------------------------------------------------------------------------
# Implementations


class Impl:
    def __init__(self, name: str, label: str, cwd: Path, commands: dict[str, list[str]], extra_env: dict | None = None):
        self.name, self.label, self.cwd, self.commands = name, label, cwd, commands
        self.extra_env = extra_env or {}


def implementations(profile: str) -> dict[str, Impl]:
    py = ROOT / "bench" / ".venv" / "bin" / "python"
    node = shutil.which("node") or "node"
    built = CARGO_TARGET / ("release" if profile == "release" else "debug")
    return {
        "rust": Impl(
            "rust",
            f"this project (Rust, {profile})",
            ROOT,
            {
                "login": [str(built / "login")],
                "callback": [str(built / "callback")],
            },
        ),
        "python": Impl(
            "python",
            "Python 3.11 peer (Authlib + boto3, awslambdaric)",
            ROOT / "bench" / "peers" / "python",
            {
                "login": [str(py), "-m", "awslambdaric", "app.login_handler"],
                "callback": [str(py), "-m", "awslambdaric", "app.callback_handler"],
            },
            {"PYTHONDONTWRITEBYTECODE": "1"},
        ),
        "node": Impl(
            "node",
            "Node.js 20 peer (openid-client + AWS SDK v3)",
            ROOT / "bench" / "peers" / "node",
            {
                "login": [node, "runtime.mjs", "app.login"],
                "callback": [node, "runtime.mjs", "app.callback"],
            },
        ),
    }


def apigw_event(path: str, query: dict[str, str], cookies: list[str]) -> dict:
    """An API Gateway HTTP API (payload 2.0) GET event, as in functions/login/tests/data."""
    raw = urllib.parse.urlencode(query)
    event = {
        "version": "2.0",
        "routeKey": f"GET {path}",
        "rawPath": path,
        "rawQueryString": raw,
        "headers": {
            "accept": "application/json",
            "host": "login.example.com",
            "sec-fetch-mode": "cors",
            "user-agent": "Mozilla/5.0",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "login.example.com",
            "domainPrefix": "login",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "Mozilla/5.0",
            },
            "requestId": base64.b64encode(secrets.token_bytes(10)).decode(),
            "routeKey": f"GET {path}",
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


def vm_hwm_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def classify(record: dict, jwks_path: str) -> str:
    if record["upstream"] == "secrets":
        target = record["target"].split(".")[-1]
        return {"GetSecretValue": "secret"}.get(target, target or "aws")
    path = record["path"]
    if path.endswith("/.well-known/openid-configuration"):
        return "discovery"
    if path == jwks_path:
        return "jwks"
    return {"/token": "token", "/me": "userinfo"}.get(path, path)


class Harness:
    def __init__(self, args):
        self.args = args
        self.services = Services()
        self.impls = implementations(args.profile)
        self.run_index = 0

    # -- setup --
    def start(self):
        LOGS.mkdir(parents=True, exist_ok=True)
        moto_port = free_port()
        log(f"starting moto on :{moto_port}")
        self.services.spawn("moto", [str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)])
        wait_http(f"http://127.0.0.1:{moto_port}/moto-api/", 60, "moto")
        self.secrets_proxy = Proxy("secrets", moto_port)

        self.secret = make_secret(self.args.alg)
        secretsmanager(self.secrets_proxy.port, "CreateSecret", {"Name": SECRET_ID, "SecretString": json.dumps(self.secret)})
        secretsmanager(self.secrets_proxy.port, "GetSecretValue", {"SecretId": SECRET_ID})

        provider_port = free_port()
        self.provider_proxy = Proxy("provider", provider_port)
        self.issuer = f"http://127.0.0.1:{self.provider_proxy.port}"
        log(f"starting the provider on :{provider_port}, issuer {self.issuer} (counting proxy)")
        env = dict(os.environ)
        env.update(
            PROVIDER_PORT=str(provider_port),
            PROVIDER_HOST="127.0.0.1",
            PROVIDER_ISSUER=self.issuer,
            OIDC_CLIENT_ID=CLIENT_ID,
            OIDC_CLIENT_SECRET=self.secret["client_secret"],
            PROVIDER_REDIRECT_URIS=REDIRECT_URI,
        )
        self.services.spawn("provider", ["node", "provider.mjs"], cwd=ROOT / "dev" / "provider", env=env)
        discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        wait_http(discovery_url, 60, "provider", {HARNESS_HEADER: "1"})
        _, _, doc = Browser().request("GET", discovery_url)
        doc = json.loads(doc)
        self.jwks_path = urllib.parse.urlsplit(doc["jwks_uri"]).path
        self.iss_parameter = bool(doc.get("authorization_response_iss_parameter_supported"))

    def function_env(self, impl: Impl, function: str, api_port: int) -> dict:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            # What the Lambda service sets.
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api_port}",
            "AWS_LAMBDA_FUNCTION_NAME": function,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": str(impl.cwd),
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.secrets_proxy.port}",
            # The product's configuration (README), the same for every implementation.
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_REDIRECT_URI": REDIRECT_URI,
            "SECRET_ID": SECRET_ID,
            "SESSION_ISSUER": SESSION_ISSUER,
            "SESSION_AUDIENCE": SESSION_AUDIENCE,
            "POST_LOGIN_PATH": "/",
        }
        env.update(impl.extra_env)
        return env

    def run_function(self, impl: Impl, function: str, events: list[dict], tag: str) -> dict:
        api = RuntimeApi(events, function)
        env = self.function_env(impl, function, api.port)
        self.run_index += 1
        logf = open(LOGS / f"{impl.name}-{function}-{tag}.log", "wb")
        t0 = now()
        proc = subprocess.Popen(impl.commands[function], cwd=impl.cwd, env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        ok = api.wait_all(INVOKE_TIMEOUT)
        t_done = now()
        hwm = vm_hwm_kb(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = status
        api.close()
        if not ok:
            errors = "; ".join(f"{k}: {v[:300]!r}" for k, v in api.errors) or "timed out"
            raise RuntimeError(f"{impl.name} {function} failed ({errors}); see {LOGS}/{impl.name}-{function}-{tag}.log")

        invocations = []
        for request_id, _ in api.events:
            handed = api.handed[request_id]
            t_resp, body = api.responses[request_id]
            invocations.append({"handed": handed, "response": t_resp, "body": json.loads(body)})
        outbound = []
        for proxy in (self.secrets_proxy, self.provider_proxy):
            outbound += proxy.between(t0, t_done)
        outbound.sort(key=lambda r: r["start"])
        for r in outbound:
            r["kind"] = classify(r, self.jwks_path)
            r["phase"] = "other"
            if r["start"] < api.first_next:
                r["phase"] = "init"
            for i, inv in enumerate(invocations):
                if inv["handed"] <= r["start"] <= inv["response"]:
                    r["phase"] = f"invoke{i}"
        rel = lambda t: round((t - t0) * 1000, 3)  # noqa: E731
        return {
            "impl": impl.name,
            "function": function,
            "init_ms": rel(api.first_next),
            "first_response_ms": rel(invocations[0]["response"]),
            "invokes_ms": [round((inv["response"] - inv["handed"]) * 1000, 3) for inv in invocations],
            "peak_rss_kb": hwm,
            "ru_maxrss_kb": rusage.ru_maxrss,
            "outbound": [
                {
                    "kind": r["kind"],
                    "phase": r["phase"],
                    "method": r["method"],
                    "status": r["status"],
                    "start_ms": rel(r["start"]),
                    "end_ms": rel(r["end"]),
                    # One TCP connection = one client port at one proxy.
                    "conn": f"{r['upstream']}:{r['client_port']}",
                }
                for r in outbound
            ],
            "responses": [inv["body"] for inv in invocations],
        }

    def round(self, impl: Impl, tag: str) -> dict:
        login = self.run_function(impl, "login", [apigw_event("/api/login", {"return_to": "/orders"}, [])] * 2, tag)
        callback_events = []
        for resp in login["responses"]:
            if resp.get("statusCode") != 200:
                raise RuntimeError(f"{impl.name} login answered {resp.get('statusCode')}: {resp.get('body')}")
            login_url = json.loads(resp["body"])["login_url"]
            redirect = Browser().sign_in(login_url, "alice", "alice")
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(redirect).query))
            if "code" not in q:
                raise RuntimeError(f"{impl.name}: the provider refused the login: {redirect}")
            callback_events.append(apigw_event("/api/callback", q, response_cookies(resp)))
        callback = self.run_function(impl, "callback", callback_events, tag)
        for resp in callback["responses"]:
            body = json.loads(resp.get("body") or "{}")
            if resp.get("statusCode") != 200 or "token" not in body:
                raise RuntimeError(f"{impl.name} callback answered {resp.get('statusCode')}: {resp.get('body')}")
            header = json.loads(base64.urlsafe_b64decode(body["token"].split(".")[0] + "=="))
            if header.get("alg") != self.args.alg:
                raise RuntimeError(f"{impl.name} signed our JWT with {header.get('alg')}, not {self.args.alg}")
        # Bodies hold tokens: keep only their size.
        for run in (login, callback):
            run["response_bytes"] = [len(r.get("body") or "") for r in run.pop("responses")]
        return {"login": login, "callback": callback}

    def run(self) -> dict:
        names = [n.strip() for n in self.args.impls.split(",") if n.strip()]
        unknown = set(names) - set(self.impls)
        if unknown:
            raise SystemExit(f"unknown implementation(s): {', '.join(sorted(unknown))}")
        results: dict[str, list] = {n: [] for n in names}
        load_before = Path("/proc/loadavg").read_text().split()[:3]
        started = time.time()
        for name in names:
            log(f"warm-up round: {name}")
            self.round(self.impls[name], "warmup")
        for i in range(self.args.n):
            for name in names:
                results[name].append(self.round(self.impls[name], f"{i:03d}"))
            log(f"round {i + 1}/{self.args.n} done")
        return {
            "n": self.args.n,
            "alg": self.args.alg,
            "impls": {n: {"label": self.impls[n].label, "rounds": results[n]} for n in names},
            "issuer_announces_iss_parameter": self.iss_parameter,
            "seconds": round(time.time() - started, 1),
            "loadavg_before": load_before,
            "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        }


def build(profile: str) -> None:
    release = ["--release"] if profile == "release" else []
    cmd = ["nice", "-n", "10", "cargo", "build", *release, "-p", "login", "-p", "callback"]
    log("building: " + " ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)


def check_peers(names: list[str]) -> None:
    missing = []
    if "python" in names and not (ROOT / "bench" / ".venv" / "bin" / "python").exists():
        missing.append("bench/.venv (pip install -r bench/peers/python/requirements.txt)")
    if "node" in names and not (ROOT / "bench" / "peers" / "node" / "node_modules").exists():
        missing.append("bench/peers/node/node_modules (npm ci)")
    if not (ROOT / ".venv" / "bin" / "moto_server").exists():
        missing.append(".venv/bin/moto_server (bash dev/tools.sh)")
    if not (ROOT / "dev" / "provider" / "node_modules").exists():
        missing.append("dev/provider/node_modules (bash dev/tools.sh)")
    if missing:
        raise SystemExit("coldstart: missing: " + ", ".join(missing) + "; `bash bench/run.sh` installs them")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="measured rounds per implementation (default 20)")
    parser.add_argument("--impls", default="rust,python,node", help="comma-separated: rust, python, node")
    parser.add_argument("--alg", default="ES256", help="our JWT's signing key: ES256 (default) or RS256")
    parser.add_argument("--skip-build", action="store_true", help="use the built binaries as they are")
    parser.add_argument(
        "--profile",
        choices=["release", "dev"],
        default="release",
        help="cargo profile of our functions: release (measurements) or dev (a smoke run "
        "that only shows the harness works; reuses the test build)",
    )
    parser.add_argument("--out", default=str(OUT / "coldstart.json"))
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also measure the login and callback binaries in DIR as implementation NAME "
        "(e.g. a build with other settings); repeatable",
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.impls.split(",")]
    check_peers(names)
    if not args.skip_build and "rust" in names:
        build(args.profile)
    harness = Harness(args)
    for spec in args.variant:
        name, _, directory = spec.partition("=")
        directory = Path(directory).resolve()
        if not name or not (directory / "login").exists() or not (directory / "callback").exists():
            raise SystemExit(f"--variant {spec}: expected NAME=DIR with DIR/login and DIR/callback")
        harness.impls[name] = Impl(
            name,
            f"variant: the binaries in {directory}",
            ROOT,
            {"login": [str(directory / "login")], "callback": [str(directory / "callback")]},
        )
        args.impls += f",{name}"
    try:
        harness.start()
        result = harness.run()
    finally:
        harness.services.stop()
    result["machine"] = {"arch": platform.machine(), "python": platform.python_version()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    log(f"wrote {args.out} ({result['seconds']} s)")
    for name, data in result["impls"].items():
        rounds = data["rounds"]
        cold = statistics.median(r["callback"]["first_response_ms"] for r in rounds)
        login = statistics.median(r["login"]["first_response_ms"] for r in rounds)
        log(f"{name:>6}: login cold {login:.1f} ms, callback cold {cold:.1f} ms (medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
