//! The `/mcp` entry of the OpenAPI document. The route is rmcp's streamable HTTP
//! service, not a handler with `#[utoipa::path]`, so its path item is built here: the
//! three methods of the MCP transport (MCP specification 2025-06-18, "Transports":
//! Streamable HTTP), a JSON-RPC message as the body, and the answers the transport
//! and this gateway's authentication give.

use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, Required};

/// The `/mcp` path item: `POST` (client messages), `GET` (the session's SSE stream)
/// and `DELETE` (end the session), tagged `gateway`.
pub fn path_item() -> PathItem {
    let mut item = PathItem::new(
        HttpMethod::Post,
        operation(
            "gateway_post",
            "Send a JSON-RPC message (`initialize`, a request, a notification or a \
             response). Any caller; `mcp:read` to list, `mcp:execute` to call.",
        )
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", Content::new(Some(json_rpc())))
                .build(),
        ))
        .responses(
            ResponsesBuilder::new()
                .response(
                    "200",
                    answer("The JSON-RPC answer, as JSON or an SSE stream"),
                )
                .response(
                    "202",
                    ResponseBuilder::new().description("Notification or response accepted"),
                )
                .response("404", unknown_session())
                .response(
                    "406",
                    not_acceptable("application/json and text/event-stream"),
                )
                .response(
                    "415",
                    ResponseBuilder::new()
                        .description("`VALIDATION_ERROR`: the body is not `application/json`"),
                )
                .build(),
        )
        .build(),
    );
    item.get = Some(
        operation(
            "gateway_stream",
            "Open the session's standalone SSE stream (server notifications). Any caller.",
        )
        .responses(
            ResponsesBuilder::new()
                .response("200", sse("Server-sent events"))
                .response(
                    "405",
                    ResponseBuilder::new().description("No stream for this session"),
                )
                .response("404", unknown_session())
                .response("406", not_acceptable("text/event-stream"))
                .build(),
        )
        .build(),
    );
    item.delete = Some(
        operation(
            "gateway_end",
            "End the MCP session. Any caller (the session's owner).",
        )
        .responses(
            ResponsesBuilder::new()
                .response("202", ResponseBuilder::new().description("Session ended"))
                .response("404", unknown_session())
                .build(),
        )
        .build(),
    );
    item
}

/// An operation tagged `gateway` with the session header.
fn operation(id: &str, summary: &str) -> OperationBuilder {
    OperationBuilder::new()
        .tag("gateway")
        .operation_id(Some(id))
        .summary(Some(summary))
        .parameter(
            ParameterBuilder::new()
                .name("Mcp-Session-Id")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some("The MCP session, from the `initialize` answer."))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
        )
}

/// A JSON-RPC 2.0 message: an object with `jsonrpc: "2.0"`.
fn json_rpc() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "jsonrpc",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["2.0"])),
        )
        .required("jsonrpc")
        .description(Some("A JSON-RPC 2.0 message (MCP)."))
        .into()
}

/// 200 as JSON or as an SSE stream.
fn answer(description: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(json_rpc())))
        .content(
            "text/event-stream",
            Content::new(Some(ObjectBuilder::new().schema_type(Type::String))),
        )
}

/// 200 as an SSE stream.
fn sse(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "text/event-stream",
        Content::new(Some(ObjectBuilder::new().schema_type(Type::String))),
    )
}

/// 404 for an unknown session or another user's.
fn unknown_session() -> ResponseBuilder {
    ResponseBuilder::new()
        .description("`RESOURCE_NOT_FOUND`: unknown MCP session, or another user's")
}

/// 406 for a request whose `Accept` leaves out what the transport answers with.
fn not_acceptable(types: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(format!("`VALIDATION_ERROR`: `Accept` must include {types}"))
}
