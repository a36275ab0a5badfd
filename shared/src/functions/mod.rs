//! One module per Lambda function: its state (built once at cold start, holding exactly what
//! the function needs) and how it serves requests. The top layer: it may import every layer
//! below; nothing below imports it.
//!
//! | function | state | fetched at cold start |
//! | --- | --- | --- |
//! | `login` | `login::Login` | discovery |
//! | `callback` | `callback::Callback` | discovery, JWKS |
//! | `logout` | `logout::Logout` | discovery |
//! | `refresh` | `refresh::Refresh` | discovery, JWKS (needs `SESSION_TABLE`) |
//! | `proxy` | `proxy::Proxy` | nothing; discovery, JWKS when an API takes the provider's token (needs `SESSION_TABLE` then) |
//! | `issuer` | `issuer::Issuer` | nothing |
//! | `me` | `access::Access` | nothing |
//! | `authorizer` | `access::Access` | nothing (not HTTP: API Gateway authorizer events) |
//!
//! Each HTTP function's routes are its `HttpFunction::ROUTES`.

pub mod access;
pub mod callback;
pub mod issuer;
pub mod login;
pub mod logout;
pub mod proxy;
pub mod refresh;
#[cfg(test)]
mod sessions_model;
pub mod start;
