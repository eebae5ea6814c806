//! ZooKeeper's path rules (`org.apache.zookeeper.common.PathUtils.validatePath`).

use crate::Error;

/// Check `path` as ZooKeeper 3.8 does: absolute, no trailing `/` (except the root), no empty
/// component, no `.` or `..` component, no NUL, and none of the characters ZooKeeper rejects
/// (U+0001..U+001F, U+007F..U+009F, U+D800..U+F8FF, U+FFF0..U+FFFF; a character outside the
/// Basic Multilingual Plane is a surrogate pair in Java and is rejected too).
pub fn validate_path(path: &str) -> Result<(), Error> {
    let chars: alloc::vec::Vec<char> = path.chars().collect();
    match chars.first() {
        None => return Err(Error::BadArguments),
        Some('/') => {}
        Some(_) => return Err(Error::BadArguments),
    }
    if chars.len() == 1 {
        return Ok(());
    }
    if chars.last() == Some(&'/') {
        return Err(Error::BadArguments);
    }
    let at = |i: usize| chars.get(i).copied();
    for i in 1..chars.len() {
        let c = chars[i];
        let last = chars[i - 1];
        let next_ends = matches!(at(i + 1), None | Some('/'));
        let bad = if c == '\0' {
            true
        } else if c == '/' && last == '/' {
            true
        } else if c == '.' && last == '.' {
            i >= 2 && at(i - 2) == Some('/') && next_ends
        } else if c == '.' {
            last == '/' && next_ends
        } else {
            let u = c as u32;
            (0x01..=0x1f).contains(&u)
                || (0x7f..=0x9f).contains(&u)
                || (0xd800..=0xf8ff).contains(&u)
                || (0xfff0..=0xffff).contains(&u)
                || u > 0xffff
        };
        if bad {
            return Err(Error::BadArguments);
        }
    }
    Ok(())
}

/// ZooKeeper's nodes that may not be deleted (`DataTree.isSpecialPath`).
pub(crate) fn is_special(path: &str) -> bool {
    matches!(path, "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_zookeeper_paths() {
        for p in ["/", "/a", "/a/b", "/a.b", "/..a", "/a/...", "/zookeeper/x", "/ä", "/a b"] {
            assert_eq!(validate_path(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn rejects_what_zookeeper_rejects() {
        for p in ["", "a", "/a/", "//a", "/a//b", "/.", "/..", "/a/.", "/a/..", "/./b", "/../b",
                  "/a\0", "/a\u{1}", "/a\u{7f}", "/a\u{e000}", "/a\u{fff0}", "/a\u{1F600}"] {
            assert_eq!(validate_path(p), Err(Error::BadArguments), "{p:?}");
        }
    }
}
