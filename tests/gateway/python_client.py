"""An independent MCP client for tests/gateway.rs: the Python MCP SDK (PyPI `mcp`,
installed by tests/setup/python-mcp.sh) talking streamable HTTP to mcpd's /mcp.

    python_client.py URL CA_CERT MODE [ARGS...]

The credential comes from the environment (MCPD_TOKEN as a bearer token, or
MCPD_API_KEY as X-API-Key; neither → no credentials). It prints one JSON object with
what it saw; the Rust test asserts on it. Modes:

    full EVERY FS   initialize, list tools/resources/prompts, call EVERY__echo and
                    FS__read_text_file, read the first static resource, get a prompt,
                    call an unknown tool
    viewer EVERY    initialize, list tools, try EVERY__echo (expected to be refused)
    connect         initialize only (used without credentials: must fail; the SDK
                    reports an HTTP 401 as a JSON-RPC error, so the test checks the
                    status itself over plain HTTP)
"""

import asyncio
import json
import os
import ssl
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def rpc_error(e):
    return {"code": e.code, "message": e.message, "data": e.data}


async def run(url, ca, mode, args):
    headers = {}
    if os.environ.get("MCPD_TOKEN"):
        headers["Authorization"] = "Bearer " + os.environ["MCPD_TOKEN"]
    if os.environ.get("MCPD_API_KEY"):
        headers["X-API-Key"] = os.environ["MCPD_API_KEY"]
    tls = ssl.create_default_context(cafile=ca)
    out = {}
    async with httpx2.AsyncClient(headers=headers, verify=tls, timeout=60) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                out["server_info"] = dump(init.server_info)
                out["protocol_version"] = init.protocol_version
                if mode == "connect":
                    return out
                tools = await session.list_tools()
                out["tools"] = [t.name for t in tools.tools]
                every = args[0]
                if mode == "viewer":
                    try:
                        r = await session.call_tool(every + "__echo", {"message": "viewer"})
                        out["echo"] = dump(r)
                    except MCPError as e:
                        out["echo_error"] = rpc_error(e)
                    return out
                fs = args[1]
                r = await session.call_tool(every + "__echo", {"message": "from python"})
                out["echo"] = dump(r)
                r = await session.call_tool(fs + "__read_text_file", {"path": "/data/hello.txt"})
                out["read_text_file"] = dump(r)
                r = await session.call_tool(fs + "__read_text_file", {"path": "/etc/passwd"})
                out["read_outside"] = dump(r)
                resources = await session.list_resources()
                out["resources"] = [str(x.uri) for x in resources.resources]
                static = sorted(u for u in out["resources"] if u.startswith("demo://resource/static/document/"))
                if static:
                    r = await session.read_resource(static[0])
                    out["resource"] = dump(r)
                prompts = await session.list_prompts()
                out["prompts"] = [p.name for p in prompts.prompts]
                r = await session.get_prompt(every + "__args-prompt", {"city": "Paris"})
                out["prompt"] = dump(r)
                try:
                    await session.call_tool(every + "__no-such-tool", {})
                    out["unknown_tool_error"] = None
                except MCPError as e:
                    out["unknown_tool_error"] = rpc_error(e)
    return out


def main():
    url, ca, mode, *args = sys.argv[1:]
    try:
        out = asyncio.run(run(url, ca, mode, args))
    except Exception as e:  # the test reports what failed
        out = {"failed": repr(e)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
