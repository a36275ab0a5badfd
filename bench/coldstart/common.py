"""What every part of the harness shares: the paths it reads and writes, the fixed names of the
product configuration the functions get (the session table's among them), the provider's access
token lifetime, the header that marks the harness's own requests, the clock and the log line."""

from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / "target" / "bench"
# Where cargo puts its builds (CI keeps it outside the clone).
CARGO_TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
LOGS = OUT / "logs"
# The one launcher of the local stack (dev/stack), from `make bins`.
STACK = CARGO_TARGET / "debug" / "stack"
CLIENT_ID = "bench-spa"
SECRET_ID = "spa-login/bench"
# The names the two-provider variant gives its providers in OIDC_PROVIDERS (the first is the
# default, where every sign-in goes); also the names the launcher gives the two instances.
TWO_PROVIDERS = ("main", "second")
# The session table the harness creates in moto (dev/session_table.py, from template.yaml) and
# gives every function as SESSION_TABLE; the cookie that carries a session's handle.
SESSION_TABLE = "spa-login-bench-sessions"
REFRESH_COOKIE = "__Host-refresh"
# The access token lifetime (PROVIDER_ACCESS_TOKEN_TTL), seconds, of a second provider instance
# that serves only the sessions refreshed with a refresh grant: short, so that a round can wait
# for it to pass. The rounds' own provider keeps its default (3600 s): the Python peer's client
# (Authlib) treats a token that expires within 60 s as expired and would refuse its userinfo.
SHORT_ACCESS_TOKEN_TTL = 3
# The client-authentication variants (`rust-par`, `rust-fapi2`, impls.py), by mode: each mode
# gets two provider instances of its own configured for it (the rounds' one, and one whose
# access tokens live SHORT_ACCESS_TOKEN_TTL, for the refresh grants), named `<mode>` and
# `<mode>short` in the launcher, and a secret of its own in moto (`client_secret_id`: today's
# secret plus one client key). Every mode authenticates by private_key_jwt (the launcher's
# `client: {"auth": "private_key_jwt", "key_alg": "PS256"}` makes the keys and points each
# provider at the client JWKS, which the harness serves: services.py); `provider_env` is the
# rest of the provider's configuration (dev/provider/provider.mjs), `function_env` what the
# functions are told (as dev/stack's ClientSpec tells them: OIDC_PAR stays `auto`, which follows
# the provider's announced PAR endpoint).
CLIENT_MODES = {
    # private_key_jwt and PAR required.
    "par": {
        "provider_env": {"PROVIDER_PAR": "required"},
        "function_env": {"OIDC_CLIENT_AUTH": "private_key_jwt"},
    },
    # The FAPI 2.0 profile (private_key_jwt with the issuer as audience, PAR required, DPoP
    # required, PS256 ID tokens), with DPoP server nonces required in every proof.
    "fapi2": {
        "provider_env": {"PROVIDER_PROFILE": "fapi2", "PROVIDER_DPOP_NONCE": "1"},
        "function_env": {"OIDC_PROFILE": "fapi2"},
    },
}
# The client key's algorithm (RSA-2048, PSS): FAPI 2.0 takes PS256, ES256 or EdDSA.
CLIENT_KEY_ALG = "PS256"


def client_secret_id(mode: str) -> str:
    """The secret of the variants of client mode `mode`."""
    return f"{SECRET_ID}-{mode}"


HARNESS_HEADER = "X-Bench-Harness"
INVOKE_TIMEOUT = 60.0
# Authorizer events per process (the first opens the connections; the rest are warm).
AUTHORIZER_EVENTS = 6
# Warm proxied requests per proxy process (after its cold one), each paired with a direct call
# to the upstream (`--proxy-events` overrides).
PROXY_WARM_EVENTS = 20
# The remote APIs the proxy is given, both at the upstream's `/open` base (dev/upstream: it
# checks nothing of the bearer, so that a direct call and a proxied one cost the upstream the
# same): `bench` takes a JWT of ours (re-minted with BENCH_AUDIENCE), `idp` the session's
# provider access token. The request: what the SPA would send below them.
PROXY_APIS = {"ours": "bench", "provider": "idp"}
BENCH_AUDIENCE = "bench-api"
PROXY_PATH = "items/42"
PROXY_QUERY = {"view": "full"}
SESSION_COOKIE = "__Host-session"

now = time.perf_counter


def log(msg: str) -> None:
    print(f"coldstart: {msg}", flush=True)
