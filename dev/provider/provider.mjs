// Local OpenID Connect provider for development and end-to-end tests.
//
// Runs `oidc-provider` (npm) on loopback over plain HTTP with one confidential
// client (authorization_code + PKCE S256; client_secret_basic unless told otherwise) and two fixed
// test users. Login uses oidc-provider's devInteractions forms; the login
// submission is checked here: login must be `alice` or `bob` and the password
// must equal the login (alice/alice, bob/bob). Anything else is refused with a
// 401 page; no user is ever created. Keys are generated in memory at start.
//
// Environment:
//   PROVIDER_PORT                       listen port (default 3000)
//   PROVIDER_HOST                       bind host (default 127.0.0.1)
//   PROVIDER_ISSUER                     announced issuer (default http://localhost:${PROVIDER_PORT})
//   OIDC_CLIENT_ID                      client id (default local-spa)
//   OIDC_CLIENT_SECRET                  client secret (required, unless the client authenticates by
//                                       private_key_jwt; then it is not registered)
//   PROVIDER_REDIRECT_URIS              comma-separated redirect URIs (required)
//   PROVIDER_POST_LOGOUT_REDIRECT_URIS  comma-separated post-logout redirect URIs (optional)
//   PROVIDER_ACCESS_TOKEN_TTL           access token lifetime, seconds (default 3600)
//   PROVIDER_ID_TOKEN_TTL               ID token lifetime, seconds (default 3600)
//   PROVIDER_REFRESH_TOKEN_TTL          refresh token lifetime, seconds (default 1209600, 14 days);
//                                       the provider's session and grant last at least as long
//   PROVIDER_STORE_ENTRIES              how many entries the in-memory store keeps (default: oidc-provider's
//                                       1000, least recently used dropped first); each signed-in session
//                                       holds several (session, grant, tokens), so a run of many sessions
//                                       (bench/load) raises it, or the oldest grants are silently forgotten
//   PROVIDER_EXTRA_USERS                N more test users, `user-1` to `user-N` (optional; bench/load
//                                       signs in many users, as an app's sessions are), each
//                                       with its login as password, like alice and bob
//   PROVIDER_BACKCHANNEL_LOGOUT_URI     the client's back-channel logout URI (optional): a logout
//                                       here then POSTs a logout token there, and ID tokens carry sid
//   PROVIDER_ACR                        an acr value (optional): every sign-in here records it, it is
//                                       announced in acr_values_supported, and an ID token of a login
//                                       that sent acr_values carries it as acr (asked for or not: the
//                                       request is voluntary, so the relying party must check)
//   PROVIDER_CLIENT_AUTH                how the client authenticates at the token, PAR and revocation
//                                       endpoints (oidc-provider 9 has one method per client for all):
//                                       client_secret_basic (default), client_secret_post or
//                                       private_key_jwt (RFC 7523; assertions signed RS256, PS256 or
//                                       ES256). It is the only method announced in
//                                       token_endpoint_auth_methods_supported
//   PROVIDER_CLIENT_JWKS_URI            the client's jwks_uri (required with private_key_jwt, unused
//                                       otherwise): its public keys, fetched on first use, not at
//                                       start, and again
//                                       for an unknown kid once the copy is 60 s old (or older than
//                                       the answer's Cache-Control max-age)
//   PROVIDER_PAR                        pushed authorization requests (RFC 9126): off (default: not
//                                       announced), on (announced), required (announced as
//                                       require_pushed_authorization_requests, and an authorization
//                                       request without a request_uri from it is refused)
//   PROVIDER_DPOP                       DPoP (RFC 9449): off (default: not announced, a DPoP header
//                                       is ignored and tokens are Bearer), on (announced; a proof
//                                       binds the tokens), required (the client's
//                                       dpop_bound_access_tokens: a token request without a proof is
//                                       refused)
//   PROVIDER_DPOP_NONCE                 1: every DPoP proof must carry a server nonce (the first
//                                       answer is use_dpop_nonce with a DPoP-Nonce header); needs
//                                       PROVIDER_DPOP on or required
//   PROVIDER_SIGNING_ALG                the ID token signing key (fresh per run): RS256 (default),
//                                       PS256 (both RSA-2048) or ES256 (P-256); the client is
//                                       registered with it as id_token_signed_response_alg
//   PROVIDER_PROFILE                    fapi2: oidc-provider's FAPI 2.0 Security Profile mode (below),
//                                       whose defaults are then PROVIDER_CLIENT_AUTH=private_key_jwt,
//                                       PROVIDER_PAR=required, PROVIDER_DPOP=required and
//                                       PROVIDER_SIGNING_ALG=PS256; setting one of these otherwise
//                                       makes a provider that deviates from the profile (for tests of
//                                       the relying party's refusals), with a warning
//   PROVIDER_TRUST_PROXY                1: build URLs with the scheme a TLS-terminating proxy forwards
//
// FAPI 2.0 (PROVIDER_PROFILE=fapi2, `features.fapi.profile: '2.0'`): what oidc-provider 9.13.3
// enforces itself (lib/helpers/defaults.js, lib/actions/authorization/response_parameters.js,
// lib/helpers/oidc_context.js):
//   - a private_key_jwt assertion's aud must be the issuer identifier, a string equal to it (no
//     array, no token endpoint URL: assertJwtClientAuthClaimsAndHeader);
//   - PKCE is required (pkceRequired; required here for every client anyway);
//   - redirect_uri may not be left out of an authorization request, even with one registered
//     (oneRedirectUriClients);
//   - access tokens are not accepted in a query parameter (getAccessToken);
//   - a request object (not used here) must carry exp, nbf and aud, exp at most 3600 s after nbf.
// The rest of the profile is this file's configuration, not the mode's: PAR required, DPoP-bound
// tokens required, private_key_jwt, a PS256 ID token key, assertion and DPoP proof algorithms
// PS256, ES256, EdDSA only, authorization codes living 60 s. The iss authorization response
// parameter (RFC 9207) is sent in every mode (authorization_response_iss_parameter_supported).
//
// What it received, one line each on stdout, for tests to read (never a token, code, assertion,
// secret or DPoP proof):
//   provider: received authorization par=<yes|no> dpop_jkt=<yes|no>
//       an authorization answered with a code; par: its request came from the PAR endpoint
//       (request_uri); dpop_jkt: the code is bound to a DPoP key (a proof or dpop_jkt at PAR)
//   provider: received par auth=<method> dpop=<yes|no> dpop_jkt=<yes|no>
//   provider: received token grant=authorization_code auth=<method> dpop=<yes|no> par=<yes|no>
//   provider: received token grant=refresh_token auth=<method> dpop=<yes|no>
//       auth: the client authentication method used (the registered one, the only one accepted);
//       dpop: a DPoP proof was accepted (the token is DPoP-bound; at PAR, the request)
//   provider: received revocation auth=<method> token=<access_token|refresh_token|unknown>
//   provider: received userinfo dpop=<yes|no>      (dpop: the access token is DPoP-bound)
//   provider: refused <authorization|par|token|revocation|userinfo>: <OAuth error code>
//
// Refresh tokens: one with every code exchange (no offline_access or prompt=consent needed),
// rotated on every use (a used one is refused, and reusing it revokes the grant), revocable
// at the revocation endpoint (revoking one revokes its grant). Without offline_access a
// refresh token ends with the user's session here (logout ends it); offline_access is allowed
// but, as oidc-provider requires, only granted with prompt=consent.
//
// Start: `npm ci && OIDC_CLIENT_SECRET=... PROVIDER_REDIRECT_URIS=... node provider.mjs`
// Prints `provider ready at <issuer>` once listening.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { text } from 'node:stream/consumers';

import Provider from 'oidc-provider';
// The development store's own parts (the package has no exports map): its LRU, made larger below.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

const env = process.env;
const fail = (msg) => { console.error(`provider: ${msg}`); process.exit(2); };
const list = (value) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);

const port = Number(env.PROVIDER_PORT || 3000);
const host = env.PROVIDER_HOST || '127.0.0.1';
const issuer = env.PROVIDER_ISSUER || `http://localhost:${port}`;
const clientId = env.OIDC_CLIENT_ID || 'local-spa';
const clientSecret = env.OIDC_CLIENT_SECRET;
const redirectUris = list(env.PROVIDER_REDIRECT_URIS);
const postLogoutRedirectUris = list(env.PROVIDER_POST_LOGOUT_REDIRECT_URIS);
const backchannelLogoutUri = env.PROVIDER_BACKCHANNEL_LOGOUT_URI || undefined;
const acr = env.PROVIDER_ACR || undefined;

// One of `allowed`, or `fallback` when unset or empty.
const oneOf = (name, allowed, fallback) => {
  const value = env[name] || fallback;
  if (!allowed.includes(value)) fail(`${name} must be ${allowed.join(', ')} (got ${JSON.stringify(env[name])})`);
  return value;
};
const profile = oneOf('PROVIDER_PROFILE', ['none', 'fapi2'], 'none');
const fapi2 = profile === 'fapi2';
// Under the FAPI 2.0 profile, the profile's value of a setting unless told otherwise.
const setting = (name, allowed, plain, fapi) => {
  const value = oneOf(name, allowed, fapi2 ? fapi : plain);
  if (fapi2 && value !== fapi) console.error(`provider: warning: ${name}=${value} deviates from the FAPI 2.0 profile (${fapi})`);
  return value;
};
const clientAuth = setting('PROVIDER_CLIENT_AUTH', ['client_secret_basic', 'client_secret_post', 'private_key_jwt'], 'client_secret_basic', 'private_key_jwt');
const par = setting('PROVIDER_PAR', ['off', 'on', 'required'], 'off', 'required');
const dpop = setting('PROVIDER_DPOP', ['off', 'on', 'required'], 'off', 'required');
const signingAlg = setting('PROVIDER_SIGNING_ALG', ['RS256', 'PS256', 'ES256'], 'RS256', 'PS256');
const dpopNonce = oneOf('PROVIDER_DPOP_NONCE', ['0', '1'], '0') === '1';
const clientJwksUri = env.PROVIDER_CLIENT_JWKS_URI || undefined;
const privateKeyJwt = clientAuth === 'private_key_jwt';

if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`PROVIDER_PORT is not a valid port: ${env.PROVIDER_PORT}`);
if (!clientSecret && !privateKeyJwt) fail('OIDC_CLIENT_SECRET is required (unless PROVIDER_CLIENT_AUTH=private_key_jwt)');
if (privateKeyJwt && !clientJwksUri) fail('PROVIDER_CLIENT_JWKS_URI is required with PROVIDER_CLIENT_AUTH=private_key_jwt');
if (clientJwksUri && !/^https?:\/\/[^/]/.test(clientJwksUri)) fail(`PROVIDER_CLIENT_JWKS_URI is not an http(s) URL: ${clientJwksUri}`);
if (dpopNonce && dpop === 'off') fail('PROVIDER_DPOP_NONCE=1 needs PROVIDER_DPOP=on or required');
if (redirectUris.length === 0) fail('PROVIDER_REDIRECT_URIS is required (comma-separated URIs)');
const seconds = (name, fallback) => {
  const value = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
  if (!Number.isInteger(value) || value <= 0) fail(`${name} is not a positive number of seconds: ${env[name]}`);
  return value;
};
const accessTokenTtl = seconds('PROVIDER_ACCESS_TOKEN_TTL', 3600);
const idTokenTtl = seconds('PROVIDER_ID_TOKEN_TTL', 3600);
const refreshTokenTtl = seconds('PROVIDER_REFRESH_TOKEN_TTL', 14 * 24 * 3600);
// The same in-memory adapter as oidc-provider's default, over a store of the size asked for.
let adapter;
if (env.PROVIDER_STORE_ENTRIES) {
  const entries = Number(env.PROVIDER_STORE_ENTRIES);
  if (!Number.isInteger(entries) || entries <= 0) fail(`PROVIDER_STORE_ENTRIES is not a positive number: ${env.PROVIDER_STORE_ENTRIES}`);
  const store = new LRU({ maxSize: entries });
  adapter = (model) => new MemoryAdapter(model, store);
}
// A refresh token cannot outlive its grant, nor (without offline_access) the session.
const sessionTtl = Math.max(86400, refreshTokenTtl);

// Fixed test users; the password of each is its login.
const USERS = {
  alice: { sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Example' },
  bob: { sub: 'bob', email: 'bob@example.com', email_verified: true, name: 'Bob Example' },
};
if (env.PROVIDER_EXTRA_USERS) {
  const extra = Number(env.PROVIDER_EXTRA_USERS);
  if (!Number.isInteger(extra) || extra < 0 || extra > 100000) fail(`PROVIDER_EXTRA_USERS is not a number from 0 to 100000: ${env.PROVIDER_EXTRA_USERS}`);
  for (let n = 1; n <= extra; n += 1) {
    const login = `user-${n}`;
    USERS[login] = { sub: login, email: `${login}@example.com`, email_verified: true, name: `User ${n}` };
  }
}

// A fresh signing key per run, like a real provider (not oidc-provider's built-in dev keys).
const { privateKey } = signingAlg === 'ES256'
  ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
  : generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: signingAlg };
// Algorithms of client assertions and DPoP proofs; FAPI 2.0 allows PS256, ES256 and EdDSA only.
const assertionAlgs = fapi2 ? ['PS256', 'ES256', 'EdDSA'] : ['RS256', 'PS256', 'ES256'];
const dpopAlgs = fapi2 ? ['PS256', 'ES256', 'EdDSA'] : ['ES256', 'PS256', 'RS256', 'EdDSA'];

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    // With private_key_jwt no secret is registered: the client cannot fall back to one.
    ...(privateKeyJwt ? { jwks_uri: clientJwksUri } : { client_secret: clientSecret }),
    token_endpoint_auth_method: clientAuth,
    id_token_signed_response_alg: signingAlg,
    require_pushed_authorization_requests: par === 'required',
    dpop_bound_access_tokens: dpop === 'required',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutRedirectUris,
    ...(backchannelLogoutUri && {
      backchannel_logout_uri: backchannelLogoutUri,
      backchannel_logout_session_required: true,
    }),
  }],
  jwks: { keys: [signingKey] },
  ...(adapter && { adapter }),
  ...(acr && { acrValues: [acr] }),
  // Outgoing requests (the back-channel logout, the client's jwks_uri): oidc-provider refuses
  // special-use addresses (SSRF protection) and gives up after 2.5 s; the relying party here is
  // on loopback by design, and a function's first request under `cargo lambda watch` may take
  // longer.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, { ...rest, signal: AbortSignal.timeout(10000) });
  },
  cookies: {
    keys: [randomBytes(32).toString('base64url')],
    // Must not start with __Host- (the backend under test uses __Host- cookies).
    names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
  },
  responseTypes: ['code'],
  clientAuthMethods: [clientAuth],
  enabledJWA: { clientAuthSigningAlgValues: assertionAlgs, dPoPSigningAlgValues: dpopAlgs },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    // A client revokes only its own tokens (the default policy, without its notice).
    revocation: { enabled: true, allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId },
    // Both on by default in oidc-provider 9; here only when asked for.
    pushedAuthorizationRequests: { enabled: par !== 'off', requirePushedAuthorizationRequests: par === 'required' },
    dPoP: {
      enabled: dpop !== 'off',
      // Server nonces (a 32-byte HKDF secret; each nonce valid for about 5 minutes), required
      // in every proof: the first proof without one is answered `use_dpop_nonce`.
      ...(dpopNonce && { nonceSecret: randomBytes(32), requireNonce: () => true }),
    },
    ...(fapi2 && { fapi: { enabled: true, profile: '2.0' } }),
  },
  ttl: {
    AuthorizationCode: 60, AccessToken: accessTokenTtl, IdToken: idTokenTtl, RefreshToken: refreshTokenTtl,
    Interaction: 3600, Session: sessionTtl, Grant: sessionTtl,
  },
  // Issue a refresh token with every code exchange (no offline_access needed).
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // One-time refresh tokens: each use answers a new one and consumes the old.
  rotateRefreshToken: true,
  async findAccount(ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return { accountId: id, claims: async () => ({ ...user }) };
  },
});

provider.on('server_error', (ctx, err) => console.error('provider: server_error', err));

// What the endpoints received, for tests (format in the header). Never a token, code, assertion,
// secret or proof: only methods, yes/no and OAuth error codes.
const received = (what, fields) => {
  const shown = Object.entries(fields).map(([k, v]) => ` ${k}=${v}`).join('');
  console.log(`provider: received ${what}${shown}`);
};
const yesNo = (value) => (value ? 'yes' : 'no');
// The codes issued from a pushed request, until exchanged (at most the last 10000; a code lives 60 s).
const pushedCodes = new Set();
provider.on('authorization.success', (ctx) => {
  const { entities } = ctx.oidc;
  const pushed = 'PushedAuthorizationRequest' in entities || Boolean(entities.Interaction?.parJti);
  const code = entities.AuthorizationCode;
  if (pushed && code) {
    pushedCodes.add(code.jti);
    if (pushedCodes.size > 10000) pushedCodes.delete(pushedCodes.values().next().value);
  }
  received('authorization', { par: yesNo(pushed), dpop_jkt: yesNo(code?.dpopJkt) });
});
provider.on('pushed_authorization_request.success', (ctx, client) => {
  received('par', {
    auth: client.clientAuthMethod,
    dpop: yesNo(dpop !== 'off' && ctx.get('DPoP')),
    dpop_jkt: yesNo(ctx.oidc.entities.PushedAuthorizationRequest?.dpopJkt),
  });
});
provider.on('grant.success', (ctx) => {
  const { params, client, entities } = ctx.oidc;
  const grant = params.grant_type;
  const fields = { grant, auth: client.clientAuthMethod, dpop: yesNo(entities.AccessToken?.jkt) };
  if (grant === 'authorization_code') fields.par = yesNo(pushedCodes.delete(entities.AuthorizationCode?.jti));
  received('token', fields);
});
// Revocation and userinfo emit no success event: read after the request.
provider.use(async (ctx, next) => {
  await next();
  const route = ctx.status < 400 ? ctx.oidc?.route : undefined;
  if (route === 'revocation') {
    const { client, entities } = ctx.oidc;
    const token = ('RefreshToken' in entities && 'refresh_token') || ('AccessToken' in entities && 'access_token') || 'unknown';
    received('revocation', { auth: client?.clientAuthMethod, token });
  } else if (route === 'userinfo') {
    received('userinfo', { dpop: yesNo(ctx.oidc.entities.AccessToken?.jkt) });
  }
});
for (const [event, endpoint] of [
  ['authorization.error', 'authorization'],
  ['pushed_authorization_request.error', 'par'],
  ['grant.error', 'token'],
  ['revocation.error', 'revocation'],
  ['userinfo.error', 'userinfo'],
]) {
  provider.on(event, (ctx, err) => console.log(`provider: refused ${endpoint}: ${err.error ?? 'server_error'}`));
}
provider.on('backchannel.success', (ctx, client) => console.log(`provider: back-channel logout sent to ${client.clientId}`));
provider.on('backchannel.error', (ctx, err, client) => console.error(`provider: back-channel logout to ${client.clientId} failed: ${err.message}`));

// Check the devInteractions login form ourselves: known user, password === login.
provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || !/^\/interaction\/[^/]+$/.test(ctx.path)) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res).catch(() => undefined);
  if (details?.prompt.name !== 'login') return next(); // consent, errors: left to oidc-provider
  const form = new URLSearchParams(await text(ctx.req));
  const login = form.get('login') ?? '';
  const refuse = (status, message) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><title>Sign-in failed</title><p id="error">${message}</p>`;
  };
  if (form.get('prompt') !== 'login') return refuse(400, 'this interaction expects the login form');
  if (!Object.hasOwn(USERS, login) || form.get('password') !== login) {
    return refuse(401, 'unknown user or wrong password');
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, {
    login: { accountId: login, ...(acr && { acr }) },
  }, { mergeWithLastSubmission: false });
  ctx.set('Cache-Control', 'no-store');
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
});

// Behind a TLS-terminating proxy (the benchmark's TLS run), URLs are built with the scheme it
// forwards in X-Forwarded-Proto.
if (env.PROVIDER_TRUST_PROXY === '1') provider.proxy = true;

const server = createServer(provider.callback());
server.listen(port, host, () => console.log(`provider ready at ${issuer}`));
server.on('error', (err) => fail(`cannot listen on ${host}:${port}: ${err.message}`));

const stop = (signal) => {
  console.log(`provider: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
