//! The `login` Lambda: `GET /api/login` (SPA flow) and `GET /authorization-code/login` (server
//! flow). State and routes: [`shared::Login`].

#[tokio::main]
async fn main() -> std::process::ExitCode {
    entry::http::<shared::Login>().await
}
