"""Peer for bench/coldstart.py: the same login and callback as the Rust functions, written the
way a Python team writes a Lambda handler today (as Okta's Flask samples do, with Authlib):
Authlib's OAuth2Session (requests) for the authorize URL, the code exchange and userinfo,
Authlib's CodeIDToken claims on a joserfc-verified JWT for the ID token (exactly what Authlib's
own `parse_id_token` does), joserfc JWE (dir + A256GCM) for the sealed transaction cookie,
PyJWT for our session JWT, boto3 for Secrets Manager. Handlers: `app.login_handler` and
`app.callback_handler` (API Gateway HTTP API v2 events and responses), run by awslambdaric.

Init (module import, once per cold start): the secret (same JSON as the Rust functions), then
discovery. The JWKS is fetched at the first ID token and cached, as Authlib's
`fetch_jwk_set` does.

Checks in the callback, as the Rust callback does: the transaction cookie (present, opens under
our key, at most 10 minutes old); state (constant time); RFC 9207 iss when the provider
announces it; the provider's error=; the code exchange with the client secret
(client_secret_basic) and the PKCE verifier; the ID token (signature by kid against the
provider's JWKS with the announced algorithms, iss, aud, exp, iat, nonce, azp, at_hash);
userinfo whose sub must equal the ID token's. Then our JWT is signed with the secret's first key.
"""

import base64
import hmac
import json
import os
import re
import secrets
import time

import boto3
import jwt as pyjwt
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc import jwe
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet, OctKey
from joserfc.jws import JWSRegistry

ISSUER = os.environ["OIDC_ISSUER"]
CLIENT_ID = os.environ["OIDC_CLIENT_ID"]
REDIRECT_URI = os.environ["OIDC_REDIRECT_URI"]
SCOPES = os.environ.get("OIDC_SCOPES", "openid profile email")
SESSION_ISSUER = os.environ["SESSION_ISSUER"]
SESSION_AUDIENCE = os.environ["SESSION_AUDIENCE"]
SESSION_TTL = int(os.environ.get("SESSION_TTL_SECONDS", "900"))
POST_LOGIN_PATH = os.environ.get("POST_LOGIN_PATH", "/")
COOKIE = "__Host-oidc-tx"
TX_LIFETIME = 600
LEEWAY = 60

# ---- init ----
_secret = json.loads(
    boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_ID"])[
        "SecretString"
    ]
)
_discovery = requests.get(f"{ISSUER.rstrip('/')}/.well-known/openid-configuration", timeout=10)
_discovery.raise_for_status()
METADATA = _discovery.json()
if METADATA["issuer"] != ISSUER:
    raise RuntimeError("the discovery document names another issuer")

CLIENT_SECRET = _secret["client_secret"]
COOKIE_KEY = OctKey.import_key(base64.b64decode(_secret["cookie_keys"][0]))
_signing = _secret["signing_keys"][0]
SIGNING_KID = _signing["kid"]
SIGNING_KEY = load_pem_private_key(_signing["private_key_pem"].encode(), password=None)
if isinstance(SIGNING_KEY, ec.EllipticCurvePrivateKey):
    SIGNING_ALG = "ES256"
elif isinstance(SIGNING_KEY, rsa.RSAPrivateKey):
    SIGNING_ALG = "RS256"
elif isinstance(SIGNING_KEY, ed25519.Ed25519PrivateKey):
    SIGNING_ALG = "EdDSA"
else:
    raise RuntimeError("unsupported signing key")

_jwks = None  # fetched on first use and kept for the life of the process


def _session(**kwargs):
    return OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope=SCOPES,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        **kwargs,
    )


def _respond(status, body, cookies=()):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "cookies": list(cookies),
        "body": json.dumps(body),
    }


def _tx_cookie(value, max_age):
    return f"{COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}"


def _fail(status, error):
    return _respond(status, {"error": error}, [_tx_cookie("", 0)])


_SAFE_PATH = re.compile(r"^/(?![/\\])[^\s\\]*$")


def _safe_return_to(value):
    if value and _SAFE_PATH.match(value) and "%2f" not in value.lower() and "%5c" not in value.lower():
        return value
    return POST_LOGIN_PATH


# ---- GET /api/login ----
def login_handler(event, context):
    query = event.get("queryStringParameters") or {}
    return_to = _safe_return_to(query.get("return_to"))
    code_verifier = generate_token(48)
    nonce = generate_token(20)
    with _session() as session:
        url, state = session.create_authorization_url(
            METADATA["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
        )
    tx = {"s": state, "n": nonce, "v": code_verifier, "r": return_to, "t": int(time.time())}
    sealed = jwe.encrypt_compact({"alg": "dir", "enc": "A256GCM"}, json.dumps(tx), COOKIE_KEY)
    return _respond(200, {"login_url": url}, [_tx_cookie(sealed, TX_LIFETIME)])


# ---- GET /api/callback?code&state&iss ----
def _parse_id_token(token, nonce):
    """What Authlib's OpenIDMixin.parse_id_token does, with the JWKS cached here."""
    global _jwks
    if _jwks is None:
        resp = requests.get(METADATA["jwks_uri"], timeout=10)
        resp.raise_for_status()
        _jwks = resp.json()
    decoded = jose_jwt.decode(
        token["id_token"],
        KeySet.import_key_set(_jwks),
        registry=JWSRegistry(
            algorithms=METADATA.get("id_token_signing_alg_values_supported"),
            strict_check_header=False,
        ),
    )
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"essential": True, "value": ISSUER}, "aud": {"essential": True, "value": CLIENT_ID}},
        {"nonce": nonce, "client_id": CLIENT_ID, "access_token": token["access_token"]},
    )
    claims.validate(leeway=LEEWAY)
    return claims


def callback_handler(event, context):
    cookies = dict(c.split("=", 1) for c in event.get("cookies") or [] if "=" in c)
    sealed = cookies.get(COOKIE)
    if not sealed:
        return _fail(400, "transaction_missing")
    try:
        tx = json.loads(jwe.decrypt_compact(sealed, COOKIE_KEY).plaintext)
    except Exception:
        return _fail(400, "transaction_invalid")
    if time.time() - tx["t"] > TX_LIFETIME:
        return _fail(400, "transaction_expired")

    query = event.get("queryStringParameters") or {}
    if not hmac.compare_digest(query.get("state", "").encode(), tx["s"].encode()):
        return _fail(400, "state_mismatch")
    if METADATA.get("authorization_response_iss_parameter_supported") and query.get("iss") != ISSUER:
        return _fail(400, "issuer_mismatch")
    if "error" in query:
        return _fail(401, "login_failed")
    if not query.get("code"):
        return _fail(400, "bad_request")

    try:
        with _session(state=tx["s"]) as session:
            token = session.fetch_token(
                METADATA["token_endpoint"],
                grant_type="authorization_code",
                code=query["code"],
                code_verifier=tx["v"],
            )
            if "id_token" not in token:
                return _fail(502, "id_token_missing")
            claims = _parse_id_token(token, tx["n"])
            resp = session.get(METADATA["userinfo_endpoint"])
            resp.raise_for_status()
            info = resp.json()
    except Exception as e:  # noqa: BLE001 - one refusal for every provider or token failure
        print(f"callback refused: {type(e).__name__}")
        return _fail(401, "login_failed")
    if info.get("sub") != claims["sub"]:
        return _fail(401, "userinfo_subject_mismatch")

    user = {
        "sub": claims["sub"],
        "email": info.get("email", claims.get("email")),
        "name": info.get("name", claims.get("name")),
    }
    now = int(time.time())
    session_claims = {
        "iss": SESSION_ISSUER,
        "aud": SESSION_AUDIENCE,
        "sub": user["sub"],
        "iat": now,
        "exp": now + SESSION_TTL,
        "jti": base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode(),
        "idp": ISSUER,
    }
    session_claims.update({k: v for k, v in (("email", user["email"]), ("name", user["name"])) if v})
    token = pyjwt.encode(session_claims, SIGNING_KEY, algorithm=SIGNING_ALG, headers={"kid": SIGNING_KID})
    body = {
        "token": token,
        "token_type": "Bearer",
        "expires_in": SESSION_TTL,
        "user": user,
        "return_to": tx["r"],
    }
    return _respond(200, body, [_tx_cookie("", 0)])
