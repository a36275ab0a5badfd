"""The implementations under test, each a command per function (login, callback, and refresh
where it has one): this project's functions as cargo built them (`build`), the Python peer
(bench/peers/python, awslambdaric) and the Node peer (bench/peers/node, runtime.mjs), neither
of which has sessions or a refresh, the same binaries of ours with two providers configured
(`rust-2p`: OIDC_PROVIDERS, see Harness.function_env), the same binaries authenticating without
a shared secret (`rust-par`, `rust-fapi2`: common.CLIENT_MODES, each against provider instances
of its own configured for it), and `--variant` builds of ours."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .common import CARGO_TARGET, CLIENT_MODES, ROOT, client_secret_id, log


class Impl:
    def __init__(self, name: str, label: str, cwd: Path, commands: dict[str, list[str]], extra_env: dict | None = None, providers: int = 1, client: str | None = None):
        self.name, self.label, self.cwd, self.commands = name, label, cwd, commands
        self.extra_env = extra_env or {}
        # How many providers it is configured with: 1 (OIDC_ISSUER) or 2 (OIDC_PROVIDERS).
        self.providers = providers
        # Its client mode (common.CLIENT_MODES), whose provider instances and secret it uses;
        # None: client_secret_basic at the rounds' provider, the secret SECRET_ID.
        self.client = client


def client_variant(mode: str, name: str, what: str, profile: str, ours: dict[str, list[str]]) -> Impl:
    """Our login, callback and refresh with client mode `mode`: its function settings, its
    secret (today's plus a client key), its provider instances. No authorizer (it does not talk
    to a provider), no proxy (measured with ours)."""
    env = {**CLIENT_MODES[mode]["function_env"], "SECRET_ID": client_secret_id(mode)}
    settings = ", ".join(f"{k}={v}" for k, v in CLIENT_MODES[mode]["function_env"].items())
    return Impl(name, f"this project, {what} (Rust, {profile}; {settings})", ROOT, {f: ours[f] for f in ("login", "callback", "refresh")}, env, client=mode)


def implementations(profile: str) -> dict[str, Impl]:
    py = ROOT / "bench" / ".venv" / "bin" / "python"
    node = shutil.which("node") or "node"
    built = CARGO_TARGET / ("release" if profile == "release" else "debug")
    ours = {f: [str(built / f)] for f in ("login", "callback", "refresh", "authorizer", "proxy")}
    return {
        "rust": Impl("rust", f"this project (Rust, {profile})", ROOT, ours),
        # The same binaries with a second provider configured (its discovery, and JWKS for
        # callback and refresh, fetched at cold start); every sign-in goes to the default one.
        # No authorizer: it does not talk to a provider; no proxy, measured with ours.
        "rust-2p": Impl(
            "rust-2p",
            f"this project, two providers configured (Rust, {profile}; OIDC_PROVIDERS=main,second)",
            ROOT,
            {f: ours[f] for f in ("login", "callback", "refresh")},
            providers=2,
        ),
        # The same binaries authenticating without a shared secret, each at provider instances
        # configured for it: private_key_jwt with PAR required; the FAPI 2.0 profile
        # (private_key_jwt, PAR, DPoP with the provider's nonces required).
        "rust-par": client_variant("par", "rust-par", "private_key_jwt, PAR required", profile, ours),
        "rust-fapi2": client_variant("fapi2", "rust-fapi2", "FAPI 2.0: private_key_jwt, PAR, DPoP with provider nonces", profile, ours),
        # The same binaries with sessions off (SESSION_TABLE empty is unset): the callback then
        # does what the peers' does, with no session write; no refresh.
        "rust-stateless": Impl(
            "rust-stateless",
            f"this project with sessions off, the peers' work (Rust, {profile}; SESSION_TABLE unset)",
            ROOT,
            {f: ours[f] for f in ("login", "callback")},
            {"SESSION_TABLE": ""},
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


def noops(profile: str) -> dict[str, Impl]:
    """Each implementation's runtime alone, a handler that answers at once (`noop`): ours is the
    floor binary with FLOOR=runtime (the client and the Runtime API loop), the peers' their
    runtime client with bench/peers/*/noop. Run beside each in every round."""
    py = ROOT / "bench" / ".venv" / "bin" / "python"
    node = shutil.which("node") or "node"
    found = {
        "python": Impl("python-noop", "awslambdaric, a no-op handler", ROOT / "bench" / "peers" / "python", {"noop": [str(py), "-m", "awslambdaric", "noop.handler"]}, {"PYTHONDONTWRITEBYTECODE": "1"}),
        "node": Impl("node-noop", "runtime.mjs, a no-op handler", ROOT / "bench" / "peers" / "node", {"noop": [node, "runtime.mjs", "noop.handler"]}),
    }
    ours = floor(profile)
    if ours:
        found["rust"] = Impl("rust-noop", "bench/floor with FLOOR=runtime", ROOT, {"noop": ours.commands["floor"]}, {"FLOOR": "runtime"})
    return found


def floor(profile: str) -> Impl | None:
    """The init floor (bench/floor): exec, the callback's three fetches with a plain client, the
    first `/next`; run beside ours in each round. None when it is not built."""
    binary = CARGO_TARGET / ("release" if profile == "release" else "debug") / "floor"
    if not binary.exists():
        return None
    return Impl("floor", f"the init floor (bench/floor, {profile})", ROOT, {"floor": [str(binary)]})


def floor_secret(profile: str) -> Impl | None:
    """The floor of a cold start that fetches the secret alone (bench/floor with
    `FLOOR=secret`): the proxy's when every remote API takes our JWT. None when not built."""
    found = floor(profile)
    if not found:
        return None
    return Impl("floor-secret", f"the init floor with the secret alone (bench/floor, FLOOR=secret, {profile})", ROOT, found.commands, {"FLOOR": "secret"})


def variant(spec: str) -> Impl:
    """`NAME=DIR`: the login and callback binaries in DIR (and refresh, when DIR has it) as
    implementation NAME."""
    name, _, directory = spec.partition("=")
    directory = Path(directory).resolve()
    if not name or not (directory / "login").exists() or not (directory / "callback").exists():
        raise SystemExit(f"--variant {spec}: expected NAME=DIR with DIR/login and DIR/callback")
    functions = [f for f in ("login", "callback", "refresh") if (directory / f).exists()]
    return Impl(name, f"variant: the binaries in {directory}", ROOT, {f: [str(directory / f)] for f in functions})


# What the harness runs. The release build selects the functions it measures (the features a
# deployment's build unifies); the dev build (the smoke run) asks for the same set as the
# Makefile's bins target, every binary of the workspace, so that cargo, unifying features over the
# set, finds the test build fresh (`make bins`).
RELEASE_PACKAGES = ["login", "callback", "refresh", "authorizer", "proxy", "floor"]


def build(profile: str) -> None:
    if profile == "release":
        selection = ["--release", *(a for p in RELEASE_PACKAGES for a in ("-p", p))]
    else:
        selection = ["--workspace", "--bins"]
    cmd = ["nice", "-n", "10", "cargo", "build", *selection]
    log("building: " + " ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)
