//! The `logout` Lambda: `POST /api/logout` and `GET /authorization-code/logout`. State and
//! routes: [`shared::Logout`].

#[tokio::main]
async fn main() -> std::process::ExitCode {
    entry::http::<shared::Logout>().await
}
