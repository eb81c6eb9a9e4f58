//! Content-defined chunking (FastCDC 2020, fastcdc 5.0.0 pinned: its cut
//! points are part of the format, since they decide which chunks dedup).
//!
//! Two entry points cut identically: `cuts` over a slice (an mmap'd file),
//! and `Chunker::stream` over any `Read` with a fixed buffer. The stream
//! form holds back the last cut of each buffer (it may be an artefact of the
//! buffer's end) and restarts from it, so its cuts equal the slice form's:
//! FastCDC decides a cut from the bytes since the previous cut only, and
//! never looks further than `max` bytes.

use crate::config::ChunkerParams;
use fastcdc::v2020::{FastCDC, Normalization};
use std::io::Read;

#[derive(Debug, Clone)]
pub struct Chunker {
    min: usize,
    avg: usize,
    max: usize,
    level: Normalization,
}

impl Chunker {
    pub fn new(p: &ChunkerParams) -> Chunker {
        let level = match p.normalization {
            0 => Normalization::Level0,
            1 => Normalization::Level1,
            2 => Normalization::Level2,
            _ => Normalization::Level3,
        };
        Chunker {
            min: p.min as usize,
            avg: p.avg as usize,
            max: p.max as usize,
            level,
        }
    }

    pub fn max_size(&self) -> usize {
        self.max
    }

    /// Cut points of `data` as (offset, length).
    pub fn cuts(&self, data: &[u8]) -> Vec<(usize, usize)> {
        if data.is_empty() {
            return Vec::new();
        }
        FastCDC::with_level(data, self.min, self.avg, self.max, self.level)
            .map(|c| (c.offset, c.length))
            .collect()
    }

    /// Chunk a reader through a buffer of `buf_size` bytes (more than
    /// `max`: a cut the buffer's end did not force is where the whole
    /// stream would cut, so every batch but the last holds at least one).
    /// `f` receives batches of complete chunks in order, so a caller can
    /// process a batch in parallel; they are its to overwrite (sealed
    /// where they lie), as the buffer moves past them. Memory stays at one
    /// buffer: `buf`, the caller's, so that one reader's buffer serves all
    /// its objects (a fresh one per object was a fresh mapping of its
    /// size, zeroed page by page by the kernel on first touch).
    pub fn stream<R: Read, E: From<std::io::Error>>(
        &self,
        mut reader: R,
        buf: &mut Vec<u8>,
        buf_size: usize,
        mut f: impl FnMut(&mut [&mut [u8]]) -> Result<(), E>,
    ) -> Result<(), E> {
        let buf_size = buf_size.max(self.max + 1);
        // What it held before is overwritten as it fills.
        buf.resize(buf_size, 0);
        let mut filled = 0usize;
        let mut eof = false;
        loop {
            while !eof && filled < buf_size {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => eof = true,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if filled == 0 {
                return Ok(());
            }
            let mut cuts = self.cuts(&buf[..filled]);
            let consumed = if eof {
                filled
            } else {
                // Hold back the last cut: the buffer's end may have forced it.
                match cuts.pop() {
                    Some((off, _)) => off,
                    None => 0,
                }
            };
            f(&mut split_mut(&mut buf[..consumed], &cuts))?;
            if eof {
                return Ok(());
            }
            buf.copy_within(consumed..filled, 0);
            filled -= consumed;
        }
    }
}

/// `data` cut as `cuts` (consecutive, from its start) says, as chunks a
/// caller may overwrite (and process in parallel).
pub fn split_mut<'a>(mut data: &'a mut [u8], cuts: &[(usize, usize)]) -> Vec<&'a mut [u8]> {
    let mut out = Vec::with_capacity(cuts.len());
    for &(_, len) in cuts {
        let (chunk, rest) = data.split_at_mut(len);
        out.push(chunk);
        data = rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize) -> Vec<u8> {
        let mut x = 0x2545F4914F6CDD1Du64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn stream_cuts_equal_slice_cuts() {
        let p = ChunkerParams {
            min: 4096,
            avg: 16384,
            max: 65536,
            normalization: 1,
        };
        let c = Chunker::new(&p);
        let data = noise(3_000_000);
        let want: Vec<usize> = c.cuts(&data).iter().map(|x| x.1).collect();
        // Twice the largest chunk, a quarter more than it, one byte more:
        // one buffer for all three, each run finding the last one's bytes.
        let mut reused = Vec::new();
        for buf in [200_000, 81_920, 65_537] {
            let mut got = Vec::new();
            let mut bytes = Vec::new();
            c.stream::<_, std::io::Error>(&data[..], &mut reused, buf, |b| {
                got.extend(b.iter().map(|s| s.len()));
                for s in b.iter_mut() {
                    bytes.extend_from_slice(s);
                    // Overwriting a chunk handed over changes nothing after.
                    s.fill(0xAA);
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(got, want, "buffer {buf}");
            assert!(bytes == data, "buffer {buf}");
        }
    }
}
