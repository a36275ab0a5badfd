"""The services the functions talk to, started by the harness: moto (Secrets Manager and
DynamoDB) and the local OpenID provider (dev/provider/provider.mjs; a second instance with
short-lived access tokens for the refresh grants, which is also the second provider of the
two-provider variant), each behind a counting proxy; the secret they read (one signing key from
`openssl genpkey`), seeded into moto, and its two-provider copy with `client_secrets`; the
session table, made by dev/session_table.py from template.yaml's declaration; and the stop.

With `tls` (the TLS run, `--tls`), every proxy serves HTTPS under a certificate for 127.0.0.1
issued by a test CA made for the run (`openssl`, RSA-2048 as AWS's endpoints use): the
functions then pay a TLS handshake per connection, as in AWS, and every implementation is told
to trust that CA (`ca_env`)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import ssl
import subprocess
import time
import urllib.parse

from . import browser
from .browser import Browser
from .common import (
    CLIENT_ID,
    HARNESS_HEADER,
    LOGS,
    SHORT_ACCESS_TOKEN_TTL,
    REDIRECT_URI,
    ROOT,
    SECRET_ID,
    SECRET_ID_TWO_PROVIDERS,
    SESSION_TABLE,
    TWO_PROVIDERS,
    log,
)
from .plumbing import free_port
from .proxy import Proxy


class Services:
    """Once started: `moto_proxy` (Secrets Manager and DynamoDB), `provider` (the rounds'
    provider) and `short_provider` (another instance of it whose access tokens live
    SHORT_ACCESS_TOKEN_TTL seconds, for the refresh grants), each a `ProviderInstance`. For the
    two-provider variant, each is the other's second provider (`other`): only its discovery and
    JWKS are fetched there, so the token lifetime does not matter."""

    def __init__(self, tls: bool = False):
        self.procs: list[subprocess.Popen] = []
        self.tls = tls
        self.server_tls: ssl.SSLContext | None = None
        self.ca_file: str | None = None

    def ca_env(self) -> dict:
        """What tells each implementation to trust the run's test CA: ours (EXTRA_CA_CERTS),
        Node (NODE_EXTRA_CA_CERTS), requests, botocore and Python's ssl."""
        if not self.ca_file:
            return {}
        names = ("EXTRA_CA_CERTS", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "AWS_CA_BUNDLE", "SSL_CERT_FILE")
        return {name: self.ca_file for name in names}

    @property
    def moto_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.moto_proxy.port}"

    def start(self, alg: str):
        LOGS.mkdir(parents=True, exist_ok=True)
        if self.tls:
            self.ca_file, leaf, key = make_test_ca(LOGS / "tls")
            self.server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.server_tls.load_cert_chain(leaf, key)
            browser.TLS_CONTEXT = ssl.create_default_context(cafile=self.ca_file)
            log(f"TLS: every proxy serves HTTPS under a certificate of the test CA {self.ca_file}")
        moto_port = free_port()
        log(f"starting moto on :{moto_port}")
        self.spawn("moto", [str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)])
        wait_http(f"http://127.0.0.1:{moto_port}/moto-api/", 60, "moto")
        self.moto_proxy = Proxy("moto", moto_port, self.server_tls)

        secret = make_secret(alg)
        secretsmanager(self.moto_url, "CreateSecret", {"Name": SECRET_ID, "SecretString": json.dumps(secret)})
        secretsmanager(self.moto_url, "GetSecretValue", {"SecretId": SECRET_ID})
        # Both provider instances register the same client secret; the second provider's is
        # keyed by its name, as a deployment with two providers has it.
        two = {**secret, "client_secrets": {TWO_PROVIDERS[1]: secret["client_secret"]}}
        secretsmanager(self.moto_url, "CreateSecret", {"Name": SECRET_ID_TWO_PROVIDERS, "SecretString": json.dumps(two)})
        secretsmanager(self.moto_url, "GetSecretValue", {"SecretId": SECRET_ID_TWO_PROVIDERS})
        # Straight to moto, not through the proxy: the harness's own requests.
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "dev" / "session_table.py"), "create"]
            + ["--endpoint", f"http://127.0.0.1:{moto_port}", "--name", SESSION_TABLE],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"},
        )

        self.provider = self.start_provider("provider", secret, {})
        self.short_provider = self.start_provider("provider-short", secret, {"PROVIDER_ACCESS_TOKEN_TTL": str(SHORT_ACCESS_TOKEN_TTL)})

    def start_provider(self, name: str, secret: dict, extra_env: dict) -> "ProviderInstance":
        # A provider start that has not answered in 30 s is stopped and tried once more on a
        # fresh port: under load, a start has been seen to hang before it listens.
        for attempt in (1, 2):
            port = free_port()
            provider = ProviderInstance(Proxy(name, port, self.server_tls), "https" if self.tls else "http")
            log(f"starting {name} on :{port}, issuer {provider.issuer} (counting proxy)")
            env = dict(os.environ)
            env.update(
                PROVIDER_PORT=str(port),
                PROVIDER_HOST="127.0.0.1",
                PROVIDER_ISSUER=provider.issuer,
                OIDC_CLIENT_ID=CLIENT_ID,
                OIDC_CLIENT_SECRET=secret["client_secret"],
                PROVIDER_REDIRECT_URIS=REDIRECT_URI,
                PROVIDER_TRUST_PROXY="1" if self.tls else "0",
                **extra_env,
            )
            proc = self.spawn(name, ["node", "provider.mjs"], cwd=ROOT / "dev" / "provider", env=env)
            discovery_url = f"{provider.issuer}/.well-known/openid-configuration"
            try:
                wait_http(discovery_url, 30, name, {HARNESS_HEADER: "1"})
                break
            except RuntimeError:
                state = "still running" if proc.poll() is None else f"exited with {proc.returncode}"
                log(f"{name} did not answer in 30 s ({state}; attempt {attempt} of 2)")
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
                self.procs.remove(proc)
                provider.proxy.server.shutdown()
                if attempt == 2:
                    raise
        _, _, doc = Browser().request("GET", discovery_url)
        doc = json.loads(doc)
        provider.jwks_path = urllib.parse.urlsplit(doc["jwks_uri"]).path
        provider.iss_parameter = bool(doc.get("authorization_response_iss_parameter_supported"))
        return provider

    def other(self, provider: "ProviderInstance") -> "ProviderInstance":
        """The two-provider variant's second provider when `provider` is its default one."""
        return self.short_provider if provider is self.provider else self.provider

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


class ProviderInstance:
    """One provider process behind its counting proxy: its `issuer` (the proxy's URL), its
    `jwks_path` and whether it announces the `iss` parameter."""

    def __init__(self, proxy: Proxy, scheme: str = "http"):
        self.proxy = proxy
        self.issuer = f"{scheme}://127.0.0.1:{proxy.port}"
        self.jwks_path = ""
        self.iss_parameter = False


def wait_http(url: str, seconds: float, what: str, headers: dict | None = None) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            u = urllib.parse.urlsplit(url)
            conn = browser.connection(url, timeout=5)
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


def make_test_ca(directory) -> tuple[str, str, str]:
    """A test CA and a certificate for 127.0.0.1 and localhost it issued, RSA-2048, valid two
    days: the CA's PEM, the leaf's PEM and its key's, as paths."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    leaf, leaf_key, csr, ext = directory / "leaf.pem", directory / "leaf.key", directory / "leaf.csr", directory / "leaf.ext"
    rsa = ["-newkey", "rsa:2048", "-nodes"]
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", *rsa, "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=spa-login bench CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *rsa, "-keyout", str(leaf_key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(leaf), "-days", "2", "-extfile", str(ext))
    return str(ca), str(leaf), str(leaf_key)


def secretsmanager(base_url: str, action: str, payload: dict) -> dict:
    conn = browser.connection(base_url)
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

