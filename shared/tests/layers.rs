//! The layers of `shared` import one way, and no module imports another that imports it back.
//!
//! Reads every source file of `shared/src` (test modules aside), takes each `crate::` and
//! `super::` path it names outside comments, resolves it to the module it lands in, and checks
//! (ARCHITECTURE.md, "Layers"):
//!
//! - each top-level module imports only modules of a lower layer, or its own;
//! - the module graph, file by file, has no cycle.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may import its own layer's modules and those below.
const LAYERS: [&[&str]; 6] = [
    &["error", "return_to"],
    &["infra"],
    &["tokens"],
    &["oidc", "sessions"],
    &["web"],
    &["functions"],
];

/// Test-only modules: they may use anything, and nothing but tests uses them.
const TEST_ONLY: [&str; 4] = ["testing", "proptests", "functions::template", "tests"];

type Module = Vec<String>;

fn layer(top: &str) -> usize {
    LAYERS.iter().position(|l| l.contains(&top)).unwrap_or_else(|| {
        panic!("top-level module `{top}` is in no layer: add it to LAYERS and ARCHITECTURE.md")
    })
}

fn is_test_only(module: &Module) -> bool {
    let path = module.join("::");
    module.last().is_some_and(|m| m == "tests")
        || TEST_ONLY.iter().any(|t| path == *t || path.starts_with(&format!("{t}::")))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Module = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The paths after `crate::` or `super::` in `code`, as written (`a::b::C`).
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    code.match_indices(prefix)
        .filter(|(i, _)| {
            // A whole path segment: not `my_crate::`.
            code[..*i].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        })
        .map(|(i, _)| {
            let rest = &code[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches(':')
        })
        .collect()
}

/// The longest known module that `segments` (from the crate root) starts with.
fn resolve(known: &BTreeSet<Module>, segments: &[String]) -> Option<Module> {
    (1..=segments.len()).rev().map(|n| segments[..n].to_vec()).find(|m| known.contains(m))
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let known: BTreeSet<Module> = all.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &all {
        let module = module_of(&src, file);
        if module.is_empty() || is_test_only(&module) {
            continue; // lib.rs only declares and re-exports.
        }
        let text = std::fs::read_to_string(file).unwrap();
        // The file's own code: comments and its `#[cfg(test)]` tail are not imports.
        let code: String = text
            .lines()
            .take_while(|l| l.trim() != "#[cfg(test)]")
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut edges = BTreeSet::new();
        for path in paths_after(&code, "crate::") {
            let segments: Module = path.split("::").map(str::to_owned).collect();
            edges.extend(resolve(&known, &segments));
        }
        // `super::` is the parent of a file's module (a `mod.rs` counts as its own module).
        let is_mod_rs = file.file_name().is_some_and(|n| n == "mod.rs");
        let parent: Module =
            if is_mod_rs { module.clone() } else { module[..module.len() - 1].to_vec() };
        for path in paths_after(&code, "super::") {
            let mut segments = parent.clone();
            segments.extend(path.split("::").map(str::to_owned));
            edges.extend(resolve(&known, &segments));
        }
        edges.retain(|m| m != &module && !m.is_empty());
        graph.insert(module, edges);
    }
    graph
}

#[test]
fn each_layer_imports_only_the_layers_below() {
    let graph = graph();
    assert!(graph.len() > 20, "the source files were found: {}", graph.len());
    let mut wrong = Vec::new();
    for (from, tos) in &graph {
        for to in tos {
            let (a, b) = (&from[0], &to[0]);
            if a != b && layer(b) >= layer(a) {
                wrong.push(format!("{} imports {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = graph();
    // Depth-first search; a grey node met again closes a cycle.
    fn visit(
        node: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, bool>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        match state.get(node) {
            Some(true) => return None,
            Some(false) => {
                let start = stack.iter().position(|m| m == node).unwrap_or(0);
                return Some(stack[start..].to_vec());
            }
            None => {}
        }
        state.insert(node.clone(), false);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(node.clone(), true);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        let cycle = visit(node, &graph, &mut state, &mut Vec::new());
        let names: Vec<String> = cycle.unwrap_or_default().iter().map(|m| m.join("::")).collect();
        assert!(names.is_empty(), "import cycle: {}", names.join(" -> "));
    }
}

#[test]
fn the_checks_see_paths_and_cycles() {
    assert_eq!(
        paths_after("use crate::oidc::jwks::{A, B};\nlet x = my_crate::y;", "crate::"),
        ["oidc::jwks"]
    );
    let known: BTreeSet<Module> =
        [vec!["oidc".to_owned()], vec!["oidc".to_owned(), "jwks".to_owned()]].into();
    let segments: Module = ["oidc", "jwks", "JwksCache"].map(str::to_owned).into();
    assert_eq!(resolve(&known, &segments), Some(segments[..2].to_vec()));
    assert!(layer("web") > layer("tokens") && layer("error") == 0);
}
