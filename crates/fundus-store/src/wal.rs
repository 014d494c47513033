//! Write-ahead log: opaque records, checksummed, numbered, and durable when
//! [`Wal::append`] returns.
//!
//! The log knows nothing of what it stores. The caller (the collection)
//! serializes each operation — an upsert batch, a delete — into bytes; the
//! log gives every record the next sequence number, and on restart hands the
//! records back in order so the caller can replay what its segments do not
//! yet hold. Once everything below some sequence number is in a segment,
//! [`Wal::reset`] empties the log without reusing any number.
//!
//! # File format
//!
//! All integers are little-endian.
//!
//! ```text
//! header  (20 bytes)  magic "FUNDWAL1" (8) | first_seq u64 | crc32 u32 of the 16 bytes before it
//! record  (16 + len)  len u32 | crc32 u32 of (seq bytes ++ payload) | seq u64 | payload (len bytes)
//! ```
//!
//! Records follow the header back to back; the first has sequence number
//! `first_seq` and each next one is one more. The header carries `first_seq`
//! so that numbers keep increasing across [`Wal::reset`]; its checksum keeps
//! a flipped bit there from silently renumbering every record. A record's
//! checksum covers its sequence number, so a record moved or duplicated
//! within the file does not pass. Payloads longer than [`MAX_RECORD_LEN`]
//! (1 GiB) are refused on append and read as damage.
//!
//! # Fsync policy
//!
//! - [`FsyncPolicy::Always`] (the default): `append` and `append_batch`
//!   write their frames with one `write` and call `fdatasync` before they
//!   return. `Ok` means *acknowledged*: the records survive `kill -9`, a
//!   kernel crash and power loss, as far as the storage honours flushes.
//!   Batching amortizes the fsync; that is what `append_batch` is for.
//! - [`FsyncPolicy::Never`]: the OS writes the pages when it likes. Records
//!   survive `kill -9` (they are in the page cache) but not power loss until
//!   [`Wal::sync`] or [`Wal::reset`] returns. For bulk loads and tests.
//!
//! An `Err` from an append means "not acknowledged", not "not written": the
//! record may still come back on replay, as in any database. A failed fsync
//! *poisons* the log: Linux may drop the dirty pages after reporting the
//! error and a retried fsync then succeeds without the data ever reaching
//! the disk, so every later write is refused with [`WalError::Poisoned`]
//! until the log is reopened, which reads back what is really there. A
//! failed write is rolled back (truncated) so the next append does not
//! land after garbage; if even that fails, the log is poisoned too.
//!
//! [`Wal::open`] fsyncs the file, so a record replayed once (say after a
//! `kill -9` under `Never`) cannot vanish in a later power loss.
//!
//! # Recovery
//!
//! A crash during an append leaves a *torn tail*: a cut frame header, a cut
//! payload, a garbage length or a checksum that does not match. Only the
//! last, unacknowledged write can be torn, so when nothing valid follows the
//! damage, `open` cuts the file at the end of the last good record, fsyncs
//! it and reports the cut as a [`Recovery`] for the caller to log.
//!
//! Damage followed by a valid record (a record with a matching checksum and
//! a sequence number at least the expected one, found by scanning every byte
//! offset after the damage) is not a torn tail: acknowledged records sit
//! behind it. `open` then fails with [`WalError::Corrupt`] naming the offset
//! and never drops those records. The one crash this misreads is a batch
//! whose write reached the disk out of order (a later page durable, an
//! earlier one not); it is reported as corruption, which is safe but needs
//! a person. A valid record with the wrong sequence number, and a damaged
//! header, are corruption too: neither comes from a torn write.
//!
//! A new log is created, and [`Wal::reset`] replaces one, atomically: write
//! a temporary file, fsync it, rename it over the log, fsync the directory.
//! A crash during `reset` leaves either the old log or the new one; callers
//! skip replayed records whose sequence number their segments already hold.
//!
//! ```
//! use fundus_store::wal::{FsyncPolicy, Wal};
//!
//! let tmp = tempfile::tempdir().unwrap();
//! let path = tmp.path().join("wal.log");
//! let (mut wal, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
//! assert!(replay.records.is_empty());
//! assert_eq!(wal.append(b"upsert a").unwrap(), 0);
//! let batch: Vec<Vec<u8>> = vec![b"upsert b".to_vec(), b"delete a".to_vec()];
//! assert_eq!(wal.append_batch(&batch).unwrap(), 1..3);
//! drop(wal);
//!
//! let (_wal, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
//! let seqs: Vec<u64> = replay.records.iter().map(|r| r.seq).collect();
//! assert_eq!(seqs, [0, 1, 2]);
//! assert_eq!(replay.records[2].payload, b"delete a");
//! ```

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Magic and format version at the start of every log.
const MAGIC: &[u8; 8] = b"FUNDWAL1";
/// Magic (8) + first sequence number (8) + header checksum (4).
const HEADER_LEN: u64 = 20;
/// Length (4) + checksum (4) + sequence number (8).
const FRAME_HEADER_LEN: u64 = 16;
/// Largest payload of one record. A larger length field is damage, not a
/// record: a torn or flipped length must not make `open` allocate gigabytes.
pub const MAX_RECORD_LEN: u32 = 1 << 30;

/// Errors of the write-ahead log.
#[derive(Debug, Error)]
pub enum WalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// The caller asked for something the log cannot do (a record over
    /// [`MAX_RECORD_LEN`], a reset that would reuse sequence numbers).
    #[error("{path}: {reason}")]
    Rejected { path: PathBuf, reason: String },
    #[error("{path}: write-ahead log refuses writes after an earlier failure ({reason}); reopen it to recover")]
    Poisoned { path: PathBuf, reason: String },
}

/// When appends reach the disk; see the module docs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `fdatasync` before every append returns: `Ok` means durable.
    #[default]
    Always,
    /// Leave it to the OS; call [`Wal::sync`] to make records durable.
    Never,
}

/// One record as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// A torn tail that [`Wal::open`] cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub path: PathBuf,
    /// Where the file now ends: the end of the last good record.
    pub offset: u64,
    /// How many bytes were cut.
    pub truncated_bytes: u64,
    /// What was wrong with the first cut byte's frame.
    pub reason: String,
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: cut a torn tail of {} bytes at byte {} ({})",
            self.path.display(),
            self.truncated_bytes,
            self.offset,
            self.reason
        )
    }
}

/// What [`Wal::open`] found in the log.
#[derive(Debug, Default)]
pub struct Replay {
    /// Every valid record, in sequence order.
    pub records: Vec<Record>,
    /// Set when a torn tail was cut.
    pub recovery: Option<Recovery>,
}

/// An open write-ahead log. One writer at a time: the caller holds the lock.
#[derive(Debug)]
pub struct Wal {
    path: PathBuf,
    /// Opened for append, so every write lands at the end of the file.
    file: File,
    policy: FsyncPolicy,
    first_seq: u64,
    next_seq: u64,
    /// Bytes in the file that belong to the log (header + whole records).
    len: u64,
    /// Why writes are refused, after a failure that left the file's state
    /// unknown.
    poisoned: Option<String>,
}

impl Wal {
    /// Opens the log at `path`, creating an empty one (first sequence
    /// number 0) when the file is missing or empty. Returns every valid
    /// record; a torn tail is cut and reported in [`Replay::recovery`].
    pub fn open(path: impl AsRef<Path>, policy: FsyncPolicy) -> Result<(Wal, Replay), WalError> {
        let path = path.as_ref().to_path_buf();
        let existing = match open_log(&path) {
            Ok(file) => Some(file),
            Err(WalError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let existing = match existing {
            Some(file) => {
                let len = file.metadata().map_err(|e| io_err(&path, e))?.len();
                (len > 0).then_some((file, len))
            }
            None => None,
        };
        let Some((file, len)) = existing else {
            create_fresh(&path, 0)?;
            let file = open_log(&path)?;
            let wal = Wal::new(path, file, policy, 0, 0, HEADER_LEN);
            return Ok((wal, Replay::default()));
        };

        let scan = scan(&path, &file, len)?;
        let recovery = match scan.torn {
            Some(reason) => {
                file.set_len(scan.end).map_err(|e| io_err(&path, e))?;
                Some(Recovery {
                    path: path.clone(),
                    offset: scan.end,
                    truncated_bytes: len - scan.end,
                    reason,
                })
            }
            None => None,
        };
        // Also after a clean scan: what was replayed must stay replayed.
        file.sync_all().map_err(|e| io_err(&path, e))?;
        let wal = Wal::new(path, file, policy, scan.first_seq, scan.next_seq, scan.end);
        let replay = Replay {
            records: scan.records,
            recovery,
        };
        Ok((wal, replay))
    }

    /// Reads the valid records without opening the log for writing and
    /// without cutting anything: for readers while a writer may be
    /// appending (a half-written record at the end is simply not there yet).
    pub fn read(path: impl AsRef<Path>) -> Result<Vec<Record>, WalError> {
        let path = path.as_ref();
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(path, e)),
        };
        let len = file.metadata().map_err(|e| io_err(path, e))?.len();
        if len == 0 {
            return Ok(Vec::new());
        }
        Ok(scan(path, &file, len)?.records)
    }

    fn new(
        path: PathBuf,
        file: File,
        policy: FsyncPolicy,
        first_seq: u64,
        next_seq: u64,
        len: u64,
    ) -> Wal {
        Wal {
            path,
            file,
            policy,
            first_seq,
            next_seq,
            len,
            poisoned: None,
        }
    }

    /// Appends one record and returns its sequence number. Under
    /// [`FsyncPolicy::Always`], `Ok` means the record is durable.
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, WalError> {
        self.append_batch(&[payload]).map(|seqs| seqs.start)
    }

    /// Appends records with one write (and, under [`FsyncPolicy::Always`],
    /// one fsync) and returns their sequence numbers. An empty batch writes
    /// nothing and returns an empty range at [`Wal::next_seq`].
    pub fn append_batch<P: AsRef<[u8]>>(&mut self, payloads: &[P]) -> Result<Range<u64>, WalError> {
        self.check_usable()?;
        let start = self.next_seq;
        // The last number is never handed out, so `next_seq` always fits.
        let end = u64::try_from(payloads.len())
            .ok()
            .and_then(|n| start.checked_add(n))
            .ok_or_else(|| self.rejected(format!("sequence numbers exhausted at {start}")))?;
        if payloads.is_empty() {
            return Ok(start..end);
        }
        let mut total = 0usize;
        for (i, p) in payloads.iter().enumerate() {
            let len = p.as_ref().len();
            if len > MAX_RECORD_LEN as usize {
                return Err(self.rejected(format!(
                    "record {i} of the batch is {len} bytes; the limit is {MAX_RECORD_LEN}"
                )));
            }
            total += FRAME_HEADER_LEN as usize + len;
        }
        let mut buf = Vec::with_capacity(total);
        for (seq, p) in (start..end).zip(payloads) {
            encode_frame(&mut buf, seq, p.as_ref());
        }
        if let Err(e) = self.file.write_all(&buf) {
            return Err(self.roll_back_write(e));
        }
        self.len += buf.len() as u64;
        self.next_seq = end;
        if self.policy == FsyncPolicy::Always {
            self.sync_data()?;
        }
        Ok(start..end)
    }

    /// Makes every appended record durable (for [`FsyncPolicy::Never`]).
    pub fn sync(&mut self) -> Result<(), WalError> {
        self.check_usable()?;
        self.sync_data()
    }

    /// Replaces the log with an empty one whose first record will get
    /// `next_seq`. Call it once everything below `next_seq` is in a durable
    /// segment. `next_seq` may not be below [`Wal::next_seq`]: numbers are
    /// never reused.
    pub fn reset(&mut self, next_seq: u64) -> Result<(), WalError> {
        self.check_usable()?;
        if next_seq < self.next_seq {
            return Err(self.rejected(format!(
                "reset to sequence number {next_seq} would reuse numbers already handed out (next is {})",
                self.next_seq
            )));
        }
        // Until the rename, the old log is intact and still ours.
        create_fresh(&self.path, next_seq)?;
        match open_log(&self.path) {
            Ok(file) => {
                self.file = file;
                self.first_seq = next_seq;
                self.next_seq = next_seq;
                self.len = HEADER_LEN;
                Ok(())
            }
            Err(e) => {
                // Our handle now points at the replaced file.
                self.poisoned = Some(format!("reopening after reset failed: {e}"));
                Err(e)
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    /// Switches the policy, e.g. to `Never` for a bulk load. Switching to
    /// `Always` does not sync what was appended before: call [`Wal::sync`].
    pub fn set_policy(&mut self, policy: FsyncPolicy) {
        self.policy = policy;
    }

    /// Sequence number of the first record this log (since its last reset)
    /// holds or will hold.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Sequence number the next appended record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Size of the log file in bytes, so the caller can decide when to move
    /// the records into a segment and reset.
    pub fn len_bytes(&self) -> u64 {
        self.len
    }

    fn check_usable(&self) -> Result<(), WalError> {
        match &self.poisoned {
            Some(reason) => Err(WalError::Poisoned {
                path: self.path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn rejected(&self, reason: String) -> WalError {
        WalError::Rejected {
            path: self.path.clone(),
            reason,
        }
    }

    fn sync_data(&mut self) -> Result<(), WalError> {
        self.file.sync_data().map_err(|e| {
            self.poisoned = Some(format!("fsync failed: {e}"));
            io_err(&self.path, e)
        })
    }

    /// A write that failed part way leaves part of a frame; cut it, or the
    /// next append would put good records behind garbage.
    fn roll_back_write(&mut self, e: io::Error) -> WalError {
        if let Err(cut) = self.file.set_len(self.len) {
            self.poisoned = Some(format!(
                "a failed write ({e}) could not be rolled back: {cut}"
            ));
        }
        io_err(&self.path, e)
    }
}

fn io_err(path: &Path, source: io::Error) -> WalError {
    WalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn open_log(path: &Path) -> Result<File, WalError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .open(path)
        .map_err(|e| io_err(path, e))
}

fn encode_header(first_seq: u64) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..16].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32fast::hash(&h[..16]);
    h[16..].copy_from_slice(&crc.to_le_bytes());
    h
}

fn frame_crc(seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// `payload` must be at most [`MAX_RECORD_LEN`] bytes.
fn encode_frame(out: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&frame_crc(seq, payload).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// Writes an empty log starting at `first_seq` and renames it over `path`:
/// whoever opens `path` sees the old file or the new one, never half of it.
fn create_fresh(path: &Path, first_seq: u64) -> Result<(), WalError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    let tmp = PathBuf::from(name);
    let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(&encode_header(first_seq))
        .and_then(|_| f.sync_all())
        .map_err(|e| io_err(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from(OsString::from(".")),
    };
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(&dir, e))
}

/// The result of reading a log from the start.
struct Scan {
    first_seq: u64,
    next_seq: u64,
    records: Vec<Record>,
    /// End of the last good record.
    end: u64,
    /// Set when the bytes from `end` on are a torn tail, with why.
    torn: Option<String>,
}

fn scan(path: &Path, file: &File, len: u64) -> Result<Scan, WalError> {
    let corrupt = |offset: u64, reason: String| WalError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    if len < HEADER_LEN {
        return Err(corrupt(
            0,
            format!("{len} bytes, shorter than the {HEADER_LEN}-byte header"),
        ));
    }
    let mut r = BufReader::new(file);
    let mut header = [0u8; HEADER_LEN as usize];
    r.read_exact(&mut header).map_err(|e| io_err(path, e))?;
    if header[..8] != MAGIC[..] {
        let reason = if header[..7] == MAGIC[..7] {
            format!(
                "write-ahead log format {:?}; this build reads {:?}",
                String::from_utf8_lossy(&header[..8]),
                String::from_utf8_lossy(MAGIC)
            )
        } else {
            "not a Fundus write-ahead log (bad magic)".to_string()
        };
        return Err(corrupt(0, reason));
    }
    if crc32fast::hash(&header[..16]) != le_u32(&header[16..]) {
        return Err(corrupt(8, "header checksum mismatch".into()));
    }
    let first_seq = le_u64(&header[8..16]);

    let mut records = Vec::new();
    let mut pos = HEADER_LEN;
    let mut expected = first_seq;
    let torn = loop {
        let remaining = len - pos;
        if remaining == 0 {
            break None;
        }
        if remaining < FRAME_HEADER_LEN {
            break Some(format!(
                "record header cut short ({remaining} of {FRAME_HEADER_LEN} bytes)"
            ));
        }
        let mut fh = [0u8; FRAME_HEADER_LEN as usize];
        r.read_exact(&mut fh).map_err(|e| io_err(path, e))?;
        let plen = le_u32(&fh[..4]);
        let crc = le_u32(&fh[4..8]);
        let seq = le_u64(&fh[8..]);
        if plen > MAX_RECORD_LEN {
            break Some(format!(
                "record length {plen} exceeds the limit of {MAX_RECORD_LEN} bytes"
            ));
        }
        let have = remaining - FRAME_HEADER_LEN;
        if u64::from(plen) > have {
            break Some(format!("payload cut short ({have} of {plen} bytes)"));
        }
        let mut payload = vec![0u8; plen as usize];
        r.read_exact(&mut payload).map_err(|e| io_err(path, e))?;
        if frame_crc(seq, &payload) != crc {
            break Some(format!("checksum mismatch in a {plen}-byte record"));
        }
        if seq != expected {
            return Err(corrupt(
                pos,
                format!("record has sequence number {seq}, expected {expected}"),
            ));
        }
        expected = expected
            .checked_add(1)
            .ok_or_else(|| corrupt(pos, "sequence number overflows after this record".into()))?;
        records.push(Record { seq, payload });
        pos += FRAME_HEADER_LEN + u64::from(plen);
    };
    drop(r);

    if let Some(reason) = &torn {
        if let Some((at, seq)) = find_valid_frame(path, file, pos + 1, len, expected)? {
            return Err(corrupt(
                pos,
                format!(
                    "{reason}, but a valid record (sequence number {seq}) follows at byte {at}: \
                     damage inside the log, not a torn tail"
                ),
            ));
        }
    }
    Ok(Scan {
        first_seq,
        next_seq: expected,
        records,
        end: pos,
        torn,
    })
}

/// Looks for a whole record with a good checksum and a sequence number of
/// at least `min_seq`, starting at any byte offset in `from..len`. Damage
/// with such a record behind it is corruption, not a torn tail. Runs only
/// after damage was found, so reading the rest of the file is fine.
fn find_valid_frame(
    path: &Path,
    mut file: &File,
    from: u64,
    len: u64,
    min_seq: u64,
) -> Result<Option<(u64, u64)>, WalError> {
    if from >= len {
        return Ok(None);
    }
    let mut rest = Vec::new();
    file.seek(SeekFrom::Start(from))
        .and_then(|_| file.read_to_end(&mut rest))
        .map_err(|e| io_err(path, e))?;
    // Every record takes at least a frame header, which bounds how far the
    // sequence numbers in the rest of the file can run ahead.
    let max_seq = min_seq.saturating_add((len - from) / FRAME_HEADER_LEN);
    let fh = FRAME_HEADER_LEN as usize;
    for (i, w) in rest.windows(fh).enumerate() {
        let seq = le_u64(&w[8..]);
        if seq < min_seq || seq > max_seq {
            continue;
        }
        let plen = le_u32(w);
        if plen > MAX_RECORD_LEN || (plen as usize) > rest.len() - i - fh {
            continue;
        }
        let payload = &rest[i + fh..i + fh + plen as usize];
        if frame_crc(seq, payload) == le_u32(&w[4..8]) {
            return Ok(Some((from + i as u64, seq)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(i: u64) -> Vec<u8> {
        format!("record number {i} with some bytes").into_bytes()
    }

    /// Writes `n` records with `Never` and returns the path and each
    /// record's start offset.
    fn log_with(dir: &Path, n: u64) -> (PathBuf, Vec<u64>) {
        let path = dir.join("wal.log");
        let (mut wal, replay) = Wal::open(&path, FsyncPolicy::Never).unwrap();
        assert!(replay.records.is_empty());
        let mut starts = Vec::new();
        for i in 0..n {
            starts.push(wal.len_bytes());
            assert_eq!(wal.append(&payload(i)).unwrap(), i);
        }
        wal.sync().unwrap();
        (path, starts)
    }

    fn seqs(replay: &Replay) -> Vec<u64> {
        replay.records.iter().map(|r| r.seq).collect()
    }

    fn corrupt_offset(r: Result<(Wal, Replay), WalError>) -> u64 {
        match r {
            Err(WalError::Corrupt { offset, .. }) => offset,
            Err(e) => panic!("expected Corrupt, got {e}"),
            Ok((_, replay)) => panic!("expected Corrupt, replayed {:?}", seqs(&replay)),
        }
    }

    #[test]
    fn append_and_reopen_replays_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("wal.log");
        let (mut wal, _) = Wal::open(&path, FsyncPolicy::Always).unwrap();
        assert_eq!(wal.append(b"one").unwrap(), 0);
        assert_eq!(wal.append_batch(&[&b"two"[..], b"three"]).unwrap(), 1..3);
        assert_eq!(wal.append_batch::<&[u8]>(&[]).unwrap(), 3..3);
        assert_eq!(wal.append(b"").unwrap(), 3);
        let len = wal.len_bytes();
        drop(wal);

        assert_eq!(fs::metadata(&path).unwrap().len(), len);
        let (mut wal, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
        assert!(replay.recovery.is_none());
        let got: Vec<(u64, &[u8])> = replay
            .records
            .iter()
            .map(|r| (r.seq, r.payload.as_slice()))
            .collect();
        let want: Vec<(u64, &[u8])> = vec![(0, b"one"), (1, b"two"), (2, b"three"), (3, b"")];
        assert_eq!(got, want);
        assert_eq!(
            (wal.first_seq(), wal.next_seq(), wal.len_bytes()),
            (0, 4, len)
        );
        assert_eq!(wal.append(b"five").unwrap(), 4);
    }

    #[test]
    fn missing_or_empty_file_gets_a_new_log() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("wal.log");
        let (wal, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
        assert!(replay.records.is_empty() && replay.recovery.is_none());
        assert_eq!(wal.next_seq(), 0);
        assert_eq!(fs::read(&path).unwrap(), encode_header(0));
        drop(wal);

        fs::write(&path, b"").unwrap();
        let (mut wal, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
        assert!(replay.records.is_empty());
        assert_eq!(wal.append(b"x").unwrap(), 0);
        drop(wal);
        let (_, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
        assert_eq!(seqs(&replay), [0]);
    }

    #[test]
    fn torn_tail_at_every_cut_point_is_cut_and_appends_go_on() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, starts) = log_with(tmp.path(), 3);
        let full = fs::read(&path).unwrap();
        let last = starts[2] as usize;
        for cut in 0..full.len() - last {
            fs::write(&path, &full[..last + cut]).unwrap();
            let (mut wal, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
            assert_eq!(seqs(&replay), [0, 1], "cut {cut}");
            match &replay.recovery {
                None => assert_eq!(cut, 0),
                Some(r) => {
                    assert_eq!((r.offset, r.truncated_bytes), (last as u64, cut as u64));
                    assert!(r.to_string().contains("torn tail"), "{r}");
                }
            }
            assert_eq!(fs::metadata(&path).unwrap().len(), last as u64);
            assert_eq!(wal.append(b"after").unwrap(), 2);
            drop(wal);
            let (_, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
            assert!(replay.recovery.is_none());
            assert_eq!(seqs(&replay), [0, 1, 2]);
            assert_eq!(replay.records[2].payload, b"after");
        }
    }

    #[test]
    fn damage_in_a_middle_record_is_corruption() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, starts) = log_with(tmp.path(), 3);
        let full = fs::read(&path).unwrap();
        // Every byte of record 1: length, checksum, sequence number, payload.
        for i in starts[1] as usize..starts[2] as usize {
            let mut bytes = full.clone();
            bytes[i] ^= 0x40;
            fs::write(&path, &bytes).unwrap();
            let r = Wal::open(&path, FsyncPolicy::Always);
            assert_eq!(corrupt_offset(r), starts[1], "flipped byte {i}");
            // Nothing was cut.
            assert_eq!(fs::read(&path).unwrap(), bytes);
        }
        let mut bytes = full.clone();
        bytes[starts[1] as usize + 20] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let msg = Wal::open(&path, FsyncPolicy::Always)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("wal.log") && msg.contains(&format!("byte {}", starts[1])),
            "{msg}"
        );
        assert!(msg.contains("not a torn tail"), "{msg}");
    }

    #[test]
    fn damage_in_the_last_record_is_a_torn_tail() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, starts) = log_with(tmp.path(), 3);
        let full = fs::read(&path).unwrap();
        for i in starts[2] as usize..full.len() {
            let mut bytes = full.clone();
            bytes[i] ^= 0x40;
            fs::write(&path, &bytes).unwrap();
            let (_, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
            assert_eq!(seqs(&replay), [0, 1], "flipped byte {i}");
            let r = replay.recovery.unwrap();
            assert_eq!(r.truncated_bytes, full.len() as u64 - starts[2]);
        }
    }

    #[test]
    fn absurd_length_at_the_tail_is_torn() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, starts) = log_with(tmp.path(), 2);
        let mut bytes = fs::read(&path).unwrap();
        let at = starts[1] as usize;
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        fs::write(&path, &bytes).unwrap();
        let (_, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
        assert_eq!(seqs(&replay), [0]);
        let r = replay.recovery.unwrap();
        assert!(r.reason.contains("exceeds"), "{}", r.reason);

        // Zeros where the OS extended the file but never wrote: torn too.
        let tmp = tempfile::tempdir().unwrap();
        let (path, _) = log_with(tmp.path(), 2);
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&[0u8; 4096]);
        fs::write(&path, &bytes).unwrap();
        let (_, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
        assert_eq!(seqs(&replay), [0, 1]);
        assert_eq!(replay.recovery.unwrap().truncated_bytes, 4096);
    }

    #[test]
    fn bad_header_is_corruption() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, _) = log_with(tmp.path(), 1);
        let full = fs::read(&path).unwrap();

        let mut bytes = full.clone();
        bytes[..8].copy_from_slice(b"NOTAWAL!");
        fs::write(&path, &bytes).unwrap();
        let msg = Wal::open(&path, FsyncPolicy::Always)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("wal.log") && msg.contains("bad magic"),
            "{msg}"
        );

        bytes[..8].copy_from_slice(b"FUNDWAL9");
        fs::write(&path, &bytes).unwrap();
        let msg = Wal::open(&path, FsyncPolicy::Always)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("FUNDWAL9"), "{msg}");

        let mut bytes = full.clone();
        bytes[9] ^= 1; // first_seq
        fs::write(&path, &bytes).unwrap();
        let r = Wal::open(&path, FsyncPolicy::Always);
        assert_eq!(corrupt_offset(r), 8);

        fs::write(&path, &full[..7]).unwrap();
        assert_eq!(corrupt_offset(Wal::open(&path, FsyncPolicy::Always)), 0);
    }

    #[test]
    fn valid_record_with_wrong_sequence_number_is_corruption() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, _) = log_with(tmp.path(), 2);
        let mut bytes = fs::read(&path).unwrap();
        let at = bytes.len() as u64;
        encode_frame(&mut bytes, 7, b"out of order");
        fs::write(&path, &bytes).unwrap();
        assert_eq!(corrupt_offset(Wal::open(&path, FsyncPolicy::Always)), at);
    }

    #[test]
    fn reset_keeps_sequence_numbers_increasing() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, _) = log_with(tmp.path(), 3);
        let (mut wal, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
        assert_eq!(seqs(&replay), [0, 1, 2]);

        let err = wal.reset(2).unwrap_err();
        assert!(matches!(err, WalError::Rejected { .. }), "{err}");
        wal.reset(3).unwrap();
        assert_eq!(
            (wal.first_seq(), wal.next_seq(), wal.len_bytes()),
            (3, 3, HEADER_LEN)
        );
        drop(wal);

        let (mut wal, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
        assert!(replay.records.is_empty());
        assert_eq!(wal.next_seq(), 3);
        assert_eq!(wal.append_batch(&[b"a", b"b"]).unwrap(), 3..5);
        wal.reset(10).unwrap();
        assert_eq!(wal.append(b"c").unwrap(), 10);
        drop(wal);

        let (wal, replay) = Wal::open(&path, FsyncPolicy::Always).unwrap();
        assert_eq!(seqs(&replay), [10]);
        assert_eq!((wal.first_seq(), wal.next_seq()), (10, 11));
        assert!(!tmp.path().join("wal.log.tmp").exists());
    }
}
