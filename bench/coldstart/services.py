"""The services the functions talk to, started by the one launcher of the local stack
(`stack up`, dev/stack, the same that `make dev` and the e2e tests use): moto (Secrets Manager
and DynamoDB, the secret and the session table in it) and two instances of the local OpenID
provider (the second with short-lived access tokens for the refresh grants, which is also the
second provider of the two-provider variant), each behind a counting proxy of the harness; and
the upstream API the proxy function forwards to (dev/upstream, plain HTTP, no counting proxy:
the proxy's calls to it and the harness's direct ones go straight to it). Both
instances register the same client id, so they share one client secret: the secret's
`client_secret`, also under `client_secrets.second` for the two-provider variant.

For the client-authentication variants (`rust-par`, `rust-fapi2`: common.CLIENT_MODES), each
mode asked for adds two more instances, configured for it, behind counting proxies of their own.
The launcher is then told `client: {"auth": "private_key_jwt"}`, which makes a client key per
provider in the secret and registers our client at every oidc-provider with `private_key_jwt`
and the issuer function's client JWKS URI; the first two instances are told
`PROVIDER_CLIENT_AUTH=client_secret_basic` back (a provider's own `env` wins), so `rust` and
`rust-2p` run as without the variants. The harness runs no issuer function: it serves the
client JWKS itself (`ClientJwks`) on the port the launcher is given as `api_port`, where the
issuer function's URL points, with the public halves of the modes' client keys (derived by
node's crypto). The secret is then split (`split_secret`): `rust`'s is today's again (no client
key, `client_secrets` for `second` only), and each mode gets one of its own,
`common.client_secret_id(mode)`, the same plus its client key under `client_keys.default`,
exactly as a deployment with one provider would hold it. A function parses every client key
of its secret at cold start, so `rust` must not get theirs.

With `tls` (the TLS run, `--tls`), every proxy serves HTTPS under a certificate for 127.0.0.1
issued by a test CA made for the run (`openssl`, RSA-2048 as AWS's endpoints use): the
functions then pay a TLS handshake per connection, as in AWS, and every implementation is told
to trust that CA (`ca_env`)."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import time
import urllib.parse

from . import browser
from .browser import Browser
from .common import (
    CLIENT_ID,
    CLIENT_KEY_ALG,
    CLIENT_MODES,
    HARNESS_HEADER,
    LOGS,
    SECRET_ID,
    SESSION_TABLE,
    SHORT_ACCESS_TOKEN_TTL,
    STACK,
    TWO_PROVIDERS,
    client_secret_id,
    log,
)
from .plumbing import QuickHandler, free_port, serve
from .proxy import Proxy


class Services:
    """Once started: `moto_proxy` (Secrets Manager and DynamoDB), `provider` (the rounds'
    provider) and `short_provider` (another instance of it whose access tokens live
    SHORT_ACCESS_TOKEN_TTL seconds, for the refresh grants), each a `ProviderInstance`. For the
    two-provider variant, each is the other's second provider (`other`): only its discovery and
    JWKS are fetched there, so the token lifetime does not matter. `modes`: each client mode's
    pair of instances likewise (`pair`)."""

    def __init__(self, tls: bool = False):
        self.procs: list[subprocess.Popen] = []
        self.tls = tls
        self.server_tls: ssl.SSLContext | None = None
        self.ca_file: str | None = None
        # Client mode (common.CLIENT_MODES) -> its (rounds', short-lived) provider instances.
        self.modes: dict[str, tuple[ProviderInstance, ProviderInstance]] = {}
        self.client_jwks: ClientJwks | None = None

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

    def start(self, alg: str, modes: list[str] | tuple[str, ...] = ()):
        """`modes`: the client modes (common.CLIENT_MODES) whose provider instances to start too."""
        LOGS.mkdir(parents=True, exist_ok=True)
        if self.tls:
            self.ca_file, leaf, key = make_test_ca(LOGS / "tls")
            self.server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.server_tls.load_cert_chain(leaf, key)
            browser.TLS_CONTEXT = ssl.create_default_context(cafile=self.ca_file)
            log(f"TLS: every proxy serves HTTPS under a certificate of the test CA {self.ca_file}")
        # Each provider's counting proxy first: its URL is the issuer the provider announces.
        scheme = "https" if self.tls else "http"
        instances = [ProviderInstance(Proxy(name, free_port(), self.server_tls), scheme) for name in ("provider", "provider-short")]
        env = [["PROVIDER_HOST", "127.0.0.1"], ["PROVIDER_TRUST_PROXY", "1" if self.tls else "0"]]
        short_env = env + [["PROVIDER_ACCESS_TOKEN_TTL", str(SHORT_ACCESS_TOKEN_TTL)]]
        names, envs = list(TWO_PROVIDERS), [env, short_env]
        if modes:
            # Today's client (client_secret_basic) at the first two, over the launcher's
            # private_key_jwt for every oidc-provider.
            envs = [e + [["PROVIDER_CLIENT_AUTH", "client_secret_basic"]] for e in envs]
        for mode in modes:
            extra = [[k, v] for k, v in CLIENT_MODES[mode]["provider_env"].items()]
            for suffix, base in (("", env), ("short", short_env)):
                instances.append(ProviderInstance(Proxy(f"provider-{mode}{'-' + suffix if suffix else ''}", free_port(), self.server_tls), scheme))
                names.append(mode + suffix)
                envs.append(base + extra)
        spec = {
            "providers": [
                {"kind": "oidc-provider", "name": name, "client_id": CLIENT_ID, "port": i.proxy.upstream_port, "issuer": i.issuer, "env": e}
                for name, i, e in zip(names, instances, envs)
            ],
            "functions": False,
            # The upstream API (dev/upstream) the proxy forwards to, without the functions.
            "upstream": True,
            "sessions": True,
            "alg": alg,
            "secret_id": SECRET_ID,
            "session_table": SESSION_TABLE,
            "function_log_level": None,
            "logs": str(LOGS / "stack"),
        }
        if modes:
            self.client_jwks = ClientJwks()
            spec["client"] = {"auth": "private_key_jwt", "key_alg": CLIENT_KEY_ALG}
            # The issuer function's URL, where the providers fetch our client JWKS, is on this
            # port (`/lambda-url/issuer/.well-known/client-jwks.json`): the harness's server.
            spec["api_port"] = self.client_jwks.port
        spec_file = LOGS / "stack-spec.json"
        spec_file.write_text(json.dumps(spec, indent=2))
        log(f"starting moto and the providers with `stack up` ({spec_file})")
        self.stack_log = open(LOGS / "stack.log", "ab")
        self.stack = subprocess.Popen(
            [str(STACK), "up", "--name", "bench", "--spec", str(spec_file), "--json", "--until-stdin-closes"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stack_log, start_new_session=True,
        )
        line = self.stack.stdout.readline()
        if not line:
            self.stack.wait()
            raise RuntimeError(f"`stack up` exited with {self.stack.returncode}; see {LOGS / 'stack.log'}")
        self.described = json.loads(line)
        self.common_env = {k: v for k, v in self.described["common_env"].items() if k != "RUST_LOG"}
        # Plain HTTP on loopback in every run (also --tls): the proxy and the harness's direct
        # calls reach it alike.
        self.upstream_url = self.described["upstream"]
        moto_port = int(self.described["moto"]["endpoint"].rsplit(":", 1)[1])
        self.moto_proxy = Proxy("moto", moto_port, self.server_tls)
        # Through the proxy, as the functions will: moto's first request on a fresh route.
        secret = secretsmanager(self.moto_url, "GetSecretValue", {"SecretId": SECRET_ID})
        if modes:
            self.split_secret(json.loads(secret["SecretString"]), modes)
        for instance in instances:
            _, _, doc = Browser().request("GET", f"{instance.issuer}/.well-known/openid-configuration")
            doc = json.loads(doc)
            instance.jwks_path = urllib.parse.urlsplit(doc["jwks_uri"]).path
            instance.iss_parameter = bool(doc.get("authorization_response_iss_parameter_supported"))
            instance.par_required = bool(doc.get("require_pushed_authorization_requests"))
            for key, kind in ENDPOINTS.items():
                if doc.get(key):
                    instance.paths[urllib.parse.urlsplit(doc[key]).path] = kind
        self.provider, self.short_provider = instances[:2]
        for i, mode in enumerate(modes):
            self.modes[mode] = (instances[2 + 2 * i], instances[3 + 2 * i])

    def split_secret(self, doc: dict, modes) -> None:
        """`rust`'s secret as without the variants, and each mode's own (see the module's
        documentation); the client JWKS served from the modes' keys."""
        keys = doc.pop("client_keys", {})
        seconds = {k: v for k, v in doc.get("client_secrets", {}).items() if k in TWO_PROVIDERS[1:]}
        doc.pop("client_secrets", None)
        if seconds:
            doc["client_secrets"] = seconds
        secretsmanager(self.moto_url, "PutSecretValue", {"SecretId": SECRET_ID, "SecretString": json.dumps(doc)})
        published = []
        for mode in modes:
            ring = keys.get(mode)
            if not ring:
                raise RuntimeError(f"`stack up` made no client key for provider {mode!r}")
            secretsmanager(self.moto_url, "CreateSecret", {"Name": client_secret_id(mode), "SecretString": json.dumps({**doc, "client_keys": {"default": ring}})})
            published += ring
        self.client_jwks.publish(public_jwks(published))

    def pair(self, mode: str | None) -> "tuple[ProviderInstance, ProviderInstance]":
        """The (rounds', short-lived) provider instances of client mode `mode` (None: today's)."""
        return self.modes[mode] if mode else (self.provider, self.short_provider)

    def other(self, provider: "ProviderInstance") -> "ProviderInstance":
        """The two-provider variant's second provider when `provider` is its default one."""
        return self.short_provider if provider is self.provider else self.provider

    def stop(self):
        """The end of the launcher's standard input stops it, and it stops what it started."""
        stack = getattr(self, "stack", None)
        if stack is None:
            return
        stack.stdin.close()
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGTERM)
            stack.wait()
        self.stack_log.close()
        if self.client_jwks:
            self.client_jwks.server.shutdown()


class ClientJwks:
    """The issuer function's `/.well-known/client-jwks.json`, served by the harness (which runs
    no issuer function): `503` until `publish`, then the JWKS, for every path (the providers
    fetch only the URL the launcher gave them)."""

    def __init__(self):
        self.body: bytes | None = None
        self.fetches = 0
        jwks = self

        class Handler(QuickHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                body = jwks.body
                jwks.fetches += 1
                self.send_response(200 if body else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")
                self.wfile.flush()

        self.server, self.port = serve(Handler)

    def publish(self, jwks: dict) -> None:
        self.body = json.dumps(jwks).encode()


def public_jwks(ring: list[dict]) -> dict:
    """The public JWKS of client keys as the secret holds them (`kid`, `alg`,
    `private_key_pem`), as the issuer function publishes them: node's crypto derives each
    public key."""
    script = (
        "const {createPublicKey} = require('node:crypto');"
        "const ring = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify({keys: ring.map((k) => ({...createPublicKey(k.private_key_pem).export({format: 'jwk'}), kid: k.kid, alg: k.alg, use: 'sig'}))}));"
    )
    out = subprocess.run(["node", "-e", script], input=json.dumps(ring), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


# The endpoints of a discovery document, by the kind `proxy.classify` gives their requests.
ENDPOINTS = {
    "jwks_uri": "jwks",
    "token_endpoint": "token",
    "userinfo_endpoint": "userinfo",
    "pushed_authorization_request_endpoint": "par",
    "revocation_endpoint": "revocation",
}


class ProviderInstance:
    """One provider process behind its counting proxy: its `issuer` (the proxy's URL), its
    `jwks_path`, its endpoints by path, whether it announces the `iss` parameter and whether it
    requires PAR."""

    def __init__(self, proxy: Proxy, scheme: str = "http"):
        self.proxy = proxy
        self.issuer = f"{scheme}://127.0.0.1:{proxy.port}"
        self.jwks_path = ""
        self.iss_parameter = False
        # Whether it announces require_pushed_authorization_requests.
        self.par_required = False
        # Its endpoints by path (ENDPOINTS), for `proxy.classify`.
        self.paths: dict[str, str] = {}


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

