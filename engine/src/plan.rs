//! Prune plans (`plans/<id>`): the packs one prune condemned, which a later
//! prune deletes once no session that might still use them is alive.
//! (format-spec/README.md §12)
//!
//! A plan is the first half of a two-phase delete. Writing it changes
//! nothing a reader sees; it tells every backup that opens afterwards not
//! to reuse a blob whose only copies are in these packs. The second half
//! (`prune::execute`) runs only when every live session has either seen the
//! plan or ended, so no running backup can reference what it deletes.

use crate::backend::Backend;
use crate::codec;
use crate::error::{Error, Result};
use crate::id::Id;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 4] = b"JRPL";
pub const VERSION: u16 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condemned {
    pub pack: Id,
    /// The pack's size when condemned, for reporting what deleting it frees.
    pub size: u64,
    /// No index named the pack (an interrupted backup or prune left it).
    pub unindexed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Host clock when written; informational only, never compared.
    pub created_ns: i64,
    pub hostname: String,
    /// Makes every plan's name unique, even two identical ones.
    pub nonce: [u8; 16],
    pub packs: Vec<Condemned>,
}

impl Plan {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(MAGIC, VERSION, self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Plan> {
        codec::decode("prune plan", MAGIC, VERSION, bytes)
    }
}

pub fn save(backend: &Backend, plan: &Plan) -> Result<Id> {
    let bytes = backend.seal(crate::crypto::Context::Plan, plan.encode());
    let id = Id::of_bytes(&bytes);
    backend.put(&crate::layout::plan(&id), Bytes::from(bytes))?;
    Ok(id)
}

/// Every plan in the store that verifies against its name and decodes.
/// A damaged plan is skipped: no prune can execute it, so the packs it
/// names are never deleted on its account (`check` reports it).
pub fn load_all(backend: &Backend) -> Result<Vec<(Id, Plan)>> {
    Ok(load_checked(backend)?.0)
}

/// Plans that loaded, and what is wrong with each one that did not.
pub type Loaded = (Vec<(Id, Plan)>, Vec<String>);

/// The plans, and what is wrong with each one that does not load.
pub fn load_checked(backend: &Backend) -> Result<Loaded> {
    let (mut out, mut bad) = (Vec::new(), Vec::new());
    for l in backend.list(crate::layout::PLANS)? {
        let bytes = match backend.get(&l.name) {
            Ok(b) => b,
            // Executed and deleted between the LIST and the GET: its packs
            // and index files are already gone, so it condemns nothing.
            Err(Error::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let id = crate::layout::id_of(&l.name);
        match id {
            Some(id) if Id::of_bytes(&bytes) == id => {
                match backend
                    .unseal(crate::crypto::Context::Plan, &l.name, bytes)
                    .and_then(|b| Plan::decode(&b))
                {
                    Ok(p) => out.push((id, p)),
                    Err(e) => bad.push(format!("{}: {e}", l.name)),
                }
            }
            Some(_) => bad.push(format!("{}: content does not match its name", l.name)),
            None => bad.push(format!("{}: not a plan name", l.name)),
        }
    }
    Ok((out, bad))
}
