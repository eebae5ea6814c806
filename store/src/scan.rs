//! Reading the log back: records one by one from a segment, telling a torn tail (a crash
//! cut the last write short) from corruption (a bad record with valid data after it).
use crate::error::StoreError;
use crate::medium::Medium;
use crate::record::{checksum, parse_head, HEAD_BYTES};

/// Bytes read from the medium at a time.
const WINDOW_BYTES: usize = 1 << 20;

/// What the next read found.
pub enum Next {
    /// A record whose checksum holds, at `offset`; its body is in the reader's `body`.
    Record { offset: u64 },
    /// The end of the file.
    End,
    /// A record cut short at `offset`, or zeros to the end: a crash's torn tail.
    Torn { offset: u64 },
    /// A bad record at `offset` with more data after it.
    Bad { offset: u64 },
}

/// Reads one segment file front to back through a window, so a scan costs few reads
/// and memory stays at one window plus the largest record.
pub struct SegmentReader {
    name: String,
    len: u64,
    offset: u64,
    window: Vec<u8>,
    window_at: u64,
    record_bytes_max: u32,
    /// The last record's body.
    pub body: Vec<u8>,
}

impl SegmentReader {
    /// A reader of `name` from byte `offset`.
    pub fn open<M: Medium>(medium: &mut M, name: &str, offset: u64, record_bytes_max: u32) -> Result<Self, StoreError> {
        let len = medium.len(name).map_err(StoreError::io("length of a segment"))?;
        Ok(SegmentReader { name: name.to_string(), len, offset, window: Vec::new(), window_at: 0, record_bytes_max, body: Vec::new() })
    }

    /// Where the next record starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next record.
    pub fn next<M: Medium>(&mut self, medium: &mut M) -> Result<Next, StoreError> {
        let at = self.offset;
        if at == self.len {
            return Ok(Next::End);
        }
        if at + HEAD_BYTES as u64 > self.len {
            return Ok(Next::Torn { offset: at });
        }
        let mut head = [0u8; HEAD_BYTES];
        self.read(medium, at, &mut head)?;
        let Some((body_len, crc)) = parse_head(&head) else {
            // A head is written whole before its body: a bad one is rot, or zeros a crash left.
            return Ok(if self.zeros_from(medium, at)? { Next::Torn { offset: at } } else { Next::Bad { offset: at } });
        };
        let end = at + HEAD_BYTES as u64 + u64::from(body_len);
        if body_len == 0 || body_len > self.record_bytes_max {
            return Ok(Next::Bad { offset: at });
        }
        if end > self.len {
            return Ok(Next::Torn { offset: at });
        }
        let mut body = std::mem::take(&mut self.body);
        body.resize(body_len as usize, 0);
        let read = self.read(medium, at + HEAD_BYTES as u64, &mut body);
        self.body = body;
        read?;
        if checksum(&self.body) != crc {
            // A whole record that ends the file may be a write torn inside; one with data
            // after it was written before that data, and has rotted.
            return Ok(if end == self.len { Next::Torn { offset: at } } else { Next::Bad { offset: at } });
        }
        self.offset = end;
        Ok(Next::Record { offset: at })
    }

    fn zeros_from<M: Medium>(&mut self, medium: &mut M, from: u64) -> Result<bool, StoreError> {
        let mut at = from;
        let mut chunk = [0u8; 4096];
        while at < self.len {
            let n = ((self.len - at) as usize).min(chunk.len());
            self.read(medium, at, &mut chunk[..n])?;
            if chunk[..n].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            at += n as u64;
        }
        Ok(true)
    }

    /// Fills `out` from the file at `at`, through the window.
    fn read<M: Medium>(&mut self, medium: &mut M, at: u64, out: &mut [u8]) -> Result<(), StoreError> {
        let want_end = at + out.len() as u64;
        let window_end = self.window_at + self.window.len() as u64;
        if at < self.window_at || want_end > window_end {
            let size = (self.len - at).min(WINDOW_BYTES.max(out.len()) as u64) as usize;
            self.window.resize(size, 0);
            let mut filled = 0;
            while filled < size {
                let n = medium.read_at(&self.name, at + filled as u64, &mut self.window[filled..]).map_err(StoreError::io("reading a segment"))?;
                if n == 0 {
                    return Err(StoreError::Io { what: "reading a segment", source: std::io::ErrorKind::UnexpectedEof.into() });
                }
                filled += n;
            }
            self.window_at = at;
        }
        let from = (at - self.window_at) as usize;
        match self.window.get(from..from + out.len()) {
            Some(bytes) => {
                out.copy_from_slice(bytes);
                Ok(())
            }
            None => Err(StoreError::Io { what: "reading a segment", source: std::io::ErrorKind::UnexpectedEof.into() }),
        }
    }
}
