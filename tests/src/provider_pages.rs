//! The provider's own pages, driven as a user would: signing in (login and consent forms,
//! redirects) and logging out (the confirmation page), with either provider.

use reqwest::header::{COOKIE, LOCATION};

use crate::html::Form;
use crate::jar::Jar;
use crate::{CLIENT_ID, get_json};

/// Sends `req` (to `url`) with the jar's cookies, and keeps the cookies it answers.
async fn send_with(jar: &mut Jar, url: &str, req: reqwest::RequestBuilder) -> reqwest::Response {
    let req = match jar.header(url) {
        Some(cookies) => req.header(COOKIE, cookies),
        None => req,
    };
    let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    jar.store(url, &resp);
    resp
}

/// Where a redirect answered at `url` sends the browser.
fn location(url: &str, resp: &reqwest::Response) -> url::Url {
    let location = resp.headers()[LOCATION].to_str().unwrap();
    url::Url::parse(url).unwrap().join(location).unwrap()
}

/// Signs in at the provider as `user`, starting from `authorize_url`, and returns the redirect
/// to the redirect URI (with `code` and `state`, and `iss` when the provider sends it; or
/// `error`). Works through either provider's pages: a login form (oidc-provider's
/// `login`/`password`, LemonLDAP::NG's `user`/`password` with its CSRF `token`, posted with
/// every other field it holds), a consent form, redirects; a remembered provider session skips
/// the forms.
pub async fn sign_in_at_provider(
    http: &reqwest::Client,
    jar: &mut Jar,
    authorize_url: &str,
    user: &str,
    password: &str,
) -> url::Url {
    let at_redirect_uri =
        |url: &url::Url| url.query_pairs().any(|(k, _)| k == "code" || k == "error");
    let mut url = authorize_url.to_owned();
    for _ in 0..12 {
        let resp = send_with(jar, &url, http.get(&url)).await;
        let status = resp.status();
        let next = if status.is_redirection() {
            location(&url, &resp)
        } else {
            assert_eq!(status, 200, "provider answered {status} at {url}");
            let html = resp.text().await.unwrap();
            let mut form =
                Form::first(&html, &url).unwrap_or_else(|| panic!("no form at {url}: {html}"));
            if form.has("password") {
                form.fill("login", user);
                form.fill("user", user);
                form.fill("password", password);
            }
            let action = form.action.clone();
            let resp = send_with(jar, &action, http.post(&action).form(&form.fields)).await;
            let status = resp.status();
            assert!(status.is_redirection(), "form post to {action} answered {status}");
            location(&action, &resp)
        };
        if at_redirect_uri(&next) {
            return next;
        }
        url = next.to_string();
    }
    panic!("the provider login did not end in a redirect to the app");
}

/// Goes to a provider logout URL (its `end_session_endpoint`, with our parameters or not) with
/// the provider's cookies in `jar`, confirming on its page as a user would (oidc-provider's
/// "Yes, sign me out", LemonLDAP::NG's "Accept", the form as it is); returns where the
/// provider then sends the browser.
pub async fn confirm_logout_at_provider(
    http: &reqwest::Client,
    jar: &mut Jar,
    logout_url: &str,
) -> url::Url {
    let resp = send_with(jar, logout_url, http.get(logout_url)).await;
    let (url, resp) = if resp.status() == 200 {
        let html = resp.text().await.unwrap();
        let form = Form::first(&html, logout_url).expect("the logout form");
        let resp = send_with(jar, &form.action, http.post(&form.action).form(&form.fields)).await;
        (form.action, resp)
    } else {
        (logout_url.to_owned(), resp)
    };
    assert!(resp.status().is_redirection(), "logout at {url} answered {}", resp.status());
    location(&url, &resp)
}

/// Logs out at the provider itself (its `end_session_endpoint`, confirmed as a user would),
/// with the provider's session cookies in `jar`: what a user does at the provider's own page,
/// without our logout.
pub async fn log_out_at_provider(http: &reqwest::Client, jar: &mut Jar, issuer: &str) {
    log_out_at_provider_as(http, jar, issuer, CLIENT_ID).await;
}

/// [`log_out_at_provider`] for our client `client_id` there ([`SECOND_CLIENT_ID`] at a
/// two-provider stack's second provider).
pub async fn log_out_at_provider_as(
    http: &reqwest::Client,
    jar: &mut Jar,
    issuer: &str,
    client_id: &str,
) {
    let discovery = get_json(http, &format!("{issuer}/.well-known/openid-configuration")).await;
    let endpoint = discovery["end_session_endpoint"].as_str().expect("an end_session_endpoint");
    let url = format!("{endpoint}?client_id={client_id}");
    confirm_logout_at_provider(http, jar, &url).await;
}
