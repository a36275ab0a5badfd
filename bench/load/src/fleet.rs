//! The functions under load: `n` instances of each of login, callback, refresh and logout, each
//! built as at its cold start against the stack (the secret from moto's Secrets Manager, the
//! provider's documents through the counting proxy, a reqwest client and a DynamoDB client of
//! its own), and requests handed to them round-robin.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use shared::{
    Callback, ColdStart, Config, Fetch as _, HttpFunction, Login, Logout, Parts, Refresh,
};
use stack::RequestCount;

tokio::task_local! {
    /// The DynamoDB requests of the request being served on this task.
    pub static REQUESTS: Arc<AtomicU64>;
}

/// Counts a DynamoDB request against the request being served ([`REQUESTS`]), when one is.
#[derive(Debug)]
struct PerRequest;

impl Intercept for PerRequest {
    fn name(&self) -> &'static str {
        "per-request"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let _ = REQUESTS.try_with(|n| n.fetch_add(1, Ordering::Relaxed));
        Ok(())
    }
}

/// The instances of one function, its DynamoDB request count shared by them.
pub struct Instances<S> {
    all: Vec<S>,
    next: AtomicUsize,
    /// DynamoDB requests of every instance.
    pub dynamodb: RequestCount,
}

impl<S> Instances<S> {
    /// The next instance, round-robin.
    pub fn next(&self) -> &S {
        &self.all[self.next.fetch_add(1, Ordering::Relaxed) % self.all.len()]
    }
}

/// Every function of the run.
pub struct Fleet {
    pub login: Instances<Login>,
    pub callback: Instances<Callback>,
    pub refresh: Instances<Refresh>,
    pub logout: Instances<Logout>,
    /// How long the slowest cold start took.
    pub slowest_start: Duration,
}

/// What each instance is built from: the functions' environment as the stack gives it.
pub struct Deployment {
    pub env: Vec<(String, String)>,
    pub secret_id: String,
}

impl Deployment {
    fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |name| self.env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    /// One instance of `S`, built as `shared::load` builds it at cold start, with a DynamoDB
    /// client of its own counted by `count`.
    async fn instance<S: ColdStart>(&self, count: &RequestCount) -> Result<(S, Duration), String> {
        let started = Instant::now();
        let config = Config::from_lookup(self.lookup()).map_err(|e| e.to_string())?;
        let aws = shared::AwsEnv::from_lookup(self.lookup()).map_err(|e| e.to_string())?;
        let http = shared::http_client().map_err(|e| e.to_string())?;
        let secrets = shared::secrets_client(&aws, &http);
        let dynamodb = shared::dynamodb_client(&aws, &http);
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            dynamodb
                .config()
                .to_builder()
                .interceptor(count.clone())
                .interceptor(PerRequest)
                .build(),
        );
        let (secret, fetched) = tokio::join!(
            shared::fetch_secret(&secrets, &self.secret_id),
            S::Fetch::fetch(&http, &config)
        );
        let secret = secret.map_err(|e| e.to_string())?;
        let fetched = fetched.map_err(|e| e.to_string())?;
        let parts = Parts { config, secret, http, dynamodb: Some(dynamodb) };
        let state = S::build(parts, fetched).map_err(|e| e.to_string())?;
        Ok((state, started.elapsed()))
    }

    async fn instances<S: ColdStart + HttpFunction>(
        &self,
        n: usize,
        slowest: &mut Duration,
    ) -> Result<Instances<S>, String> {
        let dynamodb = RequestCount::default();
        let mut all = Vec::with_capacity(n);
        for _ in 0..n {
            let (state, took) = self.instance(&dynamodb).await?;
            *slowest = (*slowest).max(took);
            all.push(state);
        }
        Ok(Instances { all, next: AtomicUsize::new(0), dynamodb })
    }

    /// `n` instances of each function.
    ///
    /// # Errors
    /// When a cold start fails (its message).
    pub async fn fleet(&self, n: usize) -> Result<Fleet, String> {
        let mut slowest = Duration::ZERO;
        Ok(Fleet {
            login: self.instances(n, &mut slowest).await?,
            callback: self.instances(n, &mut slowest).await?,
            refresh: self.instances(n, &mut slowest).await?,
            logout: self.instances(n, &mut slowest).await?,
            slowest_start: slowest,
        })
    }
}
