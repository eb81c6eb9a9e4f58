//! Key objects (`keys/<id>`, format-spec §13.2): the repository's master
//! key, wrapped under a key derived from a password with Argon2id. A
//! repository has one or more; each opens with its own password, and
//! adding or removing one never touches any other object.

use crate::backend::Backend;
use crate::codec;
use crate::crypto::{Context, MasterKey, Sealer};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::layout;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub const MAGIC: &[u8; 4] = b"JRKY";
pub const VERSION: u16 = 1;

/// Argon2id cost. The defaults take about 0.3 s and 64 MiB on the machine
/// jarc is developed on, its two lanes on its two cores (format-spec §13.2
/// has the measurement): each guess at a password costs an attacker as
/// much, however many lanes share the memory and work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            memory_kib: 64 * 1024,
            iterations: 12,
            parallelism: 2,
        }
    }
}

impl KdfParams {
    /// `m=65536,t=12,p=2` (memory in KiB, iterations, lanes); a field left
    /// out keeps its default.
    pub fn parse(s: &str) -> Result<KdfParams> {
        let mut p = KdfParams::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let n: u32 = v.parse().map_err(|_| bad_params(s))?;
            match k {
                "m" => p.memory_kib = n,
                "t" => p.iterations = n,
                "p" => p.parallelism = n,
                _ => return Err(bad_params(s)),
            }
        }
        p.argon2()?;
        Ok(p)
    }

    /// The most a key object may ask for: a damaged or hostile one must
    /// not make jarc allocate without bound or spin for hours (§13.2).
    const MAX: KdfParams = KdfParams {
        memory_kib: 4 << 20,
        iterations: 1000,
        parallelism: 64,
    };

    fn argon2(&self) -> Result<argon2::Argon2<'static>> {
        let max = KdfParams::MAX;
        if self.memory_kib > max.memory_kib
            || self.iterations > max.iterations
            || self.parallelism > max.parallelism
        {
            return Err(Error::Invalid(format!(
                "Argon2id parameters m={},t={},p={} exceed jarc's limits (m={},t={},p={})",
                self.memory_kib,
                self.iterations,
                self.parallelism,
                max.memory_kib,
                max.iterations,
                max.parallelism
            )));
        }
        let params =
            argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
                .map_err(|e| {
                    Error::Invalid(format!(
                        "Argon2id parameters m={},t={},p={}: {e}",
                        self.memory_kib, self.iterations, self.parallelism
                    ))
                })?;
        Ok(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }

    /// The key-encryption key for `password` and `salt`.
    fn derive(&self, password: &str, salt: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>> {
        let mut out = Zeroizing::new([0u8; 32]);
        self.argon2()?
            .hash_password_into(password.as_bytes(), salt, &mut out[..])
            .map_err(|e| Error::Invalid(format!("Argon2id: {e}")))?;
        Ok(out)
    }
}

fn bad_params(s: &str) -> Error {
    Error::Invalid(format!(
        "Argon2id parameters {s:?}: expected m=KiB,t=iterations,p=lanes (e.g. m=65536,t=12,p=2)"
    ))
}

/// How a key object's password becomes a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kdf {
    Argon2id { params: KdfParams, salt: [u8; 32] },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    /// Host clock when the key was made; informational (`key list`).
    pub created_ns: i64,
    pub kdf: Kdf,
    /// The master key, sealed (`Context::Key`) under the derived key.
    pub sealed: Vec<u8>,
}

impl KeyFile {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(MAGIC, VERSION, self)
    }

    /// Decode, and refuse KDF parameters outside jarc's limits before any
    /// password is tried with them.
    pub fn decode(bytes: &[u8]) -> Result<KeyFile> {
        let k: KeyFile = codec::decode("key object", MAGIC, VERSION, bytes)?;
        let Kdf::Argon2id { params, .. } = &k.kdf;
        params
            .argon2()
            .map_err(|e| Error::corrupt("key object", e.to_string()))?;
        Ok(k)
    }

    /// Wrap `master` under `password`.
    pub fn wrap(master: &MasterKey, password: &str, params: KdfParams) -> Result<KeyFile> {
        let salt: [u8; 32] = rand::random();
        let kek = params.derive(password, &salt)?;
        Ok(KeyFile {
            created_ns: crate::util::now_ns(),
            kdf: Kdf::Argon2id { params, salt },
            sealed: Sealer::new(&kek).seal(Context::Key, master.bytes()),
        })
    }

    /// The master key, if `password` is this key's.
    pub fn unwrap_with(&self, password: &str) -> Result<Option<MasterKey>> {
        let Kdf::Argon2id { params, salt } = &self.kdf;
        let kek = params.derive(password, salt)?;
        let Ok(plain) = Sealer::new(&kek).open(Context::Key, &self.sealed) else {
            return Ok(None);
        };
        let plain = Zeroizing::new(plain);
        let bytes: [u8; 32] = plain[..]
            .try_into()
            .map_err(|_| Error::corrupt("key object", "the sealed master key is not 32 bytes"))?;
        Ok(Some(MasterKey::from_bytes(bytes)))
    }
}

/// A key object as `key list` shows it.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// The object name, `keys/<id>`.
    pub name: String,
    /// `None` when the object is damaged (the reason is in `damaged`).
    pub created_ns: Option<i64>,
    pub params: Option<KdfParams>,
    pub damaged: Option<String>,
}

/// Read one key object, checking it against its name; a damaged one is
/// read from its copy (§13.2) when that is whole.
fn load(backend: &Backend, name: &str) -> Result<std::result::Result<KeyFile, String>> {
    let bytes = backend.get(name)?;
    match verify(name, &bytes) {
        Ok(k) => Ok(Ok(k)),
        Err(why) => match backend.get(&layout::key_copy(name)) {
            Ok(copy) => Ok(verify(name, &copy).map_err(|_| why)),
            Err(_) => Ok(Err(why)),
        },
    }
}

/// A key object's bytes against its name, decoded.
fn verify(name: &str, bytes: &[u8]) -> std::result::Result<KeyFile, String> {
    if layout::id_of(name) != Some(Id::of_bytes(bytes)) {
        return Err("content does not match its name".into());
    }
    KeyFile::decode(bytes).map_err(|e| e.to_string())
}

/// Every key object with its copy, and which of them is damaged or
/// missing (`check`, `repair copies`).
pub fn copy_state(backend: &Backend) -> Result<(Vec<crate::copies::Pair>, crate::copies::State)> {
    let pairs: Vec<crate::copies::Pair> = backend
        .list(layout::KEYS)?
        .into_iter()
        .map(|l| crate::copies::Pair {
            copy: layout::key_copy(&l.name),
            object: l.name,
        })
        .collect();
    let st = crate::copies::state(backend, &pairs, |p, bytes| {
        verify(&p.object, &bytes)
            .map(|_| ())
            .map_err(|why| Error::corrupt(format!("key object {}", p.object), why))
    })?;
    Ok((pairs, st))
}

/// Every key object, damaged ones included.
pub fn list(backend: &Backend) -> Result<Vec<KeyInfo>> {
    let mut out = Vec::new();
    for l in backend.list(layout::KEYS)? {
        let k = match load(backend, &l.name) {
            Err(Error::NotFound(_)) => continue,
            other => other?,
        };
        out.push(match k {
            Ok(k) => {
                let Kdf::Argon2id { params, .. } = k.kdf;
                KeyInfo {
                    name: l.name,
                    created_ns: Some(k.created_ns),
                    params: Some(params),
                    damaged: None,
                }
            }
            Err(why) => KeyInfo {
                name: l.name,
                created_ns: None,
                params: None,
                damaged: Some(why),
            },
        });
    }
    Ok(out)
}

/// Store a key object for `master` under `password`; its name.
pub fn add(
    backend: &Backend,
    master: &MasterKey,
    password: &str,
    params: KdfParams,
) -> Result<String> {
    if password.is_empty() {
        return Err(Error::Invalid(
            "an empty password is refused: anyone could open the repository".into(),
        ));
    }
    let bytes = Bytes::from(KeyFile::wrap(master, password, params)?.encode());
    let name = layout::key(&Id::of_bytes(&bytes));
    // The copy first: a key object is never without one (§13.2).
    backend.put(&layout::key_copy(&name), bytes.clone())?;
    backend.put(&name, bytes)?;
    Ok(name)
}

/// The master key `password` opens, and the name of the key object that
/// opened it. A wrong password is `Error::WrongPassword`; when no key
/// opens and one is damaged, the error names the damaged one, since the
/// password may have been its.
pub fn unlock(backend: &Backend, password: &str) -> Result<(MasterKey, String)> {
    unlock_fitting(backend, password, |_| Some(())).map(|(m, name, ())| (m, name))
}

/// `unlock`, taking only a master key that `fits` (opens the config, whose
/// plaintext `fits` returns, so it is opened once): a
/// key object left by an `init` that lost a race to create the repository
/// may open with the same password, and is passed over.
pub fn unlock_fitting<T>(
    backend: &Backend,
    password: &str,
    fits: impl Fn(&MasterKey) -> Option<T>,
) -> Result<(MasterKey, String, T)> {
    let mut tried = 0;
    let mut unfit = 0;
    let mut damaged = Vec::new();
    for l in backend.list(layout::KEYS)? {
        let k = match load(backend, &l.name) {
            Err(Error::NotFound(_)) => continue,
            other => other?,
        };
        match k {
            Ok(k) => {
                tried += 1;
                if let Some(m) = k.unwrap_with(password)? {
                    if let Some(t) = fits(&m) {
                        return Ok((m, l.name, t));
                    }
                    unfit += 1;
                }
            }
            Err(why) => damaged.push((l.name, why)),
        }
    }
    if let Some((name, why)) = damaged.into_iter().next() {
        return Err(Error::corrupt(
            format!("key object {name}"),
            format!("{why}; the password opens none of the other {tried} key(s)"),
        ));
    }
    if unfit > 0 {
        return Err(Error::corrupt(
            "config",
            format!("the password opens {unfit} key(s), but none of their master keys opens the config (damaged, or replaced by another repository's)"),
        ));
    }
    if tried == 0 {
        return Err(Error::corrupt(
            "repository",
            "it is encrypted but holds no key objects (keys/ is empty), so no password can open it",
        ));
    }
    Err(Error::WrongPassword { keys: tried })
}

/// The key object a name or unique id prefix means.
pub fn resolve(backend: &Backend, wanted: &str) -> Result<String> {
    let wanted = wanted.strip_prefix("keys/").unwrap_or(wanted);
    let names: Vec<String> = backend
        .list(layout::KEYS)?
        .into_iter()
        .map(|l| l.name)
        .filter(|n| {
            n.rsplit('/')
                .next()
                .is_some_and(|id| id.starts_with(wanted))
        })
        .collect();
    match names.len() {
        0 => Err(Error::Invalid(format!("no key object matches {wanted:?}"))),
        1 => Ok(names.into_iter().next().unwrap_or_default()),
        _ => Err(Error::Invalid(format!(
            "key id prefix {wanted:?} is ambiguous: it matches {}",
            names.join(", ")
        ))),
    }
}

/// Delete a key object. The last one is refused: without a key nobody
/// could open the repository again.
pub fn remove(backend: &Backend, name: &str) -> Result<()> {
    let all = backend.list(layout::KEYS)?;
    if !all.iter().any(|l| l.name == name) {
        return Err(Error::Invalid(format!("no key object {name}")));
    }
    if all.len() <= 1 {
        return Err(Error::Invalid(format!(
            "refusing to remove {name}: it is the repository's last key, and without one nobody can open the repository again"
        )));
    }
    match backend.delete(&layout::key_copy(name)) {
        Ok(()) | Err(Error::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    backend.delete(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn a_key_opens_with_its_password_only() {
        let m = MasterKey::from_bytes([3; 32]);
        let k = KeyFile::wrap(&m, "right", FAST).unwrap();
        let back = KeyFile::decode(&k.encode()).unwrap();
        assert_eq!(back, k);
        assert_eq!(
            back.unwrap_with("right").unwrap().unwrap().bytes(),
            &[3; 32]
        );
        assert!(back.unwrap_with("wrong").unwrap().is_none());
    }

    #[test]
    fn unlock_add_remove_and_their_errors() {
        let b = Backend::memory("mem://keys").unwrap();
        let m = MasterKey::random();
        let first = add(&b, &m, "one", FAST).unwrap();
        assert!(matches!(
            unlock(&b, "two"),
            Err(Error::WrongPassword { keys: 1 })
        ));
        let second = add(&b, &m, "two", FAST).unwrap();
        let (got, by) = unlock(&b, "two").unwrap();
        assert_eq!((got.bytes(), by.as_str()), (m.bytes(), second.as_str()));
        assert_eq!(list(&b).unwrap().len(), 2);
        remove(&b, &first).unwrap();
        assert!(matches!(
            unlock(&b, "one"),
            Err(Error::WrongPassword { keys: 1 })
        ));
        let e = remove(&b, &second).unwrap_err().to_string();
        assert!(e.contains("last key"), "{e}");
        assert!(add(&b, &m, "", FAST).is_err());
        // A damaged key object is read from its copy; with both damaged,
        // it is named when no key opens.
        b.put(&second, Bytes::from_static(b"JRKY\x01\x00garbage"))
            .unwrap();
        assert_eq!(unlock(&b, "two").unwrap().1, second);
        assert!(list(&b).unwrap()[0].damaged.is_none());
        b.put(
            &layout::key_copy(&second),
            Bytes::from_static(b"JRKY\x01\x00garbage"),
        )
        .unwrap();
        let e = unlock(&b, "two").err().unwrap().to_string();
        assert!(
            e.starts_with(&format!(
                "key object {second} is corrupt: content does not match its name"
            )),
            "{e}"
        );
        assert_eq!(
            list(&b).unwrap()[0].damaged.as_deref(),
            Some("content does not match its name")
        );
    }

    #[test]
    fn params_parse_and_refuse() {
        assert_eq!(
            KdfParams::parse("m=8192,t=2,p=1").unwrap(),
            KdfParams {
                memory_kib: 8192,
                iterations: 2,
                parallelism: 1
            }
        );
        assert_eq!(KdfParams::parse("t=3").unwrap().memory_kib, 65536);
        assert!(KdfParams::parse("m=1,t=1").is_err());
        assert!(KdfParams::parse("x=1").is_err());
    }
}
