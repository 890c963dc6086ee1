"""An MCP server (the official Python SDK) that the fake cluster runs as the main process
of pods whose image the kubernetes_mcp tests name. Without arguments it speaks stdio
(mcpd reaches it by pod attach); with `PORT` it serves streamable HTTP on
127.0.0.1:PORT/mcp (mcpd reaches it through the API server's service proxy)."""
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("fake-pod-echo")


@server.tool()
def echo(text: str) -> str:
    """Echoes the text back."""
    return "pod says: " + text


@server.resource("echo://motd", mime_type="text/plain")
def motd() -> str:
    """A message of the day, read from the pod."""
    return "hello from the pod"


@server.prompt()
def greet(name: str) -> str:
    """A greeting prompt."""
    return f"Say hello to {name} from the pod."


if __name__ == "__main__":
    if len(sys.argv) > 1:
        server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
    else:
        server.run()
