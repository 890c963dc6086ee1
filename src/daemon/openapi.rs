//! The OpenAPI 3.1 document of the whole API, made from the code: each handler's
//! `#[utoipa::path]` (registered with `utoipa_axum::routes!`, so a route and its entry
//! are one declaration) plus what every route shares, added here: the security schemes,
//! the default credential requirement, and the common error answers of docs/api.md §1.3
//! (401/403 on authenticated routes, 400/413 with a body or parameters, 404 with a path
//! parameter, 429 and 500 everywhere), all in the error envelope.

use crate::http::error::ErrorBody;
use crate::http::openapi::{API_KEY, BEARER};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{ResponseBuilder, Responses};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Content, OpenApi as Document, RefOr};
use utoipa::{OpenApi, ToSchema};

/// Path of the document, served without credentials.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
/// Path of the browsable page (Swagger UI, served from the binary).
pub const PAGE_PATH: &str = "/api/v1/docs";

/// The document's fixed part; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mcpd",
        description = "REST API of mcpd, the appliance daemon that runs and governs MCP \
            servers, their containers, Kubernetes clusters and network devices. Every \
            answer is in the success envelope `{data, meta}` or the error envelope \
            `{error}`; the reference in the project's words is docs/api.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ErrorBody))
)]
pub struct ApiDoc;

/// Adds what every operation shares (see the module docs) to a document whose paths
/// are all in.
pub fn complete(doc: &mut Document) {
    {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT access token, or an mcpd_… API key")
                    .description(Some(
                        "`Authorization: Bearer …` with an access token or an API key \
                         (`Authorization: ApiKey mcpd_…` is accepted as well).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            qualify_id(op);
            complete_operation(op);
        }
    }
}

/// Every operation of a path item.
fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Makes `op`'s id unique across the document: `<tag>_<handler>` (`users_get_one`),
/// unless the handler gave one of its own with `operation_id = …`.
fn qualify_id(op: &mut Operation) {
    let tag = op.tags.as_ref().and_then(|t| t.first()).cloned();
    if let (Some(tag), Some(id)) = (tag, op.operation_id.as_mut()) {
        let prefix = format!("{}_", tag.replace('-', "_"));
        if !id.starts_with(&prefix) {
            *id = format!("{prefix}{id}");
        }
    }
}

/// Fills in `op`'s credential requirement (any of the two schemes unless the handler
/// said `security(())`) and the common error answers it lacks; every error answer
/// without content gets the error envelope.
fn complete_operation(op: &mut Operation) {
    let public = op
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
    if op.security.is_none() {
        op.security = Some(vec![
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
            SecurityRequirement::new(API_KEY, Vec::<String>::new()),
        ]);
    }
    let params = op.parameters.as_deref().unwrap_or_default();
    let in_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
    let takes_input = op.request_body.is_some() || !params.is_empty();
    let mut common: Vec<(&str, &str)> = vec![
        ("429", "`RATE_LIMIT_EXCEEDED`, with `Retry-After`."),
        ("500", "`INTERNAL_SERVER_ERROR`."),
    ];
    if !public {
        common.push((
            "401",
            "`UNAUTHORIZED`, `AUTH_TOKEN_EXPIRED` or `AUTH_TOKEN_INVALID`.",
        ));
        common.push((
            "403",
            "`FORBIDDEN`: the caller lacks the route's permission.",
        ));
    }
    if takes_input {
        common.push((
            "400",
            "`VALIDATION_ERROR`, naming the bad input in `details`.",
        ));
    }
    if op.request_body.is_some() {
        common.push(("413", "`PAYLOAD_TOO_LARGE`: over `server.max_body_bytes`."));
    }
    if in_path {
        common.push(("404", "`RESOURCE_NOT_FOUND`."));
    }
    add_errors(&mut op.responses, &common);
}

/// Adds each `(status, description)` not yet answered, and the error envelope to every
/// 4xx/5xx answer that has no content.
fn add_errors(responses: &mut Responses, common: &[(&str, &str)]) {
    for (status, description) in common {
        if !responses.responses.contains_key(*status) {
            let r = ResponseBuilder::new().description(*description).build();
            responses
                .responses
                .insert((*status).to_owned(), RefOr::T(r));
        }
    }
    for (status, r) in responses.responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(r)) = (is_error, r)
            && r.content.is_empty()
        {
            let schema = RefOr::Ref(utoipa::openapi::Ref::from_schema_name(ErrorBody::name()));
            r.content
                .insert("application/json".to_owned(), Content::new(Some(schema)));
        }
    }
}
