#!/usr/bin/env bash
# Installs what the local stack and the tests need, where it is missing:
#   .venv/ with cargo-lambda and moto (dev/requirements.txt), the npm packages (npm ci) of the
#   local provider, the upstream API, the demo and the browser tests. Safe to run again: it only
#   installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "tools: '$1' is required but not installed ($2)" >&2; exit 1; }; }
need python3 "Debian: apt-get install python3 python3-venv"
need node "Node.js 20 or later"
need npm "comes with Node.js"
need cargo "https://rustup.rs"

# The second local OpenID provider (dev/lemonldap/lemonldap.py) needs Debian's LemonLDAP::NG;
# installing it takes root, so only say so (.ci/run installs it).
if [ ! -f /usr/share/perl5/Lemonldap/NG/Portal/Main.pm ] || ! command -v plackup >/dev/null 2>&1; then
  echo "tools: LemonLDAP::NG is not installed (dev/lemonldap needs it); as root:" >&2
  echo "  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends lemonldap-ng libstring-random-perl libio-string-perl libdigest-hmac-perl" >&2
fi

stamp=.venv/.requirements
if [ ! -x .venv/bin/python3 ] || ! cmp -s dev/requirements.txt "$stamp"; then
  echo "tools: installing cargo-lambda and moto into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r dev/requirements.txt
  cp dev/requirements.txt "$stamp"
fi

for dir in dev/provider dev/upstream demo tests/browser; do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "tools: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
