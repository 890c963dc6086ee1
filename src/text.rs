//! Limits of the free text every domain stores (descriptions, titles), so that no
//! request can park arbitrary amounts of text in the database or the audit log.

use crate::error::{Error, Result};

/// Longest description, in bytes (workspaces, access grants, mappings, catalog entries,
/// configuration entries, backups and their schedules).
pub const MAX_DESCRIPTION_LEN: usize = 1024;
/// Longest title or display name, in bytes (catalog entry titles, grant names).
pub const MAX_TITLE_LEN: usize = 256;

/// `VALIDATION_ERROR` naming `field` when `value` is longer than `max` bytes or holds
/// control characters other than line breaks and tabs.
pub fn check(field: &str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::field(field, format!("longer than {max} bytes")));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::field(field, "must not contain control characters"));
    }
    Ok(())
}

/// [`check`] with [`MAX_DESCRIPTION_LEN`] on the field `description`.
pub fn description(value: &str) -> Result<()> {
    check("description", value, MAX_DESCRIPTION_LEN)
}

/// Longest name of a named resource (MCP servers, clusters), in bytes.
const MAX_NAME_LEN: usize = 63;

fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
        })
}

/// 400 on `name` unless it is 1–63 of `a-z 0-9 - _ .` starting with a letter or digit
/// (the names of MCP servers and clusters, which paths accept in place of ids).
pub fn check_name(name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(Error::field(
            "name",
            "must be 1-63 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_length_and_control_characters() {
        assert!(description(&"x".repeat(MAX_DESCRIPTION_LEN)).is_ok());
        assert!(description("two\nlines\tand a tab").is_ok());
        let e = description(&"x".repeat(MAX_DESCRIPTION_LEN + 1)).unwrap_err();
        assert_eq!(e.details[0].field, "description");
        assert!(e.details[0].issue.contains("1024"));
        assert!(check("title", "a\u{0}b", MAX_TITLE_LEN).is_err());
    }
}
