//! The repository: config, index and the content-addressed blob store.
//!
//! Write order, and why a crash never leaves an invalid repository
//! (format-spec/README.md §8):
//! 1. blobs go into packs; each full pack is written atomically under the
//!    blake3 of its bytes;
//! 2. `flush` writes the remaining packs, then one index file naming them;
//! 3. only then is the snapshot written, and the snapshot is the commit
//!    point.
//!
//! A crash before (2) leaves packs no index names; before (3), an index whose
//! blobs no snapshot uses. Both are merely unreferenced; readers never see a
//! snapshot whose blobs are missing. Nothing existing is ever rewritten or
//! deleted by a backup, so any number of backups may run at once: they can
//! only add distinct names, or the same name with the same bytes.

use crate::backend::Backend;
use crate::config::{Config, Encryption, Stored};
use crate::crypto::{Context, MasterKey};
use crate::error::{Error, Result};
use crate::failpoint;
use crate::id::Id;
use crate::index::{Index, IndexFile, IndexPack};
use crate::layout;
use crate::pack::{self, BlobKind, Codec, EncodedBlob, PackWriter};
use crate::plan::Plan;
use crate::session::Session;
use crate::upload::Uploader;
use bytes::Bytes;
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// What this process has added to the repository since it opened it.
#[derive(Debug, Default)]
pub struct SaveCounters {
    pub blobs: AtomicU64,
    pub raw_bytes: AtomicU64,
    pub stored_bytes: AtomicU64,
    pub packs: AtomicU64,
    /// Stored bytes of blobs written twice into one pack so that its name
    /// differs from a condemned pack's (format-spec §12.4).
    pub repeated_bytes: AtomicU64,
}

/// Asked for the password when, and only when, the repository is
/// encrypted (a plaintext one never prompts).
pub type Password<'a> = &'a dyn Fn() -> Result<zeroize::Zeroizing<String>>;

/// The first key of a new encrypted repository.
pub struct NewKey {
    pub password: zeroize::Zeroizing<String>,
    pub kdf: crate::keys::KdfParams,
}

pub struct Repository {
    backend: Backend,
    config: Config,
    /// In an encrypted repository: the master key, and the key object
    /// the password opened (`key` commands need both).
    master: Option<(MasterKey, String)>,
    index: RwLock<Index>,
    /// The plans loaded with the index, and the packs they condemn.
    plans: RwLock<Plans>,
    /// This process's session marker, if it opened one (format-spec §12).
    session: Mutex<Option<Session>>,
    packers: [Mutex<PackWriter>; 2],
    /// Buffers of written data packs, for the next ones.
    data_pack_buffers: pack::BufferPool,
    /// Ids saved by this process that the loaded index does not hold yet;
    /// also stops two workers storing the same new chunk twice.
    pending: Mutex<HashSet<Id>>,
    written: Mutex<Vec<IndexPack>>,

    pub saved: Arc<SaveCounters>,
    /// The thread that PUTs full packs, started by the first one.
    uploader: Mutex<Option<Uploader>>,
    /// Why a reader runs without a session marker (the storage refused to
    /// take one: a read-only mount or key), for the caller to tell.
    unregistered: Mutex<Option<String>>,
    /// `Some` when opened for repair: index files that failed to load.
    damaged_index: Mutex<Option<Vec<(String, String)>>>,
    /// Set by prune: the in-memory index stays as loaded, so positions in
    /// it (prune's mark bitmap) stay valid; see `freeze`.
    frozen: AtomicBool,
    /// Why the config could not be opened, when its copy was used.
    config_damage: Option<String>,
    /// A reader's open: packs that a damaged index file named are indexed
    /// in memory from their own headers, for this process only.
    heal_index: bool,
    /// What that healing did: (damaged index file, why), packs indexed.
    healed: Mutex<(Vec<(String, String)>, u64)>,
    /// Set by `open_trees`: the index holds tree packs only, until a
    /// data blob is read (`load_blob`).
    trees_only: AtomicBool,
    /// Held while a lookup that missed loads the whole index, so that a
    /// miss on another thread meanwhile waits for it instead of failing.
    widening: Mutex<()>,
}

#[derive(Default)]
struct Plans {
    loaded: Vec<(Id, Plan)>,
    /// The packs `loaded` condemns, and any a prune is about to condemn
    /// (`avoid_names`): new packs never take one of these names.
    condemned: HashSet<Id>,
}

/// Where a pack of `kind` is closed (format-spec §3, `pack_size`). A site
/// backup fills a pack of each kind at once (rows and listings, media
/// chunks) while another goes out: tree packs close at a quarter of the
/// size, which keeps that below 128 MiB. Tree nodes are read one at a time,
/// so a reader gains nothing from larger tree packs.
fn pack_target(config: &Config, kind: BlobKind) -> usize {
    match kind {
        BlobKind::Data => config.pack_size as usize,
        BlobKind::Tree => config.pack_size as usize / 4,
    }
}

fn kind_slot(kind: BlobKind) -> usize {
    match kind {
        BlobKind::Data => 0,
        BlobKind::Tree => 1,
    }
}

impl Repository {
    /// Create a repository at `location` with `config`.
    ///
    /// The config must not replace another's: two `init`s racing on one
    /// bucket would otherwise leave packs encrypted-under (keyed by) a key
    /// the surviving config does not hold. Where the store enforces
    /// create-if-absent (probed once, never assumed), the config is written
    /// with it; where it silently ignores it (Garage), the config is written,
    /// read back and compared, which catches a racing `init` unless both
    /// writes land before either read (format-spec §8.6).
    ///
    /// With `key`, the repository is encrypted (format-spec §13): a random
    /// master key, wrapped by the key's password in `keys/<id>`, seals
    /// every other object; `config`'s blob-id key is derived from it.
    pub fn init(location: &str, config: Config, key: Option<NewKey>) -> Result<Repository> {
        Repository::create(Backend::open(location, true)?, location, config, key, None)
    }

    /// Create a repository at `location` whose blobs have the same ids as
    /// `source`'s, so that `copy` moves snapshots between them blob by
    /// blob, deduplicated (as borg 2's `rcreate --other-repo`): the same
    /// config but a new repository id, and, when `source` is encrypted,
    /// its master key (which the blob-id key derives from) wrapped by
    /// `key`'s password. An encrypted source needs `key`; a plaintext one
    /// takes none (an encrypted copy would derive other ids).
    pub fn init_sharing_ids(
        location: &str,
        source: &Repository,
        key: Option<NewKey>,
    ) -> Result<Repository> {
        let config = Config {
            repo_id: rand::random(),
            ..source.config.clone()
        };
        let master = match (&source.master, &key) {
            (Some((m, _)), Some(_)) => Some(MasterKey::from_bytes(*m.bytes())),
            (None, None) => None,
            (Some(_), None) => {
                return Err(Error::Invalid(
                    "the source repository is encrypted: its copy must be too (it shares the source's master key, under its own password)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(Error::refused(
                    "the source repository is plaintext, and blob ids of an encrypted repository derive from its own key: a copy of it that shares ids is plaintext too",
                    crate::error::Hint::InsecureNoEncryption,
                ))
            }
        };
        Repository::create(
            Backend::open(location, true)?,
            location,
            config,
            key,
            master,
        )
    }

    /// Create a repository at `location` with a new random config unless
    /// one is there already (the default repository, made on first use);
    /// whether it was created. `key` is asked only when it is created.
    pub fn init_if_missing(
        location: &str,
        key: impl FnOnce() -> Result<Option<NewKey>>,
    ) -> Result<bool> {
        // An existing repository is left exactly as it is (its root's
        // mode included: `init` would make it 0700).
        if let Ok(b) = Backend::open(location, false) {
            if b.head(layout::CONFIG)?.is_some() {
                return Ok(false);
            }
        }
        Repository::init(location, Config::new_random(), key()?).map(|_| true)
    }

    /// `init` on a store the caller opened (an in-memory one).
    pub fn init_in(backend: Backend, config: Config, key: Option<NewKey>) -> Result<Repository> {
        let location = backend.location().to_string();
        Repository::create(backend, &location, config, key, None)
    }

    /// Messages name the repository as the user gave it (`location`).
    fn create(
        backend: Backend,
        location: &str,
        mut config: Config,
        key: Option<NewKey>,
        master: Option<MasterKey>,
    ) -> Result<Repository> {
        config.validate()?;
        if backend.head(layout::CONFIG)?.is_some() {
            return Err(Error::AlreadyARepository(location.to_string()));
        }
        if let Some(root) = backend.local_root() {
            let mut rd = std::fs::read_dir(root).map_err(|e| Error::io(root, e))?;
            if rd.next().is_some() {
                return Err(Error::DirectoryNotEmpty(location.to_string()));
            }
        } else if backend.has_any("")? {
            return Err(Error::DirectoryNotEmpty(location.to_string()));
        }
        // The key object goes first: a config that names encryption is
        // never without a key that opens it. A racing `init` that loses
        // leaves its key object behind, which opens nothing of this
        // repository's (the config's seal fails under its master key).
        let (bytes, master) = match key {
            None => {
                config.encryption = Encryption::None;
                (Bytes::from(config.encode()), None)
            }
            Some(k) => {
                let master = master.unwrap_or_else(MasterKey::random);
                // AES-256-GCM (format version 3) unless the caller asked
                // for version 2's XChaCha20-Poly1305 (a copy of such a
                // repository, or a test of one).
                if config.encryption != Encryption::XChaCha20Poly1305 {
                    config.encryption = Encryption::Aes256Gcm;
                }
                config.key = master.blob_id_key();
                let name = crate::keys::add(&backend, &master, &k.password, k.kdf)?;
                (
                    Bytes::from(config.encode_sealed(&master.sealer())),
                    Some((master, name)),
                )
            }
        };
        if backend.local_root().is_some() || backend.probe_create_if_absent(layout::PROBE)? {
            if !backend.put_if_absent(layout::CONFIG, bytes.clone())? {
                return Err(Error::AlreadyARepository(location.to_string()));
            }
        } else {
            backend.put(layout::CONFIG, bytes.clone())?;
            if backend.get(layout::CONFIG)? != bytes {
                return Err(Error::AlreadyARepository(location.to_string()));
            }
        }
        // The copy only once this init's config won: a racing init that
        // lost never writes one.
        backend.put(layout::CONFIG_COPY, bytes)?;
        let backend = with_object_sealer(backend, &master, &config);
        let mut repo = Repository::with(backend, config, Index::default());
        repo.master = master;
        Ok(repo)
    }

    /// Open an existing repository and load its index.
    pub fn open(location: &str, password: Password) -> Result<Repository> {
        Repository::open_inner(location, None, password)
    }

    /// Open for a command that reads tree nodes only (listing, diffing
    /// and searching snapshots): the index holds only the packs of tree
    /// nodes, which a media-heavy repository has a few thousand blobs of
    /// against millions of chunks (`jarc diff` of two million-object
    /// snapshots spent 0.2 s of its 0.55 s loading and sorting the chunks'
    /// entries). Reading a data blob loads the rest of the index first, so
    /// a command that turns out to need one is slower, never wrong; storing
    /// a blob is refused.
    pub fn open_trees(location: &str, password: Password) -> Result<Repository> {
        Repository::open_trees_in(Backend::open(location, false)?, password)
    }

    /// `open_trees` on a store the caller opened.
    pub fn open_trees_in(backend: Backend, password: Password) -> Result<Repository> {
        let location = backend.location().to_string();
        Repository::load(backend, &location, None, password, false, true)
    }

    /// Open a repository for a command a concurrent prune must not break:
    /// a session marker goes up before the index is loaded (format-spec
    /// §12.3). A `writer` (backup, import) records the plans it saw and
    /// reuses no blob they condemn; any other session holds back every
    /// plan until it ends.
    pub fn open_session(
        location: &str,
        command: &str,
        writer: bool,
        password: Password,
    ) -> Result<Repository> {
        Repository::open_inner(location, Some((command, writer)), password)
    }

    fn open_inner(
        location: &str,
        session: Option<(&str, bool)>,
        password: Password,
    ) -> Result<Repository> {
        let backend = Backend::open(location, false)?;
        Repository::load(backend, location, session, password, false, false)
    }

    /// Open for `repair index`: a reader session, and an index file that is
    /// damaged is recorded (`damaged_index_files`) instead of stopping the
    /// open. Only repair may work on such a partial index: anything else
    /// would take the damaged file's packs for unindexed leftovers.
    pub fn open_for_repair(location: &str, password: Password) -> Result<Repository> {
        let backend = Backend::open(location, false)?;
        Repository::load(
            backend,
            location,
            Some(("repair", false)),
            password,
            true,
            false,
        )
    }

    /// `open_for_repair` on a store the caller opened.
    pub fn open_in_for_repair(backend: Backend, password: Password) -> Result<Repository> {
        let location = backend.location().to_string();
        Repository::load(
            backend,
            &location,
            Some(("repair", false)),
            password,
            true,
            false,
        )
    }

    /// The index files an `open_for_repair` found damaged, with why.
    pub fn damaged_index_files(&self) -> Vec<(String, String)> {
        self.damaged_index
            .lock()
            .map(|d| d.clone().unwrap_or_default())
            .unwrap_or_default()
    }

    /// `open` (`session` = `None`) or `open_session` (`Some((command,
    /// writer))`) on a store the caller opened (an in-memory one).
    pub fn open_in(
        backend: Backend,
        session: Option<(&str, bool)>,
        password: Password,
    ) -> Result<Repository> {
        let location = backend.location().to_string();
        Repository::load(backend, &location, session, password, false, false)
    }

    fn load(
        backend: Backend,
        location: &str,
        session: Option<(&str, bool)>,
        password: Password,
        tolerant: bool,
        trees_only: bool,
    ) -> Result<Repository> {
        let raw = match backend.get(layout::CONFIG) {
            Ok(b) => b,
            Err(Error::NotFound(_)) => return Err(Error::NotARepository(location.to_string())),
            Err(e) => return Err(e),
        };
        let (config, master, config_damage) = match open_config(&backend, location, &raw, password)
        {
            Ok((c, m)) => (c, m, None),
            // A damaged config is read from its copy, when there is one
            // (repositories made before the copy existed have none) and it
            // opens. A config naming a version this jarc does not know is
            // damaged too when its copy opens: a newer format writes the
            // copy first and the config last (format-spec §3), so an
            // upgrade never leaves an older copy beside a newer config.
            Err(e) if !matches!(e, Error::WrongPassword { .. } | Error::NoPassword(_)) => {
                match backend.get(layout::CONFIG_COPY) {
                    Ok(copy) if copy != raw => {
                        match open_config(&backend, location, &copy, password) {
                            Ok((c, m)) => {
                                tracing::warn!(error = %e, "the config is damaged; its copy opened the repository");
                                (c, m, Some(e.to_string()))
                            }
                            Err(_) => return Err(e),
                        }
                    }
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let backend = with_object_sealer(backend, &master, &config);
        let mut repo = Repository::with(backend, config, Index::default());
        repo.master = master;
        repo.config_damage = config_damage;
        repo.trees_only = AtomicBool::new(trees_only);
        // A command that only reads goes on past a damaged index file (the
        // packs it named are read from their headers, for this run only);
        // a writer or prune must not: to them the packs would look like
        // leftovers, and a writer would store their blobs again.
        let reader = session.is_none_or(|(command, writer)| !writer && command != "prune");
        if tolerant || reader {
            repo.damaged_index = Mutex::new(Some(Vec::new()));
            repo.heal_index = reader && !tolerant;
        }
        if let Some((command, writer)) = session {
            let s = match Session::begin(&repo.backend, command) {
                Ok(s) => s,
                // A command that only reads works on storage it cannot
                // write (a read-only mount, a read-only bucket key). Its
                // marker only holds back prunes; without one, a prune
                // elsewhere may delete a pack it is about to read, and the
                // read then reloads the index once and retries (format-spec
                // §12.3), or fails naming the pack.
                Err(e) if !writer && command != "prune" => {
                    *repo.unregistered.lock().map_err(|_| poisoned())? = Some(e.to_string());
                    repo.reload_index()?;
                    return Ok(repo);
                }
                Err(e) => return Err(e),
            };
            *repo.session.lock().map_err(|_| poisoned())? = Some(s);
            repo.reload_index()?;
            if writer {
                let seen = repo.plans().into_iter().map(|(id, _)| id).collect();
                repo.with_session(|s| s.set_seen(Some(seen)))?;
            }
        } else {
            repo.reload_index()?;
        }
        Ok(repo)
    }

    /// Why this reader runs without a session marker, if it does.
    pub fn unregistered(&self) -> Option<String> {
        self.unregistered.lock().ok().and_then(|u| u.clone())
    }

    fn with_session(&self, f: impl FnOnce(&Session) -> Result<()>) -> Result<()> {
        match &*self.session.lock().map_err(|_| poisoned())? {
            Some(s) => f(s),
            None => Ok(()),
        }
    }

    /// The plans loaded with the index.
    pub fn plans(&self) -> Vec<(Id, Plan)> {
        self.plans
            .read()
            .map(|p| p.loaded.clone())
            .unwrap_or_default()
    }

    /// Whether a loaded plan condemns this pack.
    pub fn is_condemned(&self, pack: &Id) -> bool {
        self.plans
            .read()
            .map(|p| p.condemned.contains(pack))
            .unwrap_or(true)
    }

    /// The name of this process's session marker, if it opened one.
    pub fn session_name(&self) -> Option<String> {
        self.session
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(|s| s.name.clone()))
    }

    /// Keep the in-memory index exactly as loaded: `flush` writes index
    /// files without adding them to it, and a blob whose pack vanished is
    /// an error instead of a reload. Prune's bitmaps are indexed by blob
    /// position, which any change would shift.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::Relaxed);
    }

    /// Treat more packs as condemned when naming new packs (prune, for
    /// the plan it is about to write): a copy must never get the name, so
    /// the bytes, of a pack about to be deleted.
    pub fn avoid_names(&self, packs: impl IntoIterator<Item = Id>) {
        if let Ok(mut p) = self.plans.write() {
            p.condemned.extend(packs);
        }
    }

    /// Called by a writer just before it commits a snapshot. If its
    /// session may have looked abandoned to a prune (it could not refresh
    /// its marker for half the stale time), the marker is set to hold back
    /// every plan, the index is reloaded and the packs listed, and
    /// `missing` counts the blobs the snapshot references that are in none
    /// of those packs (`refs::missing_blobs`): a prune may have deleted
    /// something in the gap, and committing then would lose it.
    pub fn before_commit(
        &self,
        missing: impl FnOnce(&Repository, &HashSet<String>) -> Result<u64>,
    ) -> Result<()> {
        let mut at_risk = false;
        self.with_session(|s| {
            at_risk = s.at_risk();
            if at_risk {
                s.set_seen(None)?;
            }
            Ok(())
        })?;
        if !at_risk {
            return Ok(());
        }
        self.reload_index()?;
        let packs: HashSet<String> = self
            .backend
            .list(layout::DATA)?
            .into_iter()
            .map(|l| l.name)
            .collect();
        let missing = missing(self, &packs)?;
        if missing > 0 {
            return Err(Error::Invalid(format!(
                "this run was suspended for longer than half the session stale time ({} s) and a prune deleted {missing} blob(s) it relies on meanwhile; nothing was committed, run it again",
                crate::session::STALE.as_secs() / 2
            )));
        }
        Ok(())
    }

    fn with(backend: Backend, config: Config, index: Index) -> Repository {
        Repository {
            backend,
            config,
            master: None,
            index: RwLock::new(index),
            plans: RwLock::default(),
            session: Mutex::default(),
            packers: [Mutex::default(), Mutex::default()],
            data_pack_buffers: Default::default(),
            pending: Mutex::default(),
            written: Mutex::default(),
            saved: Arc::default(),
            uploader: Mutex::default(),
            unregistered: Mutex::default(),
            damaged_index: Mutex::default(),
            frozen: Default::default(),
            config_damage: None,
            heal_index: false,
            healed: Mutex::default(),
            trees_only: AtomicBool::new(false),
            widening: Mutex::default(),
        }
    }

    /// Read the plans, then every index file. The order matters: a prune
    /// deletes a plan only after the index files naming its packs, so an
    /// index file naming a deleted pack is never loaded without the plan
    /// that marks it condemned. Index files are decoded independently, so a
    /// repository with thousands of them costs one LIST plus one GET each.
    pub fn reload_index(&self) -> Result<()> {
        self.load_index(self.trees_only.load(Ordering::Acquire))
    }

    /// `reload_index`, of the tree packs only or of all.
    fn load_index(&self, trees_only: bool) -> Result<()> {
        let started = std::time::Instant::now();
        let loaded = crate::plan::load_all(&self.backend)?;
        let condemned: HashSet<Id> = loaded
            .iter()
            .flat_map(|(_, p)| p.packs.iter().map(|c| c.pack))
            .collect();
        let mut index = Index::default();
        if let Some(d) = self.damaged_index.lock().map_err(|_| poisoned())?.as_mut() {
            d.clear();
        }
        // Each file straight into the index, one at a time: holding them
        // decoded would double the peak memory of every open (format-spec
        // §5, §5.1).
        self.for_each_index_body(
            |_| false,
            |name, body| index.add_encoded(name, body, &condemned, trees_only),
        )?;
        if self.heal_index {
            self.heal(&mut index, &condemned)?;
        }
        index.finish();
        tracing::info!(
            blobs = index.len(),
            packs = index.packs().len(),
            plans = loaded.len(),
            ms = started.elapsed().as_millis() as u64,
            "index loaded"
        );
        *self.index.write().map_err(|_| poisoned())? = index;
        *self.plans.write().map_err(|_| poisoned())? = Plans { loaded, condemned };
        Ok(())
    }

    /// Index, in memory, every pack no intact index file names (when one
    /// is damaged), from the pack's own header: two ranged reads a pack.
    fn heal(&self, index: &mut Index, condemned: &HashSet<Id>) -> Result<()> {
        let damaged = self.damaged_index_files();
        if damaged.is_empty() {
            return Ok(());
        }
        let mut packs = 0;
        for l in self.backend.list(layout::DATA)? {
            let Some(id) = layout::id_of(&l.name) else {
                continue;
            };
            if index.has_pack(&id) || condemned.contains(&id) {
                continue;
            }
            // An unreadable header: its blobs stay unfound, and what needs
            // them fails naming the blob.
            if let Ok(blobs) = self.read_pack_header(&l.name, l.size) {
                index.add_pack(
                    &IndexPack {
                        id,
                        size: l.size,
                        blobs,
                    },
                    false,
                );
                packs += 1;
            }
        }
        tracing::warn!(
            files = damaged.len(),
            packs,
            "damaged index files; packs indexed from their headers"
        );
        *self.healed.lock().map_err(|_| poisoned())? = (damaged, packs);
        Ok(())
    }

    /// Damaged index files this reader went past, and how many packs it
    /// indexed from their headers instead (for the caller to tell).
    pub fn healed_index(&self) -> (Vec<(String, String)>, u64) {
        self.healed.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// A pack's header, by two ranged reads: the trailer, then the header.
    pub(crate) fn read_pack_header(&self, name: &str, size: u64) -> Result<Vec<pack::PackBlob>> {
        let t = pack::TRAILER_LEN as u64;
        if size < t {
            return Err(Error::corrupt(name, "shorter than a pack trailer"));
        }
        let trailer = self.backend.get_range(name, size - t..size)?;
        let hlen = pack::header_len_from_trailer(&trailer)? as u64;
        let data_len = size
            .checked_sub(t + hlen)
            .ok_or_else(|| Error::corrupt(name, "its header length exceeds it"))?;
        let header = self.backend.get_range(name, data_len..size - t)?;
        pack::parse_header(&header, data_len, self.backend.sealer()).map_err(|e| e.about(name))
    }

    /// Every index file with its name. A file deleted between the LIST and
    /// its GET (a prune replaced it) is skipped: its replacement, written
    /// first, is in the same listing.
    pub fn read_index_files(&self) -> Result<Vec<(String, IndexFile)>> {
        let mut out = Vec::new();
        self.for_each_index_file(|_| false, |name, f| out.push((name.to_string(), f)))?;
        Ok(out)
    }

    /// Decode the index files, one at a time, but those `skip` names.
    pub(crate) fn for_each_index_file(
        &self,
        skip: impl Fn(&str) -> bool,
        mut each: impl FnMut(&str, IndexFile),
    ) -> Result<()> {
        self.for_each_index_body(skip, |name, body| {
            each(name, IndexFile::decode(body)?);
            Ok(())
        })
    }

    /// Hand each index file's opened bytes (but those `skip` names) to
    /// `each`, one at a time. A file that is damaged (its bytes, or what
    /// `each` decodes of them) is recorded when this open tolerates that,
    /// and stops it otherwise.
    fn for_each_index_body(
        &self,
        skip: impl Fn(&str) -> bool,
        mut each: impl FnMut(&str, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut listed = self.backend.list(layout::INDEX)?;
        listed.retain(|l| !skip(&l.name));
        // The next file is read, checked against its name and opened
        // while `each` decodes this one: on a local disk the two take
        // about as long (a 25 MB index file: 44 ms, and 34 ms to decode),
        // and from S3 the next GET's round trip passes meanwhile. A
        // rendezvous channel: two files are held at most.
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(0);
            scope.spawn(move || {
                for l in listed {
                    let body = self.read_index_body(&l.name);
                    // Refused once `each` failed: stop reading.
                    if tx.send((l.name, body)).is_err() {
                        return;
                    }
                }
            });
            for (name, body) in rx {
                let read = body.and_then(|b| match b {
                    Some(b) => each(&name, &b).map_err(|e| e.about(&name)),
                    None => Ok(()),
                });
                match read {
                    Ok(()) => {}
                    Err(Error::Corrupt { what, detail }) => {
                        let mut d = self.damaged_index.lock().map_err(|_| poisoned())?;
                        match d.as_mut() {
                            Some(list) => list.push((name, detail)),
                            None => return Err(Error::Corrupt { what, detail }),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })
    }

    /// One index file, opened and decoded; `None` when it is gone (a
    /// prune replaced it since the listing).
    pub fn read_index_file(&self, name: &str) -> Result<Option<IndexFile>> {
        let Some(bytes) = self.read_index_body(name)? else {
            return Ok(None);
        };
        IndexFile::decode(&bytes)
            .map(Some)
            .map_err(|e| e.about(name))
    }

    /// One index file's bytes, verified against its name and opened.
    fn read_index_body(&self, name: &str) -> Result<Option<Bytes>> {
        let bytes = match self.backend.get(name) {
            Ok(b) => b,
            Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        // Verified against its name first: a damaged file is named as such
        // even in a plaintext repository, before anything decodes it.
        if layout::id_of(name) != Some(Id::of_bytes(&bytes)) {
            return Err(Error::corrupt(
                name,
                "content does not match its name (hash mismatch)",
            ));
        }
        self.backend.unseal(Context::Index, name, bytes).map(Some)
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Why the config was damaged, when the repository was opened from its
    /// copy (`check` reports it).
    pub fn config_damage(&self) -> Option<&str> {
        self.config_damage.as_deref()
    }

    /// Whether objects are stored sealed.
    pub fn encrypted(&self) -> bool {
        self.master.is_some()
    }

    /// The key object the password opened, in an encrypted repository.
    pub fn key_in_use(&self) -> Option<&str> {
        self.master.as_ref().map(|(_, n)| n.as_str())
    }

    /// Add a key object that opens this repository with `password`.
    pub fn add_key(&self, password: &str, kdf: crate::keys::KdfParams) -> Result<String> {
        let (master, _) = self.master.as_ref().ok_or_else(|| {
            Error::Invalid("the repository is not encrypted: it has no keys".into())
        })?;
        crate::keys::add(&self.backend, master, password, kdf)
    }

    pub fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        // A poisoned lock means a worker panicked; the panic is reported
        // on its own, and the index data itself is still consistent.
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The id a plaintext blob has in this repository.
    pub fn blob_id(&self, data: &[u8]) -> Id {
        Id(*blake3::keyed_hash(&self.config.key, data).as_bytes())
    }

    /// Store a blob unless the repository (or this run) already has it.
    /// Returns the id and whether it was new.
    /// Whether the blob is stored (indexed and not condemned) or saved by
    /// this process already.
    pub fn has_blob(&self, id: &Id) -> bool {
        self.index().contains_live(id)
            || self.pending.lock().map(|p| p.contains(id)).unwrap_or(false)
    }

    pub fn save_blob(&self, kind: BlobKind, data: &[u8]) -> Result<(Id, bool)> {
        let id = self.blob_id(data);
        if !self.claim(&id)? {
            return Ok((id, false));
        }
        let c = &self.config.compression;
        let enc = pack::encode_blob(data, c.level, c.raw_above_permille);
        self.store_encoded(kind, id, data.len(), &enc)?;
        Ok((id, true))
    }

    /// `save_blob` for bytes the caller is done with (a chunk in a stream
    /// buffer): stored raw in an encrypted repository, they are sealed
    /// where they lie and copied once, into the pack. Four bucket readers
    /// held 16 MiB of per-thread buffers to seal into, and each byte was
    /// copied twice (issue 18). `data` holds ciphertext afterwards.
    pub fn save_blob_mut(&self, kind: BlobKind, data: &mut [u8]) -> Result<(Id, bool)> {
        let id = self.blob_id(data);
        if !self.claim(&id)? {
            return Ok((id, false));
        }
        let c = &self.config.compression;
        let enc = pack::encode_blob(data, c.level, c.raw_above_permille);
        let (Codec::Raw, Some(s)) = (enc.codec, self.backend.sealer()) else {
            self.store_encoded(kind, id, data.len(), &enc)?;
            return Ok((id, true));
        };
        drop(enc);
        let (nonce, tag) = s.seal_in_place(Context::Blob(&id.0), data);
        self.count_saved(data.len(), nonce.len() + data.len() + tag.len());
        self.copy_parts(
            kind,
            id,
            data.len() as u32,
            Codec::Raw,
            &[&nonce, data, &tag],
        )?;
        Ok((id, true))
    }

    /// Whether this call is the one to store blob `id`: the repository
    /// lacks it (or holds it only in condemned packs) and no other worker
    /// of this process has claimed it.
    fn claim(&self, id: &Id) -> Result<bool> {
        if self.index().contains_live(id) {
            return Ok(false);
        }
        Ok(self.pending.lock().map_err(|_| poisoned())?.insert(*id))
    }

    /// Seal (in an encrypted repository) and pack an encoded blob.
    fn store_encoded(&self, kind: BlobKind, id: Id, raw: usize, enc: &EncodedBlob) -> Result<()> {
        let Some(s) = self.backend.sealer() else {
            self.count_saved(raw, enc.bytes.len());
            return self.copy_blob(kind, id, raw as u32, enc);
        };
        // Sealed outside the packer's lock, so workers encrypt in
        // parallel, into a buffer this thread reuses (no allocation, no
        // page faults per blob); the pack then takes the box as it is.
        SEALED.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            s.seal_into(Context::Blob(&id.0), &enc.bytes, &mut buf);
            self.count_saved(raw, buf.len());
            self.copy_parts(kind, id, raw as u32, enc.codec, &[&buf[..]])
        })
    }

    fn count_saved(&self, raw: usize, stored: usize) {
        self.saved.blobs.fetch_add(1, Ordering::Relaxed);
        self.saved
            .raw_bytes
            .fetch_add(raw as u64, Ordering::Relaxed);
        self.saved
            .stored_bytes
            .fetch_add(stored as u64, Ordering::Relaxed);
    }

    /// Add encoded bytes to the kind's pack, writing the pack when full.
    /// Prune's repack calls this directly: the stored bytes go over
    /// unchanged, and the index may already hold other copies.
    pub fn copy_blob(
        &self,
        kind: BlobKind,
        id: Id,
        raw_length: u32,
        enc: &EncodedBlob,
    ) -> Result<()> {
        self.copy_parts(kind, id, raw_length, enc.codec, &[&enc.bytes])
    }

    /// `copy_blob` of a blob stored as `parts` one after another.
    fn copy_parts(
        &self,
        kind: BlobKind,
        id: Id,
        raw_length: u32,
        codec: Codec,
        parts: &[&[u8]],
    ) -> Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        // Its dedup would miss every chunk the partial index lacks.
        if self.trees_only.load(Ordering::Relaxed) {
            return Err(Error::Invalid(
                "a repository opened to read trees stores no blobs".into(),
            ));
        }
        let mut p = self.packers[kind_slot(kind)]
            .lock()
            .map_err(|_| poisoned())?;
        let target = pack_target(&self.config, kind);
        // A blob that would take the pack past its target starts the next
        // one: packs stay within the target (but for a single larger
        // blob), and so does a reused buffer's resident size.
        if !p.is_empty() && p.len() + len > target {
            self.write_pack(std::mem::take(&mut *p))?;
        }
        // Room for the whole pack at once: growing by doubling would move
        // the bytes already in it. Only data packs reuse buffers: they are
        // most of the bytes, and a kept buffer stays resident (tree packs
        // fill beside them).
        let pool = (kind == BlobKind::Data).then_some(&self.data_pack_buffers);
        p.reserve_from(target.max(len), pool);
        p.add_parts(kind, id, raw_length, codec, parts);
        if p.len() >= target {
            // Handed over with the packer still locked: no new pack of
            // this kind starts until the uploader has taken this one, so
            // at most two full packs (one going out, one waiting) are held
            // however many workers there are.
            self.write_pack(std::mem::take(&mut *p))?;
        }
        Ok(())
    }

    /// Hand a full pack to the uploader. A pack is indexed (`written`)
    /// only once its PUT returned, so format-spec §8.2's order holds; an
    /// upload that failed fails the next `write_pack` or `flush`.
    fn write_pack(&self, p: PackWriter) -> Result<()> {
        // A pack with the bytes (so the name) of one a plan condemns would
        // be deleted with it; make it differ (format-spec §12.4).
        let fin = p.finish_avoiding(|id| self.is_condemned(id), self.backend.sealer());
        self.saved
            .repeated_bytes
            .fetch_add(fin.repeated, Ordering::Relaxed);
        let pack = IndexPack {
            id: fin.id,
            size: fin.bytes.len() as u64,
            blobs: fin.blobs,
        };
        let mut slot = self.uploader.lock().map_err(|_| poisoned())?;
        let up = match &mut *slot {
            Some(u) => u,
            None => {
                let saved = self.saved.clone();
                slot.insert(Uploader::start(self.backend.clone(), move || {
                    saved.packs.fetch_add(1, Ordering::Relaxed);
                })?)
            }
        };
        up.send(fin.bytes, pack)?;
        let done = up.finished(false)?;
        self.written.lock().map_err(|_| poisoned())?.extend(done);
        Ok(())
    }

    /// Write out partial packs, then one index file for every pack written
    /// since the last flush. After it returns, every blob saved so far is
    /// durable and findable, and a snapshot may reference it.
    pub fn flush(&self) -> Result<Option<Id>> {
        for slot in &self.packers {
            let p = std::mem::take(&mut *slot.lock().map_err(|_| poisoned())?);
            if !p.is_empty() {
                self.write_pack(p)?;
            }
        }
        if let Some(up) = &mut *self.uploader.lock().map_err(|_| poisoned())? {
            let done = up.finished(true)?;
            self.written.lock().map_err(|_| poisoned())?.extend(done);
        }
        let packs = std::mem::take(&mut *self.written.lock().map_err(|_| poisoned())?);
        let last = self.write_index(packs)?;
        self.pending.lock().map_err(|_| poisoned())?.clear();
        Ok(last)
    }

    /// During a long backup: once the packs written since the last index
    /// file name a full index file's worth of blobs, write it, so that
    /// what is held for them (their entries, and the ids of `pending`)
    /// does not grow with the backup. The packs are durable already
    /// (§8.2's order); until the snapshot commits they are as a killed
    /// backup's are, kept from a prune by this process's session (§12.5).
    pub fn index_written_packs(&self) -> Result<()> {
        let packs = {
            let mut w = self.written.lock().map_err(|_| poisoned())?;
            if w.iter().map(|p| p.blobs.len()).sum::<usize>() < INDEX_WHILE_WRITING {
                return Ok(());
            }
            std::mem::take(&mut *w)
        };
        let ids: Vec<Id> = packs
            .iter()
            .flat_map(|p| p.blobs.iter().map(|b| b.id))
            .collect();
        self.write_index(packs)?;
        // Indexed now: `has_blob` finds them there.
        let mut pending = self.pending.lock().map_err(|_| poisoned())?;
        for id in &ids {
            pending.remove(id);
        }
        Ok(())
    }

    /// Write index files for `packs` and add them to the loaded index.
    fn write_index(&self, packs: Vec<IndexPack>) -> Result<Option<Id>> {
        if packs.is_empty() {
            return Ok(None);
        }
        failpoint::hit("before-index");
        let mut last = None;
        for file in split_index(packs) {
            let bytes = self.backend.seal(Context::Index, file.encode());
            let id = Id::of_bytes(&bytes);
            let size = bytes.len();
            self.backend.put(&layout::index(&id), Bytes::from(bytes))?;
            tracing::debug!(file = %id.short(), packs = file.packs.len(), bytes = size, "index file written");
            if !self.frozen.load(Ordering::Relaxed) {
                let mut idx = self.index.write().map_err(|_| poisoned())?;
                idx.add_file(&layout::index(&id), &file, &HashSet::new());
                idx.finish();
            }
            last = Some(id);
        }
        Ok(last)
    }

    /// Load and verify a blob: the plaintext must hash to its id.
    /// A pack deleted under the reader (a prune rescued the blob into a new
    /// pack first, and indexed it) is looked up again once in a fresh index.
    pub fn load_blob(&self, id: &Id) -> Result<Vec<u8>> {
        match self.load_blob_once(id) {
            Err(Error::NotFound(_)) if !self.frozen.load(Ordering::Relaxed) => {
                self.reload_index()?;
                self.load_blob_once(id)
            }
            other => other,
        }
    }

    fn load_blob_once(&self, id: &Id) -> Result<Vec<u8>> {
        let mut found = self.index().lookup(id);
        // Opened for trees, and asked for something else: the rest of the
        // index, once (whichever thread missed first loads it; the others
        // wait here and look again).
        if found.is_none() && self.trees_only.load(Ordering::Acquire) {
            let _one = self.widening.lock().map_err(|_| poisoned())?;
            if self.trees_only.load(Ordering::Acquire) {
                self.load_index(false)?;
                self.trees_only.store(false, Ordering::Release);
            }
            found = self.index().lookup(id);
        }
        let loc = found.ok_or_else(|| Error::corrupt(format!("blob {id}"), "not in the index"))?;
        self.load_blob_at(id, &loc)
    }

    /// Load and verify a blob from a known location.
    /// A tree node whose pack is damaged or gone is read from the pack's
    /// copy (§4.3), which holds the same bytes at the same offsets.
    pub fn load_blob_at(&self, id: &Id, loc: &crate::index::BlobLoc) -> Result<Vec<u8>> {
        let range = loc.offset as u64..loc.offset as u64 + loc.length as u64;
        let read = |name: &str| -> Result<Vec<u8>> {
            let stored = self.backend.get_range(name, range.clone())?;
            self.blob_plaintext(id, loc, &stored)
        };
        match read(&layout::pack(&loc.pack)) {
            Err(e @ (Error::Corrupt { .. } | Error::NotFound(_))) if loc.kind == BlobKind::Tree => {
                match read(&layout::tree_copy(&loc.pack)) {
                    Ok(b) => {
                        tracing::warn!(blob = %id, pack = %loc.pack, error = %e, "read from the pack's copy");
                        Ok(b)
                    }
                    // The pack's own error says what is wrong; a missing
                    // copy (an older repository) adds nothing to it.
                    Err(_) => Err(e),
                }
            }
            other => other,
        }
    }

    /// Blobs that lie close together in one pack (`blobs` in pack order,
    /// none twice, each where the index puts it), read with one ranged GET
    /// from the first's start to the last's end: a restore makes one
    /// request per run of blobs instead of one per blob, which is what
    /// bounds it on S3. From a remote store the range is streamed, a blob
    /// at a time, so a run may be as long as its pack; from a local one it
    /// is read whole, so the caller bounds it. `each` gets each blob's
    /// position in `blobs` and its verified plaintext, in that order. A
    /// pack deleted under the reader (a prune moved its blobs) is read blob
    /// by blob through a fresh index instead.
    pub fn load_run(
        &self,
        blobs: &[(Id, crate::index::BlobLoc)],
        mut each: impl FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let (Some((_, first)), Some((_, last))) = (blobs.first(), blobs.last()) else {
            return Ok(());
        };
        let start = first.offset as u64;
        let end = last.offset as u64 + last.length as u64;
        let name = layout::pack(&first.pack);
        let by_blob = |each: &mut dyn FnMut(usize, &[u8]) -> Result<()>| -> Result<()> {
            for (i, (id, _)) in blobs.iter().enumerate() {
                each(i, &self.load_blob(id)?)?;
            }
            Ok(())
        };
        match self.backend.get_range_stream(&name, start..end) {
            Ok(Some(reader)) => return self.stream_run(&name, reader, blobs, &mut each),
            Ok(None) => {}
            Err(Error::NotFound(_)) => return by_blob(&mut each),
            Err(e) => return Err(e),
        }
        let stored = match self.backend.get_range(&name, start..end) {
            Ok(b) => b,
            Err(Error::NotFound(_)) => return by_blob(&mut each),
            Err(e) => return Err(e),
        };
        // The range is this call's alone (a local read): blobs open in it.
        let mut stored = stored
            .try_into_mut()
            .unwrap_or_else(|shared| bytes::BytesMut::from(&shared[..]));
        for (i, (id, loc)) in blobs.iter().enumerate() {
            let from = (loc.offset as u64 - start) as usize;
            let bytes = stored
                .get_mut(from..from + loc.length as usize)
                .ok_or_else(|| {
                    Error::corrupt(format!("pack {}", loc.pack), "blobs not adjacent")
                })?;
            each(i, &self.plaintext_in_place(id, loc, bytes)?)?;
        }
        Ok(())
    }

    /// Whether `next` extends the run `first..=last` (pack order) that
    /// `load_run` reads with one request: the same pack, after `last`, at
    /// most `gap` bytes of other blobs between, and, with `max_bytes`, the
    /// whole run no longer than that.
    pub fn extends_run(
        first: &crate::index::BlobLoc,
        last: &crate::index::BlobLoc,
        next: &crate::index::BlobLoc,
        gap: u64,
        max_bytes: Option<u64>,
    ) -> bool {
        let end = last.offset as u64 + last.length as u64;
        let here = next.offset as u64;
        next.pack == last.pack
            && here >= end
            && here - end <= gap
            && max_bytes.is_none_or(|max| here + next.length as u64 - first.offset as u64 <= max)
    }

    /// `load_run` over a streamed range: each blob's stored bytes are read
    /// into one reused buffer, the gaps between blobs read past.
    fn stream_run(
        &self,
        name: &str,
        mut reader: crate::backend::ObjectReader,
        blobs: &[(Id, crate::index::BlobLoc)],
        each: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        use std::io::Read;
        let fail = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => Error::corrupt(
                format!("object {name}"),
                "short read: the range ends before its last blob",
            ),
            _ => Error::Backend {
                store: self.backend.role(),
                op: "get",
                name: name.to_string(),
                message: e.to_string(),
            },
        };
        let mut at = blobs.first().map_or(0, |(_, l)| l.offset as u64);
        let mut buf = Vec::new();
        for (i, (id, loc)) in blobs.iter().enumerate() {
            let gap = (loc.offset as u64).checked_sub(at).ok_or_else(|| {
                Error::corrupt(
                    format!("pack {}", loc.pack),
                    "blobs overlap or out of order",
                )
            })?;
            if gap > 0 {
                std::io::copy(&mut (&mut reader).take(gap), &mut std::io::sink()).map_err(fail)?;
            }
            buf.resize(loc.length as usize, 0);
            reader.read_exact(&mut buf).map_err(fail)?;
            at = loc.offset as u64 + loc.length as u64;
            each(i, &self.plaintext_in_place(id, loc, &mut buf)?)?;
        }
        Ok(())
    }

    /// `plaintext_of` a blob read from where the index puts it, the error
    /// naming the blob and its pack.
    fn blob_plaintext(
        &self,
        id: &Id,
        loc: &crate::index::BlobLoc,
        stored: &[u8],
    ) -> Result<Vec<u8>> {
        self.plaintext_of(id, loc.codec, loc.raw_length, stored)
            .map_err(|why| blob_damaged(id, loc, why))
    }

    /// `blob_plaintext` of stored bytes the caller is done with: opened
    /// where they lie, and a raw blob's plaintext is then that part of
    /// `stored`, not a copy (a restore copied every byte of media once
    /// more here; perf put it at 2.6 % of a site restore's CPU).
    fn plaintext_in_place<'b>(
        &self,
        id: &Id,
        loc: &crate::index::BlobLoc,
        stored: &'b mut [u8],
    ) -> Result<Cow<'b, [u8]>> {
        let opened: &[u8] = match self.backend.sealer() {
            Some(s) => s
                .open_in_place(Context::Blob(&id.0), stored)
                .map_err(|_| blob_damaged(id, loc, NOT_AUTHENTIC.into()))?,
            None => stored,
        };
        self.verified(id, loc.codec, loc.raw_length, Cow::Borrowed(opened))
            .map_err(|why| blob_damaged(id, loc, why))
    }

    /// The verified plaintext of a blob from its stored bytes: opened (in
    /// an encrypted repository), decoded, and hashed against its id. The
    /// error says what was wrong, for the caller to name the blob.
    pub fn plaintext_of(
        &self,
        id: &Id,
        codec: pack::Codec,
        raw_length: u32,
        stored: &[u8],
    ) -> std::result::Result<Vec<u8>, String> {
        let opened = match self.backend.sealer() {
            Some(s) => Cow::Owned(
                s.open(Context::Blob(&id.0), stored)
                    .map_err(|_| NOT_AUTHENTIC.to_string())?,
            ),
            None => Cow::Borrowed(stored),
        };
        self.verified(id, codec, raw_length, opened)
            .map(Cow::into_owned)
    }

    /// An opened blob decoded and hashed against its id. A raw one's opened
    /// bytes are its plaintext as they are (no copy).
    fn verified<'b>(
        &self,
        id: &Id,
        codec: pack::Codec,
        raw_length: u32,
        opened: Cow<'b, [u8]>,
    ) -> std::result::Result<Cow<'b, [u8]>, String> {
        let data = match codec {
            pack::Codec::Raw if opened.len() == raw_length as usize => opened,
            _ => Cow::Owned(pack::decode_blob(codec, &opened, raw_length).map_err(
                |e| match e {
                    Error::Corrupt { detail, .. } => detail,
                    other => other.to_string(),
                },
            )?),
        };
        if self.blob_id(&data) != *id {
            return Err("content does not match its id (hash mismatch)".into());
        }
        Ok(data)
    }
}

/// Why a sealed blob's box did not open.
const NOT_AUTHENTIC: &str = "it does not authenticate (damaged)";

/// A blob's damage, naming the blob and its pack.
fn blob_damaged(id: &Id, loc: &crate::index::BlobLoc, why: String) -> Error {
    Error::corrupt(format!("blob {id} in pack {}", loc.pack), why)
}

thread_local! {
    /// Each worker's buffer for sealing a blob before it joins a pack.
    static SEALED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Blobs written before a long backup indexes them (`index_written_packs`):
/// a full index file's worth; a few in unit tests, so that backups there
/// write index files before their snapshot.
const INDEX_WHILE_WRITING: usize = if cfg!(test) { 8 } else { INDEX_FILE_BLOBS };

/// Blobs per index file at most (format-spec §5): a reader decodes one file
/// at a time, so this bounds the transient memory of loading the index.
pub const INDEX_FILE_BLOBS: usize = 65_536;

/// Read a config object's bytes: plaintext, or sealed and opened by the
/// key the password unlocks (then checked against the master key).
fn open_config(
    backend: &Backend,
    location: &str,
    raw: &[u8],
    password: Password,
) -> Result<(Config, Option<(MasterKey, String)>)> {
    let stored = match Config::read(raw) {
        Err(Error::Corrupt { detail, .. }) if detail.starts_with("wrong magic") => {
            return Err(Error::Invalid(format!(
                "{location} is not a jarc repository: its config object is not in jarc's format"
            )))
        }
        other => other?,
    };
    match stored {
        Stored::Plain(c) => Ok((c, None)),
        Stored::Sealed(sealed) => {
            let pw = password()?;
            // The config is opened once, by the key that fits it.
            let (master, name, plain) = crate::keys::unlock_fitting(backend, &pw, |m| {
                m.sealer().open(Context::Config, &sealed).ok()
            })?;
            let config = Config::decode_opened(&plain)?;
            if config.key != master.blob_id_key() {
                return Err(Error::corrupt(
                    "config",
                    "its blob-id key is not the one the master key derives",
                ));
            }
            Ok((config, Some((master, name))))
        }
    }
}

/// The backend sealing and opening objects as the config says, under
/// the master key (as it was: a plaintext repository has none).
fn with_object_sealer(
    backend: Backend,
    master: &Option<(MasterKey, String)>,
    config: &Config,
) -> Backend {
    match (master, config.encryption.cipher()) {
        (Some((m, _)), Some(c)) => backend.with_sealer(m.object_sealer(c)),
        _ => backend,
    }
}

/// Packs into index files of at most `INDEX_FILE_BLOBS` blobs (a pack with
/// more than that gets a file of its own).
pub fn split_index(packs: Vec<IndexPack>) -> Vec<IndexFile> {
    let mut files = vec![IndexFile { packs: Vec::new() }];
    let mut n = 0;
    for p in packs {
        let last = files.len() - 1;
        if n + p.blobs.len() > INDEX_FILE_BLOBS && !files[last].packs.is_empty() {
            files.push(IndexFile { packs: Vec::new() });
            n = 0;
        }
        n += p.blobs.len();
        let last = files.len() - 1;
        files[last].packs.push(p);
    }
    files
}

fn poisoned() -> Error {
    Error::Invalid("internal lock poisoned by a panicked worker".into())
}
