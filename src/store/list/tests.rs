//! Unit tests of the list grammar: parsing, limits, SQL building and in-memory paging.

use super::*;

const SPEC: ListSpec = ListSpec {
    fields: &[
        Field::new("name", "name", FieldKind::Text),
        Field::new("n", "n", FieldKind::Integer),
    ],
    default_sort: "name",
    default_order: Order::Asc,
    search: &[],
};

fn q(pairs: &[(&str, &str)]) -> Result<ListQuery> {
    let pairs: Vec<_> = pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    ListQuery::parse(&pairs)
}

fn db() -> Connection {
    let c = Connection::open_in_memory().unwrap();
    register_regexp(&c).unwrap();
    c.execute_batch(
        "CREATE TABLE t (name TEXT, n INTEGER);
         INSERT INTO t VALUES ('alpha', 1), ('beta', 2), ('gamma', 3), ('delta', 4);",
    )
    .unwrap();
    c
}

fn names(pairs: &[(&str, &str)]) -> Vec<String> {
    let parts = q(pairs).unwrap().sql(&SPEC).unwrap();
    parts.query(&db(), "name", "t", |r| r.get(0)).unwrap().items
}

#[test]
fn filters_sort_and_page() {
    assert_eq!(names(&[("n[gte]", "3")]), ["delta", "gamma"]);
    assert_eq!(names(&[("name[in]", "beta,delta")]), ["beta", "delta"]);
    assert_eq!(names(&[("name[nin]", "beta,delta")]), ["alpha", "gamma"]);
    assert_eq!(names(&[("name[regex]", "^[ab]")]), ["alpha", "beta"]);
    assert_eq!(
        names(&[("sort", "n"), ("order", "desc"), ("limit", "2")]),
        ["delta", "gamma"]
    );
    assert_eq!(
        names(&[("sort", "n"), ("limit", "2"), ("page", "2")]),
        ["gamma", "delta"]
    );
    let page = q(&[("limit", "3")])
        .unwrap()
        .sql(&SPEC)
        .unwrap()
        .query(&db(), "name", "t", |r| r.get::<_, String>(0))
        .unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(page.items.len(), 3);
}

#[test]
fn bad_queries_are_validation_errors() {
    for pairs in [
        vec![("nope", "1")],
        vec![("name[like]", "a")],
        vec![("n", "x")],
        vec![("limit", "101")],
        vec![("limit", "0")],
        vec![("page", "0")],
        vec![("sort", "nope")],
        vec![("order", "up")],
        vec![("name[regex]", "(")],
    ] {
        let r = q(&pairs).and_then(|q| q.sql(&SPEC));
        let e = r.expect_err(&format!("{pairs:?} must be rejected"));
        assert_eq!(
            e.code,
            crate::error::ErrorCode::ValidationError,
            "{pairs:?}"
        );
    }
    let long = "a".repeat(MAX_REGEX_LEN + 1);
    assert!(q(&[("name[regex]", &long)]).is_err());
}

#[test]
fn filter_counts_are_capped_and_the_cap_still_runs() {
    let many = |n: usize| -> Vec<(String, String)> {
        (0..n)
            .map(|_| ("name[ne]".to_string(), "x".to_string()))
            .collect()
    };
    let at_cap = ListQuery::parse(&many(MAX_FILTERS)).unwrap();
    let page = at_cap
        .sql(&SPEC)
        .unwrap()
        .query(&db(), "name", "t", |r| r.get::<_, String>(0));
    assert_eq!(page.unwrap().total, 4);
    let e = ListQuery::parse(&many(MAX_FILTERS + 1)).unwrap_err();
    assert!(e.details[0].issue.contains("at most 32"), "{e:?}");

    let values = |n: usize| {
        (0..n)
            .map(|i| format!("v{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let ok = values(MAX_LIST_VALUES);
    assert!(q(&[("name[in]", &ok)]).unwrap().sql(&SPEC).is_ok());
    let e = q(&[("name[nin]", &values(MAX_LIST_VALUES + 1))]).unwrap_err();
    assert_eq!(e.details[0].field, "name[nin]");
    assert!(e.details[0].issue.contains("at most 100"), "{e:?}");
}

#[test]
fn the_last_page_number_does_not_overflow() {
    let all: Vec<u32> = (0..5).collect();
    let query = q(&[("page", &u32::MAX.to_string()), ("limit", "100")]).unwrap();
    assert!(Page::from_vec(all, &query).items.is_empty());
}
