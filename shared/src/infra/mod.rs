//! Infrastructure: configuration from the environment, the one outbound HTTP client, the AWS
//! client that sends through it, the clock, and the metrics (CloudWatch EMF). Imports only [`crate::error`] and
//! [`crate::return_to`].

pub mod aws;
pub mod clock;
pub mod config;
pub mod http;
pub mod metrics;
pub mod xray;
