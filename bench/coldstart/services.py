"""The services the functions talk to, started by the one launcher of the local stack
(`stack up`, dev/stack, the same that `make dev` and the e2e tests use): moto (Secrets Manager
and DynamoDB, the secret and the session table in it) and two instances of the local OpenID
provider (the second with short-lived access tokens for the refresh grants, which is also the
second provider of the two-provider variant), each behind a counting proxy of the harness; and
the upstream API the proxy function forwards to (dev/upstream, plain HTTP, no counting proxy:
the proxy's calls to it and the harness's direct ones go straight to it). Both
instances register the same client id, so they share one client secret: the secret's
`client_secret`, also under `client_secrets.second` for the two-provider variant.

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
    HARNESS_HEADER,
    LOGS,
    SECRET_ID,
    SESSION_TABLE,
    SHORT_ACCESS_TOKEN_TTL,
    STACK,
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
        # Each provider's counting proxy first: its URL is the issuer the provider announces.
        scheme = "https" if self.tls else "http"
        instances = [ProviderInstance(Proxy(name, free_port(), self.server_tls), scheme) for name in ("provider", "provider-short")]
        env = [["PROVIDER_HOST", "127.0.0.1"], ["PROVIDER_TRUST_PROXY", "1" if self.tls else "0"]]
        short_env = env + [["PROVIDER_ACCESS_TOKEN_TTL", str(SHORT_ACCESS_TOKEN_TTL)]]
        spec = {
            "providers": [
                {"kind": "oidc-provider", "name": name, "client_id": CLIENT_ID, "port": i.proxy.upstream_port, "issuer": i.issuer, "env": e}
                for name, i, e in zip(TWO_PROVIDERS, instances, (env, short_env))
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
        secretsmanager(self.moto_url, "GetSecretValue", {"SecretId": SECRET_ID})
        for instance in instances:
            _, _, doc = Browser().request("GET", f"{instance.issuer}/.well-known/openid-configuration")
            doc = json.loads(doc)
            instance.jwks_path = urllib.parse.urlsplit(doc["jwks_uri"]).path
            instance.iss_parameter = bool(doc.get("authorization_response_iss_parameter_supported"))
        self.provider, self.short_provider = instances

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


class ProviderInstance:
    """One provider process behind its counting proxy: its `issuer` (the proxy's URL), its
    `jwks_path` and whether it announces the `iss` parameter."""

    def __init__(self, proxy: Proxy, scheme: str = "http"):
        self.proxy = proxy
        self.issuer = f"{scheme}://127.0.0.1:{proxy.port}"
        self.jwks_path = ""
        self.iss_parameter = False


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

