//! Maps an API Gateway HTTP API REQUEST authorizer event (payload 2.0) to
//! [`shared::Access::authorize`], and its decision to a simple response.

use std::collections::BTreeMap;

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use serde_json::Value;
use shared::{Access, Presented};

/// The simple response, with the caller's `sub`, `idp`, `sid`, `email` and `name` for the integration
/// (`$context.authorizer.<key>`).
pub type Decision = ApiGatewayV2CustomAuthorizerSimpleResponse<BTreeMap<String, String>>;

/// Decides one event at `now`. An event that is not an authorizer request is refused, not an
/// error.
pub async fn handle(state: &Access, event: Value, now: u64) -> Decision {
    let mut decision = Decision::default();
    let Ok(event) = serde_json::from_value::<ApiGatewayV2CustomAuthorizerV2Request>(event) else {
        return decision;
    };
    let header = |name: &str| event.headers.get(name).and_then(|v| v.to_str().ok());
    let cookies = (!event.cookies.is_empty()).then(|| event.cookies.join("; "));
    let presented = Presented {
        method: &event.request_context.http.method,
        authorization: header("authorization"),
        cookies: cookies.as_deref(),
        csrf: header("x-csrf") == Some("1"),
    };
    // API Gateway caches the answer by the values of the authorizer's identity sources: the
    // credential the decision rests on must be one of them (or inside one, as the session
    // cookie is inside the `Cookie` header), else a cached answer would serve a request whose
    // key is the same but whose credential is not: a shared cookie beside one caller's bearer
    // token. No identity source: no cache, nothing to match.
    if let Some(sources) = event.identity_source.as_ref().filter(|s| !s.is_empty()) {
        let keyed = presented
            .credential()
            .is_ok_and(|(token, _)| sources.iter().any(|source| source.contains(token)));
        if !keyed {
            lambda_http::tracing::warn!(error = "credential_not_in_cache_key", "not authorized");
            return decision;
        }
    }
    if let Some(claims) = state.authorize(&presented, now).await {
        decision.is_authorized = true;
        // `sub` names a user only together with `idp` (OpenID Connect Core 5.7).
        decision.context.insert("sub".into(), claims.sub);
        decision.context.insert("idp".into(), claims.idp);
        decision.context.extend(claims.sid.map(|s| ("sid".into(), s)));
        decision.context.extend(claims.email.map(|e| ("email".into(), e)));
        decision.context.extend(claims.name.map(|n| ("name".into(), n)));
    }
    decision
}

#[cfg(test)]
mod tests;
