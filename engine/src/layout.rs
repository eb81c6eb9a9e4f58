//! Where each object lives in a repository (format-spec §2): every object
//! name jarc writes, and every name it reads an id back from, is made
//! here, so the layout is one table and not a convention five modules
//! repeat.

use crate::id::Id;

/// The repository's config: format version, chunker and tree parameters,
/// the blob-id key.
pub const CONFIG: &str = "config";
/// Written twice with create-if-absent by `init` to learn whether the
/// store enforces it, then deleted.
pub const PROBE: &str = "probe-create-if-absent";
/// Folders, one per object kind.
pub const DATA: &str = "data";
pub const INDEX: &str = "index";
pub const SNAPSHOTS: &str = "snapshots";
pub const SESSIONS: &str = "sessions";
pub const PLANS: &str = "plans";
pub const DRILLS: &str = "drills";

/// `data/<first two hex digits>/<hex>`: packs are sharded so that no local
/// directory holds more than 1/256 of them.
pub fn pack(id: &Id) -> String {
    let h = id.to_hex();
    format!("{DATA}/{}/{h}", &h[..2])
}

pub fn index(id: &Id) -> String {
    format!("{INDEX}/{}", id.to_hex())
}

pub fn snapshot(id: &Id) -> String {
    format!("{SNAPSHOTS}/{}", id.to_hex())
}

pub fn plan(id: &Id) -> String {
    format!("{PLANS}/{}", id.to_hex())
}

pub fn drill(id: &Id) -> String {
    format!("{DRILLS}/{}", id.to_hex())
}

/// A session marker is named by a random nonce, not by its content: it is
/// rewritten in place while its session runs.
pub fn session(nonce: &[u8; 16]) -> String {
    format!("{SESSIONS}/{}", hex::encode(nonce))
}

/// The id an object's name ends in (`data/ab/ab12…` → `ab12…`), if it
/// ends in one.
pub fn id_of(name: &str) -> Option<Id> {
    name.rsplit('/').next().and_then(Id::from_hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_to_their_ids() {
        let id = Id([0xab; 32]);
        let hex = id.to_hex();
        assert_eq!(pack(&id), format!("data/ab/{hex}"));
        for name in [pack(&id), index(&id), snapshot(&id), plan(&id), drill(&id)] {
            assert_eq!(id_of(&name), Some(id), "{name}");
        }
        assert_eq!(session(&[1; 16]), format!("sessions/{}", "01".repeat(16)));
        assert_eq!(id_of("sessions/0101"), None);
        assert_eq!(id_of(CONFIG), None);
    }
}
