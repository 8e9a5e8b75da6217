//! No import cycles between modules: the code's paths (`crate::a::b`, `super::b`) make a
//! graph of source files, which must have no cycle. A module and the modules inside it are
//! one unit here (a parent declares its children, and children use their parent's shared
//! items); siblings and cousins are not. Test modules (`#[cfg(test)]` to the end of a file)
//! and comments are left out: they may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, by its module path (`report::section`; `lib` is the root).
fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<Vec<String>, PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            let mut inner = prefix.to_vec();
            inner.push(name);
            modules(&path, &inner, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !(prefix.is_empty() && name == "main")
        {
            // (src/main.rs is the binary: another crate, which reaches the library by name.)
            let mut module = prefix.to_vec();
            if !matches!(name.as_str(), "mod" | "lib" | "main") {
                module.push(name);
            }
            out.insert(module, path);
        }
    }
}

/// The code of a file without comments and its trailing test module.
fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths `code` names: `crate::a::b::Item` as [a, b, Item], `super::` relative to
/// `module`, brace groups expanded one level.
fn paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < bytes.len() {
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        let starts = |w: &str| rest.starts_with(w) && (i == 0 || !ident(bytes[i - 1]));
        let base: Option<Vec<String>> = if starts("crate::") {
            i += 7;
            Some(Vec::new())
        } else if starts("super::") {
            i += 7;
            // `super` of report/mod.rs is the crate; of report/a.rs, report.
            let mut up = module.to_vec();
            up.pop();
            while bytes[i..].iter().collect::<String>().starts_with("super::") {
                up.pop();
                i += 7;
            }
            Some(up)
        } else {
            None
        };
        let Some(mut path) = base else {
            i += 1;
            continue;
        };
        loop {
            let start = i;
            while i < bytes.len() && ident(bytes[i]) {
                i += 1;
            }
            if i > start {
                path.push(bytes[start..i].iter().collect());
            }
            if bytes[i..].iter().take(2).collect::<String>() == "::" {
                i += 2;
                if i < bytes.len() && bytes[i] == '{' {
                    // One brace group: each item's first segment.
                    let close = (i..bytes.len()).find(|&j| bytes[j] == '}').unwrap_or(i);
                    let group: String = bytes[i + 1..close].iter().collect();
                    for item in group.split(',') {
                        let first: String = item.trim().chars().take_while(|&c| ident(c)).collect();
                        if !first.is_empty() && first != "self" {
                            let mut p = path.clone();
                            p.push(first);
                            out.push(p);
                        }
                    }
                    i = close;
                    break;
                }
                continue;
            }
            break;
        }
        out.push(path);
    }
    out
}

/// The longest module of `known` that `path` starts with.
fn resolve(path: &[String], known: &BTreeMap<Vec<String>, PathBuf>) -> Option<Vec<String>> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| known.contains_key(p))
}

fn related(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

/// The modules of the crate whose sources are `src`, and which modules each one names.
fn graph(src: &Path) -> (BTreeMap<Vec<String>, PathBuf>, Graph) {
    let mut known = BTreeMap::new();
    modules(src, &[], &mut known);
    let mut edges: Graph = BTreeMap::new();
    for (module, file) in &known {
        let text = std::fs::read_to_string(file).unwrap();
        for path in paths(&code(&text), module) {
            if let Some(target) = resolve(&path, &known) {
                if !related(module, &target) {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    (known, edges)
}

/// Cycles of the crate whose sources are `src`, each as its modules in order.
fn cycles(src: &Path) -> Vec<Vec<String>> {
    let (known, edges) = graph(src);
    // A depth-first search from every module; a back edge closes a cycle.
    let name = |m: &Vec<String>| match m.is_empty() {
        true => "lib".to_string(),
        false => m.join("::"),
    };
    let mut found = BTreeSet::new();
    for start in known.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, trail)) = stack.pop() {
            for next in edges.get(&node).into_iter().flatten() {
                if next == start {
                    let mut cycle: Vec<String> = trail.iter().map(name).collect();
                    // One spelling per cycle: rotated to start at its least module.
                    let least = (0..cycle.len()).min_by_key(|&k| cycle[k].clone()).unwrap();
                    cycle.rotate_left(least);
                    found.insert(cycle);
                } else if seen.insert(next.clone()) {
                    let mut longer = trail.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    found.into_iter().collect()
}

#[test]
fn no_module_imports_itself_through_others() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for src in [root.join("src"), root.join("crates/core/src")] {
        let found = cycles(&src);
        assert!(
            found.is_empty(),
            "import cycles in {}:\n{}",
            src.display(),
            found
                .iter()
                .map(|c| c.join(" -> "))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn the_check_sees_a_cycle_between_siblings() {
    let dir = std::env::temp_dir().join(format!("imports-check-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("report")).unwrap();
    let write = |file: &str, text: &str| std::fs::write(dir.join(file), text).unwrap();
    write("lib.rs", "pub mod report;\npub mod cell;\n");
    write("cell.rs", "pub struct Cell;\n");
    write(
        "report/mod.rs",
        "pub mod a;\npub mod b;\nuse crate::cell::Cell;\n",
    );
    write("report/a.rs", "use super::b::{B, other};\npub struct A;\n");
    write(
        "report/b.rs",
        "use crate::report::{a::A};\n// use crate::cell;\npub struct B;\n#[cfg(test)]\nmod tests {\n    use crate::lib;\n}\n",
    );
    let found = cycles(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found, vec![vec!["report::a", "report::b"]]);
}

/// The modules of `src` that `start` (a module path, `a::b`) reaches through the paths its
/// code names, with the modules inside each one, itself included.
fn reached(src: &Path, start: &str) -> BTreeMap<Vec<String>, PathBuf> {
    let (known, edges) = graph(src);
    let start: Vec<String> = start.split("::").map(String::from).collect();
    assert!(known.contains_key(&start), "no module {start:?}");
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(module) = stack.pop() {
        if !seen.insert(module.clone()) {
            continue;
        }
        // A module holds its children (it declares them).
        let inside = known
            .keys()
            .filter(|m| m.len() > module.len() && m.starts_with(&module));
        stack.extend(inside.cloned());
        stack.extend(edges.get(&module).into_iter().flatten().cloned());
    }
    known
        .into_iter()
        .filter(|(m, _)| seen.contains(m))
        .collect()
}

/// The modules `start` reaches whose code names libtorch (`tch::`, `torch_sys`).
fn reaching_libtorch(src: &Path, start: &str) -> Vec<String> {
    reached(src, start)
        .into_iter()
        .filter(|(_, file)| {
            let text = code(&std::fs::read_to_string(file).unwrap());
            ["tch::", "torch_sys"].iter().any(|t| text.contains(t))
        })
        .map(|(m, _)| m.join("::"))
        .collect()
}

#[test]
fn the_plan_estimates_catalog_shards_and_hub_never_reach_libtorch() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for start in ["plan", "estimate", "catalog", "shard", "hub"] {
        let found = reaching_libtorch(&src, start);
        assert!(
            found.is_empty(),
            "{start} reaches libtorch through {found:?}"
        );
    }
    // The check sees it where it is: the libtorch builds and their framework.
    assert!(reaching_libtorch(&src, "models").contains(&"models::bert".to_string()));
    assert!(!reaching_libtorch(&src, "frameworks").is_empty());
}
