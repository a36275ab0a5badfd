"""Cold-start harness: the login, callback and refresh functions (and ours' authorizer and
proxy), and their peers (login and callback only: they have no sessions), as fresh processes
behind a Lambda Runtime API emulator, against moto and the local OpenID provider on loopback.

    python3 bench/coldstart.py [--n 20] [--impls rust,rust-2p,rust-par,rust-fapi2,python,node] [--alg ES256] [--skip-build]
                               [--profile release|dev] [--tls] [--memory-mb 128] [--proxy-events 20]

Python 3.11 standard library only. What it does:

1. Builds `cargo build --release -p login -p callback -p refresh -p authorizer -p proxy -p floor`
   (native, this machine's architecture; under $CARGO_TARGET_DIR when set) unless --skip-build. `--profile dev` uses the debug build
   instead: a smoke run (CI) that shows the harness works, not a measurement.
2. Starts, through the one launcher of the local stack (`stack up --json`, dev/stack), moto
   and the local provider (`dev/provider/provider.mjs`), plus a second instance of that provider
   whose access tokens live 3 s (`PROVIDER_ACCESS_TOKEN_TTL`, for the refresh grants), each
   behind a counting reverse proxy of its own in this process. The functions reach Secrets Manager and DynamoDB through
   `AWS_ENDPOINT_URL` = the moto proxy, and the provider through `OIDC_ISSUER` = the provider
   proxy (the provider is started with `PROVIDER_ISSUER` = that URL, so its discovery
   document's `issuer` matches and every endpoint points at the proxy). The proxies record
   every request with its start and end times (DynamoDB's by operation, from `X-Amz-Target`);
   requests made by this harness itself (seeding, the scripted sign-in) carry
   `X-Bench-Harness` or go to moto directly, and are not counted.
3. The launcher seeds one secret (the product's JSON format, a signing key of `--alg` made by
   the product's key generation) and creates the session table (`dev/session_table.py create`,
   from template.yaml's declaration); every function gets the launcher's configuration (its
   redirect URIs, `SECRET_ID`, `SESSION_TABLE`, ...), so the callback stores a session (one
   PutItem).
4. For each of N rounds and each implementation, interleaved: a fresh login process serves two
   `GET /api/login` events (cold, then warm); this harness signs in at the provider for each
   login URL (cookie jar, login form `prompt=login&login=alice&password=alice`, consent
   `prompt=consent`) up to the redirect carrying `code`, `state` and `iss`; then a fresh
   callback process serves two `GET /api/callback?code&state&iss` events with the
   transaction cookies (cold, then warm). Each process gets its own Runtime API emulator (a
   tiny HTTP server here) that hands out the events and records when the process first asks
   for one (end of init) and when each response arrives. Then, for ours, a fresh refresh
   process serves two `POST /api/refresh` events (`X-CSRF: 1`), the first with the session
   handle (`__Host-refresh`) the first callback set, the second with the other's: each answer
   must be a 200 with a JWT carrying `sid`, made without a refresh grant (the provider's access
   token is fresh). Then ours signs in twice more, unmeasured, through the short-lived provider
   (login, sign-in, callback); once every implementation has run the round, the harness waits
   until those access tokens have expired and a fresh refresh process serves the two sessions:
   each answer must come from a refresh grant (provider token endpoint, lease and store writes
   in DynamoDB). Peak RSS is VmHWM from /proc/<pid>/status, read after the last response and
   before the process is killed. `rust-2p` runs the same rounds with the same binaries configured
   with two providers (`OIDC_PROVIDERS=main,second`; the one secret holds `client_secrets` for
   `second` too): `main` is the round's provider (the sign-ins go there, as
   for `rust`), `second` the other instance, whose discovery (and JWKS, for callback and
   refresh) each cold start also fetches. `rust-par` and `rust-fapi2` (asked for by name, not run
   by default) run the same rounds with the same binaries authenticating without a shared
   secret: `rust-par` by private_key_jwt (an assertion signed with a PS256 client key of its
   secret on every token and PAR request) at a provider that requires PAR (each login pushes its
   authorization request: one more provider call per login, checked), `rust-fapi2` with the FAPI
   2.0 profile (`OIDC_PROFILE=fapi2`: private_key_jwt, PAR, a DPoP key per session and a proof on
   the code exchange, userinfo and refresh grants) at a provider in FAPI 2.0 mode that requires
   a DPoP nonce in every proof (a cold process's first proof is refused `use_dpop_nonce` and
   sent again). Each mode has two provider instances of its own (the rounds' and a short-lived
   one) and a secret of its own (`rust`'s plus the client key); the provider fetches our public
   client keys from a JWKS the harness serves where the issuer function would (services.py).
   One unrecorded warm-up round per implementation comes first (warm page cache, moto and the
   provider warmed up; for the variants, the provider's fetch of the client JWKS).
   Ours also runs, in each round, the proxy function against the upstream API the launcher
   starts (dev/upstream, its benchmark-only `/open` base, which checks no token): a fresh
   process with a remote API in `ours` mode only, then one with a `provider`-mode API too, each
   serving a cold and `--proxy-events` warm requests with the round's sessions (the refresh's
   JWTs as `__Host-session`, the callbacks' handles), each request paired with the same request
   made by the harness straight to the upstream (harness.py says how), and bench/floor with
   `FLOOR=secret` (the floor of a cold start that fetches the secret alone).
5. Writes every measurement to target/bench/coldstart.json (bench/report.py turns it into
   BENCHMARKS.md). Logs of every process go to target/bench/logs/.
"""
