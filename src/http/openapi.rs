//! Pieces of the OpenAPI document that every domain's `api.rs` uses: the names of the
//! security schemes and tags, and the query parameters of list routes made from their
//! [`ListSpec`] (docs/api.md §1.6). The document itself is put together in
//! [`crate::daemon::openapi`].

use crate::store::list::{DEFAULT_LIMIT, FieldKind, ListSpec, MAX_LIMIT, MAX_SEARCH_LEN, SEARCH};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{Object, RefOr, Required, Schema};

/// Security scheme: `Authorization: Bearer <access token | mcpd_… API key>`.
pub const BEARER: &str = "bearer";
/// Security scheme: `X-API-Key: mcpd_…`.
pub const API_KEY: &str = "api_key";

/// The query parameters of a list route answered from the database: `page`, `limit`,
/// `sort` (one of the spec's sortable fields), `order`, and one `<field>=<value>`
/// equality filter per field of `spec` (the other operators, `<field>[op]=…`, are
/// described on `sort`).
pub fn list_params(spec: &ListSpec) -> Vec<Parameter> {
    let mut params = paging_params();
    let sortable: Vec<&str> = spec
        .fields
        .iter()
        .filter(|f| f.sortable)
        .map(|f| f.name)
        .collect();
    params.push(query(
        "sort",
        "Field to sort by. Every field below also filters: `<field>=<value>` (equal) or \
         `<field>[op]=<value>` with op `eq`, `ne`, `gt`, `lt`, `gte`, `lte`, `in`, `nin` \
         (comma-separated) or `regex` (text fields).",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(sortable))
            .into(),
    ));
    params.push(query(
        "order",
        "Sort direction (default per list).",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["asc", "desc"]))
            .into(),
    ));
    for f in spec.fields {
        params.push(query(
            f.name,
            "Filter: equal to this value.",
            kind_schema(f.kind),
        ));
    }
    if !spec.search.is_empty() {
        params.push(query(
            SEARCH,
            &format!(
                "Free text: a case-insensitive substring of {}.",
                spec.search.join(", ")
            ),
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_SEARCH_LEN))
                .into(),
        ));
    }
    params
}

/// `page` and `limit` alone, for lists built in memory that page but do not filter.
pub fn paging_params() -> Vec<Parameter> {
    vec![
        query(
            "page",
            "Page number from 1 (default 1).",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(u32::MAX))
                .into(),
        ),
        query(
            "limit",
            &format!("Items per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."),
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(MAX_LIMIT))
                .into(),
        ),
    ]
}

/// `page` and `limit` (see [`paging_params`]) as `params(Paging)` of `#[utoipa::path]`,
/// for lists paged in memory that take no filter.
pub struct Paging;

impl utoipa::IntoParams for Paging {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        paging_params()
    }
}

/// An optional query parameter `name` of `schema`.
pub fn query(name: &str, description: &str, schema: Object) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(RefOr::T(Schema::Object(schema))))
        .build()
}

/// The schema of a filter value of `kind`.
fn kind_schema(kind: FieldKind) -> Object {
    let b = ObjectBuilder::new();
    match kind {
        FieldKind::Text => b.schema_type(Type::String),
        FieldKind::Integer => b
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))),
        FieldKind::Bool => b.schema_type(Type::Boolean),
        FieldKind::Time => b
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
    }
    .into()
}

/// Declares `$name`, the `IntoParams` of a list route whose filters are `$spec`
/// (a `ListSpec` constant), for `params($name)` in `#[utoipa::path]`.
#[macro_export]
macro_rules! list_params {
    ($(#[$doc:meta])* $name:ident, $spec:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl utoipa::IntoParams for $name {
            fn into_params(
                _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
            ) -> Vec<utoipa::openapi::path::Parameter> {
                $crate::http::openapi::list_params(&$spec)
            }
        }
    };
}
