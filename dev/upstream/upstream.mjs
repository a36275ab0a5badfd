// The upstream API of the local stack: what the proxy function forwards to, so that the
// end-to-end tests can see exactly what arrived and who it was verified as.
//
//   /ours/...      (any method) needs our JWT as a Bearer token, verified against our JWKS
//   /provider/...  (any method) needs the provider's access token as a Bearer token, checked
//                  by calling the provider's userinfo endpoint with it; or a DPoP-bound one
//                  (`Authorization: DPoP`), whose proof is checked as a resource server does
//                  (RFC 9449 section 7: signature with the key it embeds, typ, htm, htu, a
//                  fresh iat, ath) and answered with its key's thumbprint (`jkt`): without
//                  the session's key the token is worth nothing at userinfo, so the test
//                  checks the binding there itself
//   /open/...      (any method) for the benchmarks only (bench/coldstart): needs a Bearer
//                  token but checks nothing of it (`verified: "none"`), so that a call made
//                  straight to it and one through the proxy cost the upstream the same, with
//                  no provider or JWKS round trip in either; `bearer` says whether the token
//                  is JWT-shaped (`jwt`, what `ours` mode sends) or not (`opaque`)
//   GET /_seen     {"count": N}: the requests that reached /ours or /provider since start
//                  (verified or not), so that a test can prove a refused request never came
//
// A verified request is answered with what arrived: the method, the path, the query, the
// names of the headers, the body's size and SHA-256. Never a token nor a header's value
// (content-type apart): the browser tests check that no JWT reaches the page.
//
// Under any base, a path whose last segment is one of these behaves differently:
//   redirect          302 to https://example.invalid/elsewhere
//   slow?ms=N         waits N ms (at most 60000), then answers as usual
//   big?bytes=N       N bytes of application/octet-stream (at most 16 MiB)
//   set-cookie        answers as usual, with Set-Cookie: upstream=planted; Path=/
//   status?code=N     answers status N (200 to 599) with a small JSON body
//   echo-token        answers the bearer it received (a misbehaving API: the proxy must not
//                     pass it on; the one answer here that holds a token)
//
// Environment:
//   UPSTREAM_PORT             listen port on 127.0.0.1 (default 9100)
//   UPSTREAM_JWKS_URL         our JWKS (required)
//   UPSTREAM_ISSUER           the `iss` of our JWT (required)
//   UPSTREAM_AUDIENCE         the `aud` required of our JWT (required)
//   UPSTREAM_PROVIDER_ISSUER  the OpenID provider whose access tokens /provider accepts
//                             (optional; without it /provider refuses every token)
//
// Prints `upstream listening on http://127.0.0.1:<port>` once listening.

import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import { calculateJwkThumbprint, createRemoteJWKSet, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';

const env = process.env;
const fail = (msg) => { console.error(`upstream: ${msg}`); process.exit(2); };

const port = Number(env.UPSTREAM_PORT || 9100);
const required = (name) => env[name] || fail(`${name} is required`);
const jwksUrl = required('UPSTREAM_JWKS_URL');
const issuer = required('UPSTREAM_ISSUER');
const audience = required('UPSTREAM_AUDIENCE');
const providerIssuer = env.UPSTREAM_PROVIDER_ISSUER || undefined;
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`UPSTREAM_PORT is not a port: ${env.UPSTREAM_PORT}`);

// The most of a request body read, and of an answer of `big`.
const CAP = 16 * 1024 * 1024;

// Our JWKS is fetched at the first request (the functions may start after this server). A
// test that restarts the functions with a new secret must not wait out a cooldown, and a
// function's first request under `cargo lambda watch` may take a while.
const jwks = createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: 0, timeoutDuration: 30000 });

async function verifyOurs(token) {
  const { payload: { sub, idp, sid, aud } } = await jwtVerify(token, jwks, { issuer, audience });
  return { sub, idp, ...(sid !== undefined && { sid }), aud };
}

// The provider's userinfo endpoint, found once by discovery (again after a failure).
let userinfoEndpoint;
async function userinfo() {
  userinfoEndpoint ??= fetch(`${providerIssuer.replace(/\/$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10000) })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`discovery answered ${r.status}`))))
    .then((doc) => doc.userinfo_endpoint || Promise.reject(new Error('no userinfo_endpoint')))
    .catch((err) => { userinfoEndpoint = undefined; throw err; });
  return userinfoEndpoint;
}

// A token is the provider's when its userinfo endpoint accepts it.
async function verifyProvider(token) {
  if (!providerIssuer) throw new Error('no provider configured');
  const answer = await fetch(await userinfo(), {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10000),
  });
  if (answer.status !== 200) throw new Error(`userinfo answered ${answer.status}`);
  const { sub } = await answer.json();
  if (typeof sub !== 'string') throw new Error('userinfo has no sub');
  return { sub };
}

// A DPoP proof of this request for `token` (RFC 9449 section 4.3): its key's thumbprint.
async function verifyDpop(req, path, token) {
  const proof = req.headers.dpop;
  if (typeof proof !== 'string') throw new Error('no DPoP proof');
  const header = decodeProtectedHeader(proof);
  if (header.typ !== 'dpop+jwt' || !header.jwk || header.jwk.d) throw new Error('not a DPoP proof header');
  const key = await importJWK(header.jwk, header.alg);
  const { payload } = await jwtVerify(proof, key, { typ: 'dpop+jwt', algorithms: ['ES256', 'PS256', 'EdDSA'] });
  const htu = `http://${req.headers.host}${path}`;
  if (payload.htm !== req.method) throw new Error('htm');
  if (payload.htu !== htu) throw new Error('htu');
  if (typeof payload.iat !== 'number' || Math.abs(payload.iat - Date.now() / 1000) > 60) throw new Error('iat');
  if (typeof payload.jti !== 'string' || payload.jti.length < 16) throw new Error('jti');
  const ath = createHash('sha256').update(token).digest('base64url');
  if (payload.ath !== ath) throw new Error('ath');
  return { jkt: await calculateJwkThumbprint(header.jwk, 'sha256') };
}

// Reads the body up to the cap: its size and SHA-256, and whether it went over.
async function readBody(req) {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of req) {
    bytes += chunk.length;
    if (bytes > CAP) return { over: true };
    hash.update(chunk);
  }
  return { bytes, sha256: hash.digest('hex'), over: false };
}

// Headers set, not written, so that Node adds the Content-Length (and none to a 204 or 304).
const send = (res, status, body, headers = {}) => {
  res.statusCode = status;
  for (const [name, value] of Object.entries({ 'content-type': 'application/json', ...headers })) res.setHeader(name, value);
  res.end(JSON.stringify(body));
};

// A query parameter's whole number, at most `max` (0 when absent or not one).
const number = (query, name, max) => {
  const value = Number(query.get(name) ?? 0);
  return Number.isInteger(value) && value >= 0 ? Math.min(value, max) : 0;
};

let seen = 0;

async function handle(req, res) {
  // The path and query as they arrived: a URL parser would resolve dot segments and re-encode,
  // and hide from a test what the proxy actually sent.
  const [path, query = ''] = req.url.split(/\?(.*)/s);
  const params = new URLSearchParams(query);
  const base = ['ours', 'provider', 'open'].find((b) => path === `/${b}` || path.startsWith(`/${b}/`));
  if (!base) {
    if (path === '/_seen' && (req.method === 'GET' || req.method === 'HEAD')) return send(res, 200, { count: seen });
    return send(res, 404, { error: 'not_found' });
  }
  // `/open` (the benchmarks') is not counted: `_seen` is about the tests' two bases.
  if (base !== 'open') seen += 1;
  const body = await readBody(req);
  if (body.over) return send(res, 413, { error: 'body_too_large' }, { connection: 'close' });

  const [scheme, token, ...rest] = (req.headers.authorization ?? '').trim().split(/\s+/);
  let claims;
  try {
    const dpop = scheme?.toLowerCase() === 'dpop' && base === 'provider';
    if ((scheme?.toLowerCase() !== 'bearer' && !dpop) || !token || rest.length > 0) throw new Error('no Bearer token');
    if (base === 'open') claims = { bearer: /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(token) ? 'jwt' : 'opaque' };
    else if (dpop) claims = await verifyDpop(req, path, token);
    else claims = base === 'ours' ? await verifyOurs(token) : await verifyProvider(token);
  } catch (err) {
    // The reason only: the token never goes to the log.
    console.log(`upstream: 401 ${req.method} ${path}: ${err.code ?? err.message}`);
    return send(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
  }

  const last = path.split('/').pop();
  if (last === 'redirect') {
    res.statusCode = 302;
    res.setHeader('location', 'https://example.invalid/elsewhere');
    return res.end();
  }
  if (last === 'echo-token') return send(res, 200, { received: token });
  if (last === 'big') {
    const size = number(params, 'bytes', CAP);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    return res.end(Buffer.alloc(size, 'a'));
  }
  if (last === 'slow') await sleep(number(params, 'ms', 60000));
  if (last === 'status') {
    const code = Number(params.get('code'));
    if (!Number.isInteger(code) || code < 200 || code > 599) return send(res, 400, { error: 'code_not_200_to_599' });
    return send(res, code, { status: code });
  }
  const headers = last === 'set-cookie' ? { 'set-cookie': 'upstream=planted; Path=/' } : {};
  send(res, 200, {
    verified: base === 'open' ? 'none' : base,
    ...claims,
    method: req.method,
    path,
    query,
    cookie: req.headers.cookie !== undefined,
    authorization_scheme: scheme,
    x_csrf: req.headers['x-csrf'] !== undefined,
    forwarded_headers: Object.keys(req.headers).sort(),
    body_bytes: body.bytes,
    body_sha256: body.sha256,
    content_type: req.headers['content-type'] ?? null,
  }, headers);
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error(`upstream: ${req.method} ${req.url.split('?')[0]}: ${err.message}`);
    if (!res.headersSent) send(res, 500, { error: 'upstream_failed' });
    else res.destroy();
  });
});
server.listen(port, '127.0.0.1', () => console.log(`upstream listening on http://127.0.0.1:${server.address().port}`));
server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));

const stop = (signal) => {
  console.log(`upstream: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
