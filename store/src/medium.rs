//! The few file operations a store needs, behind a trait so that a fault-injecting medium
//! ([`crate::fault::FaultyMedium`]) can stand in for a real directory in tests.
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A flat directory of files.
pub trait Medium {
    /// The names of the files.
    fn list(&mut self) -> io::Result<Vec<String>>;
    /// The length of a file.
    fn len(&mut self, name: &str) -> io::Result<u64>;
    /// Reads at `offset` into `buf`; returns how many bytes (0 at the end).
    fn read_at(&mut self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Appends `bytes` to the file, creating it if missing.
    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Makes the file's data durable (`fdatasync`).
    fn sync(&mut self, name: &str) -> io::Result<()>;
    /// Cuts the file to `len` bytes.
    fn set_len(&mut self, name: &str, len: u64) -> io::Result<()>;
    /// Renames a file, replacing `to` if it exists (atomically, as `rename(2)`).
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()>;
    /// Removes a file.
    fn remove(&mut self, name: &str) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&mut self) -> io::Result<()>;
}

/// A real directory. Keeps the file last appended to open, and the file last read.
pub struct DirMedium {
    dir: PathBuf,
    writing: Option<(String, File)>,
    reading: Option<(String, File)>,
}

impl DirMedium {
    /// The directory `dir`, created if missing.
    pub fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(DirMedium { dir: dir.to_path_buf(), writing: None, reading: None })
    }

    fn writer(&mut self, name: &str) -> io::Result<&mut File> {
        if self.writing.as_ref().map_or(true, |(open, _)| open != name) {
            let file = OpenOptions::new().create(true).append(true).open(self.dir.join(name))?;
            self.writing = Some((name.to_string(), file));
        }
        match &mut self.writing {
            Some((_, file)) => Ok(file),
            None => Err(io::Error::other("no file open")),
        }
    }

    fn reader(&mut self, name: &str) -> io::Result<&File> {
        if self.reading.as_ref().map_or(true, |(open, _)| open != name) {
            self.reading = Some((name.to_string(), File::open(self.dir.join(name))?));
        }
        match &self.reading {
            Some((_, file)) => Ok(file),
            None => Err(io::Error::other("no file open")),
        }
    }

    fn forget(&mut self, name: &str) {
        if self.writing.as_ref().is_some_and(|(open, _)| open == name) {
            self.writing = None;
        }
        if self.reading.as_ref().is_some_and(|(open, _)| open == name) {
            self.reading = None;
        }
    }
}

impl Medium for DirMedium {
    fn list(&mut self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            if let Some(name) = entry?.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        Ok(names)
    }

    fn len(&mut self, name: &str) -> io::Result<u64> {
        Ok(fs::metadata(self.dir.join(name))?.len())
    }

    fn read_at(&mut self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.reader(name)?.read_at(buf, offset)
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.writer(name)?.write_all(bytes)
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        self.writer(name)?.sync_data()
    }

    fn set_len(&mut self, name: &str, len: u64) -> io::Result<()> {
        self.forget(name);
        OpenOptions::new().write(true).open(self.dir.join(name))?.set_len(len)
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        self.forget(from);
        self.forget(to);
        fs::rename(self.dir.join(from), self.dir.join(to))
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.forget(name);
        fs::remove_file(self.dir.join(name))
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }
}
