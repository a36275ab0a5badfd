#!/usr/bin/env bash
# CI check of the AWS SAM deployment (template.yaml, samconfig.toml), with no AWS account and no
# Docker:
#   1. a Python venv at ${VENV:-.venv} (relative to the repo root) with pinned aws-sam-cli,
#      cfn-lint, cargo-lambda and ziglang (the cross linker cargo-lambda uses for arm64);
#   2. rustup target aarch64-unknown-linux-gnu;
#   3. cfn-lint template.yaml, then sam validate --lint;
#   4. the SAM transform, offline, once per ProtectMeWith value (None, JwtAuthorizer,
#      LambdaAuthorizer): an authorizer on GET /api/me only and exactly the one chosen, the
#      authorizer's invoke permission exactly when it is used, and no circular reference between
#      resources (cfn-lint does not follow references inside the HttpApi body);
#   5. every rust-cargolambda function of the template (the list comes from template.yaml) has
#      its crate at CodeUri with a binary named like BuildProperties.Binary;
#   6. sam build (cargo lambda build --release --arm64, one function at a time);
#   7. .aws-sam/build/<Function>/bootstrap exists for every one of those functions and is an
#      aarch64 ELF executable; prints each size.
#
# Usage: bash dev/sam-check.sh [--no-build]     (--no-build: steps 1-5 only)
# Needs: python3 with venv (Debian: apt-get install python3-venv), rustup and cargo, a C
# compiler for build scripts (Debian: apt-get install build-essential). The first release build
# of the workspace for arm64 takes several minutes on 2 cores; later ones reuse target/.
set -euo pipefail
cd "$(dirname "$0")/.."

# Versions verified together (pip index versions ...). cargo-lambda and ziglang match
# dev/requirements.txt, so this check and `make dev` can share one venv.
PINS=(
  aws-sam-cli==1.170.0
  cfn-lint==1.58.0
  cargo-lambda==1.9.2
  ziglang==0.17.1
)
TARGET=aarch64-unknown-linux-gnu
BUILD=1
for arg in "$@"; do
  case $arg in
    --no-build) BUILD=0 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "sam-check: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

fail() { echo "sam-check: FAILED: $*" >&2; exit 1; }
step_start=$SECONDS
step() { echo; echo "== sam-check: $* =="; step_start=$SECONDS; }
done_step() { echo "-- took $((SECONDS - step_start)) s"; }

command -v python3 >/dev/null || fail "python3 is not installed (Debian: apt-get install python3 python3-venv)"
command -v cargo >/dev/null || fail "cargo is not installed (rustup: Debian 13 'apt-get install rustup', or https://rustup.rs)"
command -v rustup >/dev/null || fail "rustup is not installed: it adds the $TARGET standard library"
command -v cc >/dev/null || fail "no C compiler 'cc' for build scripts (Debian: apt-get install build-essential)"

VENV=${VENV:-.venv}
case $VENV in /*) ;; *) VENV=$PWD/$VENV ;; esac

step "venv $VENV"
if [ ! -x "$VENV/bin/python3" ]; then
  python3 -m venv "$VENV" || fail "could not create $VENV (Debian: apt-get install python3-venv)"
fi
"$VENV/bin/python3" -m pip --version >/dev/null 2>&1 \
  || fail "$VENV has no pip (Debian: apt-get install python3-venv, then remove $VENV and rerun)"
"$VENV/bin/python3" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" \
  || fail "pip install ${PINS[*]} into $VENV"
# The venv first on PATH: sam, cfn-lint and cargo-lambda from it, and cargo-lambda runs zig as
# `python3 -m ziglang` with the first python3 on PATH, which must be the venv's.
export PATH="$VENV/bin:$PATH"
export SAM_CLI_TELEMETRY=0
# sam validate wants a region even for a local lint; no credentials are used.
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
[ "$(command -v python3)" = "$VENV/bin/python3" ] || fail "python3 on PATH is not the venv's"
python3 -m ziglang version >/dev/null || fail "zig (python3 -m ziglang) does not run"
echo "sam $(sam --version | awk '{print $NF}'), $(cfn-lint --version), $(cargo-lambda lambda --version | head -n1), zig $(python3 -m ziglang version)"
done_step

step "rustup target add $TARGET"
rustup target add "$TARGET" || fail "rustup target add $TARGET"
done_step

step "cfn-lint template.yaml"
cfn-lint template.yaml || fail "cfn-lint reported problems in template.yaml (above)"
echo "cfn-lint: clean"
done_step

step "sam validate --lint"
sam validate --lint --template template.yaml || fail "sam validate --lint"
done_step

step "sam transform per ProtectMeWith: authorizer wiring, circular references"
python3 - template.yaml <<'PY' || fail "the transformed template is wired wrong (above)"
import copy, json, logging, re, sys
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

logging.getLogger("samtranslator").setLevel(logging.ERROR)
# Required parameters get fake values; CloudFormation hands a CommaDelimitedList over as a list.
PARAMS = {
    "OidcIssuer": "https://example-org.okta.com/oauth2/default",
    "OidcClientId": "0oaEXAMPLE",
    "SpaRedirectUri": "https://app.example.com/callback",
    "SessionIssuer": "https://api.example.com",
    "SessionAudience": "https://api.example.com",
    "AllowedOrigins": ["https://app.example.com"],
}
SCHEME = {"JwtAuthorizer": "SessionJwt", "LambdaAuthorizer": "SessionAuthorizer"}

class NoManagedPolicies:
    def load(self):
        return {}

with open(sys.argv[1]) as f:
    source = yaml_parse(f.read())
params_def = source["Parameters"]
# As sam validate does: a local CodeUri becomes an S3 location for the translator.
for r in source["Resources"].values():
    if r.get("Type") == "AWS::Serverless::Function":
        r["Properties"]["CodeUri"] = "s3://bucket/key"

def resolve(template, values):
    """The resources that exist for these parameter values, with every Fn::If decided and
    AWS::NoValue dropped; other intrinsics are left as they are."""
    def param(name):
        v = values.get(name, params_def[name].get("Default"))
        if params_def[name]["Type"] == "CommaDelimitedList" and isinstance(v, str):
            return v.split(",")
        return v
    conditions, decided = template.get("Conditions", {}), {}
    def value(x):
        if isinstance(x, dict) and "Ref" in x:
            return param(x["Ref"])
        if isinstance(x, dict) and "Fn::Join" in x:
            return x["Fn::Join"][0].join(value(x["Fn::Join"][1]))
        return x
    def truth(c):
        (k, v), = c.items()
        return {"Fn::Equals": lambda: value(v[0]) == value(v[1]),
                "Fn::Not": lambda: not truth(v[0]),
                "Fn::And": lambda: all(map(truth, v)),
                "Fn::Or": lambda: any(map(truth, v)),
                "Condition": lambda: cond(v)}[k]()
    def cond(name):
        if name not in decided:
            decided[name] = truth(conditions[name])
        return decided[name]
    gone = object()
    def walk(x):
        if isinstance(x, dict):
            if set(x) == {"Fn::If"}:
                name, yes, no = x["Fn::If"]
                return walk(yes if cond(name) else no)
            if x == {"Ref": "AWS::NoValue"}:
                return gone
            return {k: w for k, w in ((k, walk(v)) for k, v in x.items()) if w is not gone}
        if isinstance(x, list):
            return [w for w in map(walk, x) if w is not gone]
        return x
    return {k: walk(v) for k, v in template["Resources"].items()
            if "Condition" not in v or cond(v["Condition"])}

def cycles(template):
    """Circular references (Ref, GetAtt, ${...} of Sub, DependsOn) in every Fn::If branch,
    self-references included: CloudFormation refuses them all."""
    resources = template["Resources"]
    def refs(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "Ref" and isinstance(v, str):
                    yield v
                elif k == "Fn::GetAtt":
                    yield v.split(".")[0] if isinstance(v, str) else v[0]
                elif k == "Fn::Sub":
                    text, names = (v, {}) if isinstance(v, str) else (v[0], v[1])
                    for m in re.findall(r"\$\{([^!}][^}]*)\}", text):
                        if m.split(".")[0] not in names:
                            yield m.split(".")[0]
                    yield from refs(names)
                else:
                    yield from refs(v)
        elif isinstance(x, list):
            for i in x:
                yield from refs(i)
    graph = {}
    for name, r in resources.items():
        d = r.get("DependsOn", [])
        deps = set(refs(r.get("Properties", {}))) | set([d] if isinstance(d, str) else d)
        graph[name] = sorted(x for x in deps if x in resources)
    found, state = [], {}
    def visit(n, path):
        state[n] = "open"
        for d in graph[n]:
            if state.get(d) == "open":
                found.append(path[path.index(d):] + [d])
            elif d not in state:
                visit(d, path + [d])
        state[n] = "done"
    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    return found

problems = []
def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        problems.append(what)

for mode in ["None", "JwtAuthorizer", "LambdaAuthorizer"]:
    values = dict(PARAMS, ProtectMeWith=mode)
    out = transform(copy.deepcopy(source), values, NoManagedPolicies())
    res = resolve(out, values)
    body = res["HttpApi"]["Properties"]["Body"]
    routes = sorted(f"{m.upper()} {p}" for p, item in body["paths"].items() for m in item)
    print(f"ProtectMeWith={mode}: {len(res)} resources, routes: {', '.join(routes)}")
    loops = cycles(out)
    check(not loops, "no circular reference" + "".join(f"; {' -> '.join(c)}" for c in loops))
    secured = {f"{m.upper()} {p}": op["security"] for p, item in body["paths"].items()
               for m, op in item.items() if isinstance(op, dict) and "security" in op}
    schemes = (body.get("components") or {}).get("securitySchemes") or {}
    invoke = [k for k, v in res.items() if v["Type"] == "AWS::Lambda::Permission"
              and v["Properties"]["FunctionName"] == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}]
    if mode == "None":
        check(not secured, "no route has an authorizer" + (f": {secured}" if secured else ""))
        check(not schemes, "no authorizer" + (f": {list(schemes)}" if schemes else ""))
        check(not invoke, "no invoke permission for the authorizer" + (f": {invoke}" if invoke else ""))
        continue
    name = SCHEME[mode]
    check(secured == {"GET /api/me": [{name: []}]}, f"{name} on GET /api/me only: {secured}")
    check(list(schemes) == [name], f"one authorizer, {name}: {list(schemes)}")
    az = schemes.get(name, {}).get("x-amazon-apigateway-authorizer", {})
    if mode == "JwtAuthorizer":
        # The parameters, which CloudFormation resolves; never the API's own URL.
        check(az.get("type") == "jwt" and az.get("identitySource") == "$request.header.Authorization"
              and az.get("jwtConfiguration") == {"issuer": {"Ref": "SessionIssuer"},
                                                 "audience": [{"Ref": "SessionAudience"}]},
              "JWT authorizer: Authorization header, issuer SessionIssuer, audience SessionAudience")
        check(not invoke, "no invoke permission for the authorizer" + (f": {invoke}" if invoke else ""))
    else:
        check(az.get("type") == "request" and az.get("authorizerPayloadFormatVersion") == "2.0"
              and az.get("enableSimpleResponses") is True
              and az.get("authorizerResultTtlInSeconds") == 300
              and az.get("identitySource") == ["$request.header.Authorization"]
              and "${AuthorizerFunction.Arn}" in json.dumps(az.get("authorizerUri")),
              "REQUEST authorizer: AuthorizerFunction, payload 2.0, simple responses, cached 300 s per Authorization")
        p = res[invoke[0]]["Properties"] if len(invoke) == 1 else {}
        check(p.get("Principal") == "apigateway.amazonaws.com" and p.get("Action") == "lambda:InvokeFunction"
              and "${HttpApi}/authorizers/*" in json.dumps(p.get("SourceArn")),
              f"apigateway may invoke AuthorizerFunction for this API's authorizers: {invoke}")
sys.exit(1 if problems else 0)
PY
done_step

# The functions the template builds with cargo-lambda: .aws-sam/build/<logical id>/bootstrap.
step "functions of template.yaml: crate and binary of each"
FUNCTIONS=$(python3 - <<'PY'
import sys, tomllib
from pathlib import Path
from samcli.yamlhelper import yaml_parse
with open("template.yaml") as f:
    resources = yaml_parse(f.read()).get("Resources", {})
bad = False
for name, res in resources.items():
    meta = res.get("Metadata") or {}
    if res.get("Type") != "AWS::Serverless::Function" or meta.get("BuildMethod") != "rust-cargolambda":
        continue
    binary = (meta.get("BuildProperties") or {}).get("Binary")
    crate = Path(str(res.get("Properties", {}).get("CodeUri", "")))
    bins = []
    if (crate / "Cargo.toml").is_file():
        manifest = tomllib.loads((crate / "Cargo.toml").read_text())
        bins = [b.get("name") for b in manifest.get("bin", [])] or [manifest.get("package", {}).get("name")]
    if not binary or binary not in bins:
        print(f"{name}: CodeUri {crate} has no binary {binary!r} ({bins or 'no Cargo.toml'})", file=sys.stderr)
        bad = True
    else:
        print(f"  {name:<20} {crate}  bin {binary}", file=sys.stderr)
        print(name)
sys.exit(1 if bad else 0)
PY
) || fail "template.yaml names a function whose crate or binary is missing (above)"
[ -n "$FUNCTIONS" ] || fail "template.yaml has no rust-cargolambda function"
echo "$(echo $FUNCTIONS | wc -w) functions: $(echo $FUNCTIONS | tr ' ' ',')"
done_step

if [ "$BUILD" = 0 ]; then
  echo; echo "sam-check: OK (lint only, --no-build)"
  exit 0
fi

step "sam build ($(echo $FUNCTIONS | tr ' ' ','))"
# nice: a release LTO build takes both cores for minutes; leave the machine usable.
nice -n 10 sam build --template template.yaml || fail "sam build"
done_step

step "artifacts"
for fn in $FUNCTIONS; do
  f=.aws-sam/build/$fn/bootstrap
  [ -f "$f" ] || fail "$f is missing"
  [ -x "$f" ] || fail "$f is not executable"
  # ELF header: magic 7f 45 4c 46, class 2 (64-bit), data 1 (little-endian), e_type 2 (EXEC) or
  # 3 (DYN, position-independent), e_machine 0xb7 (183, AArch64) at offset 18.
  python3 - "$f" <<'PY' || fail "$f is not an aarch64 ELF executable"
import struct, sys
with open(sys.argv[1], "rb") as f:
    h = f.read(20)
ok = (len(h) == 20 and h[:4] == b"\x7fELF" and h[4] == 2 and h[5] == 1
      and struct.unpack_from("<H", h, 16)[0] in (2, 3) and struct.unpack_from("<H", h, 18)[0] == 0xB7)
if not ok:
    print(f"{sys.argv[1]}: header {h.hex(' ')}", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
  size=$(wc -c <"$f" | tr -d ' ')
  printf '%-24s %10s bytes (%s KiB)  aarch64 ELF\n' "$fn" "$size" "$((size / 1024))"
done
done_step

echo; echo "sam-check: OK"
