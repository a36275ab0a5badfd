//! The layers of `shared` import one way, and no module imports another that imports it back.
//!
//! The layers are ARCHITECTURE.md's table ("Layers of `shared`"), read from the page itself: one
//! table, the one the reader sees. The test fails when the table cannot be read, or when its
//! modules are not the sources' modules. Then it reads every source file of `shared/src` (test
//! modules aside), takes each `crate::` and `super::` path it names outside comments, resolves
//! it to the module it lands in, and checks:
//!
//! - each top-level module imports only modules of a lower layer;
//! - the module graph, file by file, has no cycle.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Test-only modules: they may use anything, and nothing but tests (and the fuzz targets of
/// `fuzz/`, through the `fuzzing` feature) uses them.
const TEST_ONLY: [&str; 6] = [
    "testing",
    "proptests",
    "tests",
    "fuzzing",
    "functions::sessions_model",
    "functions::logout::world",
];

/// The heading of the section of ARCHITECTURE.md that holds the table.
const SECTION: &str = "### Layers of `shared`";

/// What a row of the table looks like, for the message when it cannot be read.
const FORMAT: &str = "a table `| layer | modules | holds |` with rows `| 3 `oidc` | `key`, `jwks` \
     | ... |` (a layer number, the top-level module, its modules) or `| 0 vocabulary | `error`, \
     `return_to` | ... |` (a layer named by no module: its modules are top-level ones); text in \
     parentheses is a comment";

type Module = Vec<String>;

/// One row of ARCHITECTURE.md's layer table.
#[derive(Debug, PartialEq)]
struct Row {
    layer: usize,
    /// The top-level modules the row puts in `layer`.
    top: Vec<String>,
    /// The modules inside `top`, for a row named by its module (`3 `oidc``); `None` for a layer
    /// named by no module (`0 vocabulary`), whose modules column names top-level modules.
    inside: Option<Vec<String>>,
}

/// The module names written in backquotes in `cell`, text in parentheses left out.
fn names(cell: &str) -> Result<Vec<String>, String> {
    let (mut bare, mut depth) = (String::new(), 0_usize);
    for c in cell.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => bare.push(c),
            _ => {}
        }
    }
    let quoted = bare.split('`').skip(1).step_by(2);
    quoted
        .map(|name| {
            let ok = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if ok { Ok(name.to_owned()) } else { Err(format!("`{name}` is not a module name")) }
        })
        .collect()
}

/// The layer table of `markdown` (ARCHITECTURE.md), or why it cannot be read.
fn table(markdown: &str) -> Result<Vec<Row>, String> {
    let section = markdown
        .split_once(SECTION)
        .ok_or_else(|| format!("no heading `{SECTION}`"))?
        .1
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('#'));
    let lines: Vec<&str> =
        section.skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')).collect();
    let cells = |line: &str| -> Vec<String> {
        let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
        inner.split('|').map(|c| c.trim().to_owned()).collect()
    };
    match lines.first() {
        Some(header) if cells(header).starts_with(&["layer".to_owned(), "modules".to_owned()]) => {}
        Some(other) => {
            return Err(format!("the table starts `{other}`, not `| layer | modules |`"));
        }
        None => return Err("no table after the heading".to_owned()),
    }
    let rule = |cell: &String| !cell.is_empty() && cell.chars().all(|c| c == '-' || c == ':');
    if !lines.get(1).is_some_and(|l| cells(l).iter().all(rule)) {
        return Err("the header is not followed by `| --- | --- | --- |`".to_owned());
    }
    let mut rows = Vec::new();
    for line in lines.iter().skip(2) {
        let at = |why: String| format!("row `{line}`: {why}");
        let row = cells(line);
        let [name, modules, ..] = &row[..] else {
            return Err(at("fewer than two cells".to_owned()));
        };
        let (number, label) = name.split_once(' ').unwrap_or((name, ""));
        let layer = number.parse().map_err(|_| at(format!("`{number}` is not a layer number")))?;
        let named = names(label).map_err(at)?;
        let listed = names(modules).map_err(at)?;
        if listed.is_empty() {
            return Err(at("no module in the modules column".to_owned()));
        }
        rows.push(match &named[..] {
            [] => Row { layer, top: listed, inside: None },
            [_] => Row { layer, top: named, inside: Some(listed) },
            _ => return Err(at("more than one module names the row".to_owned())),
        });
    }
    if rows.is_empty() {
        return Err("the table has no rows".to_owned());
    }
    let mut seen = BTreeSet::new();
    if let Some(twice) = rows.iter().flat_map(|r| &r.top).find(|m| !seen.insert(*m)) {
        return Err(format!("`{twice}` is in two rows"));
    }
    let numbers: BTreeSet<usize> = rows.iter().map(|r| r.layer).collect();
    if !numbers.iter().copied().eq(0..numbers.len()) {
        return Err(format!("the layers are not numbered 0, 1, 2... without a gap: {numbers:?}"));
    }
    Ok(rows)
}

/// ARCHITECTURE.md's layer table.
fn rows() -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ARCHITECTURE.md");
    let markdown =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let expected = format!("Expected under {SECTION}: {FORMAT}.");
    table(&markdown).unwrap_or_else(|why| {
        panic!("ARCHITECTURE.md's layer table cannot be read: {why}.\n{expected}")
    })
}

fn layer(rows: &[Row], top: &str) -> usize {
    let row = rows.iter().find(|r| r.top.iter().any(|t| t == top));
    row.map(|r| r.layer).unwrap_or_else(|| {
        panic!("top-level module `{top}` is in no row of ARCHITECTURE.md's layer table: add it")
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

/// Every source file of `shared/src`, and the modules they make.
fn sources() -> (PathBuf, Vec<PathBuf>, BTreeSet<Module>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let known: BTreeSet<Module> = all.iter().map(|f| module_of(&src, f)).collect();
    (src, all, known)
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let (src, all, known) = sources();
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
fn the_layer_table_names_the_modules_of_the_sources() {
    let (rows, (_, _, known)) = (rows(), sources());
    let ours = |m: &&Module| !is_test_only(m);
    let mut wrong = Vec::new();
    let mut compare = |what: &str, table: BTreeSet<String>, sources: BTreeSet<String>| {
        for m in table.difference(&sources) {
            wrong.push(format!("{what}: `{m}` is in the table, not in the sources"));
        }
        for m in sources.difference(&table) {
            wrong.push(format!("{what}: `{m}` is in the sources, not in the table"));
        }
    };
    let top_level = known.iter().filter(ours).filter(|m| m.len() == 1).map(|m| m[0].clone());
    let in_table = rows.iter().flat_map(|r| r.top.iter().cloned());
    compare("top-level modules", in_table.collect(), top_level.collect());
    for row in &rows {
        let (Some(inside), [top]) = (&row.inside, &row.top[..]) else { continue };
        let children = known.iter().filter(ours).filter(|m| m.len() == 2 && m[0] == *top);
        let children = children.map(|m| m[1].clone()).collect();
        compare(&format!("{} `{top}`", row.layer), inside.iter().cloned().collect(), children);
    }
    assert!(wrong.is_empty(), "ARCHITECTURE.md's layer table:\n{}", wrong.join("\n"));
}

#[test]
fn each_layer_imports_only_the_layers_below() {
    let (rows, graph) = (rows(), graph());
    assert!(graph.len() > 20, "the source files were found: {}", graph.len());
    let mut wrong = Vec::new();
    for (from, tos) in &graph {
        for to in tos {
            let (a, b) = (&from[0], &to[0]);
            if a != b && layer(&rows, b) >= layer(&rows, a) {
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
    let rows = rows();
    assert!(layer(&rows, "web") > layer(&rows, "tokens") && layer(&rows, "error") == 0);
}

#[test]
fn the_table_is_read_from_the_markdown_or_refused_clearly() {
    let page = |rows: &str| {
        format!(
            "# A\n\n{SECTION}\n\nThe rule.\n\n| layer | modules | holds |\n| --- | --- | --- |\n\
             {rows}\nAfter.\n\n## Next\n\n| layer | modules |\n| --- | --- |\n| 9 `x` | `y` |\n"
        )
    };
    let strings = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let rows = "| 1 `web` | `request`, `cookies` (and `KeyRing`) | the web |\n\
                | 1 `sessions` | `store` | |\n\
                | 0 vocabulary | `error`, `return_to` | words |";
    assert_eq!(
        table(&page(rows)).unwrap(),
        [
            Row {
                layer: 1,
                top: strings(&["web"]),
                inside: Some(strings(&["request", "cookies"]))
            },
            Row { layer: 1, top: strings(&["sessions"]), inside: Some(strings(&["store"])) },
            Row { layer: 0, top: strings(&["error", "return_to"]), inside: None },
        ]
    );
    for (rows, why) in [
        ("| one `web` | `request` | |", "`one` is not a layer number"),
        ("| 0 `web` | | |", "no module in the modules column"),
        ("| 0 `web` | `Request` | |", "`Request` is not a module name"),
        ("| 0 `web`, `oidc` | `key` | |", "more than one module names the row"),
        ("| 0 `web` | `a` |\n| 0 vocabulary | `web` |", "`web` is in two rows"),
        ("| 0 `web` | `a` |\n| 2 `oidc` | `b` |", "without a gap"),
        ("", "the table has no rows"),
    ] {
        let refused = table(&page(rows)).unwrap_err();
        assert!(refused.contains(why), "{rows}: {refused}");
    }
    assert!(table("# A\n\n## B\n").unwrap_err().contains("no heading"));
    let no_table = format!("{SECTION}\n\nProse only.\n\n## Next\n\n| layer | modules |\n");
    assert!(table(&no_table).unwrap_err().contains("no table"), "the next section's is not it");
    let no_rule = format!("{SECTION}\n\n| layer | modules | holds |\n| 0 `web` | `a` | |\n");
    assert!(table(&no_rule).unwrap_err().contains("not followed by `| --- |"));
}
