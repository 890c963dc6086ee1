//! Image references as people write them (`busybox`, `mcpd-test/busybox:1`,
//! `docker.io/library/busybox:latest`, `sha256:46494bd9…`) brought to the short form
//! Docker lists in `RepoTags` (`busybox:latest`), so that a service's `image` and an
//! engine image can be compared. Rules from the distribution reference grammar that
//! Docker uses (github.com/distribution/reference): a missing tag means `latest`, and
//! the default registry `docker.io` with namespace `library` is implied.

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

/// Whether `s` names an image by id (`sha256:<hex>` or a bare hex prefix of ≥ 12;
/// lower-case hex, as the grammar's `identifier`).
pub fn is_image_id(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    let bare_ok = s.starts_with("sha256:") || hex.len() >= 12;
    bare_ok
        && !hex.is_empty()
        && hex.len() <= 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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

/// Longest text accepted before the grammar is even tried, in bytes: a name of 255, a
/// tag of 128 and a sha512 digest fit with room to spare.
const MAX_TEXT_LEN: usize = 512;

/// An image reference checked against the grammar Docker itself uses
/// (github.com/distribution/reference, `reference.go`): `name[:tag][@digest]`, where
/// `name` is `[domain[:port]/]path-component[/path-component…]` with lower-case path
/// components, a tag is `[\w][\w.-]{0,127}` and a digest `algorithm:hex`; or an image id
/// (`sha256:<hex>`, or a bare lower-case hex prefix of at least 12 digits).
///
/// The grammar leaves no room for `..`, `?`, `#`, `%`, whitespace or control
/// characters, so a parsed reference can never name another engine endpoint; the
/// engine path is still percent-encoded ([`ImageRef::engine_path`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    text: String,
    id: bool,
}

impl ImageRef {
    /// Parses `text` given in the request field `field`. Errors: `VALIDATION_ERROR`
    /// naming `field` (empty, longer than 512 bytes, or outside the grammar).
    pub fn parse(field: &str, text: &str) -> crate::error::Result<ImageRef> {
        use crate::error::Error;
        const FORM: &str = "must be an image reference (name[:tag][@digest], e.g. \
                            'mcpd-test/busybox:1') or an image id";
        if text.is_empty() {
            return Err(Error::field(field, "required"));
        }
        if text.len() > MAX_TEXT_LEN {
            return Err(Error::field(
                field,
                format!("longer than {MAX_TEXT_LEN} characters"),
            ));
        }
        if is_image_id(text) {
            return Ok(ImageRef {
                text: text.to_string(),
                id: true,
            });
        }
        match oci_spec::distribution::Reference::try_from(text) {
            Ok(_) => Ok(ImageRef {
                text: text.to_string(),
                id: false,
            }),
            Err(e) => Err(Error::field(field, format!("{FORM} ({e})"))),
        }
    }

    /// The reference as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it names an image by id rather than by name.
    pub fn is_id(&self) -> bool {
        self.id
    }

    /// The reference as one percent-encoded segment of an engine API path.
    pub fn engine_path(&self) -> String {
        crate::docker::path_segment(&self.text)
    }
}

/// Checks a reference given in the request field `field` (see [`ImageRef::parse`]).
pub fn validate(field: &str, reference: &str) -> crate::error::Result<()> {
    ImageRef::parse(field, reference).map(drop)
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

    #[test]
    fn the_grammar_admits_what_docker_admits() {
        for ok in [
            "busybox",
            "busybox:1.36",
            "mcpd-test/busybox:1",
            "docker.io/library/busybox:latest",
            "localhost:5000/team/app:2",
            "registry.example.com/a__b/c-d.e:v1.2-rc_3",
            "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "sha256:46494bd9f0fc",
            "46494bd9f0fc",
        ] {
            assert!(ImageRef::parse("image", ok).is_ok(), "{ok}");
        }
        assert!(ImageRef::parse("image", "46494bd9f0fc").unwrap().is_id());
        assert!(!ImageRef::parse("image", "busybox").unwrap().is_id());
    }

    #[test]
    fn the_grammar_refuses_what_would_escape_an_engine_path() {
        for bad in [
            "..",
            "../containers/x",
            "a/../b",
            "..%2Fcontainers%2Fx",
            "%2e%2e",
            "a\0b",
            "a\nb",
            "busybox?force=true",
            "busybox#x",
            "/busybox",
            "busybox/",
            "Busybox",
            "busybox:",
            "busybox:.tag",
            "busybox@sha256:short",
            "a//b",
            "-busybox",
        ] {
            let e = ImageRef::parse("reference", bad).unwrap_err();
            assert_eq!(e.details[0].field, "reference", "{bad}");
        }
        let long = format!("a/{}", "b".repeat(100_000));
        assert!(
            ImageRef::parse("image", &long).unwrap_err().details[0]
                .issue
                .contains("512")
        );
        assert!(
            ImageRef::parse("image", &"a".repeat(300)).is_err(),
            "names stop at 255"
        );
    }
}
