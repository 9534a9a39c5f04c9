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
