//! List filters for images. Images come from the engine, not from SQL, so the shared
//! list grammar (`field=value`, `field[op]=value`) is applied in memory here. An image
//! has several names, so `eq`/`in`/`regex` match when any name matches and `ne`/`nin`
//! when none does.

use super::{Image, reference};
use crate::error::{Error, Result};
use crate::store::list::{ListQuery, MAX_REGEX_LEN, Op, Order};
use std::cmp::Ordering;

const FIELDS: &[&str] = &["reference", "tag", "id"];
const SORTS: &[&str] = &["created_at", "size_bytes", "id"];

enum Test {
    Any(Vec<String>),
    None(Vec<String>),
    Regex(regex::Regex),
}

struct Clause {
    field: &'static str,
    test: Test,
}

/// A validated image list query.
pub struct ImageFilter {
    clauses: Vec<Clause>,
    sort: &'static str,
    order: Order,
}

impl ImageFilter {
    /// Checks every filter and the sort against what images allow (400 otherwise).
    pub fn parse(q: &ListQuery) -> Result<ImageFilter> {
        let mut clauses = Vec::new();
        for f in &q.filters {
            let field = *FIELDS.iter().find(|n| **n == f.field).ok_or_else(|| {
                Error::field(
                    f.field.as_str(),
                    format!("unknown filter field (allowed: {})", FIELDS.join(", ")),
                )
            })?;
            let norm = |v: &str| -> String {
                if field == "reference" {
                    reference::normalize(v)
                } else {
                    v.to_string()
                }
            };
            let list = |s: &str| s.split(',').map(norm).collect::<Vec<_>>();
            let test = match f.op {
                Op::Eq => Test::Any(vec![norm(&f.value)]),
                Op::In => Test::Any(list(&f.value)),
                Op::Ne => Test::None(vec![norm(&f.value)]),
                Op::Nin => Test::None(list(&f.value)),
                Op::Regex => {
                    if f.value.len() > MAX_REGEX_LEN {
                        return Err(Error::field(field, "regex is too long"));
                    }
                    Test::Regex(
                        regex::RegexBuilder::new(&f.value)
                            .size_limit(1 << 20)
                            .build()
                            .map_err(|e| Error::field(field, format!("invalid regex: {e}")))?,
                    )
                }
                _ => {
                    return Err(Error::field(
                        field,
                        "operator not supported here (use eq ne in nin regex)",
                    ));
                }
            };
            clauses.push(Clause { field, test });
        }
        let sort = match &q.sort {
            None => "created_at",
            Some(s) => *SORTS.iter().find(|n| *n == s).ok_or_else(|| {
                Error::field(
                    "sort",
                    format!("cannot sort by '{s}' (allowed: {})", SORTS.join(", ")),
                )
            })?,
        };
        Ok(ImageFilter {
            clauses,
            sort,
            order: q.order.unwrap_or(Order::Desc),
        })
    }

    /// Whether `image` passes every filter.
    pub fn matches(&self, image: &Image) -> bool {
        self.clauses.iter().all(|c| {
            let values: Vec<String> = match c.field {
                "reference" => image.repo_tags.clone(),
                "tag" => image
                    .repo_tags
                    .iter()
                    .filter_map(|t| reference::tag_of(t))
                    .collect(),
                _ => vec![image.id.clone()],
            };
            match &c.test {
                Test::Any(want) => values.iter().any(|v| want.contains(v)),
                Test::None(want) => !values.iter().any(|v| want.contains(v)),
                Test::Regex(re) => values.iter().any(|v| re.is_match(v)),
            }
        })
    }

    /// Sorts in place by the requested field and order (ties broken by id).
    pub fn sort(&self, images: &mut [Image]) {
        images.sort_by(|a, b| {
            let o = match self.sort {
                "size_bytes" => a.size_bytes.cmp(&b.size_bytes),
                "id" => Ordering::Equal,
                _ => a.created_at.cmp(&b.created_at),
            }
            .then_with(|| a.id.cmp(&b.id));
            match self.order {
                Order::Asc => o,
                Order::Desc => o.reverse(),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, tags: &[&str], size: u64) -> Image {
        Image {
            id: id.into(),
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            repo_digests: vec![],
            size_bytes: size,
            created_at: None,
            labels: Default::default(),
            in_use_by: vec![],
        }
    }

    fn query(pairs: &[(&str, &str)]) -> Result<ImageFilter> {
        let pairs: Vec<_> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        ImageFilter::parse(&ListQuery::parse(&pairs)?)
    }

    #[test]
    fn filters_by_reference_tag_and_regex() {
        let imgs = [
            image("sha256:a", &["busybox:latest", "mine/box:1"], 1),
            image("sha256:b", &["mcpd-test/mcp-filesystem:1"], 2),
            image("sha256:c", &[], 3),
        ];
        let ids = |pairs: &[(&str, &str)]| -> Vec<String> {
            let f = query(pairs).unwrap();
            imgs.iter()
                .filter(|i| f.matches(i))
                .map(|i| i.id.clone())
                .collect()
        };
        assert_eq!(ids(&[("reference", "busybox")]), ["sha256:a"]);
        assert_eq!(ids(&[("tag", "1")]), ["sha256:a", "sha256:b"]);
        assert_eq!(ids(&[("tag[ne]", "1")]), ["sha256:c"]);
        assert_eq!(ids(&[("reference[regex]", "^mcpd-test/")]), ["sha256:b"]);
        assert_eq!(
            ids(&[("reference[in]", "mine/box:1,nothing:2")]),
            ["sha256:a"]
        );
    }

    #[test]
    fn rejects_unknown_fields_ops_and_sorts() {
        assert!(query(&[("bytes", "1")]).is_err());
        assert!(query(&[("reference[gt]", "a")]).is_err());
        assert!(query(&[("reference[regex]", "(")]).is_err());
        assert!(query(&[("sort", "name")]).is_err());
        assert!(query(&[("sort", "size_bytes"), ("order", "asc")]).is_ok());
    }

    #[test]
    fn sorts_by_size() {
        let f = query(&[("sort", "size_bytes"), ("order", "asc")]).unwrap();
        let mut v = vec![image("x", &[], 5), image("y", &[], 1)];
        f.sort(&mut v);
        assert_eq!(v[0].id, "y");
    }
}
