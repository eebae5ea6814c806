//! Footprint from the section headers of a 32-bit little-endian ELF image.

pub struct Footprint {
    /// Bytes stored in flash: loaded read-only sections plus the initial values of `.data`.
    pub flash: u64,
    /// Bytes of RAM taken by statics: `.data`, `.bss` and `.uninit` (not the stack or heap).
    pub ram: u64,
}

const SHT_NOBITS: u32 = 8;
const SHF_WRITE: u32 = 1;
const SHF_ALLOC: u32 = 2;

fn u16_at(b: &[u8], at: usize) -> Result<u16, String> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| "truncated ELF".into())
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| "truncated ELF".into())
}

pub fn footprint(b: &[u8]) -> Result<Footprint, String> {
    if b.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 1, 1][..]) {
        return Err("not a 32-bit little-endian ELF file".into());
    }
    let shoff = u32_at(b, 0x20)? as usize;
    let shentsize = u16_at(b, 0x2e)? as usize;
    let shnum = u16_at(b, 0x30)? as usize;
    let shstrndx = u16_at(b, 0x32)? as usize;
    let names = u32_at(b, shoff + shstrndx * shentsize + 16)? as usize;
    let mut fp = Footprint { flash: 0, ram: 0 };
    for i in 0..shnum {
        let h = shoff + i * shentsize;
        let name_at = names + u32_at(b, h)? as usize;
        let name_len = b
            .get(name_at..)
            .and_then(|s| s.iter().position(|&c| c == 0))
            .ok_or("bad section name")?;
        let name =
            core::str::from_utf8(&b[name_at..name_at + name_len]).map_err(|e| e.to_string())?;
        let kind = u32_at(b, h + 4)?;
        let flags = u32_at(b, h + 8)?;
        let size = u64::from(u32_at(b, h + 20)?);
        if flags & SHF_ALLOC == 0 || size == 0 {
            continue;
        }
        // The runtimes' stack and heap reservations are not statics.
        if name == ".stack" || name == ".heap" {
            continue;
        }
        let writable = flags & SHF_WRITE != 0;
        if kind != SHT_NOBITS {
            // Code, constants and the initial values of `.data` all live in flash.
            fp.flash += size;
        }
        if writable {
            fp.ram += size;
        }
    }
    Ok(fp)
}
