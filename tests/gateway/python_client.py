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
    pages           list tools, resources, resource templates and prompts following
                    nextCursor page by page, then send a garbage cursor
    subscribe EVERY subscribe to EVERY's first static document, switch on the server's
                    simulated updates (EVERY__toggle-subscriber-updates, every 5 s),
                    collect `notifications/resources/updated` for 12 s; restart EVERY
                    (REST API), wait 8 s, switch the new process's updates on, collect
                    12 s; unsubscribe, collect for 12 s more, switch the updates off
                    again, then try to subscribe to an unknown URI
    watch legacy|modern
                    stay connected and collect server notifications (legacy: an
                    `initialize`d session, delivered on its GET stream; modern: the
                    2026-07-28 `server/discover` lifecycle with a `subscriptions/listen`
                    stream for the three list_changed notifications), answering one
                    command a line on stdin with one JSON line on stdout:
                      wait METHOD SECONDS  until METHOD arrived (then 0.5 s more), give
                                           the notifications and the lists
                      quiet SECONDS        wait, give the notifications seen meanwhile
                      lists                give the lists
                    The first line printed is {"ready": ..., "lists": ...}.
"""

import asyncio
import json
import os
import ssl
import sys
import warnings

import anyio
import httpx2
import mcp_types as types
from mcp import ClientSession
from mcp.client.subscriptions import listen
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def rpc_error(e):
    return {"code": e.code, "message": e.message, "data": e.data}


async def pages(list_fn, field, cursor=None):
    """Every item of one list, following nextCursor; and how many pages it took."""
    items, count = [], 0
    while True:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor is not None else None
        r = await list_fn(params=params)
        count += 1
        items += [dump(x) for x in getattr(r, field)]
        cursor = r.next_cursor
        if cursor is None:
            return items, count


async def lists(session):
    out = {}
    for name, fn, field, key in [
        ("tools", session.list_tools, "tools", "name"),
        ("resources", session.list_resources, "resources", "uri"),
        ("templates", session.list_resource_templates, "resource_templates", "uriTemplate"),
        ("prompts", session.list_prompts, "prompts", "name"),
    ]:
        items, count = await pages(fn, field)
        out[name] = [x[key] for x in items]
        out[name + "_pages"] = count
    return out


def say(obj):
    print(json.dumps(obj), flush=True)


async def watch(session, modern, seen):
    """The `watch` mode's command loop (see the module docs)."""
    async def drain_after(method, timeout):
        with anyio.move_on_after(timeout):
            while method not in seen:
                await anyio.sleep(0.05)
        if method in seen:
            await anyio.sleep(0.5)
        got = list(seen)
        seen.clear()
        return got

    while True:
        line = await anyio.to_thread.run_sync(sys.stdin.readline)
        if not line.strip():
            return
        cmd, *rest = line.split()
        if cmd == "wait":
            got = await drain_after(rest[0], float(rest[1]))
            say({"notifications": got, "lists": await lists(session)})
        elif cmd == "quiet":
            await anyio.sleep(float(rest[0]))
            say({"notifications": list(seen)})
            seen.clear()
        elif cmd == "lists":
            say({"lists": await lists(session)})
        else:
            say({"failed": "unknown command " + cmd})


async def run(url, ca, mode, args):
    headers = {}
    if os.environ.get("MCPD_TOKEN"):
        headers["Authorization"] = "Bearer " + os.environ["MCPD_TOKEN"]
    if os.environ.get("MCPD_API_KEY"):
        headers["X-API-Key"] = os.environ["MCPD_API_KEY"]
    tls = ssl.create_default_context(cafile=ca)
    out = {}
    seen = []
    updated = []

    async def on_message(message):
        if not isinstance(message, Exception):
            seen.append(getattr(message, "method", type(message).__name__))
            if getattr(message, "method", None) == "notifications/resources/updated":
                updated.append(str(message.params.uri))

    async with httpx2.AsyncClient(headers=headers, verify=tls, timeout=60) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write, message_handler=on_message) as session:
                if mode == "watch" and args[0] == "modern":
                    await session.discover()
                    out["protocol_version"] = session.protocol_version
                    async with listen(
                        session, tools_list_changed=True, resources_list_changed=True, prompts_list_changed=True
                    ) as sub:
                        say({"ready": out, "honored": dump(sub.honored), "lists": await lists(session)})
                        await watch(session, True, seen)
                    return None
                init = await session.initialize()
                out["server_info"] = dump(init.server_info)
                out["protocol_version"] = init.protocol_version
                if mode == "connect":
                    return out
                if mode == "watch":
                    say({"ready": out, "lists": await lists(session)})
                    await watch(session, False, seen)
                    return None
                if mode == "pages":
                    out.update(await lists(session))
                    try:
                        await session.list_tools(params=types.PaginatedRequestParams(cursor="not-a-cursor"))
                        out["garbage_cursor_error"] = None
                    except MCPError as e:
                        out["garbage_cursor_error"] = rpc_error(e)
                    return out
                if mode == "subscribe":
                    api = url.rsplit("/mcp", 1)[0] + "/api/v1"
                    await subscribe(session, http, api, args[0], updated, out)
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


async def subscribe(session, http, api, every, updated, out):
    """The `subscribe` mode (see the module docs)."""
    resources = await session.list_resources()
    uri = sorted(
        str(x.uri) for x in resources.resources if str(x.uri).startswith("demo://resource/static/document/")
    )[0]
    out["uri"] = uri
    await session.subscribe_resource(uri)
    toggled = await session.call_tool(every + "__toggle-subscriber-updates", {})
    out["toggle"] = dump(toggled)
    await anyio.sleep(12)
    out["while_subscribed"] = list(updated)
    r = await http.post(api + "/mcp/servers/" + every + "/restart", json={})
    out["restart_status"] = r.status_code
    await anyio.sleep(8)  # mcpd subscribes again on the new session within 5 s
    updated.clear()
    toggled = await session.call_tool(every + "__toggle-subscriber-updates", {})
    out["toggle_after_restart"] = dump(toggled)
    await anyio.sleep(12)
    out["after_restart"] = list(updated)
    await session.unsubscribe_resource(uri)
    await anyio.sleep(1)  # an update already on its way
    updated.clear()
    await anyio.sleep(12)
    out["after_unsubscribe"] = list(updated)
    await session.call_tool(every + "__toggle-subscriber-updates", {})
    try:
        await session.subscribe_resource("demo://resource/no-such-thing")
        out["unknown_error"] = None
    except MCPError as e:
        out["unknown_error"] = rpc_error(e)


def main():
    warnings.simplefilter("ignore")  # resources/subscribe is deprecated for 2026-07-28 only
    url, ca, mode, *args = sys.argv[1:]
    try:
        out = asyncio.run(run(url, ca, mode, args))
    except Exception as e:  # the test reports what failed
        out = {"failed": repr(e)}
    if out is not None:
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
