//! The `callback` Lambda: `GET`/`POST /api/callback` (SPA flow) and
//! `GET /authorization-code/callback` (server flow). State and routes: [`shared::Callback`].

#[tokio::main]
async fn main() -> std::process::ExitCode {
    entry::http::<shared::Callback>().await
}
