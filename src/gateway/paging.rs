//! Cursor pagination of the gateway's lists (MCP spec 2025-06-18, "Pagination"): a
//! list longer than `mcp.gateway_page_size` is sent in pages, each but the last with
//! an opaque `nextCursor` that the client sends back as `cursor`.
//!
//! A cursor is base64url (no padding) of `<offset>.<fingerprint>`, where the
//! fingerprint is [`super::catalog::fingerprint`] of the caller's whole list when the
//! cursor was made. The gateway keeps no state per listing: the next page is cut from
//! the list as it is now, and if the list changed in between (a server started, a
//! grant revoked) the cursor is refused rather than skipping or repeating items. The
//! spec asks for -32602 (invalid params) for an invalid cursor; the client then lists
//! again from the start (it is also told by `notifications/*/list_changed`).

use crate::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The cursor for the page starting at `offset` of a list with `fingerprint`.
fn encode(offset: usize, fingerprint: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{offset}.{fingerprint}"))
}

/// The offset a cursor points at, if it was made for the list with `fingerprint`.
fn decode(cursor: &str, fingerprint: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (offset, made_for) = raw.split_once('.')?;
    (made_for == fingerprint).then(|| offset.parse().ok())?
}

fn invalid_cursor() -> Error {
    Error::field(
        "cursor",
        "invalid cursor: not one this gateway gave, or the list has changed since; list again without a cursor",
    )
}

/// The page of `items` (whose fingerprint is `fingerprint`) that `cursor` asks for
/// (`None`: the first), `size` items long (0: all the rest), and the cursor of the
/// next page when there is one. `VALIDATION_ERROR` on the `cursor` field (→ -32602)
/// for a cursor that is garbage, was made for another version of the list, or points
/// past its end.
pub fn page<T>(
    mut items: Vec<T>,
    fingerprint: &str,
    cursor: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>)> {
    let start = match cursor {
        None => 0,
        Some(c) => decode(c, fingerprint)
            .filter(|&o| o > 0 && o < items.len())
            .ok_or_else(invalid_cursor)?,
    };
    let end = if size == 0 {
        items.len()
    } else {
        items.len().min(start + size)
    };
    let next = (end < items.len()).then(|| encode(end, fingerprint));
    items.truncate(end);
    Ok((items.split_off(start), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Follows cursors from the first page to the end.
    fn all(items: &[u32], fp: &str, size: usize) -> (Vec<Vec<u32>>, usize) {
        let mut pages = Vec::new();
        let mut cursor = None;
        loop {
            let (p, next) = page(items.to_vec(), fp, cursor.as_deref(), size).unwrap();
            pages.push(p);
            match next {
                Some(n) => cursor = Some(n),
                None => return (pages.clone(), pages.len()),
            }
        }
    }

    #[test]
    fn cursors_walk_the_list_once() {
        let items: Vec<u32> = (0..7).collect();
        let (pages, n) = all(&items, "f1", 3);
        assert_eq!(n, 3);
        assert_eq!(pages, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        // An exact multiple ends without an empty page.
        let (pages, _) = all(&items[..6], "f1", 3);
        assert_eq!(pages, vec![vec![0, 1, 2], vec![3, 4, 5]]);
        // Size 0: one page, no cursor.
        assert_eq!(page(items.clone(), "f1", None, 0).unwrap(), (items, None));
        let (empty, next) = page(Vec::<u32>::new(), "f1", None, 3).unwrap();
        assert!(empty.is_empty() && next.is_none());
    }

    #[test]
    fn a_cursor_for_another_list_or_garbage_is_invalid() {
        let items: Vec<u32> = (0..7).collect();
        let (_, next) = page(items.clone(), "f1", None, 3).unwrap();
        let next = next.unwrap();
        let e = page(items.clone(), "f2", Some(&next), 3).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::ValidationError);
        assert_eq!(e.details[0].field, "cursor");
        for bad in [
            "",
            "!!",
            "bm90IGEgY3Vyc29y",
            &encode(0, "f1"),
            &encode(7, "f1"),
        ] {
            assert!(page(items.clone(), "f1", Some(bad), 3).is_err(), "{bad}");
        }
    }
}
