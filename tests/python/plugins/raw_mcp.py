"""A hand-written stdio JSON-RPC peer for the MCP client's failure paths, which the reference
server does not produce: raw_mcp.py garbage | badversion | paginate | oldversion.
garbage: writes a line that is not JSON; badversion: answers initialize with an unknown
protocol version; paginate: serves 3 pages of tools through nextCursor; oldversion: speaks
2024-11-05 (and records what the client sent in $RAW_MCP_LOG)."""
import json
import os
import sys

mode = sys.argv[1]
log = os.environ.get("RAW_MCP_LOG")


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    msg = json.loads(line)
    if log:
        with open(log, "a") as f:
            f.write(line)
    if "id" not in msg:
        continue
    method, rid = msg["method"], msg["id"]
    if mode == "garbage":
        sys.stdout.write("Starting server... ready!\n")
        sys.stdout.flush()
        continue
    if method == "initialize":
        version = {"badversion": "1999-01-01", "oldversion": "2024-11-05"}.get(mode, msg["params"]["protocolVersion"])
        send({"jsonrpc": "2.0", "id": rid, "result": {"protocolVersion": version, "capabilities": {"tools": {}},
                                                      "serverInfo": {"name": "raw", "version": "0"}}})
    elif method == "tools/list":
        page = int(msg.get("params", {}).get("cursor", "0"))
        tools = [{"name": f"tool_{page}_{i}", "description": "t", "inputSchema": {"type": "object"}} for i in range(2)]
        res = {"tools": tools}
        if mode == "paginate" and page < 2:
            res["nextCursor"] = str(page + 1)
        send({"jsonrpc": "2.0", "id": rid, "result": res})
    elif method == "tools/call":
        send({"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": "called " + msg["params"]["name"]}]}})
    else:
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "no such method"}})
