//! Property tests (proptest) of the parsers that read untrusted text: list query
//! strings and filters, cron expressions and retention periods of backup schedules,
//! the configuration file and `MCPD_*` variables, backup archives (age headers, both
//! binary and armoured, and manifests), and service specs (command, env, ports …, the
//! body every service and managed MCP server is made from). For any input each one
//! answers a value or a `VALIDATION_ERROR` (or, for files, an error), and never panics.
//! Inputs are drawn from each grammar's own alphabet so that they reach deep into it,
//! not only from random bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use mcpd::error::ErrorCode;
use mcpd::store::list::{Field, FieldKind, ListQuery, ListSpec, Order};
use proptest::prelude::*;
use std::io::Read;

const SPEC: ListSpec = ListSpec {
    fields: &[
        Field::new("name", "name", FieldKind::Text),
        Field::new("size", "size", FieldKind::Integer),
        Field::new("on", "on_", FieldKind::Bool),
        Field::new("created_at", "created_at", FieldKind::Time),
    ],
    default_sort: "name",
    default_order: Order::Asc,
    search: &["name"],
};

/// Query keys as clients write them: known names, operators, brackets, junk.
fn list_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("page".to_string()),
        Just("limit".to_string()),
        Just("size".to_string()),
        Just("sort".to_string()),
        Just("order".to_string()),
        Just("search".to_string()),
        "(name|size|on|created_at|nope)(\\[(eq|ne|gt|lt|gte|lte|in|nin|regex|x|)\\]?)?",
        ".{0,12}",
    ]
}

/// Values: numbers, times, dates, lists, regexes, and anything.
fn list_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{0,12}",
        "(true|false|asc|desc|created|updated|name|size)",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))?",
        "[a-z0-9,]{0,40}",
        "[\\[\\](){}*+?.^$|\\\\a-z0-9]{0,30}",
        ".{0,300}",
    ]
}

fn cron_expr() -> impl Strategy<Value = String> {
    let field =
        "(\\*|[0-9]{1,3}|[0-9]{1,2}-[0-9]{1,2}|\\*/[0-9]{1,3}|[0-9,]{1,8}|MON|jan|L|W|\\?|#)";
    prop_oneof![
        proptest::collection::vec(field, 0..8).prop_map(|f| f.join(" ")),
        "@(yearly|annually|monthly|weekly|daily|hourly|reboot|[a-z]{0,8})",
        ".{0,64}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn list_queries_parse_or_are_refused_by_field(
        pairs in proptest::collection::vec((list_key(), list_value()), 0..40)
    ) {
        match ListQuery::parse(&pairs).and_then(|q| q.sql(&SPEC)) {
            Ok(parts) => prop_assert!(!parts.where_sql.is_empty()),
            Err(e) => {
                prop_assert_eq!(e.code, ErrorCode::ValidationError);
                prop_assert!(!e.message.is_empty());
            }
        }
    }

    #[test]
    fn cron_expressions_normalise_or_are_refused(expr in cron_expr()) {
        match mcpd::backups::schedule::to_cron_crate(&expr) {
            Ok(six) => {
                prop_assert_eq!(six.split_whitespace().count(), 6);
                // A valid expression has a next run (or none in range), never a panic.
                let _ = mcpd::backups::schedule::next_after(&six, "UTC", chrono::Utc::now());
                let _ = mcpd::backups::schedule::next_after(&six, "Europe/Paris", chrono::Utc::now());
            }
            Err(e) => prop_assert_eq!(e.code, ErrorCode::ValidationError),
        }
    }

    #[test]
    fn retention_periods_parse_or_are_refused(s in "(-?[0-9]{0,20}[smhdwy]?|.{0,12})") {
        match mcpd::backups::schedule::parse_retention(&s) {
            Ok(secs) => prop_assert!(secs > 0),
            Err(e) => prop_assert_eq!(e.code, ErrorCode::ValidationError),
        }
    }
}

/// TOML documents made of the configuration's own section and key names.
fn config_text() -> impl Strategy<Value = String> {
    let section = "\\[(server|auth|docker|mcp|backups|log|vault|metrics|events|kubernetes|network|[a-z]{1,6})\\]";
    let key = "(listen|data_dir|max_body_bytes|requests_per_minute|host|level|format|dir|retention|[a-z_]{1,12})";
    let value =
        "(\"[^\"\\\\\n]{0,20}\"|-?[0-9]{1,20}|true|false|\\[\\]|\\{\\}|[0-9.]{1,8}|'[^'\n]{0,10}')";
    let line = prop_oneof![
        section.prop_map(|s| s.to_string()),
        (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        ".{0,30}",
    ];
    proptest::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn config_files_and_variables_load_or_are_refused(
        text in config_text(),
        vars in proptest::collection::vec(
            ("MCPD_(SERVER|AUTH|DOCKER|LOG|[A-Z]{1,4})__(LISTEN|MAX_BODY_BYTES|LEVEL|[A-Z_]{1,8})", ".{0,20}"),
            0..4,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcpd.toml");
        std::fs::write(&path, &text).unwrap();
        let loaded = mcpd::settings::Settings::load(Some(&path), vars, &Default::default());
        if let Err(e) = loaded {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn archives_with_any_age_header_or_body_are_refused_not_panicked(
        armored in any::<bool>(),
        header in proptest::collection::vec(
            prop_oneof![
                Just(b"\n-> scrypt ".to_vec()),
                Just(b"\n-> X25519 ".to_vec()),
                Just(b"\n--- ".to_vec()),
                "[A-Za-z0-9+/=]{0,60}".prop_map(String::into_bytes),
                proptest::collection::vec(any::<u8>(), 0..40),
            ],
            0..10,
        ),
    ) {
        let mut bytes = if armored {
            b"-----BEGIN AGE ENCRYPTED FILE-----\n".to_vec()
        } else {
            b"age-encryption.org/v1".to_vec()
        };
        bytes.extend(header.concat());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tar.zst.age");
        std::fs::write(&path, &bytes).unwrap();
        let unseal = mcpd::backups::format::Unseal {
            passphrase: Some("a passphrase for tests".to_string().into()),
            identity: None,
        };
        if let Ok(mut r) = mcpd::backups::verify::open(&path, &unseal) {
            let mut sink = Vec::new();
            prop_assert!(r.read_to_end(&mut sink).is_err());
        }
    }

    #[test]
    fn manifests_parse_or_are_refused(text in prop_oneof![
        ".{0,200}",
        "\\{\"(version|created_at|files|type|sha256|size_bytes)\": ?(1|\"x\"|\\[\\]|null|\\{\\})\\}",
    ]) {
        let parsed = serde_json::from_str::<mcpd::backups::format::Manifest>(&text);
        if let Ok(m) = parsed {
            prop_assert!(serde_json::to_string(&m).is_ok());
        }
    }

    #[test]
    fn service_specs_validate_or_name_the_field(
        command in proptest::option::of(proptest::collection::vec(".{0,20}", 0..5)),
        env in proptest::collection::btree_map("[A-Za-z_0-9=.-]{0,12}", ".{0,40}", 0..5),
        name in "[a-z0-9._-]{0,20}|.{0,10}",
        image in "[a-z0-9./:@-]{0,40}|.{0,10}",
        ports in proptest::collection::vec((0u32..70000, 0u32..70000), 0..3),
    ) {
        let body = serde_json::json!({
            "name": name,
            "image": image,
            "command": command,
            "env": env,
            "ports": ports.iter().map(|(c, h)| serde_json::json!({"container_port": c, "host_port": h})).collect::<Vec<_>>(),
        });
        let parsed = serde_json::from_value::<mcpd::services::model::ServiceSpec>(body);
        if let Ok(mut spec) = parsed
            && let Err(e) = spec.validate()
        {
            prop_assert_eq!(e.code, ErrorCode::ValidationError);
            prop_assert!(!e.details.is_empty(), "{}", e.message);
        }
    }
}
