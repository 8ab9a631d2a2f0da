"""Helix as an MCP server, driven by the reference `mcp` Python client (PyPI) over both transports:
`helix mcp` (stdio) and `helix serve`'s /mcp (streamable HTTP). The client's default connect mode
probes the 2026 `server/discover` first and falls back to the initialize handshake, so both paths
of the negotiation are exercised. Tool results are checked against the server's own OpenAI routes
(same greedy text, same embedding) and a knowledge base made with `helix kb`."""
import asyncio
import http.client
import json
import os
import shutil
import subprocess

import pytest

from conftest import run_helix, start_server, stop_server, openai_client

mcp = pytest.importorskip("mcp")

EMBED_DIR = os.path.join(os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")), "helix/models/embed")
DOC = ("Helix keeps its knowledge bases in SQLite. The lighthouse of Alexandria was one of the seven wonders "
       "of the ancient world; it guided ships into the harbour for centuries.\n")


@pytest.fixture(scope="module")
def kb_home(tmp_path_factory, helix_bin):
    """An XDG_DATA_HOME whose helix/kb holds one base, 'docs', with one text file."""
    home = tmp_path_factory.mktemp("mcp-home")
    kb_dir = home / "helix" / "kb"
    doc = home / "wonders.txt"
    doc.write_text(DOC)
    run_helix(helix_bin, "kb", "create", "docs", "--kb-dir", kb_dir, "-m", EMBED_DIR)
    run_helix(helix_bin, "kb", "add", "docs", doc, "--kb-dir", kb_dir, "-m", EMBED_DIR)
    return home


def run(coro):
    return asyncio.run(coro)


async def exercise(client):
    """What both transports must do alike; returns the results for comparison."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"generate", "embed", "kb_search", "document_summary", "document_ask"}
    assert tools["generate"].input_schema["required"] == ["prompt"]
    gen = await client.call_tool("generate", {"prompt": "Name a colour.", "max_tokens": 6, "temperature": 0})
    assert not gen.is_error, gen.content[0].text
    assert gen.structured_content["usage"]["completion_tokens"] <= 6
    emb = await client.call_tool("embed", {"input": ["lighthouse", "harbour"]})
    assert not emb.is_error
    vectors = emb.structured_content["embeddings"]
    assert len(vectors) == 2 and len(vectors[0]) == emb.structured_content["dimensions"] == 384
    kb = await client.call_tool("kb_search", {"query": "Which wonder guided ships?", "k": 2})
    assert not kb.is_error, kb.content[0].text
    assert kb.content[0].text.startswith("[1] ")
    assert "lighthouse of Alexandria" in kb.structured_content["passages"][0]["text"]
    bad = await client.call_tool("generate", {"prompt": 3})
    assert bad.is_error and "prompt" in bad.content[0].text
    bad = await client.call_tool("kb_search", {"query": "x", "knowledge_base": "nope"})
    assert bad.is_error and "nope" in bad.content[0].text
    with pytest.raises(mcp.MCPError) as e:
        await client.call_tool("no_such_tool", {})
    assert "no_such_tool" in str(e.value)
    return gen.content[0].text, vectors


def test_stdio_with_the_mcp_client(helix_bin, default_model, kb_home, tmp_path):
    kb_dir = tmp_path / "kb"
    shutil.copytree(kb_home / "helix" / "kb", kb_dir)
    params = mcp.StdioServerParameters(command=helix_bin, args=["mcp", "-m", default_model, "-c", "1024",
                                                                "--embed-model", EMBED_DIR, "--no-adapter",
                                                                "--kb-dir", str(kb_dir)])

    async def go():
        async with mcp.Client(params) as c:
            assert c.protocol_version == "2025-11-25"
            out = await exercise(c)
            # Another process adds a document while the base is open: the next search sees it, in the
            # vector index too (the tool once kept its first copy of the base for good).
            late = tmp_path / "bread.txt"
            late.write_text("Sourdough bread rises with a starter of flour and water, fed every day for a week.\n")
            run_helix(helix_bin, "kb", "add", "docs", late, "--kb-dir", kb_dir, "-m", EMBED_DIR)
            r = await c.call_tool("kb_search", {"query": "How do I make a sourdough starter?", "mode": "vector", "k": 1})
            assert not r.is_error, r.content[0].text
            assert r.structured_content["passages"][0]["doc"].endswith("bread.txt"), r.structured_content
            return out
    text, _ = run(go())
    assert text


def test_http_with_the_mcp_client_matches_the_openai_routes(helix_bin, default_model, kb_home, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(kb_home))  # the server's kb_search looks in $XDG_DATA_HOME/helix/kb
    proc, port = start_server(helix_bin, default_model, "--embed-model", EMBED_DIR)
    try:
        async def go():
            async with mcp.Client(f"http://127.0.0.1:{port}/mcp") as c:
                return await exercise(c)
        text, vectors = run(go())
        oa = openai_client(port)
        chat = oa.chat.completions.create(model="m", messages=[{"role": "user", "content": "Name a colour."}],
                                          max_tokens=6, temperature=0)
        assert text == chat.choices[0].message.content  # the same pipeline, greedy
        ref = oa.embeddings.create(model="embed", input=["lighthouse", "harbour"]).data
        for v, r in zip(vectors, ref):
            assert max(abs(a - b) for a, b in zip(v, r.embedding)) < 1e-5
    finally:
        stop_server(proc)


def post(port, body, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **(headers or {})}
    c.request("POST", "/mcp", body=body if isinstance(body, (bytes, str)) else json.dumps(body), headers=h)
    r = c.getresponse()
    data = r.read()
    return r.status, dict(r.getheaders()), (json.loads(data) if data else None)


def request(method, params=None, id=1):
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params or {}}


def test_http_transport_rules(helix_bin, default_model):
    proc, port = start_server(helix_bin, default_model, "--cors", "https://app.example.com")
    try:
        status, _, body = post(port, request("tools/list"))
        assert status == 400 and "initialize" in body["error"]["message"]
        status, headers, body = post(port, request("initialize", {"protocolVersion": "2025-03-26", "capabilities": {},
                                                                  "clientInfo": {"name": "t", "version": "0"}}))
        assert status == 200 and body["result"]["protocolVersion"] == "2025-03-26"
        sid = headers["Mcp-Session-Id"]
        assert len(sid) == 32
        status, _, body = post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, {"Mcp-Session-Id": sid})
        assert status == 202 and body is None
        status, _, body = post(port, request("tools/list"), {"Mcp-Session-Id": "0" * 32})
        assert status == 404
        status, _, body = post(port, request("tools/list"), {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-03-26"})
        assert status == 200 and [t["name"] for t in body["result"]["tools"]][0] == "generate"
        status, _, body = post(port, request("tools/list"), {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "1999-01-01"})
        assert status == 400
        status, _, body = post(port, request("tools/list"), {"Mcp-Session-Id": sid, "Origin": "https://evil.example"})
        assert status == 403
        status, _, _ = post(port, request("tools/list"), {"Mcp-Session-Id": sid, "Origin": "https://app.example.com"})
        assert status == 200
        status, _, body = post(port, "{not json", {"Mcp-Session-Id": sid})
        assert status == 400 and body["error"]["code"] == -32700
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/mcp")
        r = c.getresponse()
        r.read()
        assert r.status == 405
        c.request("DELETE", "/mcp", headers={"Mcp-Session-Id": sid})
        r = c.getresponse()
        r.read()
        assert r.status == 200
        status, _, _ = post(port, request("tools/list"), {"Mcp-Session-Id": sid})
        assert status == 404  # ended
    finally:
        stop_server(proc)


def test_stdio_protocol_negotiation_and_errors(helix_bin, default_model, tmp_path):
    """Raw JSON-RPC lines: the version a client offers is echoed when Helix speaks it, else Helix's
    newest; server/discover (2026) is -32601 so clients fall back to initialize; bad input gets
    JSON-RPC errors and the server goes on."""
    lines = [
        request("initialize", {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}, 1),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        request("initialize", {"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}, 2),
        request("server/discover", {}, 3),
        "{oops",
        {"jsonrpc": "1.0", "id": 4, "method": "ping"},
        request("ping", None, 5),
        [request("ping", None, 6), request("tools/list", None, 7)],
        request("tools/call", {"name": "generate", "arguments": "not an object"}, 8),
    ]
    text = "".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines)
    r = subprocess.run([helix_bin, "mcp", "-m", default_model, "-c", "512", "--no-embed", "--no-adapter",
                        "--kb-dir", str(tmp_path)], input=text.encode(), capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    out = [json.loads(l) for l in r.stdout.decode().splitlines()]
    by_id = {}
    for o in out:
        for x in (o if isinstance(o, list) else [o]):
            by_id.setdefault(x.get("id"), []).append(x)
    assert by_id[1][0]["result"]["protocolVersion"] == "2024-11-05"
    assert by_id[1][0]["result"]["capabilities"]["tools"] == {"listChanged": False}
    assert by_id[2][0]["result"]["protocolVersion"] == "2025-11-25"
    assert by_id[3][0]["error"]["code"] == -32601
    assert by_id[None][0]["error"]["code"] == -32700
    assert by_id[4][0]["error"]["code"] == -32600
    assert by_id[5][0]["result"] == {}
    assert by_id[7][0]["result"]["tools"][0]["name"] == "generate"
    assert {t["name"] for t in by_id[7][0]["result"]["tools"]} == {"generate", "kb_search", "document_summary",
                                                                   "document_ask"}  # no embedding model: no embed
    assert by_id[8][0]["error"]["code"] == -32602
    assert len(out) == 8  # the notification got no reply


@pytest.mark.parametrize("parallel", [1, 2])
def test_stdio_parallel_answers_as_calls_finish(helix_bin, default_model, tmp_path, parallel):
    """--parallel 2: a ping sent after a long generate call is answered first (stdio handles
    messages concurrently); --parallel 1 keeps the order of the input."""
    init = request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}, 1)
    gen = request("tools/call", {"name": "generate", "arguments": {"prompt": "Count from one to fifty in words.",
                                                                   "max_tokens": 48, "temperature": 0}}, 2)
    p = subprocess.Popen([helix_bin, "mcp", "-m", default_model, "-c", "512", "--no-embed", "--no-adapter",
                          "--kb-dir", str(tmp_path), "--parallel", str(parallel)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write((json.dumps(init) + "\n").encode())
        p.stdin.flush()
        assert json.loads(p.stdout.readline())["id"] == 1
        p.stdin.write((json.dumps(gen) + "\n" + json.dumps(request("ping", None, 3)) + "\n").encode())
        p.stdin.close()
        ids = [json.loads(p.stdout.readline())["id"] for _ in range(2)]
        assert ids == ([3, 2] if parallel == 2 else [2, 3]), ids
        assert p.wait(timeout=120) == 0
    finally:
        if p.poll() is None:
            p.kill()
