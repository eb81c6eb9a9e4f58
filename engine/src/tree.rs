//! Content-defined ("prolly") trees: an ordered map of byte keys to byte
//! values, stored as tree-node blobs. (format-spec/README.md §6)
//!
//! Where a node ends is decided by the entries themselves: after an entry of
//! `s` bytes whose key hashes (blake3 of level byte ‖ key, first 8 bytes as
//! a little-endian u64) to `h`, the node ends when `h mod target < s`. So a
//! node holds about `target` bytes, and the same entries always make the
//! same nodes: an unchanged listing produces the same root id and stores
//! nothing new, and one changed entry rewrites only its leaf and the
//! internal nodes above it. A node that reaches 8 × target is cut regardless;
//! the next content-defined cut resynchronises the two trees.
//!
//! The tree knows nothing of files or rows: media listings and database
//! tables both use it, with their own key and value encodings.

use crate::codec;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::pack::BlobKind;
use crate::repo::Repository;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashSet;

pub const MAGIC: &[u8; 4] = b"JRTN";
pub const VERSION: u16 = 1;
const HARD_CAP_FACTOR: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafEntry {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    pub first_key: Vec<u8>,
    pub node: Id,
    /// Number of leaf entries below this child.
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Node {
    Leaf(Vec<LeafEntry>),
    Internal { level: u8, children: Vec<Child> },
}

/// The root of a tree as a snapshot records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    pub node: Id,
    pub count: u64,
}

impl Node {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(MAGIC, VERSION, self)
    }

    /// Decode and check the invariants a walker relies on: keys strictly
    /// increasing, internal nodes non-empty with a level above zero.
    pub fn decode(bytes: &[u8]) -> Result<Node> {
        let n: Node = codec::decode("tree node", MAGIC, VERSION, bytes)?;
        let ordered = |keys: &mut dyn Iterator<Item = &Vec<u8>>| {
            let mut prev: Option<&Vec<u8>> = None;
            for k in keys {
                if prev.is_some_and(|p| p >= k) {
                    return false;
                }
                prev = Some(k);
            }
            true
        };
        let ok = match &n {
            Node::Leaf(e) => ordered(&mut e.iter().map(|e| &e.key)),
            Node::Internal { level, children } => {
                *level > 0
                    && !children.is_empty()
                    && ordered(&mut children.iter().map(|c| &c.first_key))
            }
        };
        if !ok {
            return Err(Error::corrupt(
                "tree node",
                "keys out of order or empty internal node",
            ));
        }
        Ok(n)
    }
}

/// The value stored under `key`, reading one node per level of the tree.
pub fn get(repo: &Repository, root: &Id, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut id = *root;
    loop {
        match load_node(repo, &id)? {
            Node::Leaf(entries) => {
                return Ok(entries.into_iter().find(|e| e.key == key).map(|e| e.value))
            }
            Node::Internal { children, .. } => {
                // The last child whose first key is not above `key`.
                match children
                    .iter()
                    .rev()
                    .find(|c| c.first_key.as_slice() <= key)
                {
                    Some(c) => id = c.node,
                    None => return Ok(None),
                }
            }
        }
    }
}

pub fn load_node(repo: &Repository, id: &Id) -> Result<Node> {
    decode_node(id, &repo.load_blob(id)?)
}

fn decode_node(id: &Id, bytes: &[u8]) -> Result<Node> {
    Node::decode(bytes).map_err(|e| e.about(format!("tree node {id}")))
}

/// Stored bytes one read of sibling nodes fetches at most.
const SIBLINGS_RUN_BYTES: u64 = 4 << 20;
/// Bytes of other blobs such a read passes over rather than start another.
const SIBLINGS_RUN_GAP: u64 = 64 << 10;

/// Load several nodes at once, each with its own outcome. A backup writes
/// a tree's nodes next to each other in its packs, so siblings are read
/// together, one ranged GET for each stretch of a pack (from a remote
/// repository, the stretches in parallel). Node by node, each a round
/// trip, listing the media tree of `benches/s3.sh` from a Garage on
/// loopback took 11 GETs in a row, 0.44 s (issue 18). A stretch that
/// cannot be read is retried node by node, so each node fails or not on
/// its own (a tree node is read from its pack's copy then, §4.3).
pub fn load_nodes(repo: &Repository, ids: &[Id]) -> Vec<Result<Node>> {
    let mut located = Vec::with_capacity(ids.len());
    {
        let idx = repo.index();
        for (i, id) in ids.iter().enumerate() {
            if let Some(loc) = idx.lookup(id) {
                located.push((i, loc));
            }
        }
    }
    located.sort_by_key(|(_, a)| (a.pack.0, a.offset));
    let mut runs: Vec<&[(usize, crate::index::BlobLoc)]> = Vec::new();
    let mut start = 0;
    for k in 1..=located.len() {
        let joins = located.get(k).is_some_and(|(_, loc)| {
            Repository::extends_run(
                &located[start].1,
                &located[k - 1].1,
                loc,
                SIBLINGS_RUN_GAP,
                Some(SIBLINGS_RUN_BYTES),
            )
        });
        if !joins {
            runs.push(&located[start..k]);
            start = k;
        }
    }
    let read = |run: &[(usize, crate::index::BlobLoc)]| -> Vec<(usize, Result<Node>)> {
        let blobs: Vec<(Id, crate::index::BlobLoc)> =
            run.iter().map(|(i, loc)| (ids[*i], *loc)).collect();
        let mut nodes = Vec::with_capacity(run.len());
        let read = repo.load_run(&blobs, |k, data| {
            let i = run[k].0;
            nodes.push((i, decode_node(&ids[i], data)));
            Ok(())
        });
        if read.is_err() {
            for (i, _) in &run[nodes.len()..] {
                nodes.push((*i, load_node(repo, &ids[*i])));
            }
        }
        nodes
    };
    // A local read takes microseconds: one after another. Remote reads
    // wait on round trips, so they go in parallel, on threads of their
    // own: a rayon pool may be busy with the media for the whole restore,
    // and a database build waiting on it would wait for all of them.
    let got: Vec<(usize, Result<Node>)> = if runs.len() < 2 || repo.backend().local_root().is_some()
    {
        runs.iter().flat_map(|run| read(run)).collect()
    } else {
        let lanes = runs.len().min(crate::util::REMOTE_THREADS);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..lanes)
                .map(|lane| {
                    let (runs, read) = (&runs, &read);
                    s.spawn(move || {
                        runs.iter()
                            .skip(lane)
                            .step_by(lanes)
                            .flat_map(|run| read(run))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    let mut out: Vec<Option<Result<Node>>> = (0..ids.len()).map(|_| None).collect();
    for (i, node) in got {
        out[i] = Some(node);
    }
    // Nodes the index did not have are looked for as before (a fresh
    // index, then the error that names them).
    out.into_iter()
        .enumerate()
        .map(|(i, n)| n.unwrap_or_else(|| load_node(repo, &ids[i])))
        .collect()
}

/// Whether the node closes after an entry of `size` bytes that brought it
/// to `filled` bytes. The chance of a cut grows with the node's fill
/// (`2·size·filled / T²`, a Rayleigh distribution of node sizes): nodes
/// cluster around T instead of spreading exponentially, so the leaves that
/// scattered edits touch, which are picked in proportion to their size,
/// average ~1.1·T rather than 2·T. The hash still comes from the key
/// alone, so after an edit the cuts fall back in step with the old ones.
fn is_boundary(level: u8, key: &[u8], size: usize, filled: usize, target: usize) -> bool {
    if size >= target {
        return true;
    }
    let mut h = blake3::Hasher::new();
    h.update(&[level]);
    h.update(key);
    let d = h.finalize();
    let mut x = [0u8; 8];
    x.copy_from_slice(&d.as_bytes()[..8]);
    let t = target as u128;
    (u64::from_le_bytes(x) as u128 % (t * t)) < 2 * size as u128 * filled as u128
}

#[derive(Default)]
struct Level {
    children: Vec<Child>,
    bytes: usize,
}

/// Builds a tree from entries pushed in strictly increasing key order.
pub struct TreeBuilder<'r> {
    repo: &'r Repository,
    target: usize,
    leaf: Vec<LeafEntry>,
    leaf_bytes: usize,
    upper: Vec<Level>,
    last_key: Option<Vec<u8>>,
    count: u64,
    /// Off for a digest: node ids are computed, nothing is stored.
    store_nodes: bool,
    /// Nodes this build stored that the repository did not have.
    pub new_nodes: u64,
    pub nodes: u64,
}

impl<'r> TreeBuilder<'r> {
    pub fn new(repo: &'r Repository) -> TreeBuilder<'r> {
        TreeBuilder {
            repo,
            target: repo.config().tree_node_target as usize,
            leaf: Vec::new(),
            leaf_bytes: 0,
            upper: Vec::new(),
            last_key: None,
            count: 0,
            store_nodes: true,
            new_nodes: 0,
            nodes: 0,
        }
    }

    /// A builder that computes the root the same entries would have in
    /// this repository without storing a node: a digest to compare with a
    /// root recorded earlier.
    pub fn hashing(repo: &'r Repository) -> TreeBuilder<'r> {
        TreeBuilder {
            store_nodes: false,
            ..TreeBuilder::new(repo)
        }
    }

    pub fn push(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        if let Some(last) = &self.last_key {
            if *last >= key {
                return Err(Error::Invalid(format!(
                    "tree keys must be strictly increasing: {:?} after {:?}",
                    String::from_utf8_lossy(&key),
                    String::from_utf8_lossy(last)
                )));
            }
        }
        self.last_key = Some(key.clone());
        self.count += 1;
        let size = key.len() + value.len();
        self.leaf_bytes += size;
        let cut = is_boundary(0, &key, size, self.leaf_bytes, self.target);
        self.leaf.push(LeafEntry { key, value });
        if cut || self.leaf_bytes >= HARD_CAP_FACTOR * self.target {
            self.emit_leaf()?;
        }
        Ok(())
    }

    fn store(&mut self, node: &Node) -> Result<Id> {
        if !self.store_nodes {
            self.nodes += 1;
            return Ok(self.repo.blob_id(&node.encode()));
        }
        let (id, new) = self.repo.save_blob(BlobKind::Tree, &node.encode())?;
        self.nodes += 1;
        self.new_nodes += new as u64;
        Ok(id)
    }

    fn emit_leaf(&mut self) -> Result<()> {
        let entries = std::mem::take(&mut self.leaf);
        self.leaf_bytes = 0;
        let first_key = entries.first().map(|e| e.key.clone()).unwrap_or_default();
        let count = entries.len() as u64;
        let node = self.store(&Node::Leaf(entries))?;
        self.push_child(
            1,
            Child {
                first_key,
                node,
                count,
            },
        )
    }

    fn push_child(&mut self, level: u8, child: Child) -> Result<()> {
        let i = level as usize - 1;
        if self.upper.len() <= i {
            self.upper.push(Level::default());
        }
        let size = child.first_key.len() + 40;
        let l = &mut self.upper[i];
        l.bytes += size;
        let cut = is_boundary(level, &child.first_key, size, l.bytes, self.target);
        l.children.push(child);
        if cut || l.bytes >= HARD_CAP_FACTOR * self.target {
            self.emit_internal(level)?;
        }
        Ok(())
    }

    fn emit_internal(&mut self, level: u8) -> Result<()> {
        let l = std::mem::take(&mut self.upper[level as usize - 1]);
        let first_key = l.children[0].first_key.clone();
        let count = l.children.iter().map(|c| c.count).sum();
        let node = self.store(&Node::Internal {
            level,
            children: l.children,
        })?;
        self.push_child(
            level + 1,
            Child {
                first_key,
                node,
                count,
            },
        )
    }

    pub fn finish(mut self) -> Result<Root> {
        if self.upper.is_empty() {
            let entries = std::mem::take(&mut self.leaf);
            let node = self.store(&Node::Leaf(entries))?;
            return Ok(Root {
                node,
                count: self.count,
            });
        }
        if !self.leaf.is_empty() {
            self.emit_leaf()?;
        }
        let mut level = 1usize;
        loop {
            let top = level == self.upper.len();
            let n = self.upper[level - 1].children.len();
            if top && n == 1 {
                let c = &self.upper[level - 1].children[0];
                return Ok(Root {
                    node: c.node,
                    count: c.count,
                });
            }
            if n > 0 {
                self.emit_internal(level as u8)?;
            }
            level += 1;
        }
    }
}

/// Build a tree from already sorted entries.
pub fn build<I>(repo: &Repository, entries: I) -> Result<Root>
where
    I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
{
    let mut b = TreeBuilder::new(repo);
    for (k, v) in entries {
        b.push(k, v)?;
    }
    b.finish()
}

/// In-order iterator over a tree's entries. Opening an internal node loads
/// all its children together (`load_nodes`), so at most one node's
/// children per level are held.
pub struct Iter<'r> {
    repo: &'r Repository,
    stack: Vec<std::vec::IntoIter<Step>>,
    /// With `salvage`: the subtrees that could not be read (how many
    /// entries their parent says they held, and why), passed over.
    lost: Option<Vec<(u64, Error)>>,
}

enum Item {
    Sub { level: u8, node: Id, count: u64 },
    Entry(LeafEntry),
}

fn items(node: Node) -> Vec<Item> {
    match node {
        Node::Leaf(e) => e.into_iter().map(Item::Entry).collect(),
        Node::Internal { level, children } => children
            .into_iter()
            .map(|c| Item::Sub {
                level: level - 1,
                node: c.node,
                count: c.count,
            })
            .collect(),
    }
}

/// What an `Iter` holds of a level: entries, or subtrees (loaded, or the
/// root, not yet).
enum Step {
    Sub {
        node: Id,
        count: u64,
        loaded: Option<Result<Node>>,
    },
    Entry(LeafEntry),
}

fn steps(repo: &Repository, node: Node) -> Vec<Step> {
    match node {
        Node::Leaf(e) => e.into_iter().map(Step::Entry).collect(),
        Node::Internal { children, .. } => {
            let ids: Vec<Id> = children.iter().map(|c| c.node).collect();
            load_nodes(repo, &ids)
                .into_iter()
                .zip(children)
                .map(|(n, c)| Step::Sub {
                    node: c.node,
                    count: c.count,
                    loaded: Some(n),
                })
                .collect()
        }
    }
}

pub fn iter<'r>(repo: &'r Repository, root: &Id) -> Iter<'r> {
    Iter {
        repo,
        stack: vec![vec![Step::Sub {
            node: *root,
            count: 0,
            loaded: None,
        }]
        .into_iter()],
        lost: None,
    }
}

/// `iter` for a recovery: a node that cannot be read (damaged, missing)
/// costs the entries under it, not the rest of the tree; `Iter::lost`
/// says what was passed over.
pub fn iter_salvaging<'r>(repo: &'r Repository, root: &Root) -> Iter<'r> {
    let mut it = iter(repo, &root.node);
    it.stack = vec![vec![Step::Sub {
        node: root.node,
        count: root.count,
        loaded: None,
    }]
    .into_iter()];
    it.lost = Some(Vec::new());
    it
}

impl Iter<'_> {
    /// The subtrees a salvaging iterator passed over: (entries, why).
    pub fn lost(&mut self) -> Vec<(u64, Error)> {
        self.lost.take().unwrap_or_default()
    }
}

impl Iterator for Iter<'_> {
    type Item = Result<LeafEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let top = self.stack.last_mut()?;
            match top.next() {
                None => {
                    self.stack.pop();
                }
                Some(Step::Entry(e)) => return Some(Ok(e)),
                Some(Step::Sub {
                    node,
                    count,
                    loaded,
                }) => match loaded.unwrap_or_else(|| load_node(self.repo, &node)) {
                    Ok(n) => {
                        let next = steps(self.repo, n);
                        self.stack.push(next.into_iter())
                    }
                    Err(e) => match &mut self.lost {
                        Some(lost) => lost.push((count, e)),
                        None => {
                            self.stack.clear();
                            return Some(Err(e));
                        }
                    },
                },
            }
        }
    }
}

/// Visit every node of a tree that is not yet in `seen`, adding it there;
/// a subtree already seen is not descended, so trees that share structure
/// (successive snapshots) are walked once between them.
pub fn walk_nodes(
    repo: &Repository,
    root: &Id,
    seen: &mut HashSet<Id>,
    mut f: impl FnMut(&Node) -> Result<()>,
) -> Result<()> {
    let mut todo = vec![*root];
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        let n = load_node(repo, &id)?;
        f(&n)?;
        if let Node::Internal { children, .. } = &n {
            todo.extend(children.iter().rev().map(|c| c.node));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(LeafEntry),
    Removed(LeafEntry),
    Modified {
        key: Vec<u8>,
        old: Vec<u8>,
        new: Vec<u8>,
    },
}

/// What a diff cost: the proof that it followed the changes, not the sizes.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct DiffCost {
    pub nodes_loaded: u64,
    pub entries_skipped: u64,
}

/// Walk two trees together and report changed entries in key order.
/// Whenever both sides are at the same subtree id, the subtree is skipped
/// unread; otherwise the side with the taller subtree is opened first, so
/// identical subtrees below a changed node still line up and are skipped.
pub fn diff(
    repo: &Repository,
    a: Option<&Id>,
    b: Option<&Id>,
    mut f: impl FnMut(Change) -> Result<()>,
) -> Result<DiffCost> {
    let mut cost = DiffCost::default();
    let start = |r: Option<&Id>| -> Vec<Item> {
        r.map(|id| {
            vec![Item::Sub {
                level: u8::MAX,
                node: *id,
                count: 0,
            }]
        })
        .unwrap_or_default()
    };
    // Stacks hold the remaining items in reverse order (next item last).
    let mut sa = start(a);
    let mut sb = start(b);
    let expand = |s: &mut Vec<Item>, cost: &mut DiffCost| -> Result<()> {
        if let Some(Item::Sub { node, .. }) = s.pop() {
            let n = load_node(repo, &node)?;
            cost.nodes_loaded += 1;
            let mut it = items(n);
            it.reverse();
            s.extend(it);
        }
        Ok(())
    };
    loop {
        match (sa.last(), sb.last()) {
            (None, None) => return Ok(cost),
            (Some(Item::Sub { node: x, count, .. }), Some(Item::Sub { node: y, .. })) if x == y => {
                cost.entries_skipped += *count;
                sa.pop();
                sb.pop();
            }
            (Some(Item::Sub { level: la, .. }), Some(Item::Sub { level: lb, .. })) => {
                let (la, lb) = (*la, *lb);
                if la >= lb {
                    expand(&mut sa, &mut cost)?;
                }
                if lb >= la {
                    expand(&mut sb, &mut cost)?;
                }
            }
            (Some(Item::Sub { .. }), _) => expand(&mut sa, &mut cost)?,
            (_, Some(Item::Sub { .. })) => expand(&mut sb, &mut cost)?,
            (Some(Item::Entry(x)), Some(Item::Entry(y))) => match x.key.cmp(&y.key) {
                Ordering::Less => {
                    if let Some(Item::Entry(e)) = sa.pop() {
                        f(Change::Removed(e))?;
                    }
                }
                Ordering::Greater => {
                    if let Some(Item::Entry(e)) = sb.pop() {
                        f(Change::Added(e))?;
                    }
                }
                Ordering::Equal => {
                    if let (Some(Item::Entry(x)), Some(Item::Entry(y))) = (sa.pop(), sb.pop()) {
                        if x.value != y.value {
                            f(Change::Modified {
                                key: x.key,
                                old: x.value,
                                new: y.value,
                            })?;
                        }
                    }
                }
            },
            (Some(Item::Entry(_)), None) => {
                if let Some(Item::Entry(e)) = sa.pop() {
                    f(Change::Removed(e))?;
                }
            }
            (None, Some(Item::Entry(_))) => {
                if let Some(Item::Entry(e)) = sb.pop() {
                    f(Change::Added(e))?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::collections::BTreeMap;

    fn repo(dir: &std::path::Path) -> Repository {
        let mut c = Config::new_random();
        c.tree_node_target = 512;
        Repository::init(dir.to_str().unwrap(), c, None).unwrap()
    }

    fn build_map(r: &Repository, m: &BTreeMap<Vec<u8>, Vec<u8>>) -> Root {
        let root = build(r, m.iter().map(|(k, v)| (k.clone(), v.clone()))).unwrap();
        r.flush().unwrap();
        root
    }

    #[test]
    fn get_finds_every_key_through_internal_nodes_and_no_other() {
        let t = tempfile::tempdir().unwrap();
        let r = repo(t.path());
        let m: BTreeMap<Vec<u8>, Vec<u8>> = (0..3000u64)
            .map(|i| {
                (
                    format!("k{:06}", i * 2).into_bytes(),
                    i.to_le_bytes().to_vec(),
                )
            })
            .collect();
        let root = build_map(&r, &m);
        assert!(matches!(
            load_node(&r, &root.node).unwrap(),
            Node::Internal { .. }
        ));
        for (k, v) in m.iter().step_by(37) {
            assert_eq!(get(&r, &root.node, k).unwrap().as_ref(), Some(v));
        }
        for missing in ["k000001", "k005999", "a", "z", ""] {
            assert_eq!(
                get(&r, &root.node, missing.as_bytes()).unwrap(),
                None,
                "{missing}"
            );
        }
    }

    #[test]
    fn same_entries_same_root_and_diff_matches_naive() {
        let t = tempfile::tempdir().unwrap();
        let r = repo(t.path());
        let mut x = 42u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut a = BTreeMap::new();
        for i in 0..5000u64 {
            a.insert(
                format!("k{:08}", rnd() % 1_000_000).into_bytes(),
                i.to_le_bytes().to_vec(),
            );
        }
        let ra = build_map(&r, &a);
        assert_eq!(ra.count, a.len() as u64);
        assert_eq!(
            build_map(&r, &a),
            ra,
            "same entries must give the same root"
        );
        let got: Vec<LeafEntry> = iter(&r, &ra.node).map(|e| e.unwrap()).collect();
        assert_eq!(got.len(), a.len());
        assert!(got
            .iter()
            .zip(a.iter())
            .all(|(e, (k, v))| &e.key == k && &e.value == v));

        for round in 0..5 {
            let mut b = a.clone();
            for _ in 0..(1 + round * 20) {
                match rnd() % 3 {
                    0 => {
                        b.insert(
                            format!("k{:08}", rnd() % 1_000_000).into_bytes(),
                            b"new".to_vec(),
                        );
                    }
                    1 => {
                        let k = b.keys().nth(rnd() as usize % b.len()).cloned().unwrap();
                        b.remove(&k);
                    }
                    _ => {
                        let k = b.keys().nth(rnd() as usize % b.len()).cloned().unwrap();
                        b.insert(k, b"changed".to_vec());
                    }
                }
            }
            let rb = build_map(&r, &b);
            let mut want = Vec::new();
            for (k, v) in &a {
                match b.get(k) {
                    None => want.push(Change::Removed(LeafEntry {
                        key: k.clone(),
                        value: v.clone(),
                    })),
                    Some(w) if w != v => want.push(Change::Modified {
                        key: k.clone(),
                        old: v.clone(),
                        new: w.clone(),
                    }),
                    _ => {}
                }
            }
            for (k, v) in &b {
                if !a.contains_key(k) {
                    want.push(Change::Added(LeafEntry {
                        key: k.clone(),
                        value: v.clone(),
                    }));
                }
            }
            let key = |c: &Change| match c {
                Change::Added(e) | Change::Removed(e) => e.key.clone(),
                Change::Modified { key, .. } => key.clone(),
            };
            want.sort_by_key(key);
            let mut got = Vec::new();
            let cost = diff(&r, Some(&ra.node), Some(&rb.node), |c| {
                got.push(c);
                Ok(())
            })
            .unwrap();
            assert_eq!(got, want, "round {round}");
            if round == 0 {
                assert!(cost.entries_skipped > 4000, "{cost:?}");
            }
        }
    }

    #[test]
    fn empty_and_single_entry_trees() {
        let t = tempfile::tempdir().unwrap();
        let r = repo(t.path());
        let e = build(&r, Vec::new()).unwrap();
        r.flush().unwrap();
        assert_eq!(e.count, 0);
        assert_eq!(iter(&r, &e.node).count(), 0);
        let one = build(&r, vec![(b"k".to_vec(), vec![0u8; 10_000])]).unwrap();
        r.flush().unwrap();
        let mut n = 0;
        diff(&r, Some(&e.node), Some(&one.node), |c| {
            assert!(matches!(c, Change::Added(_)));
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 1);
        assert!(build(&r, vec![(b"b".to_vec(), vec![]), (b"a".to_vec(), vec![])]).is_err());
    }
}
