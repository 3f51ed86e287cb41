//! The documents that point into the source stay true:
//!
//! - every `src/FILE.rs:name` (or `src/FILE.rs:Type::member`) in `docs/guide.md` names a
//!   definition in that file;
//! - every Rust path in the second column of the README's table of the 37
//!   implementation details (`ppo::buffer::compute_gae`, `Trainer::iterate`,
//!   `PpoConfig::clip_vloss`, …) resolves: its module to a file under `src/`, its last
//!   name to a definition in that module (or a file of its directory, for a
//!   re-export), a `Type::member` to a member defined beside the type.
//!
//! "Defined" is read off the source text: `fn`, `struct`, `enum`, `trait`, `type`,
//! `const`, `static` or `mod` followed by the name, a field (`name:` opening a line),
//! or a function parameter.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.rs` file under `src/`, by its path relative to the crate.
fn sources() -> BTreeMap<PathBuf, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root()).unwrap().to_path_buf();
                out.insert(rel, read(&path));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&root().join("src"), &mut out);
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `word` occurs in `text` as a whole identifier right after `prefix`.
fn after(text: &str, prefix: &str, word: &str) -> bool {
    let needle = format!("{prefix}{word}");
    text.match_indices(&needle).any(|(i, _)| {
        let before_ok = i == 0 || !text[..i].ends_with(is_ident_char);
        let rest = &text[i + needle.len()..];
        before_ok && !rest.starts_with(is_ident_char)
    })
}

/// `name` is defined in `text` (see the module docs).
fn defines(text: &str, name: &str) -> bool {
    let keywords = ["fn ", "struct ", "enum ", "trait ", "type ", "const ", "static ", "mod "];
    keywords.iter().any(|k| after(text, k, name))
        || text.lines().any(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("pub(crate) ").or_else(|| l.strip_prefix("pub ")).unwrap_or(l);
            l.starts_with(&format!("{name}:"))
                || (l.contains("fn ") && (l.contains(&format!("({name}: ")) || l.contains(&format!(", {name}: "))))
        })
}

/// The module files whose path ends with `segments` (`["ppo", "buffer"]` →
/// `src/algo/buffer.rs`; `["train"]` → `src/algo/train.rs`).
fn module_files<'a>(src: &'a BTreeMap<PathBuf, String>, segments: &[&str]) -> Vec<&'a PathBuf> {
    src.keys()
        .filter(|p| {
            let mut parts: Vec<String> =
                p.iter().skip(1).map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            parts.len() >= segments.len()
                && parts[parts.len() - segments.len()..].iter().zip(segments).all(|(a, b)| a == b)
        })
        .collect()
}

/// The files of the module tree rooted at `file` (itself, and for `x/mod.rs` or `x.rs`
/// every file under `x/`).
fn tree<'a>(src: &'a BTreeMap<PathBuf, String>, file: &Path) -> Vec<(&'a PathBuf, &'a String)> {
    let dir = if file.ends_with("mod.rs") { file.parent().unwrap().to_path_buf() } else { file.with_extension("") };
    src.iter().filter(|(p, _)| *p == file || p.starts_with(&dir)).collect()
}

/// Resolves a Rust path from the README's table; `Err` says what is missing.
fn resolve(src: &BTreeMap<PathBuf, String>, path: &str) -> Result<(), String> {
    let segs: Vec<&str> = path.split("::").collect();
    // The longest prefix that names a module.
    for k in (1..=segs.len()).rev() {
        let files = module_files(src, &segs[..k]);
        if files.is_empty() {
            continue;
        }
        let rest = &segs[k..];
        for file in files {
            let in_tree = tree(src, file);
            let ok = match rest {
                [] => true,
                [name] => in_tree.iter().any(|(_, t)| defines(t, name)),
                [ty, member] => in_tree.iter().any(|(_, t)| defines(t, ty) && defines(t, member)),
                _ => false,
            };
            if ok {
                return Ok(());
            }
        }
        return Err(format!("`{path}`: `{}` is not defined in module {}", rest.join("::"), segs[..k].join("::")));
    }
    // No module prefix: a crate-wide name, or `Type::member` defined beside the type.
    let ok = match segs.as_slice() {
        [name] => src.values().any(|t| defines(t, name)),
        [ty, member] => src.values().any(|t| defines(t, ty) && defines(t, member)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{path}` is not defined anywhere under src/"))
    }
}

/// The backticked spans of `text`.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn details_table(readme: &str) -> Vec<&str> {
    let start = readme.find("## PPO implementation details").expect("README has its details table");
    let section = &readme[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
    section[..end]
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| detail"))
        .collect()
}

#[test]
fn every_name_in_the_readmes_details_table_exists() {
    let src = sources();
    let readme = read(&root().join("README.md"));
    let rows = details_table(&readme);
    assert!(rows.len() >= 25, "the table has {} rows", rows.len());
    let mut checked = 0;
    let mut missing = Vec::new();
    for row in rows {
        let cells: Vec<&str> = row.split('|').collect();
        let where_ = cells.get(2).unwrap_or_else(|| panic!("row without a second column: {row}"));
        for span in code_spans(where_) {
            // Paths and names only (not flags such as `--threads 2`).
            if !span.chars().all(|c| is_ident_char(c) || c == ':') {
                continue;
            }
            checked += 1;
            if let Err(e) = resolve(&src, span) {
                missing.push(e);
            }
        }
    }
    assert!(checked >= 40, "only {checked} names checked");
    assert!(
        missing.is_empty(),
        "names in README.md's implementation-details table that do not exist:\n{}",
        missing.join("\n")
    );
}

/// The table's third and fourth columns: every row names a test that shows its detail
/// (`tests/FILE.rs:test`, a function that file defines) and a config key (one of the
/// config's keys, or — for a detail that is always on); no cell is empty.
#[test]
fn every_detail_names_a_test_that_exists_and_a_real_config_key() {
    let readme = read(&root().join("README.md"));
    let rows = details_table(&readme);
    let keys: Vec<&str> = ppo::algo::config::KEY_DOCS.iter().map(|d| d.name).collect();
    let mut problems = Vec::new();
    for row in &rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let [_, detail, where_, shown_by, key, ..] = cells[..] else {
            problems.push(format!("{row}: fewer than four columns"));
            continue;
        };
        if [detail, where_, shown_by, key].iter().any(|c| c.is_empty()) {
            problems.push(format!("{detail}: an empty cell"));
        }
        let tests: Vec<&str> = code_spans(shown_by).into_iter().filter(|s| s.starts_with("tests/")).collect();
        if tests.is_empty() {
            problems.push(format!("{detail}: no `tests/FILE.rs:test` shows it"));
        }
        for span in tests {
            let Some((file, name)) = span.split_once(':') else {
                problems.push(format!("{detail}: `{span}` names no test"));
                continue;
            };
            match std::fs::read_to_string(root().join(file)) {
                Ok(text) if text.contains(&format!("fn {name}(")) => {}
                Ok(_) => problems.push(format!("{detail}: {file} has no fn {name}")),
                Err(_) => problems.push(format!("{detail}: no file {file}")),
            }
        }
        let named = code_spans(key);
        if named.is_empty() && key != "—" {
            problems.push(format!("{detail}: key cell `{key}` is neither a key nor —"));
        }
        for k in named {
            if !keys.contains(&k) {
                problems.push(format!("{detail}: `{k}` is not a config key (ppo help keys)"));
            }
        }
    }
    assert!(rows.len() >= 37, "the table has {} rows", rows.len());
    assert!(problems.is_empty(), "README.md's details table:\n{}", problems.join("\n"));
}

#[test]
fn every_file_function_in_the_guide_exists() {
    let guide = read(&root().join("docs/guide.md"));
    let mut checked = 0;
    let mut missing = Vec::new();
    for span in code_spans(&guide) {
        let Some((file, name)) = span.split_once(".rs:") else { continue };
        if !file.starts_with("src/") || !name.chars().all(|c| is_ident_char(c) || c == ':') {
            continue;
        }
        checked += 1;
        let path = root().join(format!("{file}.rs"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            missing.push(format!("`{span}`: no file {file}.rs"));
            continue;
        };
        if !name.split("::").all(|part| defines(&text, part)) {
            missing.push(format!("`{span}`: {file}.rs does not define {name}"));
        }
    }
    assert!(checked >= 25, "only {checked} file:function references in docs/guide.md");
    assert!(missing.is_empty(), "docs/guide.md names what is not there:\n{}", missing.join("\n"));
    // The tour defers to the README's table for the 37 details, and names each exercise.
    assert!(guide.contains("README.md#ppo-implementation-details"), "the guide links the details table");
    for e in ppo::exercises::Exercise::ALL {
        assert!(guide.contains(&format!("check {}", e.name())), "the guide has no `check {}`", e.name());
    }
}

/// The checks above can fail: a made-up name does not resolve.
#[test]
fn a_made_up_name_does_not_resolve() {
    let src = sources();
    assert!(resolve(&src, "algo::buffer::compute_gae").is_ok());
    assert!(resolve(&src, "Trainer::iterate").is_ok());
    assert!(resolve(&src, "algo::buffer::compute_gaes").is_err());
    assert!(resolve(&src, "Trainer::iterates").is_err());
    assert!(resolve(&src, "nn::Mlp::newer").is_err());
    assert!(!defines("pub fn compute_gae_split(", "compute_gae"));
}
