#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the raw results of `bash bench/run.sh`:

- target/bench/coldstart.json (bench/coldstart.py),
- the criterion results under $CRITERION_HOME (default target/bench/criterion),
- the sizes of target/release/{login,callback,refresh}, of every function's arm64 bootstrap
  from `cargo lambda build --release --arm64` (target/lambda/*/bootstrap) and of
  .aws-sam/build/*/bootstrap (all under $CARGO_TARGET_DIR where set, except .aws-sam),
- bench/analysis.md, appended as it is (the hand-written reading of the numbers).

The proxy's section comes from the same harness results (bench/report_proxy.py). With
--proxy-only, it comes from target/bench/proxy.json, proxy-tls.json and proxy-128mb.json
(`bash bench/run.sh --proxy`) and replaces the proxy section of the existing --out file, whose
other figures stay as they are (bench/analysis.md is appended again).

The section "Client authentication without a shared secret" compares `rust` with `rust-par` and
`rust-fapi2` (bench/coldstart: private_key_jwt, PAR, DPoP) when the harness run measured them.
With --client-auth-only it comes from target/bench/client-auth.json (`bash bench/run.sh
--client-auth`; --client-auth-results names another) and replaces only that section of --out
(between its two HTML comments; inserted before the proxy's section when --out has none). A full
report whose run has no variants keeps the section --out already has.

    python3 bench/report.py [--smoke] [--proxy-only | --client-auth-only] [--out BENCHMARKS.md]

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import struct
import math
import subprocess
import time
from pathlib import Path

import report_proxy

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "bench"

# Targets stated by the issue.
COLD_RATIO_TARGETS = {"python": 20.0, "node": 10.0}
RSS_TARGET_MB = 16.0
ARM64_SIZE_TARGET_MB = 6.0
# The absolute RS256 callback target is retired: the RSA-2048 signature is its floor.
CPU_TARGETS_US = {
    "login/start": 20.0,
    "callback_cpu/ES256": 120.0,
    "refresh_cpu/ES256": 50.0,
}
# List prices used by the cost table: AWS us-east-1, Lambda on arm64, as AWS published them
# (Lambda since 2022, DynamoDB on-demand since its November 2024 cut, Secrets Manager since
# 2018) and as last checked for this table; check the pricing pages before relying on them.
PRICES_CHECKED = "2025-11"
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "secrets_manager_call": 0.05 / 1e4,
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
}
# Each function's memory in template.yaml (the peers are priced at the same sizes).
MEMORY_MB = {"login": 128, "callback": 256, "refresh": 256, "refresh_expired": 256}
# Write units of one session write (PutItem at login; UpdateItem, charged for the larger of the
# item before and after, at refresh): a typical item is within 1 KB since the provider's tokens
# are sealed packed and deflated (shared/src/sessions/seal.rs, format 2; size.rs measures
# oidc-provider's, LemonLDAP::NG's and Okta's). An item with a JWT access token of Okta's size
# still takes 2.
SESSION_WRITE_UNITS = 1
# The same before format 2 (tokens sealed as JSON: items of 1 to 2 KB), shown beside for
# comparison.
SESSION_WRITE_UNITS_BEFORE = 2
# Session item sizes in DynamoDB's count, as shared/src/sessions/size.rs measures them (its test
# prints them; a few bytes vary with the random values in the tokens).
SESSION_ITEM_SIZES = (
    ("oidc-provider (43, 43, 840 characters)", "1360 B: 2 units", "954 B: 1 unit"),
    ("LemonLDAP::NG (64, 64, 747 characters)", "1219 B: 2 units", "822 B: 1 unit"),
    ("Okta-sized (43, 964, 920 characters: JWT access token)", "2429 B: 3 units", "1446 B: 2 units"),
)


def units(n: int) -> str:
    """`n` write units, in words."""
    return f"{n} write unit{'' if n == 1 else 's'}"
# Every Lambda function of the workspace, one crate each under functions/ (their arm64
# bootstraps are sized).
LAMBDA_FUNCTIONS = tuple(sorted(p.name for p in (Path(__file__).resolve().parent.parent / "functions").iterdir() if (p / "Cargo.toml").is_file()))
# The functions of a cold-start round, in its order; `refresh_expired` is the refresh run again
# once the provider's access token has expired (each request makes a refresh grant).
FUNCTIONS = ("login", "callback", "refresh", "refresh_expired", "floor", "noop")
# Init at most this many times the floor's (bench/floor: exec, the same fetches, the first /next).
FLOOR_RATIO_TARGET = 1.5
CRITERION_ORDER = [
    ("login/start", "login: `login::start` (authorize URL + sealed transaction cookie)"),
    ("callback_cpu/ES256", "callback CPU path, ES256 signing key (`check_callback` + `check_tokens` + `mint`)"),
    ("callback_cpu/RS256", "callback CPU path, RSA-2048 signing key"),
    ("callback_checks/check_callback", "  of which `check_callback` (open cookie, state, iss)"),
    ("callback_checks/check_tokens_RS256_id_token", "  of which `check_tokens` (verify the provider's RS256 ID token, claims)"),
    ("refresh_cpu/ES256", "refresh CPU path, ES256 signing key (cookie + handle + key, decode the item and open its tokens, `ended`, `mint_in_session`)"),
    ("refresh_cpu/RS256", "refresh CPU path, RSA-2048 signing key"),
    ("refresh_steps/handle_key", "  of which the cookie header, the handle and its key (SHA-256)"),
    ("refresh_steps/decode_record", "  of which decoding the item (`Sessions::record`, incl. `ProviderTokens::open`)"),
    ("refresh_steps/open_provider_tokens", "    of which `ProviderTokens::open` (AES-256-GCM, JSON)"),
    ("session/mint/ES256", "`session.mint`, ES256"),
    ("session/mint/RS256", "`session.mint`, RSA-2048 (RS256)"),
    ("session/verify/ES256", "`session.verify`, ES256"),
    ("session/verify/RS256", "`session.verify`, RSA-2048 (RS256)"),
    ("id_token_signature/parsed_once_aws_lc_rs_RS256", "crypto alone: the provider's RS256 ID token signature check (key parsed once, aws-lc-rs)"),
    ("crypto/rsa2048_sign", "crypto alone: an RSA-2048 signature (PKCS#1 v1.5, SHA-256) of our JWT's size"),
    ("crypto/es256_sign", "crypto alone: an ES256 signature of our JWT's size"),
    ("crypto/aes256gcm_open_300B", "crypto alone: opening a sealed transaction cookie (AES-256-GCM, 300 bytes)"),
    ("crypto/sha256_32B", "crypto alone: SHA-256 of an access token (`at_hash`)"),
]
# The warm callback's CPU path at most this many times the sum of its cryptographic operations
# measured alone (criterion keys).
CRYPTO_RATIO_TARGET = 1.2
CALLBACK_CRYPTO = {
    "callback_cpu/RS256": ["id_token_signature/parsed_once_aws_lc_rs_RS256", "crypto/rsa2048_sign", "crypto/aes256gcm_open_300B", "crypto/sha256_32B"],
    "callback_cpu/ES256": ["id_token_signature/parsed_once_aws_lc_rs_RS256", "crypto/es256_sign", "crypto/aes256gcm_open_300B", "crypto/sha256_32B"],
}


# Linear-interpolated percentile (q in 0..100), one definition for both reports.
pct = report_proxy.pct


def med(values):
    return statistics.median(values) if values else float("nan")


def sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


# ---------------------------------------------------------------------------------------------
# Machine


def machine() -> list[tuple[str, str]]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return [
        ("cores (`nproc`)", sh(["nproc"])),
        ("CPU (/proc/cpuinfo)", cpu),
        ("memory", f"{mem_kb / 1024 / 1024:.1f} GiB"),
        ("arch, kernel", f"{platform.machine()}, Linux {platform.release()}"),
        ("rustc", sh(["rustc", "--version"])),
        ("node", sh(["node", "--version"])),
        ("python (harness, Python peer)", platform.python_version()),
    ]


# ---------------------------------------------------------------------------------------------
# Criterion


def criterion_results(home: Path, since: float | None) -> dict[str, dict]:
    out = {}
    if not home.exists():
        return out
    for bench_json in home.rglob("new/benchmark.json"):
        new = bench_json.parent
        if since is not None and new.joinpath("estimates.json").stat().st_mtime < since:
            continue
        meta = json.loads(bench_json.read_text())
        full_id = meta.get("full_id") or meta.get("title")
        est = json.loads(new.joinpath("estimates.json").read_text())
        sample = json.loads(new.joinpath("sample.json").read_text())
        per_iter = [t / i for t, i in zip(sample["times"], sample["iters"]) if i]
        out[full_id] = {
            "median_ns": est["median"]["point_estimate"],
            "mean_ns": est["mean"]["point_estimate"],
            "p90_ns": pct(per_iter, 90),
            "samples": len(per_iter),
            "iterations": int(sum(sample["iters"])),
        }
    return out


def fmt_ns(ns: float) -> str:
    if ns != ns:
        return "n/a"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


# ---------------------------------------------------------------------------------------------
# Binaries


def elf_info(path: Path) -> tuple[str, bool | None]:
    """(architecture, stripped) of an ELF64 little-endian file; stripped = no .symtab."""
    try:
        data = path.read_bytes()
    except OSError:
        return "?", None
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return "not ELF64 LE", None
    machine_code = struct.unpack_from("<H", data, 18)[0]
    arch = {0x3E: "x86_64", 0xB7: "aarch64"}.get(machine_code, hex(machine_code))
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if not shoff or not shnum:
        return arch, True
    names_hdr = shoff + shstrndx * shentsize
    names_off = struct.unpack_from("<Q", data, names_hdr + 0x18)[0]
    stripped = True
    for i in range(shnum):
        hdr = shoff + i * shentsize
        sh_type = struct.unpack_from("<I", data, hdr + 4)[0]
        if sh_type == 2:  # SHT_SYMTAB
            stripped = False
        name_off = struct.unpack_from("<I", data, hdr)[0]
        end = data.index(b"\0", names_off + name_off)
        if data[names_off + name_off : end] == b".symtab":
            stripped = False
    return arch, stripped


def binaries() -> list[dict]:
    def row(what: str, p: Path) -> dict:
        arch, stripped = elf_info(p)
        return {"what": what, "bytes": p.stat().st_size, "arch": arch, "stripped": stripped, "mtime": p.stat().st_mtime}

    rows = []
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    for name in ("login", "callback", "refresh"):
        p = target / "release" / name
        if p.exists():
            rows.append(row(f"target/release/{name}", p))
    # `cargo lambda build --release --arm64 -p ...` as CI runs it (.ci/run).
    for name in LAMBDA_FUNCTIONS:
        p = target / "lambda" / name / "bootstrap"
        if p.exists():
            rows.append(row(f"target/lambda/{name}/bootstrap", p))
    sam = ROOT / ".aws-sam" / "build"
    if sam.exists():
        for p in sorted(sam.glob("*/bootstrap")):
            rows.append(row(str(p.relative_to(ROOT)), p))
    return rows


def du(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


# ---------------------------------------------------------------------------------------------
# Cold start


def summarize(rounds: list[dict]) -> dict:
    def col(fn):
        return [fn(r) for r in rounds]

    def outbound(r, function, phase):
        return [o for o in r[function]["outbound"] if o["phase"] == phase]

    def overlap(r, function="callback"):
        init = outbound(r, function, "init")
        sec = [o for o in init if o["kind"] == "secret"]
        disc = [o for o in init if o["kind"] == "discovery"]
        if not sec or not disc:
            return False
        return sec[0]["start_ms"] < disc[0]["end_ms"] and disc[0]["start_ms"] < sec[0]["end_ms"]

    def jwks_at_init_after_discovery(r):
        """Whether each provider's JWKS request at init started after its discovery request
        ended (None: no JWKS at init). Per provider: with two, one's JWKS may start before the
        other's discovery ends."""
        init = outbound(r, "callback", "init")
        jwks = [o for o in init if o["kind"] == "jwks"]
        if not jwks:
            return None
        for j in jwks:
            disc = [o for o in init if o["kind"] == "discovery" and o.get("provider") == j.get("provider")]
            if not disc or j["start_ms"] < disc[0]["end_ms"]:
                return False
        return True

    def depth(reqs):
        """Sequential rounds of fetches: the longest chain in which each starts after the
        previous one ended."""
        reqs = sorted(reqs, key=lambda o: o["start_ms"])
        best: list[int] = []
        for o in reqs:
            before = [best[j] for j, p in enumerate(reqs[: len(best)]) if p["end_ms"] <= o["start_ms"]]
            best.append(1 + max(before, default=0))
        return max(best, default=0)

    def providers_overlap(r, function):
        """With two providers configured: whether the requests at init to each overlap in time
        (one's first starts before the other's last ends, both ways). None with one."""
        init = outbound(r, function, "init")
        by = {p: [o for o in init if o.get("provider") == p] for p in ("main", "second")}
        if not by["second"]:
            return None
        if not by["main"]:
            return False
        a, b = by["main"], by["second"]
        return min(o["start_ms"] for o in a) < max(o["end_ms"] for o in b) and min(o["start_ms"] for o in b) < max(o["end_ms"] for o in a)

    def net_wall(reqs):
        return (max(o["end_ms"] for o in reqs) - min(o["start_ms"] for o in reqs)) if reqs else 0.0

    def new_conns(r, function, phase):
        """TCP connections first used in `phase` (each costs a TCP and, in AWS, a TLS handshake)."""
        seen, fresh = set(), set()
        for o in r[function]["outbound"]:
            if o["phase"] == phase and o["conn"] not in seen:
                fresh.add(o["conn"])
            seen.add(o["conn"])
        return len(fresh)

    def kinds(r, function, phase):
        return "+".join(o["kind"] for o in outbound(r, function, phase)) or "none"

    def kind_counts(r, function, phase):
        """The requests of `phase` by kind, in a fixed order (concurrent requests start in
        any order): e.g. `secret + 2 discovery + 2 jwks`."""
        found = [o["kind"] for o in outbound(r, function, phase)]
        order = ["secret", "discovery", "jwks"]
        kinds_ = sorted(set(found), key=lambda k: (order.index(k) if k in order else len(order), k))
        return " + ".join(f"{found.count(k)} {k}" if found.count(k) > 1 else k for k in kinds_) or "none"

    def mode(values):
        return max(set(values), key=values.count) if values else "?"

    def reqs(r, function, phase, dynamodb=None):
        """How many requests `function` made in `phase`: all, or only DynamoDB's (True), or
        only the others (False)."""
        return len([o for o in outbound(r, function, phase) if dynamodb is None or o.get("dynamodb", False) == dynamodb])

    def ddb_kinds(r, function, phases):
        return "+".join(o["kind"] for o in r[function]["outbound"] if o["phase"] in phases and o.get("dynamodb")) or "none"

    # Every function measured in every round (the peers have no refresh).
    functions = [f for f in FUNCTIONS if rounds and all(f in r for r in rounds)]
    s: dict = {"functions": functions}
    for fn in functions:
        s |= {
            f"{fn}_cold": col(lambda r: r[fn]["first_response_ms"]),
            f"{fn}_init": col(lambda r: r[fn]["init_ms"]),
            f"{fn}_first_invoke": col(lambda r: r[fn]["invokes_ms"][0]),
            f"{fn}_warm_invoke": col(lambda r: r[fn]["invokes_ms"][1]),
            f"{fn}_rss_mb": col(lambda r: (r[fn]["peak_rss_kb"] or 0) / 1024),
            f"{fn}_cpu_ms": col(lambda r: r[fn].get("cpu_ms") or 0.0),
            f"{fn}_init_reqs": col(lambda r: reqs(r, fn, "init")),
            f"{fn}_first_reqs": col(lambda r: reqs(r, fn, "invoke0")),
            f"{fn}_warm_reqs": col(lambda r: reqs(r, fn, "invoke1")),
            f"{fn}_first_provider_reqs": col(lambda r: reqs(r, fn, "invoke0", False)),
            f"{fn}_warm_provider_reqs": col(lambda r: reqs(r, fn, "invoke1", False)),
            # DynamoDB round trips: per cold start (init and its first request), per warm request.
            f"{fn}_ddb_cold": col(lambda r: reqs(r, fn, "init", True) + reqs(r, fn, "invoke0", True)),
            f"{fn}_ddb_warm": col(lambda r: reqs(r, fn, "invoke1", True)),
            f"{fn}_ddb_cold_kinds": mode(col(lambda r: ddb_kinds(r, fn, ("init", "invoke0")))),
            f"{fn}_ddb_warm_kinds": mode(col(lambda r: ddb_kinds(r, fn, ("invoke1",)))),
            f"{fn}_init_kinds": mode(col(lambda r: kinds(r, fn, "init"))),
            f"{fn}_init_kind_counts": mode(col(lambda r: kind_counts(r, fn, "init"))),
            f"{fn}_init_depth": col(lambda r: depth(outbound(r, fn, "init"))),
            f"{fn}_init_net_ms": col(lambda r: net_wall(outbound(r, fn, "init"))),
            # Init in three parts: until its first outbound request starts (exec, loader,
            # runtime, configuration, clients), the fetches, and from the last answer to `/next`.
            f"{fn}_init_before_ms": col(lambda r: min((o["start_ms"] for o in outbound(r, fn, "init")), default=r[fn]["init_ms"])),
            f"{fn}_init_after_ms": col(lambda r: r[fn]["init_ms"] - max((o["end_ms"] for o in outbound(r, fn, "init")), default=r[fn]["init_ms"])),
            f"{fn}_providers_overlap": col(lambda r: providers_overlap(r, fn)),
            f"{fn}_init_new_conns": col(lambda r: new_conns(r, fn, "init")),
            # How long the secret's request at init took (start → end at the proxy).
            f"{fn}_init_secret_ms": [o["end_ms"] - o["start_ms"] for r in rounds for o in outbound(r, fn, "init") if o["kind"] == "secret"],
            f"{fn}_first_kinds": mode(col(lambda r: kinds(r, fn, "invoke0"))),
            f"{fn}_warm_kinds": mode(col(lambda r: kinds(r, fn, "invoke1"))),
        }
    s |= {
        "callback_init_conns": col(lambda r: new_conns(r, "callback", "init")),
        "callback_first_conns": col(lambda r: new_conns(r, "callback", "invoke0")),
        "callback_warm_conns": col(lambda r: new_conns(r, "callback", "invoke1")),
        "other_reqs": col(lambda r: sum(len(outbound(r, fn, "other")) for fn in functions)),
        "overlap": col(overlap),
        "login_overlap": col(lambda r: overlap(r, "login")),
        "jwks_after_discovery": col(jwks_at_init_after_discovery),
    }
    # The round whose callback cold start is the median one, for a timeline.
    order = sorted(range(len(rounds)), key=lambda i: rounds[i]["callback"]["first_response_ms"])
    s["median_round"] = rounds[order[len(order) // 2]] if rounds else None
    if "refresh" in functions:
        order = sorted(range(len(rounds)), key=lambda i: rounds[i]["refresh"]["first_response_ms"])
        s["median_refresh_round"] = rounds[order[len(order) // 2]]
    return s


def authorizer_section(w, rounds: list[dict]) -> None:
    """What `SESSION_CHECK=strict` adds to an uncached Lambda authorizer call: the harness ran,
    in each round, a fresh stateless and a fresh strict authorizer process on the same events."""
    rounds = [r["authorizer"] for r in rounds if "authorizer" in r]

    def ms2(v: float) -> str:
        return "n/a" if v != v else f"{v:.2f}"

    if not rounds:
        return
    n_events = len(rounds[0]["stateless"]["invokes_ms"])

    def first(mode):
        return [r[mode]["invokes_ms"][0] for r in rounds]

    def warm(mode):
        return [t for r in rounds for t in r[mode]["invokes_ms"][1:]]

    def added(pick):
        """Per round: strict minus stateless (first invoke), or the difference of the rounds'
        medians (warm invokes)."""
        if pick == "first":
            return [r["strict"]["invokes_ms"][0] - r["stateless"]["invokes_ms"][0] for r in rounds]
        return [med(r["strict"]["invokes_ms"][1:]) - med(r["stateless"]["invokes_ms"][1:]) for r in rounds]

    w("### `SESSION_CHECK=strict`: the cost of one uncached authorizer call")
    w("")
    w(f"Each round runs two fresh `authorizer` processes, stateless then strict (`SESSION_CHECK=strict`), on the")
    w(f"same {n_events} REQUEST authorizer events (payload 2.0, a bearer JWT of a live session from that round's refresh):")
    w("what API Gateway sends when its authorizer cache has no decision for the token. Every decision must allow,")
    w("and the strict process must make exactly one DynamoDB request (the session's `GetItem`) per event, the")
    w("stateless one none (both checked: the run fails otherwise). The first event of a process also opens")
    w("its connection to DynamoDB. Times are event handed → decision received, in the harness; on loopback")
    w("moto answers a `GetItem` in about a millisecond, where DynamoDB in the same region takes a few.")
    w("")
    w("| per call | stateless median (p90) | strict median (p90) | added by strict, median of rounds (p90) |")
    w("| --- | --- | --- | --- |")
    for label, pick, fs, fst in (
        ("first call of a fresh process", "first", first("stateless"), first("strict")),
        ("warm call", "warm", warm("stateless"), warm("strict")),
    ):
        extra = added(pick)
        w(f"| {label} | {ms2(med(fs))} ({ms2(pct(fs, 90))}) ms | {ms2(med(fst))} ({ms2(pct(fst, 90))}) ms | {ms2(med(extra))} ({ms2(pct(extra, 90))}) ms |")
    w("")


def two_providers_section(w, cold: dict, summ: dict) -> None:
    """What a second configured provider costs at cold start: `rust` and `rust-2p` (the same
    binaries with OIDC_PROVIDERS=main,second) measured in the same run, round by round."""
    if "rust" not in summ or "rust-2p" not in summ:
        return
    one, two = summ["rust"], summ["rust-2p"]
    rounds1, rounds2 = cold["impls"]["rust"]["rounds"], cold["impls"]["rust-2p"]["rounds"]
    functions = [f for f in one["functions"] if f in two["functions"]]
    labels = {
        "login": "login",
        "callback": "callback",
        "refresh": "refresh (provider token fresh)",
        "refresh_expired": "refresh with a refresh grant",
    }

    def cell(values):
        return f"{ms(med(values))} ({ms(pct(values, 90))})"

    w("### Two providers at cold start")
    w("")
    w("`rust-2p` runs the same binaries as `rust` with two providers configured (`OIDC_PROVIDERS=main,second`,")
    w("the secret with `client_secrets` for `second`): `main` is the round's provider and gets every sign-in,")
    w("as `rust` does, so both run the same events with the same checks; `second` is the other provider")
    w("instance of the harness, whose discovery document (and, for callback and refresh, JWKS) each cold")
    w("start also fetches, concurrently with the first provider's. Both measured in this one run, interleaved")
    w(f"round by round (N = {cold['n']}; load average before / after: {' '.join(cold['loadavg_before'])} / {' '.join(cold['loadavg_after'])}).")
    w("Difference and ratio are of the medians (two providers minus / over one); the paired difference is the")
    w("median over the rounds of each round's two-provider minus one-provider value.")
    w("")
    w("| function | one provider: median (p90) | two providers: median (p90) | difference | ratio | paired difference, median (p90) |")
    w("| --- | --- | --- | --- | --- | --- |")
    for fn in functions:
        for what, key in (("init (start → first `/next`)", f"{fn}_init"), ("cold start → first response", f"{fn}_cold")):
            a, b = one[key], two[key]
            field = "init_ms" if key.endswith("_init") else "first_response_ms"
            paired = [r2[fn][field] - r1[fn][field] for r1, r2 in zip(rounds1, rounds2)]
            w(
                f"| {labels[fn]}: {what} | {cell(a)} ms | {cell(b)} ms | {med(b) - med(a):+.1f} ms "
                f"| {ratio(med(b), med(a))} | {med(paired):+.1f} ({pct(paired, 90):+.1f}) ms |"
            )
    w("")
    w("Outbound requests at init (the most frequent set over the rounds, median count), the sequential fetch")
    w("rounds among them (the longest chain of requests each starting after the previous one ended, as seen")
    w("at the proxies), their wall time (first start → last end) and the TCP connections they opened (each")
    w("a TLS handshake in a deployment):")
    w("")
    w("| function | requests at init, one provider | two providers | sequential rounds, median (max): one | two | fetch wall time, median: one | two | new TCP connections, median: one | two | the secret's request, median: one | two |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for fn in functions:
        d1, d2 = one[f"{fn}_init_depth"], two[f"{fn}_init_depth"]
        w(
            f"| {labels[fn]} | {med(one[f'{fn}_init_reqs']):g} ({one[f'{fn}_init_kind_counts']}) "
            f"| {med(two[f'{fn}_init_reqs']):g} ({two[f'{fn}_init_kind_counts']}) "
            f"| {med(d1):g} ({max(d1)}) | {med(d2):g} ({max(d2)}) "
            f"| {ms(med(one[f'{fn}_init_net_ms']))} ms | {ms(med(two[f'{fn}_init_net_ms']))} ms "
            f"| {med(one[f'{fn}_init_new_conns']):g} | {med(two[f'{fn}_init_new_conns']):g} "
            f"| {ms(med(one[f'{fn}_init_secret_ms']))} ms | {ms(med(two[f'{fn}_init_secret_ms']))} ms |"
        )
    w("")
    overlaps = [f"{sum(1 for x in two[f'{fn}_providers_overlap'] if x)}/{len(two[f'{fn}_providers_overlap'])} {fn}" for fn in functions]
    w("With two providers, the requests at init to the one and to the other overlapped in time in " + ", ".join(overlaps) + " cold starts.")
    w("")
    w("The first request after init (event → answer) is in the cold-start table above, per implementation.")
    w("")
    w("On loopback a request takes a millisecond or two, so requests a function starts together can still")
    w("be seen one after the other at the proxies when the process or the proxies wait for a core (the")
    w("machine is shared): the count of sequential rounds is an upper bound of the fetch depth. In a")
    w("deployment each round is a network round trip (plus TCP and TLS for each new connection).")
    w("")


def compact_table(w, summ: dict) -> None:
    """Per function: cold start, init, warm request and CPU time, each implementation's, with
    the peers' ratios to ours."""
    impls = list(summ)
    ours = summ.get("rust")
    peers = [n for n in impls if n in COLD_RATIO_TARGETS and ours]
    cols = [f"{n} median (p90)" for n in impls] + [f"{p} / rust" for p in peers]
    w("| metric | " + " | ".join(cols) + " |")
    w("|" + " --- |" * (1 + len(cols)))
    if ours and "floor_init" in ours:
        cells = [f"{ms(med(ours['floor_init']))} ({ms(pct(ours['floor_init'], 90))}) ms" if n == "rust" else "" for n in impls]
        w("| the init floor (bench/floor: exec, the callback's three fetches, first `/next`), in ours' rounds | " + " | ".join(cells + ["" for _ in peers]) + " |")
    if any("noop_cold" in summ[n] for n in impls):
        cells = [f"{ms(med(summ[n]['noop_cold']))} ({ms(pct(summ[n]['noop_cold'], 90))}) ms" if "noop_cold" in summ[n] else "—" for n in impls]
        ratios = [ratio(med(summ[p]["noop_cold"]), med(ours["noop_cold"])) if "noop_cold" in summ[p] and "noop_cold" in ours else "—" for p in peers]
        w("| the runtime alone: a no-op handler's cold start → first response (ours: bench/floor with `FLOOR=runtime`) | " + " | ".join(cells + ratios) + " |")
    for fn in ("login", "callback", "refresh", "refresh_expired"):
        for label, key in ((f"**{fn}: cold start → first response served**", f"{fn}_cold"), (f"{fn}: init", f"{fn}_init"), (f"{fn}: warm request", f"{fn}_warm_invoke"), (f"{fn}: CPU time of the process", f"{fn}_cpu_ms")):
            if not any(key in summ[n] for n in impls):
                continue
            cells = [f"{ms(med(summ[n][key]))} ({ms(pct(summ[n][key], 90))}) ms" if key in summ[n] else "—" for n in impls]
            ratios = [ratio(med(summ[p][key]), med(ours[key])) if key in summ[p] and key in ours else "—" for p in peers]
            w(f"| {label} | " + " | ".join(cells + ratios) + " |")
    w("")


def quota_section(w, q: dict) -> dict:
    """The harness run under a CPU quota of Lambda's size (`--memory-mb`); its summaries."""
    summ = {n: summarize(d["rounds"]) for n, d in q["impls"].items()}
    tls = " with TLS" if q.get("tls") else ""
    w(f"## At {q['memory_mb']} MB{tls}: a CPU quota of Lambda's size (bench/coldstart.py --memory-mb {q['memory_mb']}{' --tls' if tls else ''})")
    w("")
    w(f"The same rounds, N = {q['n']}, {q['seconds']} s, with every function process in a cgroup allowed")
    w(f"{q['cpu_quota']}: Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB. The")
    w("services (moto, the provider, the proxies) run unthrottled, as AWS's do. CPU time is the process's own")
    w("(user + system, every thread, from `wait4`): init and its two requests. At this size a cold start is")
    w("CPU-bound, and its duration is what Lambda bills.")
    w("")
    compact_table(w, summ)
    return summ


def breakdown_section(w, run: str, s: dict) -> None:
    """Where ours' init goes, beside the floor's, from the proxies' timestamps (`s`: ours)."""
    fns = [f for f in ("login", "callback", "refresh", "floor", "noop") if f"{f}_init" in s]
    if "floor" not in fns:
        return
    w(f"### Where the init goes ({run})")
    w("")
    w("Medians over the rounds, ms from process start, from the proxies' timestamps: until the first")
    w("outbound request reaches a proxy (exec, the dynamic loader, the tokio runtime, the configuration,")
    w("building the HTTP client and its TLS roots, the AWS clients; with TLS, the first handshake too), the")
    w("fetches (first start to last end, concurrent ones overlapping), and from the last answer to the")
    w("first `/next` (parsing the secret's keys, the JWKS and the discovery document, building the state).")
    w("`floor` is bench/floor (the same three fetches with a plain client, nothing parsed); `noop` is it with")
    w("`FLOOR=runtime` (no fetch at all).")
    w("")
    w("| function | init | until the first request | fetches | after the last answer | init / floor |")
    w("| --- | --- | --- | --- | --- | --- |")
    floor_ms = med(s["floor_init"])
    for fn in fns:
        w(f"| {fn} | {ms(med(s[f'{fn}_init']))} | {ms(med(s[f'{fn}_init_before_ms']))} | {ms(med(s[f'{fn}_init_net_ms']))} | {ms(med(s[f'{fn}_init_after_ms']))} | {med(s[f'{fn}_init']) / floor_ms:.2f}x |")
    w("")


def tls_section(w, q: dict) -> dict:
    """The harness run with moto and the providers behind TLS (`--tls`), the headline; its
    summaries."""
    summ = {n: summarize(d["rounds"]) for n, d in q["impls"].items()}
    w("## Cold start with TLS, as in AWS (bench/coldstart.py --tls): the headline")
    w("")
    w(f"N = {q['n']}, {q['seconds']} s. Each counting proxy (moto's, each provider's) serves HTTPS on loopback")
    w("under an RSA-2048 certificate for 127.0.0.1 issued by a test CA made for the run, as AWS's endpoints")
    w("and most providers present; every implementation trusts that CA the way it reads one: ours")
    w("`EXTRA_CA_CERTS`, Node `NODE_EXTRA_CA_CERTS`, Python `REQUESTS_CA_BUNDLE`, `AWS_CA_BUNDLE` and")
    w("`SSL_CERT_FILE`. So each new connection pays a TLS handshake, as it does in AWS; the network itself")
    w("is still loopback. The loopback run's method (next section) applies otherwise.")
    w("")
    compact_table(w, summ)
    conn_rows = (("callback cold start", "callback_init_conns"), ("first callback request", "callback_first_conns"), ("warm callback request", "callback_warm_conns"))
    w("| new TLS connections | " + " | ".join(summ) + " |")
    w("|" + " --- |" * (1 + len(summ)))
    for label, key in conn_rows:
        w(f"| {label} | " + " | ".join(f"{med(s[key]):g}" for s in summ.values()) + " |")
    w("")
    w("A first request that opens no new connection reuses those of init (the token endpoint's is the")
    w("provider's, opened for discovery; DynamoDB's is Secrets Manager's, one endpoint here).")
    w("")
    if "rust" in summ:
        breakdown_section(w, "with TLS", summ["rust"])
    return summ


def cost_section(w, summ: dict, source: str) -> None:
    """What a million logins, cold starts and refreshes cost each implementation, from the
    measured durations and request counts of `summ`, at PRICES."""
    p = PRICES
    w("## Cost")
    w("")
    w(f"From the durations of {source}, at AWS's us-east-1 list prices for Lambda on arm64 (last checked")
    w(f"{PRICES_CHECKED}; check the pricing pages before relying on them): ${p['lambda_request'] * 1e6:.2f} per million requests,")
    w(f"${p['lambda_gb_second_arm64']:.10f} per GB-second, Secrets Manager ${p['secrets_manager_call'] * 1e4:.2f} per 10,000 calls,")
    w(f"DynamoDB on-demand ${p['dynamodb_write_unit'] * 1e6:.3f} per million write units and ${p['dynamodb_read_unit'] * 1e6:.3f} per million read units.")
    w("Memory as template.yaml sets it (login 128 MB, callback and refresh 256 MB), the peers priced at the")
    w("same sizes. Each invocation is billed by the millisecond, rounded up; since August 2025 Lambda bills")
    w("the init phase of every runtime, so a cold start pays its init. A login is one `/api/login` and one")
    w(f"`/api/callback`; our callback also writes the session (one PutItem, {units(SESSION_WRITE_UNITS)} for a typical item")
    w(f"of at most {SESSION_WRITE_UNITS} KB). A cold start (of login and callback both) reads the secret once each. API Gateway ($1.00 per million")
    w("HTTP API requests) is the same for every implementation and left out.")
    w("")
    w("The session item: since the provider's tokens are sealed packed and deflated (format 2, shared/src/sessions/seal.rs),")
    w(f"a typical item takes {units(SESSION_WRITE_UNITS)} per write; before, sealed as JSON, {units(SESSION_WRITE_UNITS_BEFORE)} (in parentheses: what")
    w("the same runs cost then). Measured by shared/src/sessions/size.rs, in DynamoDB's count:")
    w("")
    w("| provider's tokens (refresh, access, ID token) | item before | item now |")
    w("| --- | --- | --- |")
    for row in SESSION_ITEM_SIZES:
        w("| " + " | ".join(row) + " |")
    w("")
    w("An Okta-sized item still takes 2 write units at login and at refresh: its two RSA-2048 signatures (512 random")
    w("bytes, kept whole: the ID token is the logout's `id_token_hint`) and two claim sets alone come near 1 KB.")
    w("The items hold the device label (`dev`) and, when the provider verified it, the e-mail (`mail`) since")
    w("Universal Logout (about 70 bytes more than before it; the leased oidc-provider item, 995 B, is the closest to 1 KB).")
    w("")
    w("Not in the figures below: DynamoDB also charges one write unit for each index entry a write adds or")
    w("changes. A login adds one to `by_subject` always, one to `by_provider_sid` when the provider named its")
    w("session (`sid`), one to `by_email` when it verified the e-mail: 1 to 3 write units more, $0.63 to $1.88")
    w("per million logins (oidc-provider: 3). A refresh grant changes an index entry only when the user's")
    w("verified e-mail changed.")
    w("")

    def cell(now, before):
        if now is None:
            return "— (none)"
        return f"${now:.2f}" if f"{now:.2f}" == f"{before:.2f}" else f"${now:.2f} (${before:.2f})"

    w("| per million | " + " | ".join(summ) + " |")
    w("|" + " --- |" * (1 + len(summ)))
    rows = {n: (costs(s, SESSION_WRITE_UNITS), costs(s, SESSION_WRITE_UNITS_BEFORE)) for n, s in summ.items()}
    for i, label in enumerate(("logins, warm (login + callback)", "logins that each start both functions cold", "refreshes, warm (no refresh grant)")):
        w(f"| {label} | " + " | ".join(cell(now[i], before[i]) for now, before in rows.values()) + " |")
    w("")
    w("A real mix sits between the first two rows: the share of cold starts depends on the traffic.")
    w("")


def lambda_cost(fn: str, key: str, s: dict) -> float:
    """Dollars per million invocations of `fn` lasting the median of `s[key]` ms, billed by
    the millisecond rounded up, at its memory (MEMORY_MB)."""
    return math.ceil(med(s[key])) / 1000 * MEMORY_MB[fn] / 1024 * PRICES["lambda_gb_second_arm64"] * 1e6


def ddb_cost(fn: str, key: str, s: dict, write_units: int = SESSION_WRITE_UNITS) -> float:
    """Dollars per million of `fn`'s DynamoDB requests in `key` (`cold`: init and the first
    request; `warm`), from the operations of the most frequent sequence and their median count."""
    kinds = s.get(f"{fn}_ddb_{key}_kinds", "none")
    n = med(s.get(f"{fn}_ddb_{key}", [0]))
    if not n or kinds == "none":
        return 0.0
    ops = kinds.split("+")
    reads = sum(1 for o in ops if o in ("GetItem", "Query"))
    writes = len(ops) - reads
    cost = reads * PRICES["dynamodb_read_unit"] + writes * write_units * PRICES["dynamodb_write_unit"]
    return cost * 1e6 * (n / len(ops))


def costs(s: dict, write_units: int = SESSION_WRITE_UNITS) -> tuple:
    """Dollars per million: warm logins (login + callback), logins that start both functions
    cold, warm refreshes without a refresh grant (None without a refresh function)."""
    p = PRICES
    warm = 2 * p["lambda_request"] * 1e6 + lambda_cost("login", "login_warm_invoke", s) + lambda_cost("callback", "callback_warm_invoke", s) + ddb_cost("callback", "warm", s, write_units)
    cold = sum(lambda_cost(fn, f"{fn}_cold", s) + p["lambda_request"] * 1e6 + p["secrets_manager_call"] * 1e6 + ddb_cost(fn, "cold", s, write_units) for fn in ("login", "callback"))
    refresh = (p["lambda_request"] * 1e6 + lambda_cost("refresh", "refresh_warm_invoke", s) + ddb_cost("refresh", "warm", s, write_units)) if "refresh_warm_invoke" in s else None
    return (warm, cold, refresh)


def grant_costs(s: dict, write_units: int = SESSION_WRITE_UNITS) -> tuple:
    """Dollars per million refreshes that make a refresh grant: warm, and each in a fresh
    process (init, the secret read, the first request); (None, None) without them."""
    p = PRICES
    if "refresh_expired_warm_invoke" not in s:
        return (None, None)
    warm = p["lambda_request"] * 1e6 + lambda_cost("refresh_expired", "refresh_expired_warm_invoke", s) + ddb_cost("refresh_expired", "warm", s, write_units)
    cold = p["lambda_request"] * 1e6 + lambda_cost("refresh_expired", "refresh_expired_cold", s) + p["secrets_manager_call"] * 1e6 + ddb_cost("refresh_expired", "cold", s, write_units)
    return (warm, cold)


def ms(v: float) -> str:
    if v != v:
        return "n/a"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def ratio(peer: float, ours: float) -> str:
    if not ours or ours != ours or peer != peer:
        return "n/a"
    return f"{peer / ours:.1f}x"


# ---------------------------------------------------------------------------------------------
# Client authentication without a shared secret (rust-par, rust-fapi2)

# The section sits between these two comments, so that `report.py --client-auth-only` replaces
# it in an existing BENCHMARKS.md, and a full report keeps it when its run has no variants.
CLIENT_AUTH_BEGIN = "<!-- client-auth: generated by bench/report.py (--client-auth-only) -->"
CLIENT_AUTH_END = "<!-- client-auth: end -->"
# The variants the section compares with `rust` (client_secret_basic), in order.
CLIENT_AUTH_VARIANTS = ("rust-par", "rust-fapi2")


def has_client_auth(cold: dict | None) -> bool:
    return bool(cold) and "rust" in cold["impls"] and any(v in cold["impls"] for v in CLIENT_AUTH_VARIANTS)


def client_auth_section(w, cold: dict, source: str, partial: bool) -> None:
    """What authenticating without a shared secret costs: `rust` (client_secret_basic) and the
    variants of the harness's client modes, measured in one run, interleaved round by round.
    `partial`: regenerated on its own (`--client-auth-only`), said so at its top."""
    impls = cold["impls"]
    names = ["rust"] + [v for v in CLIENT_AUTH_VARIANTS if v in impls]
    variants = names[1:]
    summ = {n: summarize(impls[n]["rounds"]) for n in names}
    rounds = {n: impls[n]["rounds"] for n in names}
    base = summ["rust"]
    modes = cold.get("client_modes", {})

    def cell(values, unit="ms"):
        return f"{ms(med(values))} ({ms(pct(values, 90))}) {unit}"

    def env_text(env: dict) -> str:
        return ", ".join(f"`{k}={v}`" for k, v in env.items()) or "none"

    w(CLIENT_AUTH_BEGIN)
    w("## Client authentication without a shared secret: PAR, private_key_jwt, DPoP")
    w("")
    if partial:
        w("**Regenerated on its own** (`bash bench/run.sh --client-auth`: the harness with `--impls " + ",".join(names) + "`, then")
        w("`bench/report.py --client-auth-only`), from the run named below; every other figure of this file is")
        w("from the runs its sections name.")
        w("")
    w(f"From {source}: run of {cold['started_utc']}, N = {cold['n']} rounds (plus one unrecorded warm-up round), {cold['seconds']} s,")
    w(f"load average before / after {' '.join(cold['loadavg_before'])} / {' '.join(cold['loadavg_after'])} (the machine is shared); on loopback,")
    tls = "with TLS" if cold.get("tls") else "without TLS"
    quota = f"under the {cold['memory_mb']} MB CPU quota" if cold.get("memory_mb") else "without a CPU quota"
    build = "release" if "release" in impls["rust"]["label"] else "debug"
    w(f"{tls}, {quota}, our JWT signed with {cold['alg']}. The same {build} binaries in {len(names)} configurations,")
    w("interleaved round by round, with the same events and checks as the loopback run's (its method above):")
    w("")
    w(f"- **rust**: today's client authentication, `client_secret_basic` (the client secret in an `Authorization: Basic` header).")
    for n in variants:
        mode = impls[n].get("client")
        spec = modes.get(mode, {})
        w(f"- **{n}**: {impls[n]['label']}. Its provider: {env_text(spec.get('provider_env', {}))} (over `PROVIDER_CLIENT_AUTH=private_key_jwt`).")
    w("")
    w("Each variant has two oidc-provider instances of its own (`dev/provider/provider.mjs`, started by the launcher")
    w("with `client: {\"auth\": \"private_key_jwt\", \"key_alg\": \"PS256\"}`), the rounds' one and one whose access tokens")
    w(f"live {cold.get('short_access_token_ttl', '?')} s for the refresh grants, and a secret of its own: `rust`'s plus one RSA-2048 client key (PS256) under")
    w("`client_keys.default`, which every assertion is signed with (a fresh one per token, PAR and refresh request).")
    w("The harness runs no issuer function: it serves the public client keys where the issuer function's")
    fetches = cold.get("client_jwks_fetches")
    fetched = f" (fetched {fetches} times in the run, by {2 * len(variants)} providers)" if fetches is not None else ""
    w(f"`/.well-known/client-jwks.json` would be, and each provider fetches them at its first assertion{fetched},")
    w("in the warm-up round. Where the provider requires PAR, each login request must push its authorization")
    w("request (one `201` of the PAR endpoint per request, checked); under FAPI 2.0 the provider requires a DPoP")
    w("nonce in every proof, so the first proof of a fresh process is refused `use_dpop_nonce` and sent again")
    w("with the nonce, which the process then keeps for that origin. A refresh grant is counted by the token")
    w("endpoint's successful answers (checked: one per request with an expired access token, none otherwise).")
    w("")
    busy = max(float(x) for x in cold["loadavg_before"][:1] + cold["loadavg_after"][:1])
    if busy >= 1.5:
        w(f"The machine was busy during this run (a 1-minute load average up to {busy:g} on {os.cpu_count()} cores, other work beside")
        w("the harness): the absolute times are longer and more spread than in a quiet run, moto's answers most of all. The")
        w("provider round trips are counted, not timed, and so exact; of the times, the paired differences and the")
        w("processes' own CPU time are the least moved.")
        w("")

    labels = {
        "login": "login",
        "callback": "callback",
        "refresh": "refresh (provider token fresh)",
        "refresh_expired": "refresh with a refresh grant",
    }
    rows = [
        ("login", "init (start → first `/next`)", "init"),
        ("login", "**cold start → first response**", "cold"),
        ("login", "first request, event → answer", "first_invoke"),
        ("login", "**warm request, event → answer**", "warm_invoke"),
        ("callback", "init", "init"),
        ("callback", "**cold start → first response**", "cold"),
        ("callback", "first request, event → answer (code exchange, userinfo, session write)", "first_invoke"),
        ("callback", "**warm request, event → answer**", "warm_invoke"),
        ("refresh", "cold start → first response", "cold"),
        ("refresh", "warm request", "warm_invoke"),
        ("refresh_expired", "init", "init"),
        ("refresh_expired", "**cold start → first response**", "cold"),
        ("refresh_expired", "first request, event → answer", "first_invoke"),
        ("refresh_expired", "**warm request, event → answer**", "warm_invoke"),
        ("login", "CPU time of the process (init and two requests)", "cpu_ms"),
        ("callback", "CPU time of the process", "cpu_ms"),
        ("refresh_expired", "CPU time of the process", "cpu_ms"),
        ("login", "peak RSS", "rss_mb"),
        ("callback", "peak RSS", "rss_mb"),
        ("refresh_expired", "peak RSS", "rss_mb"),
    ]
    w("### Durations")
    w("")
    w("Medians (p90) over the rounds; the difference and ratio are of the medians, the variant's minus / over `rust`'s;")
    w("the paired difference is the median (p90) over the rounds of each round's variant minus `rust` value (the")
    w("rounds are interleaved, so a paired difference is less moved by the load of the moment).")
    w("")
    header = ["`rust` (client_secret_basic)"]
    for n in variants:
        header += [f"`{n}`", "difference", "ratio", "paired difference"]
    w("| function: what | " + " | ".join(header) + " |")
    w("|" + " --- |" * (1 + len(header)))
    for fn, what, suffix in rows:
        key = f"{fn}_{suffix}"
        if key not in base:
            continue
        unit = "MB" if suffix == "rss_mb" else "ms"
        cells = [cell(base[key], unit)]
        for n in variants:
            s = summ[n]
            if key not in s:
                cells += ["—", "", "", ""]
                continue
            paired = [b - a for a, b in zip(base[key], s[key])]
            cells += [
                cell(s[key], unit),
                f"{med(s[key]) - med(base[key]):+.1f} {unit}",
                ratio(med(s[key]), med(base[key])),
                f"{med(paired):+.1f} ({pct(paired, 90):+.1f}) {unit}",
            ]
        w(f"| {labels[fn]}: {what} | " + " | ".join(cells) + " |")
    w("")

    # Provider round trips, per operation.
    def provider_reqs(r, fn, phase):
        return [o for o in r[fn]["outbound"] if o["phase"] == phase and o.get("provider")]

    def label(o):
        if o["status"] < 300:
            return o["kind"]
        return f"{o['kind']} {o['status']}" + (f" {o['error']}" if o.get("error") else "")

    def seq(n, fn, phase):
        """The provider requests of `phase` (the most frequent sequence over the rounds, in
        the order they started), and their median count."""
        found = [" → ".join(label(o) for o in provider_reqs(r, fn, phase)) or "none" for r in rounds[n]]
        counts = [len(provider_reqs(r, fn, phase)) for r in rounds[n]]
        common = max(set(found), key=found.count)
        return med(counts), common, found.count(common)

    ops = [
        ("login", "init", "login: cold start (init)"),
        ("login", "invoke0", "login: first request"),
        ("login", "invoke1", "login: warm request"),
        ("callback", "init", "callback: cold start (init)"),
        ("callback", "invoke0", "callback: first request of a fresh process"),
        ("callback", "invoke1", "callback: warm request"),
        ("refresh", "init", "refresh: cold start (init)"),
        ("refresh", "invoke0", "refresh (provider token fresh): a request"),
        ("refresh_expired", "invoke0", "refresh grant: first request of a fresh process"),
        ("refresh_expired", "invoke1", "refresh grant: warm request"),
    ]
    w("### Provider round trips per operation")
    w("")
    w("Requests to the provider counted at its proxy (Secrets Manager and DynamoDB left out; they are the same")
    w("for all three but for the secret's size): the median count, and the most frequent sequence over the rounds")
    w("in the order the requests started (a refusal with its status and OAuth error code), with how many rounds")
    w("had it. Extra = the variant's median count minus `rust`'s: each is one more network round trip to the")
    w("provider in a deployment (on loopback, a millisecond or two).")
    w("")
    header = ["`rust`"] + [f"`{n}`" for n in variants] + [f"extra, `{n}`" for n in variants]
    w("| operation | " + " | ".join(header) + " |")
    w("|" + " --- |" * (1 + len(header)))
    for fn, phase, what in ops:
        if not all(fn in r for n in names for r in rounds[n]):
            continue
        found = {n: seq(n, fn, phase) for n in names}
        cells = [f"{c:g}: {s} ({k}/{len(rounds[n])})" for n, (c, s, k) in found.items()]
        cells += [f"{found[n][0] - found['rust'][0]:+g}" for n in variants]
        w(f"| {what} | " + " | ".join(cells) + " |")
    w("")

    # The claim: PAR and private_key_jwt add nothing to login's cold start.
    def login_init_plain(r):
        kinds = sorted(o["kind"] for o in r["login"]["outbound"] if o["phase"] == "init")
        return kinds == ["discovery", "secret"]

    plain = {n: sum(1 for r in rounds[n] if login_init_plain(r)) for n in names}
    w("**Login's cold start stays free of provider calls beyond discovery**: its init made exactly the secret's")
    w("request and the provider's discovery in " + ", ".join(f"{plain[n]}/{len(rounds[n])} `{n}`" for n in names) + " cold starts;")
    w("the pushed authorization request is made by each login request, not at init (the table above). The")
    w("requests at init, by function (the most frequent set, median count):")
    w("")
    w("| function | " + " | ".join(f"`{n}`" for n in names) + " |")
    w("|" + " --- |" * (1 + len(names)))
    for fn in ("login", "callback", "refresh", "refresh_expired"):
        if f"{fn}_init_reqs" not in base:
            continue
        w(f"| {labels[fn]} | " + " | ".join(f"{med(summ[n][f'{fn}_init_reqs']):g} ({summ[n][f'{fn}_init_kind_counts']})" for n in names) + " |")
    w("")

    # Timelines of the median callback and refresh-grant rounds.
    for fn, what in (("callback", "callback"), ("refresh_expired", "refresh with a refresh grant")):
        w(f"Cold-start timeline of the median {what} round (ms from process start; init and the first request):")
        w("")
        for n in names:
            rs = rounds[n]
            if not rs or not all(fn in r for r in rs):
                continue
            r = sorted(rs, key=lambda r: r[fn]["first_response_ms"])[len(rs) // 2][fn]
            parts = [f"{label(o)} {o['start_ms']:.1f}–{o['end_ms']:.1f}" for o in r["outbound"] if o["phase"] in ("init", "invoke0")]
            w(f"- **{n}**: init ends {r['init_ms']:.1f}; first answer {r['first_response_ms']:.1f}; requests: " + "; ".join(parts))
        w("")

    # Cost, priced as the Cost section prices.
    p = PRICES
    w("### What a million operations cost in each mode")
    w("")
    w(f"Priced as the Cost section prices (Lambda on arm64 in us-east-1, {PRICES_CHECKED} list prices: ${p['lambda_request'] * 1e6:.2f} per million")
    w(f"requests, ${p['lambda_gb_second_arm64']:.10f} per GB-second; Secrets Manager; DynamoDB on-demand, {units(SESSION_WRITE_UNITS)} per session")
    w("write; each invocation billed by the millisecond rounded up, a cold start with its init; login 128 MB, callback")
    w("and refresh 256 MB), but from this run's durations: on loopback without a CPU quota, so faster than Lambda at")
    w("these sizes (the Cost section's own table is from the 128 MB run). The provider's extra round trips and")
    w("signatures cost only Lambda time here; in a deployment each round trip adds network time to the")
    w("billed duration too. A refresh with a refresh grant is one `POST /api/refresh` whose provider access")
    w("token has expired (the grant, the userinfo call, the lease and store writes).")
    w("")
    priced = {n: costs(summ[n]) + grant_costs(summ[n]) for n in names}

    def dollars(v):
        return "—" if v is None else f"${v:.2f}"

    w("| per million | " + " | ".join(f"`{n}`" for n in names) + " | " + " | ".join(f"`{n}` − `rust`" for n in variants) + " |")
    w("|" + " --- |" * (1 + len(names) + len(variants)))
    cost_rows = (
        "logins, warm (login + callback)",
        "logins that each start both functions cold",
        "refreshes, warm (no refresh grant)",
        "refreshes with a refresh grant, warm",
        "refreshes with a refresh grant, each in a fresh process",
    )
    for i, what in enumerate(cost_rows):
        values = [priced[n][i] for n in names]
        diffs = [("—" if priced[n][i] is None or priced["rust"][i] is None else f"{priced[n][i] - priced['rust'][i]:+.2f}") for n in variants]
        w(f"| {what} | " + " | ".join(dollars(v) for v in values) + " | " + " | ".join(diffs) + " |")
    w("")
    w(CLIENT_AUTH_END)


def client_auth_splice(existing: str, new_section: str) -> str:
    """`existing` (a BENCHMARKS.md) with its client-authentication section replaced by
    `new_section`; without one, inserted before the proxy's section (or the criterion one)."""
    if CLIENT_AUTH_BEGIN in existing and CLIENT_AUTH_END in existing:
        head, rest = existing.split(CLIENT_AUTH_BEGIN, 1)
        _, tail = rest.split(CLIENT_AUTH_END, 1)
        return head + new_section.rstrip("\n") + tail
    for before in (report_proxy.PROXY_BEGIN, "## Warm CPU (criterion"):
        at = existing.find("\n" + before)
        if at >= 0:
            return existing[: at + 1] + new_section.rstrip("\n") + "\n\n" + existing[at + 1 :]
    return existing.rstrip("\n") + "\n\n" + new_section.rstrip("\n") + "\n"


def kept_client_auth(out: Path) -> str | None:
    """The client-authentication section of an existing report, as it is."""
    if not out.exists():
        return None
    text = out.read_text()
    if CLIENT_AUTH_BEGIN not in text or CLIENT_AUTH_END not in text:
        return None
    return CLIENT_AUTH_BEGIN + text.split(CLIENT_AUTH_BEGIN, 1)[1].split(CLIENT_AUTH_END, 1)[0] + CLIENT_AUTH_END


def client_auth_only(out: Path, results: Path) -> int:
    """`--client-auth-only`: the client-authentication section of `out`, from `results`,
    replaced in place."""
    if not results.exists():
        raise SystemExit(f"report: no {results} (bash bench/run.sh --client-auth)")
    cold = json.loads(results.read_text())
    if not has_client_auth(cold):
        raise SystemExit(f"report: {results} has no rust with rust-par or rust-fapi2")
    lines: list[str] = []
    client_auth_section(lines.append, cold, f"`{results.relative_to(ROOT) if results.is_relative_to(ROOT) else results}`", partial=True)
    out.write_text(client_auth_splice(out.read_text() if out.exists() else "", "\n".join(lines) + "\n"))
    print(f"report: replaced the client-authentication section of {out}")
    return 0


def proxy_results(first: Path, names: tuple[str, str, str]) -> list[tuple[str, dict]]:
    """The harness results (loopback, with TLS, at 128 MB: files `names` beside `first`, the
    first being `first` itself) that hold the proxy's rounds, with their labels."""
    found = []
    for path, label in zip((first, first.with_name(names[1]), first.with_name(names[2])), ("on loopback", "with TLS to AWS's emulators", None)):
        if not path.exists():
            continue
        run = json.loads(path.read_text())
        if not report_proxy.has_proxy(run):
            continue
        label = label or f"at {run.get('memory_mb')} MB (CPU quota){' with TLS' if run.get('tls') else ''}"
        found.append((label, run))
    return found


def proxy_only(out: Path) -> int:
    """`--proxy-only`: the proxy's section of `out`, from the proxy-only runs, replaced in place."""
    runs = proxy_results(OUT / "proxy.json", ("proxy.json", "proxy-tls.json", "proxy-128mb.json"))
    if not runs:
        raise SystemExit("report: no proxy results in target/bench/proxy*.json (bash bench/run.sh --proxy)")
    lines: list[str] = []
    report_proxy.section(lines.append, runs, PRICES, SESSION_WRITE_UNITS, partial=True)
    analysis = ROOT / "bench" / "analysis.md"
    text = report_proxy.splice(out.read_text(), "\n".join(lines) + "\n", analysis.read_text() if analysis.exists() else None)
    out.write_text(text)
    print(f"report: replaced the proxy section of {out}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="mark the report as a smoke run")
    parser.add_argument("--coldstart", default=str(OUT / "coldstart.json"))
    parser.add_argument("--criterion", default=os.environ.get("CRITERION_HOME", str(OUT / "criterion")))
    parser.add_argument("--criterion-since", type=float, default=None, help="ignore criterion results older than this Unix time")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument(
        "--proxy-only",
        action="store_true",
        help="replace only the proxy's section of --out, from target/bench/proxy*.json (bash bench/run.sh --proxy)",
    )
    parser.add_argument(
        "--client-auth-only",
        action="store_true",
        help="replace only the client-authentication section of --out, from --client-auth-results (bash bench/run.sh --client-auth)",
    )
    parser.add_argument(
        "--client-auth-results",
        default=str(OUT / "client-auth.json"),
        help="the harness run with rust and rust-par/rust-fapi2 (default target/bench/client-auth.json)",
    )
    args = parser.parse_args()
    if args.proxy_only:
        return proxy_only(Path(args.out))
    if args.client_auth_only:
        return client_auth_only(Path(args.out), Path(args.client_auth_results))

    cold = json.loads(Path(args.coldstart).read_text()) if Path(args.coldstart).exists() else None
    crit = criterion_results(Path(args.criterion), args.criterion_since)
    lines: list[str] = []
    w = lines.append

    w("# Benchmarks")
    w("")
    w("Generated by `bash bench/run.sh` (`make bench`); do not edit by hand: the reading of the numbers is")
    w("`bench/analysis.md`, appended at the end." + (" **Smoke run** (`--smoke`: debug build, N=2, criterion in test mode): the numbers only show that everything runs; they measure nothing." if args.smoke else ""))
    w("")
    started = f"; cold-start run started {cold['started_utc']}" if cold else ""
    w(f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}{started}.")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("| --- | --- |")
    for k, v in machine():
        w(f"| {k} | {v} |")
    if cold:
        w(f"| load average before / after the cold-start run | {' '.join(cold['loadavg_before'])} / {' '.join(cold['loadavg_after'])} |")
    w("")
    w("Functions are built natively for this machine (x86_64 here), not for arm64 as deployed: the")
    w("cold-start numbers are those of x86_64 binaries on this CPU. The machine is shared with other builds,")
    w("so medians and p90 are given, not means.")
    w("")

    # ---- cold start with TLS: the headline ----
    tls_path = Path(args.coldstart).with_name("coldstart-tls.json")
    tls_summ = tls_section(w, json.loads(tls_path.read_text())) if tls_path.exists() else None

    # ---- cold start ----
    w("## Cold start on loopback, without TLS (bench/coldstart.py)")
    w("")
    ours = None
    if not cold:
        w("No results: run `bash bench/run.sh`.")
    else:
        impls = cold["impls"]
        summ = {n: summarize(d["rounds"]) for n, d in impls.items()}
        ours = summ.get("rust")
        peers = [n for n in impls if n in COLD_RATIO_TARGETS]
        w(f"N = {cold['n']} fresh processes per function and implementation (plus one unrecorded warm-up round),")
        w(f"interleaved; our JWT signed with {cold['alg']}; {cold['seconds']} s in all. Implementations:")
        w("")
        for n, d in impls.items():
            w(f"- **{n}**: {d['label']}")
        w("")
        w("Method: each round starts a fresh `login` process behind a Lambda Runtime API emulator (a small")
        w("HTTP server in the harness) that hands out two `GET /api/login` events (API Gateway HTTP API v2),")
        w("signs in at the local provider for both login URLs with a scripted HTTP client (cookie jar, login")
        w("and consent forms), then starts a fresh `callback` process that gets two `GET /api/callback?code&state&iss`")
        w("events with the transaction cookies. Sessions are on (`SESSION_TABLE`, the table made in moto by")
        w("`dev/session_table.py` from template.yaml), so our callback also stores a session (one PutItem) and")
        w("sets `__Host-refresh`; then a fresh `refresh` process gets two `POST /api/refresh` events (`X-CSRF: 1`)")
        w("with the handles the two callbacks set, each answered 200 with a JWT carrying `sid` (checked: a 401")
        w("fails the run). The provider's access token is fresh then, so no refresh grant is made. For refresh")
        w("grants, ours then signs in twice more (unmeasured) through a second instance of the provider whose")
        w(f"access tokens live {cold.get('short_access_token_ttl', '?')} s; once every implementation has run its round, the harness waits until")
        w("those tokens have expired and a fresh `refresh` process serves the two sessions: each request then")
        w("makes a refresh grant (checked). The peers have no sessions and no refresh (—). The first event of")
        w("each process is its cold request, the second")
        w("a warm one. Times are taken in the harness: process start = just before `fork/exec`; init ends at the")
        w("process's first `GET /runtime/invocation/next`; a response is served when its `POST .../response`")
        w("arrives. moto (Secrets Manager and DynamoDB) and the provider (oidc-provider) each sit behind a counting")
        w("reverse proxy in the harness, which timestamps every request the function makes, DynamoDB's by their")
        w("`X-Amz-Target` operation (the harness's own requests are excluded). Peak RSS is `VmHWM` of the process")
        w("after its last answer. Everything is on loopback:")
        w("a real deployment adds a real network round trip to each outbound request (see the counts).")
        w("")
        ratio_cols = [f"{p} / rust" for p in peers] if ours else []
        w("| metric | " + " | ".join([f"{n} median (p90)" for n in impls] + ratio_cols) + " |")
        w("|" + " --- |" * (1 + len(impls) + len(ratio_cols)))

        def line(label, cells, ratios=None):
            """A row of the table: one cell per implementation, then the ratio columns (empty
            unless `ratios` is given)."""
            rs = ratios if ratios is not None else ["" for _ in ratio_cols]
            w(f"| {label} | " + " | ".join(cells + rs) + " |")

        def row(label, key, unit="ms"):
            """A measured row; "—" where an implementation does not have that function."""
            cells = [f"{ms(med(summ[n][key]))} ({ms(pct(summ[n][key], 90))}) {unit}" if key in summ[n] else "—" for n in impls]
            ratios = [ratio(med(summ[p][key]), med(ours[key])) if key in summ[p] and key in ours else "—" for p in peers] if ours else []
            line(label, cells, ratios)

        row("**login: cold start → first response served**", "login_cold")
        row("login: init (start → first `/next`)", "login_init")
        row("login: first (cold) request", "login_first_invoke")
        row("login: warm request", "login_warm_invoke")
        row("**callback: cold start → first response served**", "callback_cold")
        row("callback: init (start → first `/next`)", "callback_init")
        row("**first `/api/callback` end to end** (event → answer, incl. token + userinfo)", "callback_first_invoke")
        row("warm `/api/callback` end to end", "callback_warm_invoke")
        row("**refresh: cold start → first response served** (provider token fresh: no refresh grant)", "refresh_cold")
        row("refresh: init (start → first `/next`)", "refresh_init")
        row("**first `/api/refresh` end to end** (event → answer, incl. the DynamoDB calls)", "refresh_first_invoke")
        row("warm `/api/refresh` end to end", "refresh_warm_invoke")
        row("**refresh with a refresh grant** (provider token expired): cold start → first response served", "refresh_expired_cold")
        row("first `/api/refresh` with a refresh grant, end to end", "refresh_expired_first_invoke")
        row("warm `/api/refresh` with a refresh grant, end to end", "refresh_expired_warm_invoke")
        row("CPU time of the login process (init and its two requests)", "login_cpu_ms")
        row("CPU time of the callback process", "callback_cpu_ms")
        row("CPU time of the refresh process", "refresh_cpu_ms")
        row("**peak RSS, login**", "login_rss_mb", "MB")
        row("**peak RSS, callback**", "callback_rss_mb", "MB")
        row("**peak RSS, refresh**", "refresh_rss_mb", "MB")

        def count_row(label, key, kinds_key=None):
            cells = []
            for n in impls:
                if key not in summ[n]:
                    cells.append("—")
                    continue
                v = summ[n][key]
                kinds = f" ({summ[n][kinds_key]})" if kinds_key else ""
                cells.append(f"{med(v):g}{kinds}")
            line(label, cells)

        count_row("outbound requests at cold start, login", "login_init_reqs", "login_init_kinds")
        count_row("outbound requests at cold start, callback", "callback_init_reqs", "callback_init_kinds")
        count_row("outbound requests at cold start, refresh", "refresh_init_reqs", "refresh_init_kinds")
        count_row("outbound requests, first login request", "login_first_reqs")
        count_row("outbound requests, warm login request", "login_warm_reqs")
        count_row("outbound requests, first callback request", "callback_first_reqs", "callback_first_kinds")
        count_row("outbound requests, warm callback request", "callback_warm_reqs", "callback_warm_kinds")
        count_row("outbound requests, first refresh request", "refresh_first_reqs", "refresh_first_kinds")
        count_row("outbound requests, warm refresh request", "refresh_warm_reqs", "refresh_warm_kinds")
        count_row("outbound requests, first refresh request with a refresh grant", "refresh_expired_first_reqs", "refresh_expired_first_kinds")
        count_row("outbound requests, warm refresh request with a refresh grant", "refresh_expired_warm_reqs", "refresh_expired_warm_kinds")
        count_row("outbound requests outside init and requests", "other_reqs")
        count_row("new TCP connections, callback cold start", "callback_init_conns")
        count_row("new TCP connections, first callback request", "callback_first_conns")
        count_row("new TCP connections, warm callback request", "callback_warm_conns")
        for fn, key in (("login", "login_overlap"), ("callback", "overlap")):
            cells = []
            for n in impls:
                ov = summ[n][key]
                cells.append(f"{'yes' if all(ov) else ('no' if not any(ov) else 'mostly' if sum(ov) * 2 > len(ov) else 'rarely')} ({sum(ov)}/{len(ov)} rounds)")
            line(f"cold start ({fn}): secret and discovery requests overlap in time", cells)
        cells = []
        for n in impls:
            j = summ[n]["jwks_after_discovery"]
            if all(x is None for x in j):
                cells.append("not at init (fetched at the first callback)")
            else:
                cells.append(f"{'yes' if all(j) else 'no'} ({sum(1 for x in j if x)}/{len(j)})")
        line("cold start: JWKS fetched at init, after discovery", cells)
        count_row("cold start (callback): sequential fetch rounds", "callback_init_depth")
        row("cold start (callback): wall time of the fetches, first start → last end", "callback_init_net_ms")
        w("")
        w("Ratios are peer median / our median (higher = we are faster or smaller)."
          + (" With N=2 the p90 is close to the larger of the two values." if cold["n"] <= 2 else ""))
        w("")
        w("### DynamoDB round trips (the session table)")
        w("")
        w("Requests to DynamoDB counted at the proxy, by `X-Amz-Target` (median over the rounds; the operations")
        w("of the most frequent sequence). Cold start = init and the first request of a fresh process.")
        w("The peers have no sessions and make none.")
        w("")
        w("| function | per cold start | per warm request |")
        w("| --- | --- | --- |")
        labels = {"login": "login", "callback": "callback", "refresh": "refresh (provider token fresh)", "refresh_expired": "refresh with a refresh grant (provider token expired)"}
        for fn in [f for f in (ours or {}).get("functions", []) if f in labels]:
            w(f"| {labels[fn]} | {med(ours[f'{fn}_ddb_cold']):g} ({ours[f'{fn}_ddb_cold_kinds']}) | {med(ours[f'{fn}_ddb_warm']):g} ({ours[f'{fn}_ddb_warm_kinds']}) |")
        w("")
        if ours:
            breakdown_section(w, "loopback", ours)
        two_providers_section(w, cold, summ)
        authorizer_section(w, impls.get("rust", {}).get("rounds", []))
        for fn, key in (("callback", "median_round"), ("refresh", "median_refresh_round")):
            w(f"### Cold-start timeline of the median {fn} round (ms from process start)")
            w("")
            for n in impls:
                r = summ[n].get(key)
                if not r:
                    continue
                c = r[fn]
                parts = [f"{o['kind']} {o['start_ms']:.1f}–{o['end_ms']:.1f}" for o in c["outbound"] if o["phase"] in ("init", "invoke0")]
                w(f"- **{n}**: init ends {c['init_ms']:.1f}; first answer {c['first_response_ms']:.1f}; requests: " + "; ".join(parts))
            w("")

    # ---- 128 MB and cost ----
    quota_path = Path(args.coldstart).with_name("coldstart-128mb.json")
    quota_summ = None
    if quota_path.exists():
        quota_summ = quota_section(w, json.loads(quota_path.read_text()))
    if quota_summ:
        cost_section(w, quota_summ, "the 128 MB run above")
    elif cold:
        cost_section(w, summ, "the loopback run above, without a CPU quota (faster than Lambda at these sizes)")

    # ---- client authentication without a shared secret ----
    # From this run when it measured the variants; else the section of the file replaced, as
    # `--client-auth-only` last wrote it.
    if has_client_auth(cold):
        client_auth_section(w, cold, "the loopback run above", partial=False)
        w("")
    else:
        kept = kept_client_auth(Path(args.out))
        if kept:
            w(kept)
            w("")

    # ---- the proxy ----
    proxy_runs = proxy_results(Path(args.coldstart), ("coldstart.json", "coldstart-tls.json", "coldstart-128mb.json"))
    if proxy_runs:
        report_proxy.section(w, proxy_runs, PRICES, SESSION_WRITE_UNITS, partial=False)
        w("")

    # ---- criterion ----
    w("## Warm CPU (criterion, `shared/benches/flows.rs`)")
    w("")
    w("`cargo bench -p shared --features test-support --bench flows`: release profile (LTO, 1 codegen unit),")
    w("a real `State` built by `shared::testing::FakeProvider` (wiremock serves discovery and JWKS at setup),")
    w("a real RS256 ID token from the fake provider in a canned `CoreTokenResponse`; async functions run by a")
    w("tokio current-thread runtime's `block_on` inside `iter`. The refresh CPU path is a warm `/api/refresh`")
    w("whose provider token is fresh, minus its one DynamoDB call (the UpdateItem that records the use and")
    w("answers the item, `Sessions::open`): the item it would answer is made once at setup by `Sessions::new_item` (the callback's PutItem encoding) with real")
    w("sealed provider tokens; each iteration parses the cookie header and the handle, hashes it into the item")
    w("key, decodes the item (opening the sealed tokens), checks `ended` and freshness and mints our JWT with")
    w("`sid` (`mint_in_session`). Median of criterion's estimate; p90 of the per-iteration means of its samples.")
    w("")
    load_file = OUT / "criterion-load.json"
    if load_file.exists():
        load = json.loads(load_file.read_text())
        w(f"Load average (1, 5, 15 min) before / after the criterion run: {load['before']} / {load['after']} (2 cores).")
        w("")
    if not crit:
        w("No criterion results found.")
    else:
        w("| benchmark | median | p90 | target | met |")
        w("| --- | --- | --- | --- | --- |")
        for key, label in CRITERION_ORDER:
            r = crit.get(key)
            if not r:
                w(f"| {label} | not run | | | |")
                continue
            target = CPU_TARGETS_US.get(key)
            met = ""
            tgt = ""
            if target:
                tgt = f"< {target:g} µs"
                med_us = r["median_ns"] / 1000
                met = "yes" if med_us < target else f"**no** ({med_us / target:.2f}x the target)"
            w(f"| {label} | {fmt_ns(r['median_ns'])} | {fmt_ns(r['p90_ns'])} | {tgt} | {met} |")
        others = sorted(set(crit) - {k for k, _ in CRITERION_ORDER})
        for key in others:
            r = crit[key]
            w(f"| {key} | {fmt_ns(r['median_ns'])} | {fmt_ns(r['p90_ns'])} | | |")
    w("")

    # ---- sizes ----
    w("## Binary sizes")
    w("")
    w("MB = 10^6 bytes (the target is read strictly). `target/lambda/*/bootstrap` (under `$CARGO_TARGET_DIR`) is")
    w("what `cargo lambda build --release --arm64 -p login -p callback -p issuer -p me -p logout -p refresh -p authorizer`")
    w("(CI, `.ci/run`) last produced; `.aws-sam/build` holds whatever `sam build` last produced.")
    w("")
    bins = binaries()
    w("| file | size | arch | stripped | target |")
    w("| --- | --- | --- | --- | --- |")
    for b in bins:
        mb = b["bytes"] / 1e6
        target = ""
        if b["arch"] == "aarch64":
            target = f"< {ARM64_SIZE_TARGET_MB:g} MB: " + ("yes" if mb < ARM64_SIZE_TARGET_MB else f"**no** (+{mb - ARM64_SIZE_TARGET_MB:.2f} MB, {mb / ARM64_SIZE_TARGET_MB:.2f}x)")
        built = time.strftime("%Y-%m-%d %H:%M", time.gmtime(b["mtime"]))
        w(f"| `{b['what']}` (built {built} UTC) | {mb:.2f} MB = {b['bytes'] / 1048576:.2f} MiB ({b['bytes']:,} bytes) | {b['arch']} | {'yes' if b['stripped'] else 'no' if b['stripped'] is False else '?'} | {target} |")
    if not any(b["arch"] == "aarch64" for b in bins):
        w("| `target/lambda/*/bootstrap`, `.aws-sam/build/*/bootstrap` | not present (run `cargo lambda build --release --arm64` or `sam build`) | | | |")
    pyenv = ROOT / "bench" / ".venv" / "lib"
    nm = ROOT / "bench" / "peers" / "node" / "node_modules"
    if pyenv.exists():
        w(f"| Python peer: site-packages of bench/.venv (a deployment package holds most of it; boto3 comes with the managed runtime) | {du(pyenv) / 1e6:.1f} MB | | | |")
    if nm.exists():
        w(f"| Node peer: node_modules (the AWS SDK v3 comes with the managed runtime) | {du(nm) / 1e6:.1f} MB | | | |")
    w("")

    # ---- targets ----
    if cold or crit:
        w("## Targets of the issue")
        w("")
        w("| target | measured | met |")
        w("| --- | --- | --- |")
        if ours:
            runs = [("with TLS", tls_summ), ("loopback", summ)] if tls_summ else [("loopback", summ)]
            for run, s in runs:
                mine = s.get("rust")
                if not mine:
                    continue
                for peer, want in COLD_RATIO_TARGETS.items():
                    if peer not in s:
                        continue
                    for fn in [f for f in ("login", "callback", "refresh") if f"{f}_cold" in mine]:
                        # The peers have no refresh: ours is compared with their fastest cold start.
                        theirs = fn if f"{fn}_cold" in s[peer] else "login"
                        r = med(s[peer][f"{theirs}_cold"]) / med(mine[f"{fn}_cold"])
                        met = "yes" if r >= want else f"**no**: {r:.1f}x of {want:g}x ({r / want:.0%} of the target)"
                        against = "" if theirs == fn else f", against its {theirs} (it has no {fn})"
                        w(f"| {run}: cold start → first response ≥ {want:g}x faster than the {peer} peer ({fn}{against}) | {r:.1f}x ({ms(med(mine[f'{fn}_cold']))} vs {ms(med(s[peer][f'{theirs}_cold']))} ms) | {met} |")
                        lean = s.get("rust-stateless", {})
                        if fn == "callback" and "callback_cold" in lean:
                            r = med(s[peer]["callback_cold"]) / med(lean["callback_cold"])
                            met = "yes" if r >= want else f"**no**: {r:.1f}x of {want:g}x"
                            w(f"| {run}: the same, ours with sessions off (no session write: the peers' work) | {r:.1f}x ({ms(med(lean['callback_cold']))} vs {ms(med(s[peer]['callback_cold']))} ms) | {met} |")
            for run, s in runs:
                mine = s.get("rust") or {}
                if "floor_init" not in mine:
                    continue
                floor_ms = med(mine["floor_init"])
                for fn in [f for f in ("login", "callback", "refresh") if f"{f}_init" in mine]:
                    r = med(mine[f"{fn}_init"]) / floor_ms
                    met = "yes" if r <= FLOOR_RATIO_TARGET else f"**no**: {r:.2f}x ({r / FLOOR_RATIO_TARGET:.2f}x the target)"
                    w(f"| {run}: init ≤ {FLOOR_RATIO_TARGET:g}x the floor ({fn}) | {r:.2f}x ({ms(med(mine[f'{fn}_init']))} vs {ms(floor_ms)} ms) | {met} |")
            ov = ours["overlap"]
            lov = ours["login_overlap"]
            deps = ours["callback_init_depth"]
            ldeps = ours["login_init_depth"]
            slow_cb = sum(1 for d in deps if d > 2)
            slow_login = sum(1 for d in ldeps if d > 1)
            met = "yes" if not slow_cb and not slow_login else (
                f"**not always**: {slow_cb}/{len(deps)} callback cold starts took 3 sequential rounds, "
                f"{slow_login}/{len(ldeps)} login cold starts 2 instead of 1"
            )
            w(f"| cold start: two round trips of wall time at most (secret ∥ discovery, then JWKS) | median {med(deps):g} sequential rounds (max {max(deps)}); secret ∥ discovery in {sum(ov)}/{len(ov)} callback and {sum(lov)}/{len(lov)} login cold starts; JWKS after discovery in {sum(1 for x in ours['jwks_after_discovery'] if x)}/{len(ov)} | {met} |")
            # The callback's session write (PutItem) is the sessions' own round trip, counted in
            # the DynamoDB table; this target is about the provider.
            warm = med(ours["callback_warm_provider_reqs"])
            first = med(ours["callback_first_provider_reqs"])
            met = warm <= 2 and first <= 2 and med(ours["login_warm_reqs"]) == 0 and med(ours["login_first_reqs"]) == 0
            w(f"| no outbound request per request beyond the token exchange and userinfo (DynamoDB's session write aside) | warm callback: {warm:g} to the provider, all: {ours['callback_warm_kinds']}; first callback: {first:g}, all: {ours['callback_first_kinds']}; login: {med(ours['login_first_reqs']):g} / {med(ours['login_warm_reqs']):g} | {'yes' if met else '**no**'} |")
            for fn in [f for f in ("login", "callback", "refresh") if f in ours["functions"]]:
                v = med(ours[f"{fn}_rss_mb"])
                hi = max(ours[f"{fn}_rss_mb"])
                w(f"| peak RSS < {RSS_TARGET_MB:g} MB ({fn}) | {v:.1f} MB median, {hi:.1f} MB max | {'yes' if hi < RSS_TARGET_MB else '**no**'} |")
        for key, parts in CALLBACK_CRYPTO.items():
            if key in crit and all(p in crit for p in parts):
                total = sum(crit[p]["median_ns"] for p in parts)
                r = crit[key]["median_ns"] / total
                met = "yes" if r <= CRYPTO_RATIO_TARGET else f"**no** ({r / CRYPTO_RATIO_TARGET:.2f}x the target)"
                w(f"| {key} ≤ {CRYPTO_RATIO_TARGET:g}x the sum of its crypto alone ({' + '.join(p.split('/')[-1] for p in parts)}) | {r:.2f}x ({fmt_ns(crit[key]['median_ns'])} vs {fmt_ns(total)}) | {met} |")
        for key, target in CPU_TARGETS_US.items():
            r = crit.get(key)
            if r:
                v = r["median_ns"] / 1000
                w(f"| {key} < {target:g} µs | {v:.1f} µs | {'yes' if v < target else f'**no** ({v / target:.2f}x)'} |")
        for b in bins:
            if b["arch"] == "aarch64":
                mb = b["bytes"] / 1e6
                w(f"| stripped arm64 bootstrap < {ARM64_SIZE_TARGET_MB:g} MB (`{b['what']}`) | {mb:.2f} MB, {'stripped' if b['stripped'] else 'NOT stripped'} | {'yes' if mb < ARM64_SIZE_TARGET_MB else f'**no** (+{mb - ARM64_SIZE_TARGET_MB:.2f} MB)'} |")
        w("")

    analysis = ROOT / "bench" / "analysis.md"
    if analysis.exists():
        w(analysis.read_text().rstrip())
        w("")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"report: wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
