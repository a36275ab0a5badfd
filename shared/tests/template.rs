//! `template.yaml` and the workspace agree on the functions and on their routes.
//!
//! `Mappings: Functions` (`Login: { Name: login }`) is the one list of the functions; the test
//! checks that the rest follows it:
//!
//! - each `Fn::ForEach` loop that looks its items up in `Functions` loops over functions the
//!   mapping has, and over all of them unless it looks them up in a narrower mapping too: no
//!   function without its log group and role (the session table's policies are one resource
//!   per function, checked statement by statement by `dev/sam_check.py`);
//! - one `AWS::Serverless::Function` per entry, `<Name>Function` with
//!   `Metadata.BuildProperties.Binary: <name>`;
//! - one crate `functions/<name>/` per entry;
//! - each function's `HttpApi` events (method, path) are the route table of the state its
//!   `functions/<name>/src/main.rs` serves (`entry::http::<shared::X>()`), and a function of
//!   `entry::events(...)` has none.
//!
//! The template is read with a YAML parser; CloudFormation's short tags come back as plain
//! nodes (`!Ref HttpApi` is `HttpApi`, `!FindInMap [Functions, !Ref Function, Name]` the list
//! `[Functions, Function, Name]`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use shared::{Access, Callback, HttpFunction, Issuer, Login, Logout, Proxy, Refresh, Route};
use yaml_rust2::{Yaml, YamlLoader};

type Routes = BTreeSet<(String, String)>;

fn repo() -> &'static Path {
    // shared/ is one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn template() -> Yaml {
    let text = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    let mut docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("template.yaml is not YAML we can read: {e}"));
    assert_eq!(docs.len(), 1, "template.yaml holds one document");
    docs.remove(0)
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

/// The route table of a state named in a `main.rs`.
fn routes_of(state: &str) -> Option<Routes> {
    Some(match state {
        "Login" => table(Login::ROUTES),
        "Callback" => table(Callback::ROUTES),
        "Issuer" => table(Issuer::ROUTES),
        "Access" => table(Access::ROUTES),
        "Logout" => table(Logout::ROUTES),
        "Refresh" => table(Refresh::ROUTES),
        "Proxy" => table(Proxy::ROUTES),
        _ => return None,
    })
}

/// What a function's crate serves, from its `main.rs`.
#[derive(Debug, Clone, PartialEq)]
enum Serves {
    /// `entry::http::<shared::X>()`: X and its routes.
    Http(String, Routes),
    /// `entry::events(...)`: no route.
    Events,
}

/// The crates under `functions/`, by directory name, and what each serves.
fn workspace() -> BTreeMap<String, Serves> {
    let mut functions = BTreeMap::new();
    for entry in std::fs::read_dir(repo().join("functions")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let main = std::fs::read_to_string(dir.join("src/main.rs"))
            .unwrap_or_else(|e| panic!("functions/{name}/src/main.rs: {e}"));
        let state = main
            .split_once("entry::http::<shared::")
            .and_then(|(_, rest)| rest.split_once('>'))
            .map(|(state, _)| state.to_owned());
        let serves = match state {
            Some(state) => {
                let routes = routes_of(&state).unwrap_or_else(|| {
                    panic!("functions/{name} serves shared::{state}: add it to routes_of")
                });
                Serves::Http(state, routes)
            }
            None if main.contains("entry::events(") => Serves::Events,
            None => panic!("functions/{name}/src/main.rs: neither entry::http nor entry::events"),
        };
        functions.insert(name, serves);
    }
    functions
}

fn keys(hash: &Yaml) -> BTreeSet<String> {
    hash.as_hash()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.as_str().map(str::to_owned))
        .collect()
}

/// Every `[<mapping>, <identifier>, ...]` list in `yaml`: a `!FindInMap` of the loop's item.
fn lookups(yaml: &Yaml, mappings: &BTreeSet<String>, identifier: &str, out: &mut BTreeSet<String>) {
    match yaml {
        Yaml::Array(items) => {
            if let [Yaml::String(map), Yaml::String(key), ..] = items.as_slice()
                && mappings.contains(map)
                && key == identifier
            {
                out.insert(map.clone());
            }
            items.iter().for_each(|item| lookups(item, mappings, identifier, out));
        }
        Yaml::Hash(hash) => hash.values().for_each(|v| lookups(v, mappings, identifier, out)),
        _ => {}
    }
}

/// Where the template and the workspace disagree, one sentence each.
fn problems(template: &Yaml, workspace: &BTreeMap<String, Serves>) -> Vec<String> {
    let mut problems = Vec::new();
    let functions = &template["Mappings"]["Functions"];
    // Logical id prefix -> name.
    let names: BTreeMap<String, String> = functions
        .as_hash()
        .expect("template.yaml has Mappings: Functions")
        .iter()
        .map(|(prefix, entry)| {
            let prefix = prefix.as_str().unwrap().to_owned();
            let name = entry["Name"]
                .as_str()
                .unwrap_or_else(|| panic!("Mappings: Functions: {prefix} has no Name"));
            (prefix, name.to_owned())
        })
        .collect();
    let mapped: BTreeSet<&str> = names.values().map(String::as_str).collect();

    // The Fn::ForEach loops over the functions.
    let mappings = keys(&template["Mappings"]);
    let mapping = |name: &str| keys(&template["Mappings"][name]);
    let resources = template["Resources"].as_hash().expect("template.yaml has Resources");
    let mut loops = 0;
    for (key, body) in resources {
        let Some(name) = key.as_str().and_then(|k| k.strip_prefix("Fn::ForEach::")) else {
            continue;
        };
        let (Some(identifier), Some(items)) = (body[0].as_str(), body[1].as_vec()) else {
            problems.push(format!("Fn::ForEach::{name}: not [identifier, [items], template]"));
            continue;
        };
        let items: BTreeSet<String> =
            items.iter().filter_map(Yaml::as_str).map(str::to_owned).collect();
        let mut read = BTreeSet::new();
        lookups(&body[2], &mappings, identifier, &mut read);
        if !read.contains("Functions") {
            continue;
        }
        loops += 1;
        // Every item is in each mapping the loop reads (or the deploy fails on !FindInMap), and
        // every key of the narrowest one is an item (or a function goes without what the loop
        // makes: its log group and role from a loop that reads only Functions).
        for map in &read {
            let unknown: Vec<_> = items.difference(&mapping(map)).cloned().collect();
            if !unknown.is_empty() {
                problems.push(format!(
                    "Fn::ForEach::{name} loops over {unknown:?}, which Mappings: {map} lacks"
                ));
            }
        }
        let narrowest = read.iter().min_by_key(|map| mapping(map).len()).unwrap();
        let missing: Vec<_> = mapping(narrowest).difference(&items).cloned().collect();
        if !missing.is_empty() {
            problems.push(format!(
                "Fn::ForEach::{name} leaves out {missing:?} of Mappings: {narrowest}"
            ));
        }
    }
    if loops == 0 {
        problems.push("no Fn::ForEach reads Mappings: Functions".into());
    }

    // The function resources, by binary.
    let mut routes: BTreeMap<String, Routes> = BTreeMap::new();
    let mut everywhere = Routes::new();
    for (id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap();
        let Some(binary) = resource["Metadata"]["BuildProperties"]["Binary"].as_str() else {
            problems.push(format!("{id}: no Metadata.BuildProperties.Binary"));
            continue;
        };
        let prefix = id.strip_suffix("Function").unwrap_or(id);
        match names.get(prefix) {
            Some(name) if name == binary => {}
            Some(name) => problems.push(format!(
                "{id} builds {binary}, but its entry in Mappings: Functions is \
                 {prefix}: {{ Name: {name} }}"
            )),
            None => problems.push(format!(
                "{id}: Mappings: Functions has no entry {prefix} (<Name>Function is the function \
                 of entry <Name>)"
            )),
        }
        let mut served = Routes::new();
        for (event, body) in resource["Properties"]["Events"].as_hash().into_iter().flatten() {
            let event = event.as_str().unwrap_or_default();
            if body["Type"].as_str() != Some("HttpApi") {
                problems.push(format!("{id}: event {event} is not HttpApi, which this test reads"));
                continue;
            }
            let field = |f: &str| body["Properties"][f].as_str().map(str::to_owned);
            let (Some(method), Some(path)) = (field("Method"), field("Path")) else {
                problems.push(format!("{id}: event {event} without Method and Path"));
                continue;
            };
            let route = (method, path);
            if !everywhere.insert(route.clone()) {
                problems.push(format!("{id}: {route:?} is routed twice in the template"));
            }
            served.insert(route);
        }
        if routes.insert(binary.to_owned(), served).is_some() {
            problems.push(format!("two functions build {binary}"));
        }
    }

    let built: BTreeSet<&str> = routes.keys().map(String::as_str).collect();
    for name in mapped.difference(&built) {
        problems.push(format!(
            "Mappings: Functions names {name}, but no AWS::Serverless::Function has Binary: {name}"
        ));
    }
    let crates: BTreeSet<&str> = workspace.keys().map(String::as_str).collect();
    for name in mapped.difference(&crates) {
        problems
            .push(format!("Mappings: Functions names {name}, but there is no functions/{name}"));
    }
    for name in crates.difference(&mapped) {
        problems
            .push(format!("functions/{name} is a crate that Mappings: Functions does not name"));
    }

    // The throttles alarm sums Lambda's Throttles of every function, which Lambda publishes by
    // function name only: one block per function, found by the `!Ref <Name>Function` it reads.
    let watched: BTreeSet<String> =
        template["Resources"]["ThrottlesAlarm"]["Properties"]["Metrics"]
            .as_vec()
            .into_iter()
            .flatten()
            .filter(|m| m["MetricStat"]["Metric"]["MetricName"].as_str() == Some("Throttles"))
            .filter_map(|m| m["MetricStat"]["Metric"]["Dimensions"][0]["Value"].as_str())
            .map(|id| id.strip_suffix("Function").unwrap_or(id).to_owned())
            .collect();
    let prefixes: BTreeSet<String> = names.keys().cloned().collect();
    for prefix in prefixes.difference(&watched) {
        problems.push(format!(
            "ThrottlesAlarm reads no Throttles of {prefix}Function: add its MetricStat block and \
             its id to the alarm's SUM"
        ));
    }

    // Each function's routes, template against code.
    for (binary, in_template) in &routes {
        match workspace.get(binary) {
            Some(Serves::Http(state, in_code)) => {
                for route in in_template.difference(in_code) {
                    problems.push(format!(
                        "{binary}: the template routes {route:?}, which shared::{state}::ROUTES \
                         does not serve"
                    ));
                }
                for route in in_code.difference(in_template) {
                    problems.push(format!(
                        "{binary}: shared::{state}::ROUTES serves {route:?}, which the template \
                         has no HttpApi event for"
                    ));
                }
            }
            Some(Serves::Events) if !in_template.is_empty() => problems.push(format!(
                "{binary} answers events (entry::events), yet the template routes \
                 {in_template:?} to it"
            )),
            _ => {}
        }
    }
    problems
}

#[test]
fn the_template_and_the_workspace_agree_on_functions_and_routes() {
    let problems = problems(&template(), &workspace());
    assert!(
        problems.is_empty(),
        "template.yaml and the workspace disagree:\n{}",
        problems.join("\n")
    );
}

/// The template's text with `from` replaced by `to`, parsed.
fn changed(from: &str, to: &str) -> Yaml {
    let text = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    assert!(text.contains(from), "template.yaml no longer holds {from:?}: update this test");
    YamlLoader::load_from_str(&text.replacen(from, to, 1)).unwrap().remove(0)
}

fn assert_seen(problems: &[String], words: &[&str]) {
    assert!(
        problems.iter().any(|p| words.iter().all(|w| p.contains(w))),
        "no problem names {words:?}: {problems:#?}"
    );
}

#[test]
fn an_event_missing_from_the_template_is_seen() {
    let template = changed(
        "        ServerLogin:\n          Type: HttpApi\n          \
         Properties: { ApiId: !Ref HttpApi, Method: GET, Path: /authorization-code/login }\n",
        "",
    );
    let problems = problems(&template, &workspace());
    assert_seen(&problems, &["login:", "no HttpApi event", "/authorization-code/login"]);
    assert_eq!(problems.len(), 1, "{problems:#?}");
}

#[test]
fn a_route_the_code_does_not_serve_is_seen() {
    let template = changed(
        "Method: GET, Path: /api/me }\n",
        "Method: GET, Path: /api/me }\n        MePost:\n          Type: HttpApi\n          \
         Properties: { ApiId: !Ref HttpApi, Method: POST, Path: /api/me }\n",
    );
    let problems = problems(&template, &workspace());
    assert_seen(&problems, &["me:", "does not serve", "POST", "/api/me"]);
}

#[test]
fn a_function_named_in_the_mapping_only_is_seen() {
    let template = changed(
        "    Login: { Name: login }\n",
        "    Login: { Name: login }\n    Extra: { Name: extra }\n",
    );
    let problems = problems(&template, &workspace());
    assert_seen(&problems, &["Fn::ForEach::FunctionLogGroupAndRole", "leaves out", "Extra"]);
    assert_seen(&problems, &["names extra", "no AWS::Serverless::Function has Binary: extra"]);
    assert_seen(&problems, &["names extra", "no functions/extra"]);
    // The session table's loop reads a narrower mapping, which does not name Extra.
    assert!(!problems.iter().any(|p| p.contains("SessionTablePolicy")), "{problems:#?}");
}

#[test]
fn a_loop_over_a_function_the_mapping_lacks_is_seen() {
    let template = changed(
        "    - [Login, Callback, Issuer, Me, Logout, Refresh, Authorizer, Proxy]\n",
        "    - [Login, Callback, Issuer, Me, Logout, Refresh, Authorizer, Proxy, Extra]\n",
    );
    let problems = problems(&template, &workspace());
    assert_seen(&problems, &["FunctionLogGroupAndRole", "Extra", "Mappings: Functions lacks"]);
}

#[test]
fn a_function_the_throttles_alarm_does_not_watch_is_seen() {
    let template = changed("Value: !Ref MeFunction }]", "Value: !Ref LoginFunction }]");
    assert_seen(&problems(&template, &workspace()), &["ThrottlesAlarm", "MeFunction"]);
}

#[test]
fn a_crate_the_mapping_does_not_name_is_seen() {
    let mut workspace = workspace();
    workspace.insert("extra".into(), Serves::Events);
    let problems = problems(&template(), &workspace);
    assert_eq!(problems, ["functions/extra is a crate that Mappings: Functions does not name"]);
}
