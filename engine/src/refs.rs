//! The one walker that finds what a snapshot references: every tree node
//! under its roots and every data chunk its media entries name. Prune's
//! mark and a writer's pre-commit check share it (`check` walks with its
//! own, because it also decodes rows and names the files a damaged chunk
//! belongs to).

use crate::error::{Error, Result};
use crate::id::Id;
use crate::layout;
use crate::media::MediaEntry;
use crate::repo::Repository;
use crate::snapshot::MEDIA_ROOT;
use crate::tree::{Node, Root};
use std::cell::Cell;
use std::collections::HashSet;

/// Walk the trees under `roots`. `node` returns a node's bytes when it is
/// to be read (`None`: skip it and everything below it); `chunk` sees each
/// data chunk a media entry names.
pub(crate) fn walk_refs(
    roots: &[(String, Root)],
    mut node: impl FnMut(&Id) -> Result<Option<Vec<u8>>>,
    mut chunk: impl FnMut(&Id) -> Result<()>,
) -> Result<()> {
    for (name, root) in roots {
        let media = name == MEDIA_ROOT;
        let mut todo = vec![root.node];
        while let Some(id) = todo.pop() {
            let Some(bytes) = node(&id)? else {
                continue;
            };
            match Node::decode(&bytes).map_err(|e| Error::corrupt(format!("tree node {id}"), e))? {
                Node::Internal { children, .. } => {
                    todo.extend(children.iter().rev().map(|c| c.node))
                }
                Node::Leaf(entries) if media => {
                    for e in entries {
                        for c in &MediaEntry::decode(&e.value)?.chunks {
                            chunk(c)?;
                        }
                    }
                }
                Node::Leaf(_) => {}
            }
        }
    }
    Ok(())
}

/// How many blobs the trees under `roots` reference that are not in a
/// pack in `packs` (names as listed). For a writer whose session may have
/// looked abandoned (`Repository::before_commit`).
pub(crate) fn missing_blobs(
    repo: &Repository,
    roots: &[(String, Root)],
    packs: &HashSet<String>,
) -> Result<u64> {
    let present = |id: &Id| {
        repo.index()
            .lookup(id)
            .is_some_and(|l| packs.contains(&layout::pack(&l.pack)))
    };
    let missing = Cell::new(0u64);
    let mut seen = HashSet::new();
    walk_refs(
        roots,
        |id| {
            if !seen.insert(*id) {
                return Ok(None);
            }
            if !present(id) {
                missing.set(missing.get() + 1);
                return Ok(None);
            }
            repo.load_blob(id).map(Some)
        },
        |c| {
            if !present(c) {
                missing.set(missing.get() + 1);
            }
            Ok(())
        },
    )?;
    Ok(missing.get())
}
