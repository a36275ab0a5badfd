//! The `refresh` Lambda: `POST /api/refresh`. State and routes: [`shared::Refresh`].

#[tokio::main]
async fn main() -> std::process::ExitCode {
    entry::http::<shared::Refresh>().await
}
