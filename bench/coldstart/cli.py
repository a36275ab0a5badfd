"""The command line (`python3 bench/coldstart.py`): checks that the peers and services are
installed, builds our functions, runs the harness and writes target/bench/coldstart.json with
a one-line summary per implementation."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

from . import __doc__ as overview
from .common import OUT, PROXY_WARM_EVENTS, ROOT, log
from .harness import Harness
from .impls import build, variant


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
    if not (ROOT / "dev" / "upstream" / "node_modules").exists():
        missing.append("dev/upstream/node_modules (bash dev/tools.sh)")
    if missing:
        raise SystemExit("coldstart: missing: " + ", ".join(missing) + "; `bash bench/run.sh` installs them")


def main() -> int:
    parser = argparse.ArgumentParser(description=overview, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="measured rounds per implementation (default 20)")
    parser.add_argument(
        "--impls",
        default="rust,rust-2p,rust-stateless,python,node",
        help="comma-separated: rust, rust-2p (ours with two providers configured), rust-stateless (ours with "
        "sessions off), python, node (default: these five); also rust-par (ours with private_key_jwt and PAR "
        "required) and rust-fapi2 (ours with the FAPI 2.0 profile: private_key_jwt, PAR, DPoP with provider "
        "nonces), each against provider instances of its own",
    )
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
        "--tls",
        action="store_true",
        help="moto and the providers behind HTTPS on loopback (a test CA every implementation trusts), as in AWS",
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=None,
        help="run every function process under the CPU quota Lambda gives this much memory "
        "(128: about 7.2%% of one vCPU; a cgroup, needs root)",
    )
    parser.add_argument(
        "--proxy-events",
        type=int,
        default=PROXY_WARM_EVENTS,
        help=f"warm requests per proxy process, each paired with a direct call to the upstream (default {PROXY_WARM_EVENTS})",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also measure the login and callback binaries in DIR (and refresh, if there) as implementation NAME "
        "(e.g. a build with other settings); repeatable",
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.impls.split(",")]
    check_peers(names)
    if not args.skip_build and any(n == "rust" or n.startswith("rust-") for n in names):
        build(args.profile)
    harness = Harness(args)
    for spec in args.variant:
        impl = variant(spec)
        harness.impls[impl.name] = impl
        args.impls += f",{impl.name}"
    try:
        harness.start()
        result = harness.run()
    finally:
        harness.services.stop()
        if harness.quota:
            harness.quota.remove()
    result["machine"] = {"arch": platform.machine(), "python": platform.python_version()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    log(f"wrote {args.out} ({result['seconds']} s)")
    for name, data in result["impls"].items():
        rounds = data["rounds"]
        cold = {f: statistics.median(r[f]["first_response_ms"] for r in rounds) for f in ("login", "callback", "refresh", "refresh_expired") if all(f in r for r in rounds)}
        log(f"{name:>6}: " + ", ".join(f"{f} cold {v:.1f} ms" for f, v in cold.items()) + " (medians)")
        for mode in ("ours", "provider"):
            runs = [r[f"proxy_{mode}"] for r in rounds if f"proxy_{mode}" in r]
            if runs:
                proxied = statistics.median(t for r in runs for t in r["invokes_ms"][1:])
                direct = statistics.median(t for r in runs for t in r["direct_warm_ms"])
                init = statistics.median(r["init_ms"] for r in runs)
                log(f"{name:>6}: proxy ({mode}): warm {proxied:.2f} ms, direct {direct:.2f} ms, added {proxied - direct:+.2f} ms; init {init:.1f} ms (medians)")
    return 0
