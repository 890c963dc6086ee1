//! Image references as people write them (`busybox`, `mcpd-test/busybox:1`,
//! `docker.io/library/busybox:latest`, `sha256:46494bd9…`) brought to the short form
//! Docker lists in `RepoTags` (`busybox:latest`), so that a service's `image` and an
//! engine image can be compared. Rules from the distribution reference grammar that
//! Docker uses (github.com/distribution/reference): a missing tag means `latest`, and
//! the default registry `docker.io` with namespace `library` is implied.

/// Longest accepted reference, in bytes (Docker's own limit for a repository name).
pub const MAX_REFERENCE_LEN: usize = 255;

/// `busybox` → `busybox:latest`; `docker.io/library/busybox` → `busybox:latest`;
/// `repo@sha256:…` and image ids are returned unchanged.
pub fn normalize(reference: &str) -> String {
    let r = reference.trim();
    if r.contains('@') || is_image_id(r) {
        return r.to_string();
    }
    let r = r
        .strip_prefix("docker.io/library/")
        .or_else(|| r.strip_prefix("docker.io/"))
        .or_else(|| r.strip_prefix("index.docker.io/library/"))
        .or_else(|| r.strip_prefix("index.docker.io/"))
        .unwrap_or(r);
    let last = r.rsplit('/').next().unwrap_or(r);
    if last.contains(':') {
        r.to_string()
    } else {
        format!("{r}:latest")
    }
}

/// Whether `s` names an image by id (`sha256:<hex>` or a bare hex prefix of ≥ 12).
pub fn is_image_id(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    let bare_ok = s.starts_with("sha256:") || hex.len() >= 12;
    bare_ok && !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `reference` (as a service or a caller wrote it) names the image with this
/// `id` and these `repo_tags`.
pub fn matches(reference: &str, id: &str, repo_tags: &[String]) -> bool {
    if is_image_id(reference) {
        let want = reference.strip_prefix("sha256:").unwrap_or(reference);
        let have = id.strip_prefix("sha256:").unwrap_or(id);
        return have.starts_with(want);
    }
    let n = normalize(reference);
    repo_tags.iter().any(|t| normalize(t) == n)
}

/// The tag part of a `repo:tag` reference (`latest` when there is none), or `None` for
/// ids and digests.
pub fn tag_of(reference: &str) -> Option<String> {
    let n = normalize(reference);
    if n.contains('@') || is_image_id(&n) {
        return None;
    }
    let last = n.rsplit('/').next().unwrap_or(&n);
    last.split_once(':').map(|(_, t)| t.to_string())
}

/// Checks a reference given in a request: non-empty, bounded, no whitespace or control
/// characters (Docker reports the finer grammar errors itself).
pub fn validate(field: &str, reference: &str) -> crate::error::Result<()> {
    use crate::error::Error;
    if reference.is_empty() {
        return Err(Error::field(field, "required"));
    }
    if reference.len() > MAX_REFERENCE_LEN {
        return Err(Error::field(
            field,
            format!("longer than {MAX_REFERENCE_LEN} characters"),
        ));
    }
    if reference
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::field(
            field,
            "must not contain whitespace or control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker_lists_tags() {
        assert_eq!(normalize("busybox"), "busybox:latest");
        assert_eq!(normalize("docker.io/library/busybox"), "busybox:latest");
        assert_eq!(normalize("mcpd-test/busybox:1"), "mcpd-test/busybox:1");
        assert_eq!(normalize("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(normalize("localhost:5000/app:2"), "localhost:5000/app:2");
        assert_eq!(normalize("sha256:abcdef"), "sha256:abcdef");
    }

    #[test]
    fn matches_by_tag_or_id_prefix() {
        let tags = vec!["mcpd-test/busybox:1".to_string()];
        let id = "sha256:46494bd9f0fc0123456789abcdef";
        assert!(matches("mcpd-test/busybox:1", id, &tags));
        assert!(!matches("mcpd-test/busybox", id, &tags));
        assert!(matches("46494bd9f0fc", id, &tags));
        assert!(matches("sha256:46494bd9", id, &tags));
        assert!(
            !matches("46494bd9", id, &tags),
            "bare prefixes need 12 digits"
        );
        assert!(!matches("sha256:ffff", id, &tags));
    }

    #[test]
    fn tags_and_validation() {
        assert_eq!(tag_of("busybox").as_deref(), Some("latest"));
        assert_eq!(tag_of("localhost:5000/app:2").as_deref(), Some("2"));
        assert_eq!(tag_of("sha256:46494bd9f0fc"), None);
        assert!(validate("image", "a b").is_err());
        assert!(validate("image", "").is_err());
        assert!(validate("image", &"a".repeat(256)).is_err());
        assert!(validate("image", "mcpd-test/busybox:1").is_ok());
    }
}
