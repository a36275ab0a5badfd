// Local OpenID Connect provider for development and end-to-end tests.
//
// Runs `oidc-provider` (npm) on loopback over plain HTTP with one confidential
// client (authorization_code + PKCE S256, client_secret_basic) and two fixed
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
//   OIDC_CLIENT_SECRET                  client secret (required)
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

if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`PROVIDER_PORT is not a valid port: ${env.PROVIDER_PORT}`);
if (!clientSecret) fail('OIDC_CLIENT_SECRET is required');
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

// A fresh RSA signing key per run, like a real provider (not oidc-provider's built-in dev keys).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    token_endpoint_auth_method: 'client_secret_basic',
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
  // Outgoing requests (the back-channel logout): oidc-provider refuses special-use addresses
  // (SSRF protection) and gives up after 2.5 s; the relying party here is on loopback by
  // design, and a function's first request under `cargo lambda watch` may take longer.
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
  clientAuthMethods: ['client_secret_basic'],
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    // A client revokes only its own tokens (the default policy, without its notice).
    revocation: { enabled: true, allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId },
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
