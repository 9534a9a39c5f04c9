//! Every relative Markdown link in README.md and docs/ points at a file that exists.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Targets of `[text](target)` links, outside fenced code blocks.
fn links(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            match after.find(')') {
                Some(j) => {
                    out.push(after[..j].to_owned());
                    rest = &after[j..];
                }
                None => break,
            }
        }
    }
    out
}

fn check(file: &Path, broken: &mut Vec<String>) {
    let text = std::fs::read_to_string(file).expect("readable");
    for target in links(&text) {
        if target.starts_with("http://")
            || target.starts_with("https://")
            || target.starts_with('#')
            || target.starts_with("mailto:")
        {
            continue;
        }
        let path = target.split('#').next().unwrap_or_default();
        let resolved = file.parent().expect("dir").join(path);
        if !resolved.exists() {
            broken.push(format!("{}: {target}", file.display()));
        }
    }
}

#[test]
fn markdown_links_resolve() {
    let mut files = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).expect("docs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    assert!(files.len() > 3, "docs found");
    let mut broken = Vec::new();
    for f in &files {
        check(f, &mut broken);
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn link_parser_finds_links() {
    assert_eq!(
        links("see [a](docs/a.md) and [b](b.md#x)\n```\n[no](skip.md)\n```"),
        vec!["docs/a.md", "b.md#x"]
    );
}

/// Test names cited in docs/security.md's "proof" column: the last `::` segment of
/// each backticked span in the table rows, `…::name` shorthand included.
fn cited_tests(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in markdown.lines().filter(|l| l.starts_with('|')) {
        let Some(proof) = line.trim_end_matches('|').rsplit('|').next() else {
            continue;
        };
        for (i, span) in proof.split('`').enumerate() {
            if i % 2 == 1 && span.contains("::") {
                let name = span.rsplit("::").next().unwrap_or_default().trim();
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    out.push(name.to_owned());
                }
            }
        }
    }
    out
}

fn rust_sources(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && name != "node_modules" {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

#[test]
fn every_test_docs_security_cites_exists() {
    let doc = std::fs::read_to_string(root().join("docs/security.md")).expect("security.md");
    let cited = cited_tests(&doc);
    assert!(cited.len() > 20, "citations found: {cited:?}");
    let mut sources = String::new();
    rust_sources(&root().join("crates"), &mut sources);
    rust_sources(&root().join("tests"), &mut sources);
    let missing: Vec<_> = cited
        .iter()
        .filter(|name| !sources.contains(&format!("fn {name}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/security.md cites tests that do not exist: {missing:?}"
    );
}

#[test]
fn cited_tests_are_read_from_the_proof_column() {
    let row =
        "| threat `a::not_me` | defence | `x::y::first`, `…::second`, `profile-api::api logs` |";
    assert_eq!(cited_tests(row), vec!["first", "second"]);
}
