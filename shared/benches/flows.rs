//! Micro-benchmarks of the warm CPU paths: starting a login, the callback's checks with a canned
//! token response, `/api/refresh` with a canned session item, minting and verifying our JWT.
//!
//! Run: `cargo bench -p shared --features test-support --bench flows` (or `bash bench/run.sh`,
//! which also runs the cold-start harness and rewrites `BENCHMARKS.md`).
//!
//! Every fixture is real: a [`FakeProvider`] (wiremock) serves discovery and the JWKS, and
//! [`FakeProvider::state`] builds the same `Login` and `Callback` states the functions build at
//! cold start. The
//! provider signs RS256 ID tokens with an RSA-2048 key; our own JWT is signed by the secret's
//! key, ES256 or RS256. Nothing here touches the network inside a measured iteration: the code
//! exchange and userinfo are the only network steps of a warm callback, and they are left out
//! (the cold-start harness in `bench/coldstart.py` measures them end to end). Likewise a warm
//! `/api/refresh` whose provider token is fresh makes one DynamoDB call (an UpdateItem that
//! records the use and answers the item, `Sessions::open`): the item it would answer is made
//! once at setup by the session table's own encoding (`Sessions::new_item`, the callback's
//! PutItem), and the measured path is everything around that call.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use openidconnect::TokenResponse as _;
use openidconnect::core::CoreTokenResponse;
use secrecy::ExposeSecret as _;
use serde_json::json;
use shared::keygen::KeyAlg;
use shared::testing::{FakeProvider, Rp, offline_sessions, secret_json};
use shared::{
    CallbackParams, Flow, Handle, LoginOptions, Owner, ProviderTokens, Refresh, Secret,
    SessionItem, SessionKeys, Sessions, Transaction, User, cookies, unix_now,
};
use tokio::runtime::{Builder, Runtime};

const ACCESS_TOKEN: &str = "provider-access-token-0123456789";

/// One function's state plus a finished login at the provider, ready for the callback.
struct Fixture {
    /// The fake provider (its JWKS was fetched at setup; no request is made while measuring).
    provider: FakeProvider,
    /// The secret JSON the states were built with.
    secret: String,
    state: Rp,
    /// The provider's issuer, our JWT's `idp`.
    issuer: String,
    /// `Cookie:` header carrying the sealed transaction, as the browser sends it.
    cookie_header: String,
    /// `code`, `state` and `iss` as the provider sent them through the browser.
    params: CallbackParams,
    /// The canned token endpoint answer: a real RS256 ID token for this login's nonce.
    tokens: CoreTokenResponse,
    user: User,
}

fn runtime() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

fn fixture(rt: &Runtime, alg: KeyAlg) -> Fixture {
    rt.block_on(async {
        let provider = FakeProvider::start().await;
        provider.serve_jwks(&[&provider.key], None).await;
        let secret = secret_json(alg, 7);
        let state = provider.state(&secret, &[]).await;
        let now = unix_now();
        let login = state.login.start(Flow::Spa, None, Some("/orders"), now).await.unwrap();
        let cookie_header = login.set_cookie.split(';').next().unwrap().to_owned();
        let sealed = cookies::transactions(&cookie_header).next().unwrap().1;
        let tx = Transaction::open(sealed, state.login.cookie_keys(), now).unwrap();
        let id_token = provider.id_token(&provider.claims(tx.nonce.expose_secret(), ACCESS_TOKEN));
        let tokens: CoreTokenResponse = serde_json::from_value(json!({
            "access_token": ACCESS_TOKEN,
            "token_type": "Bearer",
            "id_token": id_token,
        }))
        .unwrap();
        let params = CallbackParams {
            code: Some("authorization-code-0123456789".to_owned()),
            state: Some(tx.state.clone()),
            iss: Some(provider.issuer()),
            ..CallbackParams::default()
        };
        let user = User {
            sub: "alice".to_owned(),
            email: Some("alice@example.com".to_owned()),
            email_verified: Some(true),
            name: Some("Alice Example".to_owned()),
            extra: Default::default(),
        };
        let issuer = provider.issuer();
        Fixture { provider, secret, state, issuer, cookie_header, params, tokens, user }
    })
}

fn alg_name(alg: KeyAlg) -> &'static str {
    match alg {
        KeyAlg::Es256 => "ES256",
        KeyAlg::Rs256 => "RS256",
        KeyAlg::EdDsa => "EdDSA",
    }
}

/// The whole warm callback minus the two provider calls: open the cookie and check `state` and
/// `iss`, verify the ID token (signature by `kid` against the cached JWKS, `iss`, `aud`, `exp`,
/// `iat`, `nonce`, `at_hash`, `sub`), mint our JWT.
async fn callback_cpu_path(f: &Fixture, now: u64) -> String {
    let (tx, code) =
        f.state.callback.check_callback(Flow::Spa, &f.params, Some(&f.cookie_header), now).unwrap();
    black_box(code);
    let verified = f.state.callback.check_tokens(&tx, &f.tokens, now).await.unwrap();
    f.state.callback.session().mint(&verified.user, &verified.issuer, now).unwrap()
}

/// A stored session of the fixture's user, as `/api/refresh` reads it.
struct SessionFixture {
    /// The refresh function's state, built as at cold start (its JWT keys).
    refresh: Refresh,
    /// The session table (its client never connects) and its keys.
    sessions: Sessions,
    keys: SessionKeys,
    /// `Cookie:` header as the browser sends it: the transaction cookie left over and the
    /// session handle.
    cookie_header: String,
    /// The item as the UpdateItem of `Sessions::open` answers it.
    item: SessionItem,
}

fn session_fixture(rt: &Runtime, f: &Fixture, now: u64) -> SessionFixture {
    let refresh: Refresh = rt.block_on(f.provider.function(&f.secret, &[]));
    let sessions = offline_sessions(&f.secret);
    let keys = SessionKeys::derive(Secret::from_json(&f.secret).unwrap().cookie_keys()).unwrap();
    let handle = Handle::new().unwrap();
    // What a provider gives at the code exchange: refresh, access and ID tokens.
    let tokens = ProviderTokens {
        refresh_token: Some("provider-refresh-token-0123456789abcdef".to_owned().into()),
        access_token: ACCESS_TOKEN.to_owned().into(),
        access_expires_at: now + 3_600,
        id_token: f.tokens.id_token().map(|t| t.to_string().into()),
        dpop_key: None,
    };
    let owner = Owner {
        user: &f.user,
        idp: &f.issuer,
        provider: "default",
        provider_sid: Some("provider-sid"),
        device: Some("Firefox on Linux"),
    };
    let (item, _) = sessions.new_item(&handle, &owner, &tokens, now).unwrap();
    let handle_cookie = cookies::set_refresh(handle.expose(), 3_600);
    let handle_cookie = handle_cookie.split(';').next().unwrap();
    let cookie_header = format!("{}; {handle_cookie}", f.cookie_header);
    SessionFixture { refresh, sessions, keys, cookie_header, item }
}

/// The handle the browser sent, and its item key.
fn handle_key(s: &SessionFixture) -> String {
    cookies::refresh(&s.cookie_header).unwrap().and_then(Handle::parse).unwrap().key()
}

/// A warm `/api/refresh` with the provider's access token still fresh, minus its two DynamoDB
/// calls: the handle from the cookie header, its key (SHA-256), the item decoded and its
/// provider tokens opened (AES-256-GCM), the `ended` and freshness checks, our JWT minted.
fn refresh_cpu_path(s: &SessionFixture, now: u64) -> String {
    let key = handle_key(s);
    let record = s.sessions.record(&key, black_box(&s.item)).unwrap();
    assert!(s.sessions.ended(&record, now).is_none());
    assert!(record.tokens.access_expires_at > now, "a fresh provider token: no refresh grant");
    s.refresh
        .session()
        .mint_in_session(&record.user, &record.idp, Some(&record.session_id), now)
        .unwrap()
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    let es = fixture(&rt, KeyAlg::Es256);
    let rs = fixture(&rt, KeyAlg::Rs256);
    // Sanity: the measured paths succeed before anything is timed.
    let now = unix_now();
    for f in [&es, &rs] {
        let token = rt.block_on(callback_cpu_path(f, now));
        f.state.callback.session().verify(&token, now).unwrap();
    }
    let es_session = session_fixture(&rt, &es, now);
    let rs_session = session_fixture(&rt, &rs, now);
    for s in [&es_session, &rs_session] {
        let claims = s.refresh.session().verify(&refresh_cpu_path(s, now), now).unwrap();
        assert!(claims.sid.is_some() && claims.sub == es.user.sub);
    }

    c.bench_function("login/start", |b| {
        b.iter(|| {
            // The CPU path (no PAR: the fake provider announces none).
            let options = LoginOptions::default();
            let (login, _) = es
                .state
                .login
                .prepare(Flow::Spa, None, Some("/orders"), &options, unix_now())
                .unwrap();
            black_box(login)
        });
    });

    for (alg, f) in [(KeyAlg::Es256, &es), (KeyAlg::Rs256, &rs)] {
        let name = alg_name(alg);
        c.bench_function(&format!("callback_cpu/{name}"), |b| {
            b.iter(|| black_box(rt.block_on(callback_cpu_path(f, unix_now()))));
        });
    }

    c.bench_function("callback_checks/check_callback", |b| {
        b.iter(|| {
            let (tx, _) = es
                .state
                .callback
                .check_callback(Flow::Spa, &es.params, Some(&es.cookie_header), unix_now())
                .unwrap();
            black_box(tx)
        });
    });
    c.bench_function("callback_checks/check_tokens_RS256_id_token", |b| {
        let (tx, _) = es
            .state
            .callback
            .check_callback(Flow::Spa, &es.params, Some(&es.cookie_header), now)
            .unwrap();
        b.iter(|| {
            black_box(rt.block_on(es.state.callback.check_tokens(&tx, &es.tokens, unix_now())))
        });
    });

    for (alg, s) in [(KeyAlg::Es256, &es_session), (KeyAlg::Rs256, &rs_session)] {
        let name = alg_name(alg);
        c.bench_function(&format!("refresh_cpu/{name}"), |b| {
            b.iter(|| black_box(refresh_cpu_path(s, unix_now())));
        });
    }
    c.bench_function("refresh_steps/handle_key", |b| {
        b.iter(|| black_box(handle_key(black_box(&es_session))));
    });
    let key = handle_key(&es_session);
    c.bench_function("refresh_steps/decode_record", |b| {
        b.iter(|| {
            black_box(es_session.sessions.record(&key, black_box(&es_session.item)).unwrap())
        });
    });
    let sealed = es_session.item["tok"].as_b().unwrap().as_ref();
    c.bench_function("refresh_steps/open_provider_tokens", |b| {
        b.iter(|| {
            black_box(ProviderTokens::open(black_box(sealed), &es_session.keys, &key).unwrap())
        });
    });

    for (alg, f) in [(KeyAlg::Es256, &es), (KeyAlg::Rs256, &rs)] {
        let name = alg_name(alg);
        c.bench_function(&format!("session/mint/{name}"), |b| {
            b.iter(|| black_box(f.state.callback.session().mint(&f.user, &f.issuer, unix_now())));
        });
    }

    for (alg, f) in [(KeyAlg::Es256, &es), (KeyAlg::Rs256, &rs)] {
        let name = alg_name(alg);
        let token = f.state.callback.session().mint(&f.user, &f.issuer, now).unwrap();
        c.bench_function(&format!("session/verify/{name}"), |b| {
            b.iter(|| {
                black_box(f.state.callback.session().verify(black_box(&token), now).unwrap())
            });
        });
    }
}

/// The RS256 signature check of the provider's ID token alone: as openidconnect's own
/// `CoreJsonWebKey` does it (RustCrypto `rsa`, key rebuilt from `n` and `e` on every call), and
/// as `check_tokens` does it, with the key parsed once into aws-lc-rs (`ProviderKey`).
fn id_token_signature(c: &mut Criterion) {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use openidconnect::JsonWebKey as _;
    use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
    use shared::ProviderKey;

    let rt = runtime();
    let f = fixture(&rt, KeyAlg::Es256);
    let jwk_json = f.provider.key.public_jwk().clone();
    let core: CoreJsonWebKey = serde_json::from_value(jwk_json.clone()).unwrap();
    let parsed: ProviderKey = serde_json::from_value(jwk_json).unwrap();
    let id_token = f.provider.id_token(&f.provider.claims("n", ACCESS_TOKEN));
    let (message, signature) = id_token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
    core.verify_signature(&alg, message.as_bytes(), &signature).unwrap();
    parsed.verify_signature(&alg, message.as_bytes(), &signature).unwrap();

    c.bench_function("id_token_signature/openidconnect_RS256", |b| {
        b.iter(|| core.verify_signature(&alg, black_box(message.as_bytes()), &signature).unwrap());
    });
    c.bench_function("id_token_signature/parsed_once_aws_lc_rs_RS256", |b| {
        b.iter(|| {
            parsed.verify_signature(&alg, black_box(message.as_bytes()), &signature).unwrap();
        });
    });
}

/// The cryptographic operations of a warm callback alone, with aws-lc-rs (which our code calls
/// through jsonwebtoken and our own modules): its floor. The ID token's RS256 check is
/// `id_token_signature/parsed_once_aws_lc_rs_RS256`; here, our JWT's signature (RSA-2048 or
/// ES256) over a signing input of its size, the transaction cookie's AES-256-GCM opening, and
/// the SHA-256 of `at_hash`.
fn crypto(c: &mut Criterion) {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair,
    };

    let rng = SystemRandom::new();
    // Our JWT's signing input: base64url header and claims, about this long.
    let message = vec![b'e'; 420];
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let mut rsa_signature = vec![0; rsa.public_modulus_len()];
    c.bench_function("crypto/rsa2048_sign", |b| {
        b.iter(|| {
            rsa.sign(&RSA_PKCS1_SHA256, &rng, black_box(&message), &mut rsa_signature).unwrap()
        });
    });
    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    black_box(ec.public_key());
    c.bench_function("crypto/es256_sign", |b| {
        b.iter(|| ec.sign(&rng, black_box(&message)).unwrap());
    });
    // A sealed transaction cookie holds about this much.
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).unwrap());
    let mut sealed = vec![b't'; 300];
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key([1; 12]), Aad::empty(), &mut sealed)
        .unwrap();
    c.bench_function("crypto/aes256gcm_open_300B", |b| {
        b.iter(|| {
            let mut buf = sealed.clone();
            let nonce = Nonce::assume_unique_for_key([1; 12]);
            black_box(key.open_in_place(nonce, Aad::empty(), &mut buf).unwrap().len());
        });
    });
    c.bench_function("crypto/sha256_32B", |b| {
        b.iter(|| {
            aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                black_box(ACCESS_TOKEN.as_bytes()),
            )
        });
    });
}

/// What client authentication without a shared secret adds to a request of ours, on the CPU:
/// a `private_key_jwt` assertion per token, PAR or revocation request (PS256 and ES256 keys),
/// and with DPoP a proof per request (ES256, the token's hash for a resource request), and the
/// session key made at each callback and opened at each refresh.
fn client_auth(c: &mut Criterion) {
    use secrecy::SecretString;
    use shared::{ClientCredentials, DpopKey};

    let pem = |alg| shared::keygen::signing_key_pem(alg).unwrap().expose_secret().to_owned();
    let secret = Secret::from_json(
        &json!({
            "signing_keys": [{"kid": "ours-1", "private_key_pem": pem(KeyAlg::Es256)}],
            "cookie_keys": [base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [1u8; 32])],
            "client_keys": {
                "ps": [{"kid": "ps-1", "alg": "PS256", "private_key_pem": pem(KeyAlg::Rs256)}],
                "es": [{"kid": "es-1", "alg": "ES256", "private_key_pem": pem(KeyAlg::Es256)}],
            },
        })
        .to_string(),
    )
    .unwrap();
    for (provider, alg) in [("ps", "PS256"), ("es", "ES256")] {
        let keys = secret.client_secrets().keys_for(provider).unwrap();
        let credentials =
            ClientCredentials::assertion("client", keys, "https://idp.example.com".into());
        c.bench_function(&format!("client_auth/assertion/{alg}"), |b| {
            b.iter(|| black_box(credentials.assertion_fields(unix_now()).unwrap()));
        });
    }
    let basic = ClientCredentials::secret("client", SecretString::from("s3cr3t"), true);
    c.bench_function("client_auth/client_secret_basic", |b| {
        b.iter(|| black_box(basic.authentication(unix_now()).unwrap()));
    });
    let key = DpopKey::generate().unwrap();
    c.bench_function("client_auth/dpop_proof/token_request", |b| {
        let url = "https://idp.example.com/oauth2/token";
        b.iter(|| black_box(key.proof("POST", url, None, None, unix_now()).unwrap()));
    });
    c.bench_function("client_auth/dpop_proof/resource_request", |b| {
        let url = "https://api.example.com/v1/orders?page=2";
        b.iter(|| {
            black_box(key.proof("GET", url, Some(ACCESS_TOKEN), Some("nonce-1"), unix_now()))
        });
    });
    c.bench_function("client_auth/dpop_key/generate", |b| {
        b.iter(|| black_box(DpopKey::generate().unwrap()));
    });
    let stored = key.to_stored();
    c.bench_function("client_auth/dpop_key/open_stored", |b| {
        b.iter(|| black_box(DpopKey::from_stored(black_box(&stored)).unwrap()));
    });
}

criterion_group!(flows, benches, id_token_signature, crypto, client_auth);
criterion_main!(flows);
