"""Knowledge bases through `helix serve --kb-dir`: the /v1/kb routes over real HTTP (multipart
uploads of a PDF and a DOCX, JSON text, list, docs, query, delete) and cited answers from
/v1/chat/completions' "knowledge" extension field through the real openai client (extra_body),
streamed and not, in English and Chinese, with the default model and the real embedding model.

The small default model's answers are not judged; what is checked is what Helix guarantees:
the right passages are retrieved and put into the prompt, and every citation returned resolves
to a passage's document, page or section and text, and every [n] left in the answer is one.
"""
import json
import re
import shutil
import subprocess

import httpx
import openai
import pytest

from conftest import ROOT, openai_client, start_server, stop_server

DATA = ROOT / "tests" / "docs" / "data"
MARK = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@pytest.fixture(scope="module")
def kb_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("kb")


@pytest.fixture(scope="module")
def server(helix_bin, default_model, kb_dir):
    proc, port = start_server(helix_bin, default_model, "--kb-dir", str(kb_dir))
    yield port
    stop_server(proc)
    assert proc.returncode == 0
    shutil.rmtree(kb_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=f"http://127.0.0.1:{server}", timeout=300) as c:
        yield c


@pytest.fixture(scope="module")
def kb(http):
    r = http.post("/v1/kb", json={"name": "garden"})
    assert r.status_code == 201, r.text
    files = [("file", ("bicycle.pdf", (DATA / "bicycle.pdf").read_bytes(), "application/pdf")),
             ("file", ("astronomy.docx", (DATA / "astronomy.docx").read_bytes(), "application/octet-stream")),
             ("file", ("tomatoes.md", (DATA / "tomatoes.md").read_bytes(), "text/markdown")),
             ("file", ("broken.pdf", (DATA / "broken.pdf").read_bytes(), "application/pdf"))]
    r = http.post("/v1/kb/garden/docs", files=files)
    assert r.status_code == 200, r.text
    status = {d["name"]: d["status"] for d in r.json()["data"]}
    assert status == {"bicycle.pdf": "added", "astronomy.docx": "added", "tomatoes.md": "added", "broken.pdf": "failed"}
    r = http.post("/v1/kb/garden/docs", json={"name": "tea_zh.txt", "text": (DATA / "tea_zh.txt").read_text()})
    assert r.json()["data"][0]["status"] == "added", r.text
    return "garden"


def _check_citations(answer, citations, unresolved, passages):
    by_n = {p["n"]: p for p in passages}
    for c in citations:
        p = by_n[c["n"]]  # every citation is one of the passages given to the model
        assert c["doc"] == p["doc"] and c["text"] == p["text"] and c["page"] == p["page"]
        assert c["section"] == p["section"] and c["char_end"] > c["char_start"]
    cited = {c["n"] for c in citations}
    for m in MARK.findall(answer):
        for n in m.split(","):
            assert int(n) in cited or int(n) in unresolved, (answer, citations)
    assert not (set(unresolved) & set(by_n))


def test_routes_list_docs_query_delete(http, kb):
    bases = http.get("/v1/kb").json()["data"]
    assert [b["name"] for b in bases] == ["garden"] and bases[0]["docs"] == 4
    docs = {d["name"]: d for d in http.get(f"/v1/kb/{kb}/docs").json()["data"]}
    assert set(docs) == {"bicycle.pdf", "astronomy.docx", "tomatoes.md", "tea_zh.txt"}
    assert docs["bicycle.pdf"]["format"] == "pdf" and docs["bicycle.pdf"]["pages"] >= 1
    # Uploading the same bytes again changes nothing.
    r = http.post(f"/v1/kb/{kb}/docs", files=[("file", ("bicycle.pdf", (DATA / "bicycle.pdf").read_bytes()))])
    assert r.json()["data"][0]["status"] == "unchanged"
    hits = http.post(f"/v1/kb/{kb}/query", json={"query": "road tyre pressure", "k": 3}).json()["data"]
    assert hits[0]["doc"].endswith("bicycle.pdf") and hits[0]["page"] == 1 and "bar" in hits[0]["text"]
    pts = http.post(f"/v1/kb/{kb}/query", json={"query": "普洱茶产自哪里？", "k": 2, "points": True}).json()
    assert pts["analysis"]["analyser"] == "rules" and pts["analysis"]["points"]
    assert pts["data"][0]["doc"].endswith("tea_zh.txt") and "云南" in pts["data"][0]["text"]
    # Add and delete a document by file name.
    assert http.post(f"/v1/kb/{kb}/docs", json={"documents": [{"name": "x.md", "text": "# X\n\nxylophone zebra"}]}).status_code == 200
    assert http.delete(f"/v1/kb/{kb}/docs/x.md").json()["deleted"] is True
    assert "x.md" not in {d["name"] for d in http.get(f"/v1/kb/{kb}/docs").json()["data"]}


def test_route_errors(http, kb):
    r = http.get("/v1/kb/nope/docs")
    assert r.status_code == 404 and "POST /v1/kb" in r.json()["error"]["message"]
    assert http.post("/v1/kb", json={"name": kb}).status_code == 409
    assert http.post("/v1/kb", json={"name": "../etc"}).status_code == 400
    assert http.post(f"/v1/kb/{kb}/docs", json={"text": "no name"}).status_code == 400
    assert http.delete(f"/v1/kb/{kb}/docs/missing.pdf").status_code == 404
    assert http.post(f"/v1/kb/{kb}/query", json={"query": "x", "k": 0}).status_code == 400
    r = http.post(f"/v1/kb/{kb}/query", json={"query": "x", "points": "yes"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "points"
    assert http.post(f"/v1/kb/{kb}/query", json={"query": "x", "mode": "fuzzy"}).status_code == 400


def test_chat_with_knowledge_openai_client(server, kb):
    client = openai_client(server)
    r = client.chat.completions.create(
        model="any", messages=[{"role": "user", "content": "How often should the chain be cleaned?"}],
        max_tokens=40, temperature=0, extra_body={"knowledge": {"kb": kb, "k": 3}})
    extra = r.model_extra
    passages = extra["knowledge"]["passages"]
    assert passages and any(p["doc"].endswith("bicycle.pdf") and "three hundred" in p["text"] for p in passages)
    assert [p["n"] for p in passages] == list(range(1, len(passages) + 1))
    assert r.usage.prompt_tokens > 60  # the passages are in the prompt
    _check_citations(r.choices[0].message.content, extra["citations"], extra["unresolved_citations"], passages)
    # Without the field: a plain answer with none of the extension fields.
    plain = client.chat.completions.create(model="any", messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
    assert "citations" not in (plain.model_extra or {})


def test_chat_with_knowledge_streamed_chinese(server, kb):
    client = openai_client(server)
    chunks = list(client.chat.completions.create(
        model="any", messages=[{"role": "user", "content": "普洱茶产自哪里？"}], max_tokens=40, temperature=0,
        stream=True, extra_body={"knowledge": {"kb": kb, "k": 2, "rerank": True}}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last = [c for c in chunks if c.choices and c.choices[0].finish_reason][-1]
    extra = last.model_extra
    assert all("citations" not in (c.model_extra or {}) for c in chunks if c is not last)
    passages = extra["knowledge"]["passages"]
    assert passages[0]["doc"].endswith("tea_zh.txt") and "云南" in passages[0]["text"]
    _check_citations(text, extra["citations"], extra["unresolved_citations"], passages)


def test_chat_knowledge_errors(server, kb):
    client = openai_client(server)
    msgs = [{"role": "user", "content": "hello"}]
    with pytest.raises(openai.NotFoundError, match=r"no knowledge base \\?'nope"):  # the client may escape the quotes
        client.chat.completions.create(model="any", messages=msgs, max_tokens=2, extra_body={"knowledge": {"kb": "nope"}})
    with pytest.raises(openai.BadRequestError, match="knowledge.k"):
        client.chat.completions.create(model="any", messages=msgs, max_tokens=2, extra_body={"knowledge": {"kb": kb, "k": 0}})
    with pytest.raises(openai.BadRequestError, match="knowledge.top"):
        client.chat.completions.create(model="any", messages=msgs, max_tokens=2, extra_body={"knowledge": {"kb": kb, "top": 1}})


def test_chat_with_model_analyser(server, kb):
    client = openai_client(server)
    r = client.chat.completions.create(
        model="any", messages=[{"role": "user", "content": "What pressure do road tyres need?"}], max_tokens=16,
        temperature=0, extra_body={"knowledge": {"kb": kb, "k": 2, "analyser": "model"}})
    k = r.model_extra["knowledge"]
    # The engine wrote the analysis under the schema's grammar (or its reply was unusable and the
    # rules took over, which the label says).
    assert k["analysis"]["analyser"] in ("model", "rules (model reply unusable)") and k["analysis"]["points"]
    assert k["passages"][0]["doc"].endswith("bicycle.pdf")


def test_without_kb_dir(helix_bin, default_model):
    proc, port = start_server(helix_bin, default_model)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            r = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2,
                                                     "knowledge": {"kb": "x"}})
            assert r.status_code == 400 and "--kb-dir" in r.json()["error"]["message"]
            assert c.get("/v1/kb").status_code == 404
    finally:
        stop_server(proc)


def test_changes_by_the_cli_while_serving(http, kb, kb_dir, helix_bin, tmp_path):
    """`helix kb add` / `rm` in another process while the server has the base open: the server
    sees the new document (its vector index included) and no longer returns the removed one."""
    note = tmp_path / "kettle.md"
    note.write_text("# Kettle\n\nDescale the kettle with citric acid once a month.\n")
    subprocess.run([helix_bin, "kb", "add", kb, str(note), "--kb-dir", str(kb_dir)], check=True, capture_output=True)
    for mode in ("vector", "hybrid"):
        hits = http.post(f"/v1/kb/{kb}/query", json={"query": "descale kettle citric acid", "k": 1, "mode": mode})
        assert hits.status_code == 200, hits.text
        assert hits.json()["data"][0]["doc"].endswith("kettle.md"), mode
    subprocess.run([helix_bin, "kb", "rm", kb, "kettle.md", "--kb-dir", str(kb_dir)], check=True, capture_output=True)
    for mode in ("vector", "hybrid"):
        hits = http.post(f"/v1/kb/{kb}/query", json={"query": "descale kettle citric acid", "k": 3, "mode": mode})
        assert hits.status_code == 200, hits.text
        assert not any(h["doc"].endswith("kettle.md") for h in hits.json()["data"])
