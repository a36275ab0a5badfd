//! The `issuer` Lambda: `GET /.well-known/openid-configuration` and
//! `GET /.well-known/jwks.json`, our tokens' issuer metadata. State and routes:
//! [`shared::Issuer`].

#[tokio::main]
async fn main() -> std::process::ExitCode {
    entry::http::<shared::Issuer>().await
}
