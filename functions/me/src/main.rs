//! The `me` Lambda: `GET /api/me`, the claims of the caller's token (bearer or session
//! cookie), verified with our keys. State and routes: [`shared::Access`].

#[tokio::main]
async fn main() -> std::process::ExitCode {
    entry::http::<shared::Access>().await
}
