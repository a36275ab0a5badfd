"""The measurements: each round runs a fresh login process, signs in at the provider for its
login URLs, then runs a fresh callback process with what the provider redirected to, then (for
an implementation with a refresh function) a fresh refresh process with the session handles
the callback set; each process behind its own Runtime API emulator, its outbound requests
taken from the proxies and assigned to init or to one of its invocations, its peak RSS read
before it is killed. For refresh grants, a round also signs in twice at a second provider
instance whose access tokens live a few seconds (not measured); once every implementation has
run the round, a fresh refresh process serves those two sessions after their access tokens
have expired, so that each of its requests makes a refresh grant. An implementation configured
with two providers (`rust-2p`) gets the round's provider as its default one and the other
provider instance as its second: every sign-in goes to the default, so its rounds run the same
events and checks; its outbound requests are taken from both providers' proxies. A variant of a
client mode (`rust-par`, `rust-fapi2`: common.CLIENT_MODES) runs the same rounds against that
mode's two provider instances (services.py); its login requests must each push one
authorization request where the provider requires PAR (checked), and a refresh grant's count
is of the token endpoint's successful answers (a DPoP nonce retry, `use_dpop_nonce` then the
grant, is one grant of two requests).

Ours also runs the proxy function in each round, with the JWTs and session handles of that
round's refresh: a fresh process with a remote API in `ours` mode only (its cold start fetches
the secret alone), then a fresh one with a remote API in `provider` mode too (its cold start
also fetches discovery and the JWKS), each serving one cold and PROXY_WARM_EVENTS warm
`GET /api/remote/<api>/items/42` events through a gated Runtime API emulator: between two
events, while the function waits in `/next`, the harness makes the same request straight to
the upstream (alternately just before and just after the proxied one), so that each proxied
request has a direct call of its own, measured under the same load. The first direct call of
each process goes over a new connection, before the process starts (the cold baseline). Every
answer is checked: a `200` of the upstream, which saw a JWT (`ours`) or an opaque token
(`provider`), no cookie, no `X-CSRF`; `ours` makes no other outbound request, `provider`
exactly one DynamoDB request per event and no refresh grant. The floor of the `ours`-only
cold start, bench/floor with `FLOOR=secret`, runs in the same round."""

from __future__ import annotations

import base64
import json
import math
import os
import signal
import subprocess
import time
import urllib.parse
from pathlib import Path

from .browser import Browser
from .common import (
    AUTHORIZER_EVENTS,
    BENCH_AUDIENCE,
    CLIENT_ID,
    CLIENT_MODES,
    INVOKE_TIMEOUT,
    LOGS,
    PROXY_APIS,
    PROXY_WARM_EVENTS,
    SESSION_COOKIE,
    SHORT_ACCESS_TOKEN_TTL,
    REFRESH_COOKIE,
    SESSION_TABLE,
    TWO_PROVIDERS,
    log,
    now,
)
from .events import apigw_event, authorizer_event, forwarded_headers, proxy_event, refresh_event, response_cookies
from .impls import Impl, floor, floor_secret, implementations, noops
from .proxy import DYNAMODB_TARGET, classify
from .quota import CpuQuota
from .runtime_api import RuntimeApi
from .services import ProviderInstance, Services
from .upstream import Direct, check_answer


class Harness:
    """One run: the services, the implementations, and `run` for the warm-up and N rounds."""

    def __init__(self, args):
        self.args = args
        self.services = Services(tls=getattr(args, "tls", False))
        self.impls = implementations(args.profile)
        self.floor = floor(args.profile)
        self.floor_secret = floor_secret(args.profile)
        self.noops = noops(args.profile)
        # Sessions of the last round, to refresh once the provider's access token has expired:
        # (implementation, that round's result, the handle cookies, when the token has expired,
        # the short-lived provider instance they are at).
        self.pending: list[tuple[Impl, dict, list[str], float, ProviderInstance]] = []
        # `--memory-mb`: every function process under a CPU quota of Lambda's size.
        self.quota = CpuQuota(args.memory_mb) if getattr(args, "memory_mb", None) else None

    def start(self):
        # The client modes of the implementations asked for, each its provider instances.
        names = [n.strip() for n in self.args.impls.split(",") if n.strip()]
        modes = [m for m in CLIENT_MODES if any(self.impls[n].client == m for n in names if n in self.impls)]
        self.services.start(self.args.alg, modes)

    def function_env(self, impl: Impl, function: str, api_port: int, provider: ProviderInstance) -> dict:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            # What the Lambda service sets.
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api_port}",
            "AWS_LAMBDA_FUNCTION_NAME": function,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(getattr(self.args, "memory_mb", None) or 128),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": str(impl.cwd),
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            # Secrets Manager and DynamoDB, both moto behind the one counting proxy.
            "AWS_ENDPOINT_URL": self.services.moto_url,
        }
        # The product's configuration, the same for every implementation: the launcher's (its
        # redirect URIs, secret, issuer and audience of our JWT, session table: sessions on, the
        # peers have none and ignore it), under the AWS settings above, and the provider.
        env = {**self.services.common_env, **env, "OIDC_ISSUER": provider.issuer, "OIDC_CLIENT_ID": CLIENT_ID}
        if impl.providers == 2:
            # OIDC_PROVIDERS=main,second (OIDC_ISSUER and OIDC_CLIENT_ID would be refused as
            # ambiguous); the redirect URI falls back to the unprefixed variable.
            del env["OIDC_ISSUER"], env["OIDC_CLIENT_ID"]
            env["OIDC_PROVIDERS"] = ",".join(TWO_PROVIDERS)
            for name, instance in zip(TWO_PROVIDERS, self.providers_of(impl, provider)):
                env[f"OIDC_{name.upper()}_ISSUER"] = instance.issuer
                env[f"OIDC_{name.upper()}_CLIENT_ID"] = CLIENT_ID
        # The TLS run's test CA, trusted by every implementation in the way it reads.
        env.update(self.services.ca_env())
        env.update(impl.extra_env)
        return env

    def providers_of(self, impl: Impl, provider: ProviderInstance) -> list[ProviderInstance]:
        """The provider instances `impl` is configured with, the default (`provider`) first."""
        return [provider, self.services.other(provider)][: impl.providers]

    def run_function(self, impl: Impl, function: str, events: list[dict], tag: str, provider: ProviderInstance | None = None, env: dict | None = None, drive=None) -> dict:
        """A fresh process of `function` serving `events`; with `drive`, the emulator is gated
        and `drive(api)`, called once the process is started, releases the events."""
        provider = provider or self.services.provider
        api = RuntimeApi(events, function, gated=drive is not None)
        env = {**self.function_env(impl, function, api.port, provider), **(env or {})}
        logf = open(LOGS / f"{impl.name}-{function}-{tag}.log", "wb")
        t0 = now()
        join = self.quota.join if self.quota else None
        proc = subprocess.Popen(impl.commands[function], cwd=impl.cwd, env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=join)
        logf.close()
        failed = None
        if drive is not None:
            try:
                drive(api)
            except (RuntimeError, OSError, ValueError) as e:
                failed = e
        ok = failed is None and api.wait_all(INVOKE_TIMEOUT)
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
            errors = "; ".join(f"{k}: {v[:300]!r}" for k, v in api.errors) or str(failed or "timed out")
            raise RuntimeError(f"{impl.name} {function} failed ({errors}); see {LOGS}/{impl.name}-{function}-{tag}.log")

        invocations = []
        for request_id, _ in api.events:
            handed = api.handed[request_id]
            t_resp, body = api.responses[request_id]
            invocations.append({"handed": handed, "response": t_resp, "body": json.loads(body)})
        outbound = self.services.moto_proxy.between(t0, t_done)
        # Which configured provider (`main` for the default one) each provider request went to.
        role, paths = {}, {}
        for name, instance in zip(TWO_PROVIDERS, self.providers_of(impl, provider)):
            outbound += instance.proxy.between(t0, t_done)
            role[instance.proxy.name], paths[instance.proxy.name] = name, instance.paths
        outbound.sort(key=lambda r: r["start"])
        for r in outbound:
            r["kind"] = classify(r, paths.get(r["upstream"], {}))
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
            # CPU time of the whole process (user + system, every thread): init and its requests.
            "cpu_ms": round((rusage.ru_utime + rusage.ru_stime) * 1000, 3),
            "ru_maxrss_kb": rusage.ru_maxrss,
            "outbound": [
                {
                    "kind": r["kind"],
                    "dynamodb": r["target"].startswith(DYNAMODB_TARGET),
                    # None for moto; `main` (the default provider) or `second`.
                    "provider": role.get(r["upstream"]),
                    "phase": r["phase"],
                    "method": r["method"],
                    "status": r["status"],
                    # A refusal's error code (`use_dpop_nonce`, ConditionalCheckFailedException...).
                    "error": r.get("error"),
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
        # The rounds' provider instance and the short-lived one, of the implementation's mode.
        main, short = self.services.pair(impl.client)
        login, callback = self.sign_in(impl, tag, main)
        result = {"login": login, "callback": callback}
        if "refresh" in impl.commands:
            # The session handle each callback set: the first answer's for the cold refresh,
            # the second's for the warm one. The provider's access token is fresh (3600 s).
            handles = session_cookies(impl, callback)
            result["refresh"] = self.run_refresh(impl, handles, tag, main, grant=False)
            tokens = result["refresh"].pop("tokens")
            if "authorizer" in impl.commands:
                result["authorizer"] = self.run_authorizer(impl, tokens, tag)
            if "proxy" in impl.commands:
                for mode in PROXY_APIS:
                    result[f"proxy_{mode}"] = self.run_proxy(impl, mode, tokens, handles, tag)
            # Two sessions at the short-lived provider, refreshed once its access tokens have
            # expired (`refresh_expired`); this login and callback are not measured.
            _, short_callback = self.sign_in(impl, tag + "-short", short)
            expired_at = math.floor(time.time()) + SHORT_ACCESS_TOKEN_TTL + 0.05
            self.pending.append((impl, result, session_cookies(impl, short_callback), expired_at, short))
            drop_bodies(short_callback)
        if impl.name == "rust" and self.floor:
            # The floor's init, in the same round as ours (two events, as ours get).
            result["floor"] = self.run_function(self.floor, "floor", [apigw_event("/api/login", {}, [])] * 2, tag)
            drop_bodies(result["floor"])
        if "proxy" in impl.commands and self.floor_secret:
            # The floor of the proxy's `ours`-only cold start (the secret alone).
            result["floor_secret"] = self.run_function(self.floor_secret, "floor", [apigw_event("/api/login", {}, [])] * 2, tag)
            drop_bodies(result["floor_secret"])
        if impl.name in self.noops:
            # The runtime alone, on the same runtime client, in the same round.
            result["noop"] = self.run_function(self.noops[impl.name], "noop", [apigw_event("/api/login", {}, [])] * 2, tag)
            drop_bodies(result["noop"])
        for run in (login, callback):
            drop_bodies(run)
        return result

    def sign_in(self, impl: Impl, tag: str, provider: ProviderInstance) -> tuple[dict, dict]:
        """A fresh login process (two events), the sign-in at `provider` for both login URLs,
        a fresh callback process (two events), each answer checked."""
        login = self.run_function(impl, "login", [apigw_event("/api/login", {"return_to": "/orders"}, [])] * 2, tag, provider)
        # Where the provider requires PAR, each login request pushes its authorization request
        # (one `201` of the PAR endpoint); elsewhere none does.
        for i in range(len(login["responses"])):
            pushed = [o for o in login["outbound"] if o["phase"] == f"invoke{i}" and o["kind"] == "par"]
            if [o["status"] for o in pushed] != ([201] if provider.par_required else []):
                raise RuntimeError(f"{impl.name} login request {i} made PAR requests {[o['status'] for o in pushed]} (provider requires PAR: {provider.par_required})")
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
        callback = self.run_function(impl, "callback", callback_events, tag, provider)
        for resp in callback["responses"]:
            self.check_token(impl, "callback", resp)
        return login, callback

    def check_token(self, impl: Impl, function: str, resp: dict) -> dict:
        """A `200` answer with our JWT signed with the chosen algorithm; its claims."""
        body = json.loads(resp.get("body") or "{}")
        if resp.get("statusCode") != 200 or "token" not in body:
            raise RuntimeError(f"{impl.name} {function} answered {resp.get('statusCode')}: {resp.get('body')}")
        header, claims = (json.loads(base64.urlsafe_b64decode(part + "==")) for part in body["token"].split(".")[:2])
        if header.get("alg") != self.args.alg:
            raise RuntimeError(f"{impl.name} signed our JWT with {header.get('alg')}, not {self.args.alg}")
        return claims

    def run_refresh(self, impl: Impl, handles: list[str], tag: str, provider: ProviderInstance, grant: bool) -> dict:
        """A fresh refresh process serving `POST /api/refresh` for each handle; each answer must
        be a `200` with a JWT of the session (a `401` is a failure, not a fast answer), each made
        with a refresh grant at the provider exactly when `grant`."""
        run = self.run_function(impl, "refresh", [refresh_event(h) for h in handles], tag + ("-expired" if grant else ""), provider)
        for i, resp in enumerate(run["responses"]):
            if not self.check_token(impl, "refresh", resp).get("sid"):
                raise RuntimeError(f"{impl.name} refresh answered a JWT without `sid`")
            # Successful answers only: under DPoP with provider nonces, a cold process's first
            # grant is refused `use_dpop_nonce` and made again with the nonce.
            grants = sum(1 for o in run["outbound"] if o["phase"] == f"invoke{i}" and o["kind"] == "token" and o["status"] == 200)
            if grants != int(grant):
                why = "the provider's access token had not expired" if grant else "the provider's access token had expired"
                raise RuntimeError(f"{impl.name} refresh request {i} made {grants} refresh grants, expected {int(grant)} ({why}?)")
        # Our JWTs of these live sessions, for the authorizer.
        run["tokens"] = [json.loads(resp["body"])["token"] for resp in run["responses"]]
        drop_bodies(run)
        return run

    def run_authorizer(self, impl: Impl, tokens: list[str], tag: str) -> dict:
        """What `SESSION_CHECK=strict` costs an uncached authorizer call: two fresh authorizer
        processes, stateless then strict, each deciding the same REQUEST events (bearer tokens
        of live sessions, AUTHORIZER_EVENTS in all). Every decision must allow; the strict one
        must make exactly one DynamoDB request (the session's `GetItem`) in each invoke, the
        stateless one none. The first invoke of each also opens its connections."""
        events = [authorizer_event(tokens[i % len(tokens)]) for i in range(AUTHORIZER_EVENTS)]
        runs = {}
        for mode in ("stateless", "strict"):
            run = self.run_function(impl, "authorizer", events, f"{tag}-{mode}", env={"SESSION_CHECK": mode})
            for i, resp in enumerate(run["responses"]):
                if resp.get("isAuthorized") is not True:
                    raise RuntimeError(f"{impl.name} authorizer ({mode}) refused a live session's token: {resp}")
                reads = sum(1 for o in run["outbound"] if o["phase"] == f"invoke{i}" and o["dynamodb"])
                if reads != (mode == "strict"):
                    raise RuntimeError(f"{impl.name} authorizer ({mode}) made {reads} DynamoDB requests in invoke {i}")
            drop_bodies(run)
            runs[mode] = run
        return runs

    def run_proxy(self, impl: Impl, mode: str, tokens: list[str], handles: list[str], tag: str) -> dict:
        """A fresh proxy process configured for `mode` (`ours`: one remote API, which takes
        our JWT; `provider`: that one and another that takes the provider's access token),
        serving one cold and `--proxy-events` warm requests to the API of `mode`, with the
        sessions of this round (our JWT as `__Host-session`, and for `provider` the session's
        handle). Each request is paired with a direct call to the upstream (see the module's
        documentation); the result has them as `direct_cold_ms` and `direct_warm_ms`, in the
        order of the warm requests."""
        base = f"{self.services.upstream_url}/open"
        env = {"REMOTE_APIS": f"{PROXY_APIS['ours']}={base}", f"REMOTE_API_{PROXY_APIS['ours'].upper()}_AUDIENCE": BENCH_AUDIENCE}
        if mode == "provider":
            name = PROXY_APIS["provider"]
            env["REMOTE_APIS"] += f",{name}={base}"
            env[f"REMOTE_API_{name.upper()}_TOKEN"] = "provider"
        warm = getattr(self.args, "proxy_events", PROXY_WARM_EVENTS)
        events = []
        for i in range(1 + warm):
            # The round's two sessions in turn.
            cookies = [f"{SESSION_COOKIE}={tokens[i % len(tokens)]}"]
            if mode == "provider":
                cookies.append(handles[i % len(handles)])
            events.append(proxy_event(PROXY_APIS[mode], cookies))
        # The direct calls carry what the proxy sends there: our JWT (of the same size as the
        # one it mints) or an opaque token of the provider's access token's shape.
        token, bearer = (tokens[0], "jwt") if mode == "ours" else (base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="), "opaque")
        direct = Direct(self.services.upstream_url, forwarded_headers(events[0]), token, bearer)
        direct_cold = direct.call(fresh=True)
        direct_warm: list[float] = []

        def drive(api: RuntimeApi) -> None:
            # The cold event is released from the start; each warm one once its direct call
            # has been made (odd events) or is made right after it (even events).
            api.wait_response(0, INVOKE_TIMEOUT)
            for i in range(1, len(events)):
                if i % 2:
                    direct_warm.append(direct.call())
                api.release()
                api.wait_response(i, INVOKE_TIMEOUT)
                if not i % 2:
                    direct_warm.append(direct.call())

        try:
            run = self.run_function(impl, "proxy", events, f"{tag}-{mode}", env=env, drive=drive)
        finally:
            direct.close()
        for i, resp in enumerate(run["responses"]):
            body = resp.get("body") or ""
            if resp.get("isBase64Encoded"):
                body = base64.b64decode(body)
            check_answer(resp.get("statusCode"), body if isinstance(body, bytes) else body.encode(), bearer, f"{impl.name} proxy ({mode}), request {i}")
            ddb = sum(1 for o in run["outbound"] if o["phase"] == f"invoke{i}" and o["dynamodb"])
            others = sum(1 for o in run["outbound"] if o["phase"] == f"invoke{i}" and not o["dynamodb"])
            # `provider`: a session's first request reads it (one DynamoDB call); the next ones
            # reuse its token for PROVIDER_TOKEN_REUSE_SECS (10 s), after which one reads again.
            first_of_session = i < len(handles)
            expected_ddb = {1} if mode == "provider" and first_of_session else {0, 1} if mode == "provider" else {0}
            if ddb not in expected_ddb or others:
                raise RuntimeError(f"{impl.name} proxy ({mode}) request {i} made {ddb} DynamoDB and {others} other requests")
        run["mode"] = mode
        run["direct_cold_ms"] = direct_cold
        run["direct_warm_ms"] = direct_warm
        drop_bodies(run)
        return run

    def refresh_expired(self) -> None:
        """The last round's sessions at the short-lived provider, once its access tokens have
        expired: each request makes a refresh grant (provider round trip, lease and store
        writes). The other implementations' rounds ran meanwhile, so the wait is shorter."""
        for impl, result, handles, expired_at, short in self.pending:
            time.sleep(max(0.0, expired_at - time.time()))
            result["refresh_expired"] = self.run_refresh(impl, handles, "expired", short, grant=True)
            result["refresh_expired"].pop("tokens")
        self.pending.clear()

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
        self.refresh_expired()
        for i in range(self.args.n):
            for name in names:
                results[name].append(self.round(self.impls[name], f"{i:03d}"))
            self.refresh_expired()
            log(f"round {i + 1}/{self.args.n} done")
        return {
            "n": self.args.n,
            "alg": self.args.alg,
            "impls": {n: {"label": self.impls[n].label, "client": self.impls[n].client, "rounds": results[n]} for n in names},
            # How each client mode's providers and functions were configured (common.CLIENT_MODES),
            # and how often the providers fetched the client JWKS the harness serves.
            "client_modes": {m: CLIENT_MODES[m] for m in self.services.modes},
            "client_jwks_fetches": self.services.client_jwks.fetches if self.services.client_jwks else None,
            "issuer_announces_iss_parameter": self.services.provider.iss_parameter,
            "short_access_token_ttl": SHORT_ACCESS_TOKEN_TTL,
            "seconds": round(time.time() - started, 1),
            "loadavg_before": load_before,
            "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "memory_mb": self.quota.memory_mb if self.quota else None,
            "proxy_warm_events": getattr(self.args, "proxy_events", PROXY_WARM_EVENTS),
            "tls": self.services.tls,
            "cpu_quota": self.quota.describe() if self.quota else None,
        }


def session_cookies(impl: Impl, callback: dict) -> list[str]:
    """`__Host-refresh=<handle>` as each of a callback process's answers set it."""
    found = [[c for c in response_cookies(resp) if c.startswith(REFRESH_COOKIE + "=")] for resp in callback["responses"]]
    if not all(found):
        raise RuntimeError(f"{impl.name} callback set no {REFRESH_COOKIE} cookie (sessions off? SESSION_TABLE={SESSION_TABLE})")
    return [cookies[0] for cookies in found]


def drop_bodies(run: dict) -> None:
    """Answers hold tokens: keep only their sizes."""
    run["response_bytes"] = [len(r.get("body") or "") for r in run.pop("responses")]


def vm_hwm_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
