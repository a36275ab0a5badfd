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
