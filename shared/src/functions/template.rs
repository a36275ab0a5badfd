//! `template.yaml` and the route tables agree: every route the template sends to a function is
//! one the function serves, and the reverse.
//!
//! Which state a binary serves is read from its `functions/<name>/src/main.rs`
//! (`entry::http::<shared::X>`), the routes from each `AWS::Serverless::Function` of the
//! template (`BuildProperties.Binary` and its `HttpApi` events, one
//! `Properties: { ApiId: ..., Method: ..., Path: ... }` line each). The template is read line by
//! line, with counts that make the test fail loudly if its layout changes.

use std::collections::BTreeSet;
use std::path::Path;

use super::access::Access;
use super::callback::Callback;
use super::issuer::Issuer;
use super::login::Login;
use super::logout::Logout;
use super::refresh::Refresh;
use crate::web::routes::{HttpFunction, Route};

type Routes = BTreeSet<(String, String)>;

fn repo() -> &'static Path {
    // shared/ is one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."))
}

/// The (method, path) pairs of a route table. HEAD is left out: the issuer answers it beside
/// GET for callers that probe, and API Gateway routes only the GET.
fn table<R>(routes: &[Route<R>]) -> Routes {
    routes
        .iter()
        .filter(|r| r.method != "HEAD")
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect()
}

/// The route table of the state `main.rs` names, or `None` for an event function.
fn served_by(binary: &str) -> Option<Routes> {
    let main = std::fs::read_to_string(repo().join("functions").join(binary).join("src/main.rs"))
        .unwrap_or_else(|e| panic!("functions/{binary}/src/main.rs: {e}"));
    let state = main
        .split("entry::http::<shared::")
        .nth(1)
        .map(|rest| rest.split('>').next().unwrap_or_default().to_owned());
    let Some(state) = state else {
        assert!(main.contains("entry::events("), "{binary}: neither entry::http nor entry::events");
        return None;
    };
    Some(match state.as_str() {
        "Login" => table(Login::ROUTES),
        "Callback" => table(Callback::ROUTES),
        "Issuer" => table(Issuer::ROUTES),
        "Access" => table(Access::ROUTES),
        "Logout" => table(Logout::ROUTES),
        "Refresh" => table(Refresh::ROUTES),
        other => panic!("{binary} serves {other}: add its route table to this test"),
    })
}

/// Each `AWS::Serverless::Function`'s binary and its HttpApi routes.
fn template_routes(template: &str) -> Vec<(String, Routes)> {
    let lines: Vec<&str> = template.lines().collect();
    let top_level = |l: &str| l.starts_with("  ") && !l.starts_with("   ") && l.ends_with(':');
    let mut functions = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "Type: AWS::Serverless::Function" {
            continue;
        }
        let end =
            lines[i + 1..].iter().position(|l| top_level(l)).map_or(lines.len(), |p| i + 1 + p);
        let block = &lines[i..end];
        let binary = block
            .iter()
            .find_map(|l| l.trim().strip_prefix("Binary: "))
            .unwrap_or_else(|| panic!("a function without BuildProperties.Binary at line {i}"));
        let mut routes = Routes::new();
        for (j, l) in block.iter().enumerate() {
            if l.trim() != "Type: HttpApi" {
                continue;
            }
            let props = block[j + 1..]
                .iter()
                .find(|p| p.trim().starts_with("Properties: {"))
                .unwrap_or_else(|| panic!("{binary}: an HttpApi event without a Properties line"));
            let field = |name: &str| {
                props
                    .split(&format!("{name}: "))
                    .nth(1)
                    .and_then(|v| v.split([',', '}']).next())
                    .map(|v| v.trim().to_owned())
                    .unwrap_or_else(|| panic!("{binary}: no {name} in {props}"))
            };
            assert!(routes.insert((field("Method"), field("Path"))), "{binary}: a route twice");
        }
        functions.push((binary.to_owned(), routes));
    }
    let events = template.lines().filter(|l| l.trim() == "Type: HttpApi").count();
    let read: usize = functions.iter().map(|(_, r)| r.len()).sum();
    assert_eq!(read, events, "every HttpApi event of the template belongs to a function");
    functions
}

#[test]
fn routes_match_the_template() {
    let template = std::fs::read_to_string(repo().join("template.yaml")).unwrap_or_default();
    let functions = template_routes(&template);
    let binaries: BTreeSet<&str> = functions.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(
        binaries,
        ["authorizer", "callback", "issuer", "login", "logout", "me", "refresh"].into(),
        "the template's functions"
    );
    for (binary, routes) in &functions {
        match served_by(binary) {
            Some(served) => assert_eq!(routes, &served, "{binary}: template (left), code (right)"),
            None => assert!(routes.is_empty(), "{binary} answers events, not routes"),
        }
    }
}

#[test]
fn a_route_missing_from_the_template_or_the_code_is_seen() {
    let template = "Resources:\n  LoginFunction:\n    Type: AWS::Serverless::Function\n    \
                    Metadata:\n      BuildProperties:\n        Binary: login\n    Properties:\n      \
                    Events:\n        A:\n          Type: HttpApi\n          \
                    Properties: { ApiId: !Ref HttpApi, Method: GET, Path: /api/login }\n  \
                    Other:\n    Type: AWS::Logs::LogGroup\n";
    let functions = template_routes(template);
    assert_eq!(functions.len(), 1);
    let served = served_by("login").unwrap_or_default();
    assert_ne!(functions[0].1, served, "the server flow's route is missing from this template");
    assert!(served.contains(&("GET".to_owned(), "/authorization-code/login".to_owned())));
}

/// The metrics the template's alarms and dashboard read from our namespace (`MetricName:` after
/// `Namespace: !Sub SpaLogin/...`, and the dashboard's `"${ns}", "<name>"` and
/// `MetricName=\"<name>\"`), and their dimensions, are ones the functions publish: a renamed
/// metric would leave an alarm that can never fire.
#[test]
fn template_metrics_are_ones_we_publish() {
    use crate::infra::metrics::{DIMENSIONS, NAMES};
    let template = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    let mut named = BTreeSet::new();
    let mut ours = false;
    for line in template.lines().map(str::trim) {
        if let Some(ns) = line.strip_prefix("Namespace: ") {
            ours = ns.contains("SpaLogin/");
        } else if let Some(name) = line.strip_prefix("MetricName: ")
            && ours
        {
            named.insert(name.to_owned());
            ours = false;
        }
        for (start, end) in [("\"${ns}\", \"", "\""), ("MetricName=\\\"", "\\\"")] {
            for rest in line.split(start).skip(1) {
                named.insert(rest.split(end).next().unwrap_or_default().to_owned());
            }
        }
    }
    assert!(named.len() >= 6, "the template's layout changed: {named:?}");
    for name in &named {
        assert!(
            NAMES.contains(&name.as_str()),
            "the template reads {name}, which nobody publishes"
        );
    }
    let dimensions: BTreeSet<&str> = template
        .lines()
        .filter(|l| l.contains("Dimensions: [{ Name: ") && !l.contains("Name: FunctionName"))
        .filter(|l| !l.contains("ApiId"))
        .filter_map(|l| l.split("Name: ").nth(1)?.split(',').next())
        .chain(
            template
                .split("SEARCH('{\\\"${ns}\\\",")
                .skip(1)
                .filter_map(|rest| rest.split('}').next()?.split(',').next_back()),
        )
        .filter(|d| *d != "FunctionName")
        .collect();
    assert!(dimensions.len() >= 3, "the template's layout changed: {dimensions:?}");
    for dimension in dimensions {
        assert!(DIMENSIONS.contains(&dimension), "the template reads dimension {dimension}");
    }
    // The one error code an alarm watches is the code the session store's failures answer.
    let codes: BTreeSet<&str> = template
        .lines()
        .filter_map(|l| l.split("Name: ErrorCode, Value: ").nth(1)?.split([' ', '}']).next())
        .collect();
    let store = crate::error::Error::SessionStore(String::new());
    assert_eq!(codes, [store.code()].into(), "the ErrorCode values the template watches");
}
