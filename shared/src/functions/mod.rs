//! One module per Lambda function: its state (built once at cold start, holding exactly what
//! the function needs) and how it serves requests. The top layer: it may import every layer
//! below; nothing below imports it.
//!
//! | function | state | fetched at cold start | routes |
//! | --- | --- | --- | --- |
//! | `login` | [`Login`] | discovery | [`Login::ROUTES`](crate::HttpFunction::ROUTES) |
//! | `callback` | [`Callback`] | discovery, JWKS | |
//! | `logout` | [`Logout`] | discovery | |
//! | `issuer` | [`Issuer`] | nothing | |
//! | `me` | [`Access`] | nothing | |
//! | `authorizer` | [`Access`] | nothing | (not HTTP: API Gateway authorizer events) |

pub mod access;
pub mod callback;
pub mod issuer;
pub mod login;
pub mod logout;
pub mod start;

#[cfg(test)]
mod template;
