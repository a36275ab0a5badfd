//! Signing in at the local oidc-provider (`dev/provider/provider.mjs`) as a browser would: its
//! devInteractions login and consent forms, its redirects and cookies. A compact form of the
//! end-to-end tests' `sign_in_at_provider` (tests/src/provider_pages.rs), for this provider
//! only: one host, so the cookie jar is a map of names.

use std::collections::HashMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// The provider's cookies of one browser.
#[derive(Debug, Default)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn store(&mut self, resp: &reqwest::Response) {
        for value in resp.headers().get_all(SET_COOKIE) {
            let text = String::from_utf8_lossy(value.as_bytes());
            let mut parts = text.split(';');
            let Some((name, v)) = parts.next().and_then(|p| p.split_once('=')) else { continue };
            let lower = text.to_ascii_lowercase();
            // oidc-provider clears a cookie with an empty value and a date of 1970.
            if v.trim().is_empty() || lower.contains("expires=thu, 01 jan 1970") {
                self.0.remove(name.trim());
            } else {
                self.0.insert(name.trim().to_owned(), v.trim().to_owned());
            }
        }
    }

    fn header(&self) -> Option<String> {
        let pairs: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

/// Why a sign-in failed.
pub type Failure = String;

async fn send(
    jar: &mut Jar,
    url: &str,
    req: reqwest::RequestBuilder,
) -> Result<reqwest::Response, Failure> {
    let req = match jar.header() {
        Some(cookies) => req.header(COOKIE, cookies),
        None => req,
    };
    let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
    jar.store(&resp);
    Ok(resp)
}

fn location(base: &str, resp: &reqwest::Response) -> Result<url::Url, Failure> {
    let to = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).ok_or("no Location")?;
    let base = url::Url::parse(base).map_err(|e| e.to_string())?;
    base.join(to).map_err(|e| e.to_string())
}

/// Signs in as `user` (password: the same) from `authorize_url`, with a fresh browser: the
/// redirect to our redirect URI, with `code`, `state` and `iss`.
pub async fn sign_in(
    http: &reqwest::Client,
    authorize_url: &str,
    user: &str,
) -> Result<url::Url, Failure> {
    let mut jar = Jar::default();
    let mut url = authorize_url.to_owned();
    for _ in 0..12 {
        let resp = send(&mut jar, &url, http.get(&url)).await?;
        let next = if resp.status().is_redirection() {
            location(&url, &resp)?
        } else if resp.status() == 200 {
            let html = resp.text().await.map_err(|e| e.to_string())?;
            let (action, mut fields) =
                form(&html, &url).ok_or_else(|| format!("no form at {url}"))?;
            for (name, value) in &mut fields {
                if name == "login" || name == "password" {
                    user.clone_into(value);
                }
            }
            let resp = send(&mut jar, &action, http.post(&action).form(&fields)).await?;
            if !resp.status().is_redirection() {
                return Err(format!("the form post to {action} answered {}", resp.status()));
            }
            location(&action, &resp)?
        } else {
            return Err(format!("{url} answered {}", resp.status()));
        };
        if next.query_pairs().any(|(k, _)| k == "code" || k == "error") {
            return Ok(next);
        }
        url = next.to_string();
    }
    Err("the sign-in did not end in a redirect to the app".to_owned())
}

/// The first form of `html` (the page at `page`): its action and every named input, with the
/// page's named button (oidc-provider's buttons sit outside their form at times).
fn form(html: &str, page: &str) -> Option<(String, Vec<(String, String)>)> {
    let start = html.find("<form")?;
    let body = &html[start..];
    let body = &body[..body.find("</form>").unwrap_or(body.len())];
    let open = &body[..body.find('>')?];
    let action = url::Url::parse(page).ok()?.join(&attribute(open, "action")?).ok()?;
    let tags = |html: &'_ str, tag: &'static str| {
        html.match_indices(tag)
            .filter_map(|(at, _)| html[at..].find('>').map(|end| html[at..at + end].to_owned()))
            .collect::<Vec<_>>()
    };
    let mut fields: Vec<(String, String)> = tags(body, "<input")
        .iter()
        .filter_map(|t| Some((attribute(t, "name")?, attribute(t, "value").unwrap_or_default())))
        .collect();
    let button = tags(html, "<button")
        .iter()
        .find_map(|t| Some((attribute(t, "name")?, attribute(t, "value")?)));
    fields.extend(button);
    Some((action.to_string(), fields))
}

/// The double-quoted attribute `name` of an opening tag, its common entities decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let from = tag.find(&key)? + key.len();
    let value = &tag[from..from + tag[from..].find('"')?];
    Some(value.replace("&quot;", "\"").replace("&#x2F;", "/").replace("&amp;", "&"))
}
