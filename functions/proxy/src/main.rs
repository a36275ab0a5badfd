//! The `proxy` Lambda: `ANY /api/remote/{name}/{path...}`, the SPA's calls to its remote APIs
//! with a token attached on the server. State and routes: [`shared::Proxy`].

#[tokio::main]
async fn main() -> std::process::ExitCode {
    entry::http::<shared::Proxy>().await
}
