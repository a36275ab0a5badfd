//! The web edge, without Lambda types: the request as the functions read it, responses, every
//! cookie, and the route tables with the one `serve` loop. Imports [`crate::tokens`] (cookie
//! lifetimes) and the vocabulary modules; nothing of [`crate::oidc`] or above.

pub mod cookies;
pub mod request;
pub mod response;
pub mod routes;
