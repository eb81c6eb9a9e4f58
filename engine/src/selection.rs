//! Which media objects a command takes: shell patterns (`*`, `?`, `[…]`,
//! `**`) matched against object keys, as `backup --exclude` and `restore
//! --include/--exclude` give them.
//!
//! A pattern without `/` matches any one component of a key (`*.tmp`,
//! `.cache`); one with `/` matches the key from its start (`cache/thumbs`,
//! `2026/*/raw`), a leading `/` being the same. Either way, a pattern that
//! matches a directory matches everything under it.

use crate::error::{Error, Result};
use glob::{MatchOptions, Pattern};

#[derive(Debug, Clone, Default)]
pub struct Selection {
    patterns: Vec<(Pattern, bool)>,
}

const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl Selection {
    /// Patterns as given; an invalid one is refused, named.
    pub fn new(patterns: &[String]) -> Result<Selection> {
        let mut out = Vec::new();
        for p in patterns {
            let text = p.trim_start_matches('/').trim_end_matches('/');
            if text.is_empty() {
                return Err(Error::Invalid(format!("pattern {p:?} matches nothing")));
            }
            let anchored = p.contains('/') && text.contains('/') || p.starts_with('/');
            let pat = Pattern::new(text)
                .map_err(|e| Error::Invalid(format!("pattern {p:?}: {}", e.msg)))?;
            out.push((pat, anchored));
        }
        Ok(Selection { patterns: out })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern matches `key` or a directory above it.
    pub fn matches(&self, key: &str) -> bool {
        self.patterns.iter().any(|(p, anchored)| {
            if *anchored {
                // The key itself and each directory above it.
                key.match_indices('/')
                    .map(|(i, _)| &key[..i])
                    .chain(std::iter::once(key))
                    .any(|prefix| p.matches_with(prefix, OPTIONS))
            } else {
                key.split('/').any(|c| p.matches_with(c, OPTIONS))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(p: &[&str]) -> Selection {
        Selection::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn components_anchored_paths_and_directories() {
        let s = sel(&["*.tmp", ".cache"]);
        assert!(s.matches("a.tmp") && s.matches("x/y/a.tmp"));
        assert!(s.matches(".cache/z.jpg") && s.matches("u/.cache"));
        assert!(!s.matches("a.tmp.jpg") && !s.matches("cache/x"));
        let s = sel(&["cache/thumbs", "2026/*/raw"]);
        assert!(s.matches("cache/thumbs") && s.matches("cache/thumbs/a/b.jpg"));
        assert!(!s.matches("x/cache/thumbs/a.jpg"), "anchored at the start");
        assert!(s.matches("2026/01/raw/a.cr2") && !s.matches("2026/01/02/raw/a"));
        let s = sel(&["/top.jpg"]);
        assert!(s.matches("top.jpg") && !s.matches("d/top.jpg"));
        let s = sel(&["media/**/*.mp4"]);
        assert!(s.matches("media/a/b/c.mp4") && s.matches("media/c.mp4"));
        assert!(!sel(&[]).matches("anything"));
        let e = Selection::new(&["[".to_string()]).unwrap_err().to_string();
        assert!(e.starts_with("pattern \"[\": "), "{e}");
    }
}
