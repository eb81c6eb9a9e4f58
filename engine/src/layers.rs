//! The engine's layers, kept by a test: each module may use only modules
//! of its own layer or below (`engine/DESIGN.md` says why each module
//! sits where it does).

/// Top-level modules by layer, bottom first.
pub const LAYERS: [&[&str]; 7] = [
    // 0. No knowledge of anything else.
    &[
        "error",
        "id",
        "util",
        "failpoint",
        "progress",
        "codec",
        "layout",
        "crypto",
        "secret",
        "selection",
    ],
    // 1. Named byte objects.
    &[
        "metered",
        "direct_write",
        "s3_listing",
        "backend",
        "fault_store",
    ],
    // 2. The content-addressed blob store.
    &[
        "copies", "config", "keys", "pack", "index", "plan", "session", "upload", "repo",
    ],
    // 3. Generic structure over blobs.
    &[
        "chunker",
        "tree",
        "refs",
        "snapshot",
        "snapshot_cache",
        "media",
        "row",
        "schema",
        "drill_record",
    ],
    // 4. What Jant means, a stored database read back, and the database
    // clients the sources and sinks share.
    &["jant", "database", "dbclient"],
    // 5. The outside world: sources and sinks.
    &["source", "restore", "export", "capture"],
    // 6. Commands.
    &[
        "backup", "check", "copy", "diff", "drill", "forget", "prune", "repair", "import", "stats",
        "demo", "report",
    ],
];

/// The layer of a top-level module, if it has one.
pub fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The top-level modules a source file names through `crate::`,
    /// including inside `use crate::{a, b::c}` groups.
    fn crate_uses(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // Top-level items of the group, brace depth 0.
                let mut depth = 0;
                let mut item = String::new();
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            out.push(first_segment(&item));
                            item.clear();
                            continue;
                        }
                        _ => {}
                    }
                    if depth == 0 {
                        item.push(c);
                    }
                }
                out.push(first_segment(&item));
            } else {
                out.push(first_segment(rest));
            }
        }
        out.retain(|m| !m.is_empty());
        out
    }

    fn first_segment(s: &str) -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    }

    #[test]
    fn no_module_uses_a_higher_layer() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        let mut todo = vec![src.clone()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    todo.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    files.push(p);
                }
            }
        }
        let mut wrong = Vec::new();
        let mut placed = 0;
        for f in &files {
            let rel = f.strip_prefix(&src).unwrap();
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            // The crate root, the test-only decoder corpus and the in-memory
            // command tier use everything.
            if top == "lib" || top == "decode_fuzz" || top == "layers" || top == "memory_tier" {
                continue;
            }
            let Some(own) = layer_of(&top) else {
                wrong.push(format!("{}: module {top} has no layer", rel.display()));
                continue;
            };
            placed += 1;
            let text = std::fs::read_to_string(f).unwrap();
            for used in crate_uses(&text) {
                match layer_of(&used) {
                    Some(l) if l > own => wrong.push(format!(
                        "{} (layer {own}) uses crate::{used} (layer {l})",
                        rel.display()
                    )),
                    _ => {}
                }
            }
        }
        assert!(placed > 40, "only {placed} files checked");
        assert!(wrong.is_empty(), "layer violations:\n{}", wrong.join("\n"));
    }

    #[test]
    fn uses_are_read_from_groups_too() {
        let text =
            "use crate::{backup::now_ns, tree::{Node, Root}};\nlet x = crate::prune::plan();";
        assert_eq!(crate_uses(text), ["backup", "tree", "prune"]);
    }
}
