#!/usr/bin/env bash
# `make dev`: the whole product on this machine, with no AWS account and no provider account.
#
#   moto (Secrets Manager,      http://127.0.0.1:$MOTO_PORT      seeded with .local/secret.json;
#         DynamoDB)                                                the session table $SESSION_TABLE,
#                                                                  made from template.yaml
#   oidc-provider (npm)         http://localhost:$PROVIDER_PORT  users alice/alice and bob/bob
#   cargo lambda watch          http://127.0.0.1:$API_PORT       the login and callback functions
#   demo SPA (Vite)             http://localhost:$DEMO_PORT      proxies the API paths
#
# With DEV_LEMONLDAP=1, also LemonLDAP::NG (dev/lemonldap, Debian's lemonldap-ng) on
# http://localhost:$LLNG_PORT (users dwho/dwho, rtyler/rtyler), as a second provider of the same
# deployment: OIDC_PROVIDERS=local,lemon, and the demo offers a button for each.
#
# Ports: MOTO_PORT (5001), PROVIDER_PORT (3000), LLNG_PORT (3001), API_PORT (9000), DEMO_PORT
# (5173). Table: SESSION_TABLE (spa-login-local-sessions), passed to the functions.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_PORT=${MOTO_PORT:-5001}
PROVIDER_PORT=${PROVIDER_PORT:-3000}
LLNG_PORT=${LLNG_PORT:-3001}
DEV_LEMONLDAP=${DEV_LEMONLDAP:-0}
API_PORT=${API_PORT:-9000}
DEMO_PORT=${DEMO_PORT:-5173}
SECRET_ID=${SECRET_ID:-spa-login/local}
SESSION_TABLE=${SESSION_TABLE:-spa-login-local-sessions}
CLIENT_ID=local-spa
LEMON_CLIENT_ID=local-spa-lemon
LOGS=.local/logs

port_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

ports=("MOTO_PORT:$MOTO_PORT" "PROVIDER_PORT:$PROVIDER_PORT" "API_PORT:$API_PORT" "DEMO_PORT:$DEMO_PORT")
[ "$DEV_LEMONLDAP" = 1 ] && ports+=("LLNG_PORT:$LLNG_PORT")
for pair in "${ports[@]}"; do
  name=${pair%%:*} port=${pair#*:}
  if ! port_free "$port"; then
    echo "dev: port $port ($name) is taken; free it or run e.g. '$name=$((port + 10)) make dev'" >&2
    exit 1
  fi
done

bash dev/tools.sh
mkdir -p "$LOGS"

# One secret per checkout, made on first run: a random client secret shared with the local
# provider, an ES256 signing key and a cookie key.
if [ ! -s .local/secret.json ]; then
  echo "dev: generating .local/secret.json (first run)"
  client_secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
  OIDC_CLIENT_SECRET=$client_secret cargo run --quiet -p secret-tool -- generate --alg ES256 --kid local-1 \
    > .local/secret.json.tmp
  mv .local/secret.json.tmp .local/secret.json
  chmod 600 .local/secret.json
fi
CLIENT_SECRET=$(python3 -c 'import json; print(json.load(open(".local/secret.json"))["client_secret"])')
if [ "$DEV_LEMONLDAP" = 1 ]; then
  # LemonLDAP::NG's own client secret, under its name (client_secrets.lemon), added once.
  LEMON_CLIENT_SECRET=$(python3 - <<'PY'
import json, os, secrets
path = ".local/secret.json"
secret = json.load(open(path))
lemon = secret.setdefault("client_secrets", {}).setdefault("lemon", secrets.token_urlsafe(32))
with open(path + ".tmp", "w") as f:
    json.dump(secret, f, indent=2)
os.chmod(path + ".tmp", 0o600)
os.replace(path + ".tmp", path)
print(lemon)
PY
)
fi

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "dev: stopping"
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
# Ctrl-C (or TERM) stops everything and ends here; an exit for any other reason also cleans up.
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

start() { # name, command...: runs in its own process group, logs to .local/logs/<name>.log
  local name=$1; shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 &
  pids+=($!)
}

wait_for() { # name, url, seconds
  local name=$1 url=$2 deadline=$((SECONDS + $3))
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "dev: $name did not come up; last lines of $LOGS/$name.log:" >&2
      tail -n 30 "$LOGS/$name.log" >&2
      exit 1
    fi
    sleep 0.5
  done
}

export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT

echo "dev: starting moto on :$MOTO_PORT"
start moto .venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT"
wait_for moto "http://127.0.0.1:$MOTO_PORT/moto-api/" 60
cargo run --quiet -p secret-tool -- put --secret-id "$SECRET_ID" --file .local/secret.json
# The session table, from template.yaml's SessionTable declaration (moto keeps it in memory).
.venv/bin/python dev/session_table.py create --endpoint "$AWS_ENDPOINT_URL" --name "$SESSION_TABLE"

echo "dev: starting the OpenID provider on :$PROVIDER_PORT"
start provider env -C dev/provider \
  PROVIDER_PORT="$PROVIDER_PORT" OIDC_CLIENT_ID="$CLIENT_ID" OIDC_CLIENT_SECRET="$CLIENT_SECRET" \
  PROVIDER_REDIRECT_URIS="http://localhost:$DEMO_PORT/callback,http://localhost:$DEMO_PORT/authorization-code/callback" \
  PROVIDER_POST_LOGOUT_REDIRECT_URIS="http://localhost:$DEMO_PORT/" \
  PROVIDER_BACKCHANNEL_LOGOUT_URI="http://127.0.0.1:$API_PORT/lambda-url/logout/api/backchannel-logout" \
  node provider.mjs
wait_for provider "http://localhost:$PROVIDER_PORT/.well-known/openid-configuration" 30

if [ "$DEV_LEMONLDAP" = 1 ]; then
  echo "dev: starting LemonLDAP::NG on :$LLNG_PORT"
  start lemonldap env LLNG_PORT="$LLNG_PORT" LLNG_STATE_DIR=.local/lemonldap \
    OIDC_CLIENT_ID="$LEMON_CLIENT_ID" OIDC_CLIENT_SECRET="$LEMON_CLIENT_SECRET" \
    LLNG_REDIRECT_URIS="http://localhost:$DEMO_PORT/callback,http://localhost:$DEMO_PORT/authorization-code/callback" \
    LLNG_POST_LOGOUT_REDIRECT_URIS="http://localhost:$DEMO_PORT/" \
    python3 dev/lemonldap/lemonldap.py
  wait_for lemonldap "http://localhost:$LLNG_PORT/.well-known/openid-configuration" 60
  providers="OIDC_PROVIDERS=local,lemon
OIDC_LOCAL_ISSUER=http://localhost:$PROVIDER_PORT
OIDC_LOCAL_CLIENT_ID=$CLIENT_ID
OIDC_LEMON_ISSUER=http://localhost:$LLNG_PORT
OIDC_LEMON_CLIENT_ID=$LEMON_CLIENT_ID"
  demo_providers="local=the local provider,lemon=LemonLDAP::NG"
else
  providers="OIDC_ISSUER=http://localhost:$PROVIDER_PORT
OIDC_CLIENT_ID=$CLIENT_ID"
  demo_providers=
fi

cat >.local/functions.env <<EOF
$providers
OIDC_REDIRECT_URI=http://localhost:$DEMO_PORT/callback
OIDC_SERVER_REDIRECT_URI=http://localhost:$DEMO_PORT/authorization-code/callback
SECRET_ID=$SECRET_ID
SESSION_TABLE=$SESSION_TABLE
SESSION_ISSUER=http://localhost:$DEMO_PORT
SESSION_AUDIENCE=http://localhost:$DEMO_PORT
POST_LOGOUT_REDIRECT_URI=http://localhost:$DEMO_PORT/
AWS_REGION=$AWS_REGION
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
RUST_LOG=info
EOF

echo "dev: starting cargo lambda watch on :$API_PORT (the first build takes a few minutes)"
start functions .venv/bin/cargo-lambda lambda watch --invoke-address 127.0.0.1 -P "$API_PORT" \
  --disable-cors --env-file .local/functions.env
wait_for functions "http://127.0.0.1:$API_PORT/lambda-url/login/api/login" 900

echo "dev: starting the demo on :$DEMO_PORT"
start demo env -C demo DEMO_PORT="$DEMO_PORT" DEMO_API_ORIGIN="http://127.0.0.1:$API_PORT" \
  DEMO_PROVIDERS="$demo_providers" npm run dev
wait_for demo "http://localhost:$DEMO_PORT/" 60

lemon_hint=
if [ "$DEV_LEMONLDAP" = 1 ]; then
  lemon_hint=",
  or pick LemonLDAP::NG (http://localhost:$LLNG_PORT) and log in as dwho (password dwho)"
fi
cat <<EOF

  Ready. Open http://localhost:$DEMO_PORT/ and log in as alice (password alice) or bob (password bob)$lemon_hint.

  API (cargo lambda watch)   http://127.0.0.1:$API_PORT/lambda-url/<function>/...
                             functions: login callback me logout refresh issuer authorizer
  Our issuer metadata        http://localhost:$DEMO_PORT/.well-known/openid-configuration
  OpenID provider            http://localhost:$PROVIDER_PORT/.well-known/openid-configuration
  Secrets Manager (moto)     http://127.0.0.1:$MOTO_PORT   secret "$SECRET_ID"
  DynamoDB (moto)            http://127.0.0.1:$MOTO_PORT   table "$SESSION_TABLE"
                             (.venv/bin/python dev/session_table.py scan --endpoint http://127.0.0.1:$MOTO_PORT --name $SESSION_TABLE)
  Logs                       $LOGS/

  Ctrl-C stops everything.
EOF

wait -n "${pids[@]}" || true
echo "dev: a service stopped; see $LOGS/" >&2
