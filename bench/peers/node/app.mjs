// Peer for bench/coldstart.py: the same login and callback as the Rust functions, written the
// way a Node.js team writes a Lambda handler today: openid-client (v6) for the OpenID Connect
// flow, jose for the sealed transaction cookie (JWE dir + A256GCM) and our session JWT, the AWS
// SDK v3 for Secrets Manager. Handlers: `app.login` and `app.callback` (API Gateway HTTP API v2
// events and responses).
//
// Init (top-level await, run once per cold start): the secret (same JSON as the Rust functions:
// client_secret, signing_keys PKCS#8 PEM, cookie_keys), then discovery. openid-client fetches
// the JWKS lazily, at the first ID token it verifies, and caches it.
//
// Checks done in the callback, as the Rust callback does: the transaction cookie (present,
// opens under our key, at most 10 minutes old); state; RFC 9207 iss (openid-client, when the
// provider announces it); the provider's error=; the code exchange with the client secret
// (client_secret_basic) and the PKCE verifier; the ID token (signature by kid against the
// provider's JWKS, iss, aud, exp, iat, nonce; openid-client); userinfo whose sub must equal the
// ID token's (openid-client). Then our JWT is signed with the secret's first key (ES256, RS256
// or EdDSA, following the key).

import { createPrivateKey, randomBytes } from 'node:crypto';

import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CompactEncrypt, SignJWT, compactDecrypt, importPKCS8 } from 'jose';
import * as client from 'openid-client';

const env = process.env;
const ISSUER = env.OIDC_ISSUER;
const CLIENT_ID = env.OIDC_CLIENT_ID;
const REDIRECT_URI = env.OIDC_REDIRECT_URI;
const SCOPES = env.OIDC_SCOPES || 'openid profile email';
const SESSION_ISSUER = env.SESSION_ISSUER;
const SESSION_AUDIENCE = env.SESSION_AUDIENCE;
const SESSION_TTL = Number(env.SESSION_TTL_SECONDS || 900);
const POST_LOGIN_PATH = env.POST_LOGIN_PATH || '/';
const COOKIE = '__Host-oidc-tx';
const TX_LIFETIME = 600;

// ---- init ----
const sm = new SecretsManagerClient({});
const { SecretString } = await sm.send(new GetSecretValueCommand({ SecretId: env.SECRET_ID }));
const secret = JSON.parse(SecretString);
const config = await client.discovery(
  new URL(ISSUER),
  CLIENT_ID,
  secret.client_secret,
  client.ClientSecretBasic(secret.client_secret),
  // The local provider is plain HTTP on loopback.
  { execute: [client.allowInsecureRequests] },
);
// Verify ID token signatures against the provider's JWKS (fetched on first use).
client.enableNonRepudiationChecks(config);

const cookieKey = Buffer.from(secret.cookie_keys[0], 'base64');
const signing = secret.signing_keys[0];
const keyType = createPrivateKey(signing.private_key_pem).asymmetricKeyType;
const SIGNING_ALG = { ec: 'ES256', rsa: 'RS256', ed25519: 'EdDSA' }[keyType];
const signingKey = await importPKCS8(signing.private_key_pem, SIGNING_ALG);

// ---- helpers ----
const now = () => Math.floor(Date.now() / 1000);
const enc = new TextEncoder();
const dec = new TextDecoder();

const respond = (statusCode, body, cookies = []) => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  cookies,
  body: JSON.stringify(body),
});
const txCookie = (value, maxAge) =>
  `${COOKIE}=${value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${maxAge}`;
const fail = (status, error) => respond(status, { error }, [txCookie('', 0)]);

const safeReturnTo = (value) =>
  typeof value === 'string' && /^\/(?![/\\])[^\s\\]*$/.test(value) && !/%2f|%5c/i.test(value)
    ? value
    : POST_LOGIN_PATH;

const readCookie = (event) => {
  for (const c of event.cookies || []) {
    const i = c.indexOf('=');
    if (c.slice(0, i).trim() === COOKIE) return c.slice(i + 1).trim();
  }
  return undefined;
};

// ---- GET /api/login ----
export const login = async (event) => {
  const returnTo = safeReturnTo(event.queryStringParameters?.return_to);
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: SCOPES,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const tx = { s: state, n: nonce, v: codeVerifier, r: returnTo, t: now() };
  const sealed = await new CompactEncrypt(enc.encode(JSON.stringify(tx)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .encrypt(cookieKey);
  return respond(200, { login_url: url.href }, [txCookie(sealed, TX_LIFETIME)]);
};

// ---- GET /api/callback?code&state&iss ----
export const callback = async (event) => {
  const sealed = readCookie(event);
  if (!sealed) return fail(400, 'transaction_missing');
  let tx;
  try {
    const { plaintext } = await compactDecrypt(sealed, cookieKey);
    tx = JSON.parse(dec.decode(plaintext));
  } catch {
    return fail(400, 'transaction_invalid');
  }
  if (now() - tx.t > TX_LIFETIME) return fail(400, 'transaction_expired');

  let tokens;
  let claims;
  let info;
  try {
    const currentUrl = new URL(`${REDIRECT_URI}?${event.rawQueryString || ''}`);
    // Checks state, iss (RFC 9207) and error=, exchanges the code with the PKCE verifier, and
    // validates the ID token (signature, iss, aud, exp, iat, nonce).
    tokens = await client.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: tx.v,
      expectedState: tx.s,
      expectedNonce: tx.n,
      idTokenExpected: true,
    });
    claims = tokens.claims();
    // Checks that userinfo's sub equals the ID token's.
    info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  } catch (e) {
    console.error('callback refused:', e.code || e.name, e.error || '');
    return fail(e instanceof client.AuthorizationResponseError ? 401 : 502, 'login_failed');
  }

  const user = { sub: claims.sub, email: info.email ?? claims.email, name: info.name ?? claims.name };
  const token = await new SignJWT({
    sub: user.sub,
    jti: randomBytes(16).toString('base64url'),
    email: user.email,
    name: user.name,
    idp: ISSUER,
  })
    .setProtectedHeader({ alg: SIGNING_ALG, typ: 'JWT', kid: signing.kid })
    .setIssuer(SESSION_ISSUER)
    .setAudience(SESSION_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(now() + SESSION_TTL)
    .sign(signingKey);
  return respond(
    200,
    { token, token_type: 'Bearer', expires_in: SESSION_TTL, user, return_to: tx.r },
    [txCookie('', 0)],
  );
};
