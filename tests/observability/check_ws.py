"""Connects to mcpd's live events WebSocket with the `websockets` library (an
independent client), offering the `mcpd.v1` subprotocol with the token as
`bearer.<token>` the way a browser would, subscribes to `services`, and prints what it
saw as JSON: {"subprotocol": ..., "messages": [...]}.

usage: check_ws.py <wss url> <daemon certificate>; the token comes in $MCPD_TOKEN."""

import asyncio
import json
import os
import ssl
import sys

from websockets.asyncio.client import connect


async def main(url, cert):
    ctx = ssl.create_default_context(cafile=cert)
    token = os.environ["MCPD_TOKEN"]
    protocols = ["mcpd.v1", f"bearer.{token}"]
    async with connect(url, ssl=ctx, subprotocols=protocols) as ws:
        messages = [json.loads(await asyncio.wait_for(ws.recv(), 10))]
        await ws.send(json.dumps({"type": "subscribe", "channel": "services"}))
        messages.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        json.dump({"subprotocol": ws.subprotocol, "messages": messages}, sys.stdout)


asyncio.run(main(sys.argv[1], sys.argv[2]))
