#!/usr/bin/env python3
"""Entry point of the cold-start harness, the package bench/coldstart/ next to this file (whose
docstring, also `--help`, says what the harness does and how it measures):

    python3 bench/coldstart.py [--n 20] [--impls rust,python,node] [--alg ES256] [--skip-build]
                               [--profile release|dev] [--tls] [--memory-mb 128] [--proxy-events 20]

The package, by part (Python 3.11 standard library only):

    common.py       paths, the product configuration's fixed names, the harness header, clock, log
    plumbing.py     HTTP plumbing of the harness's servers (no-Nagle handler, loopback server)
    proxy.py        the counting reverse proxies in front of moto and the provider
    runtime_api.py  the Lambda Runtime API emulator, one per function process
    events.py       API Gateway HTTP API events, and the cookies the functions answer with
    browser.py      the scripted browser that signs in at the provider
    services.py     moto, the providers and the upstream API, started by the launcher (`stack up --json`);
                    the counting proxies of moto and the providers
    upstream.py     the harness's direct calls to the upstream API (the proxy's baseline)
    impls.py        the implementations: ours (and its build), the Python and Node peers, variants
    harness.py      the rounds and what is measured in each, the result
    cli.py          the command line, target/bench/coldstart.json
"""

import sys

# `python3 bench/coldstart.py` puts bench/ first on sys.path, where the package directory
# takes precedence over this file's module name.
from coldstart.cli import main

if __name__ == "__main__":
    sys.exit(main())
