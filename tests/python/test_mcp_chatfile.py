"""ChatFile as a tool: the `chatfile` built-in plugin and the same tools (document_summary,
document_ask) on Helix's MCP server, driven by the reference `mcp` client from PyPI over stdio
(`helix mcp`, documents in its working folder) and streamable HTTP (`helix serve`'s /mcp, files
uploaded with the openai client). The summary equals `helix chatfile --summary --json` on the same
file (greedy, separate caches); paths outside the documents folder are refused."""
import asyncio
import json
import os
import subprocess

import pytest

from conftest import openai_client, start_server, stop_server

mcp = pytest.importorskip("mcp")

EMBED_DIR = os.path.join(os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")), "helix/models/embed")
DOC = ("# Harbour meeting\n\nThe harbour board met on Monday. The lighthouse of Alexandria guided ships into the "
       "harbour for centuries. The board decided to repaint the pier by June. Maria will order the paint.\n")


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    d = tmp_path_factory.mktemp("chatfile-docs")
    (d / "notes.md").write_text(DOC)
    (d.parent / "secret.txt").write_text("not for the model")
    return d


def test_stdio_tools_match_helix_chatfile(helix_bin, default_model, docs, tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache-mcp"))
    params = mcp.StdioServerParameters(command=helix_bin, cwd=str(docs), env=env,
                                       args=["mcp", "-m", default_model, "-c", "1024", "--embed-model", EMBED_DIR,
                                             "--no-adapter", "--kb-dir", str(tmp_path / "kb")])

    async def go():
        async with mcp.Client(params) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert tools["document_summary"].input_schema["required"] == ["document"]
            assert tools["document_ask"].input_schema["required"] == ["document", "question"]
            s = await c.call_tool("document_summary", {"document": "notes.md"})
            assert not s.is_error, s.content[0].text
            a = await c.call_tool("document_ask", {"document": "notes.md", "question": "Who orders the paint?"})
            assert not a.is_error, a.content[0].text
            bad = await c.call_tool("document_summary", {"document": "../secret.txt"})
            assert bad.is_error and "outside the documents folder" in bad.content[0].text
            missing = await c.call_tool("document_summary", {"document": "nope.txt"})
            assert missing.is_error and "no such document" in missing.content[0].text
            task = await c.call_tool("document_summary", {"document": "notes.md", "task": "poem"})
            assert task.is_error and "unknown task" in task.content[0].text
            return s.structured_content, a.structured_content
    summary, answer = asyncio.run(go())
    assert summary["summary"]
    assert answer["passages"] and "Maria" in json.dumps(answer)
    ref = subprocess.run([helix_bin, "chatfile", "notes.md", "--summary", "--json", "-m", default_model, "-c", "1024",
                          "--chunk-tokens", "256", "--no-adapter"], cwd=docs, capture_output=True, timeout=900,
                         env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache-cli")))
    assert ref.returncode == 0, ref.stderr.decode()
    assert json.loads(ref.stdout)["summary"]["summary"] == summary["summary"]


def test_http_mcp_and_the_plugin_on_uploaded_files(helix_bin, default_model, docs, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # uploads go under $XDG_DATA_HOME/helix/files
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    proc, port = start_server(helix_bin, default_model)
    try:
        oa = openai_client(port)
        with open(docs / "notes.md", "rb") as f:
            fid = oa.files.create(file=("notes.md", f), purpose="assistants").id

        async def go():
            async with mcp.Client(f"http://127.0.0.1:{port}/mcp") as c:
                s = await c.call_tool("document_summary", {"document": fid})
                kp = await c.call_tool("document_summary", {"document": fid, "task": "key_points"})
                assert not kp.is_error and isinstance(kp.structured_content["key_points"], list)
                local = await c.call_tool("document_summary", {"document": str(docs / "notes.md")})
                return s, local
        s, local = asyncio.run(go())
        assert not s.is_error, s.content[0].text
        assert s.structured_content["summary"]
        assert local.is_error and "local paths are not allowed" in local.content[0].text  # the server reads uploads only
        # The built-in plugin: Helix runs the call itself ("plugins": ["chatfile"]).
        r = oa.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"Summarize the document {fid}."}], max_tokens=8,
            temperature=0, tool_choice={"type": "function", "function": {"name": "document_summary"}},
            extra_body={"plugins": ["chatfile"], "max_plugin_steps": 2})
        calls = r.model_extra["plugin_calls"]
        assert calls and calls[0]["plugin"] == "chatfile" and calls[0]["tool"] == "document_summary"
        # Whatever document the small model named, the tool ran or said clearly why not.
        assert calls[0]["ok"] or "uploaded file" in calls[0]["result"] or "not allowed" in calls[0]["result"]
    finally:
        stop_server(proc)
