//! Where each object lives in a repository (format-spec §2): every object
//! name jarc writes, and every name it reads an id back from, is made
//! here, so the layout is one table and not a convention five modules
//! repeat.

use crate::id::Id;

/// The repository's config: format version, chunker and tree parameters,
/// the blob-id key.
pub const CONFIG: &str = "config";
/// The config's copy, byte for byte, written by `init` after the config:
/// a damaged config costs nothing while its copy is intact (§3).
pub const CONFIG_COPY: &str = "config.copy";
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
pub const KEYS: &str = "keys";

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

/// Each key object's bytes again (§13.2), under the key's own id.
pub const KEY_COPIES: &str = "key-copies";

pub fn key_copy(key_name: &str) -> String {
    format!(
        "{KEY_COPIES}/{}",
        key_name.rsplit('/').next().unwrap_or_default()
    )
}

/// Each snapshot's bytes again (§7.3), under the snapshot's own name.
pub const SNAPSHOT_COPIES: &str = "snapshot-copies";

pub fn snapshot_copy(id: &Id) -> String {
    format!("{SNAPSHOT_COPIES}/{}", id.to_hex())
}

/// Each pack of tree blobs again (§4.3), under the pack's own id: the
/// media listings and the database rows hang from tree nodes, so one
/// damaged byte in one of them costs nothing while the other is whole.
pub const TREE_COPIES: &str = "tree-copies";

pub fn tree_copy(pack: &Id) -> String {
    format!("{TREE_COPIES}/{}", pack.to_hex())
}

/// The pack id a `tree-copies/` name stands for.
pub fn tree_copy_id(name: &str) -> Option<Id> {
    let hex = name.strip_prefix(TREE_COPIES)?.strip_prefix('/')?;
    Id::from_hex(hex)
}

pub fn plan(id: &Id) -> String {
    format!("{PLANS}/{}", id.to_hex())
}

pub fn drill(id: &Id) -> String {
    format!("{DRILLS}/{}", id.to_hex())
}

/// `keys/<hex>`: a key object (format-spec §13.2), named by its content.
pub fn key(id: &Id) -> String {
    format!("{KEYS}/{}", id.to_hex())
}

/// A session is named by a random nonce, not by its content: its markers
/// are `<session>.<seq>`, one object per write (format-spec §12.1).
pub fn session(nonce: &[u8; 16]) -> String {
    format!("{SESSIONS}/{}", hex::encode(nonce))
}

/// The `seq`th marker of `session`: 8 hex digits, so names sort by seq.
pub fn session_marker(session: &str, seq: u32) -> String {
    format!("{session}.{seq:08x}")
}

/// The session a marker belongs to, and its sequence number. A version 1
/// marker (no `.<seq>`, rewritten in place) is its own session at seq 0.
pub fn session_of(marker: &str) -> (&str, u32) {
    match marker.rsplit_once('.') {
        Some((base, seq)) if seq.len() == 8 => match u32::from_str_radix(seq, 16) {
            Ok(n) => (base, n),
            Err(_) => (marker, 0),
        },
        _ => (marker, 0),
    }
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
        for name in [
            pack(&id),
            index(&id),
            snapshot(&id),
            plan(&id),
            drill(&id),
            key(&id),
        ] {
            assert_eq!(id_of(&name), Some(id), "{name}");
        }
        let s = session(&[1; 16]);
        assert_eq!(s, format!("sessions/{}", "01".repeat(16)));
        assert_eq!(session_marker(&s, 26), format!("{s}.0000001a"));
        assert_eq!(session_of(&session_marker(&s, 26)), (s.as_str(), 26));
        assert_eq!(session_of(&s), (s.as_str(), 0));
        assert_eq!(id_of("sessions/0101"), None);
        assert_eq!(id_of(CONFIG), None);
    }
}
