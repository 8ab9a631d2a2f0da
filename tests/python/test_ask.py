"""`helix ask` end to end: a knowledge base built from small real documents (a PDF, a DOCX,
Markdown, Chinese text), questions in English and Chinese, the knowledge points, passages and
citations in --json, and the errors a user meets. Real default model and embedding model.

The small default model's wording is not judged; what is checked is that retrieval by knowledge
points finds the passage each question needs (document, page, section), and that every citation
in the output resolves to one of the numbered passages with its text.
"""
import json
import os
import re
import subprocess

import pytest

from conftest import ROOT

DATA = ROOT / "tests" / "docs" / "data"
MARK = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def helix(helix_bin, *args, check=True):
    p = subprocess.run([helix_bin, *args], capture_output=True, text=True, timeout=600)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def kb(helix_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("askkb")
    helix(helix_bin, "kb", "create", "docs", "--kb-dir", str(d))
    helix(helix_bin, "kb", "add", "docs", *(str(DATA / f) for f in
          ("bicycle.pdf", "astronomy.docx", "tomatoes.md", "tea_zh.txt", "coffee.txt")), "--kb-dir", str(d))
    return d


def ask(helix_bin, kb, question, *extra):
    p = helix(helix_bin, "ask", "--kb", "docs", "--kb-dir", str(kb), question, "--json", "-n", "48", "--budget", "300",
              "--no-adapter", *extra)
    return json.loads(p.stdout)


def check_citations(out):
    by_n = {p["n"]: p for p in out["passages"]}
    assert [p["n"] for p in out["passages"]] == list(range(1, len(by_n) + 1))
    for c in out["citations"]:
        p = by_n[c["n"]]
        assert (c["doc"], c["page"], c["section"], c["text"]) == (p["doc"], p["page"], p["section"], p["text"])
    cited = {c["n"] for c in out["citations"]}
    for m in MARK.findall(out["answer"]):  # what is left in the answer resolves
        assert all(int(n) in cited for n in m.split(","))
    assert not set(out["unresolved_citations"]) & set(by_n)
    for m in MARK.findall(out["raw_answer"]):  # what the model wrote: resolved or flagged
        assert all(int(n) in cited or int(n) in out["unresolved_citations"] for n in m.split(","))


def test_english_pdf(helix_bin, kb):
    out = ask(helix_bin, kb, "How often should I lubricate the bicycle chain?")
    top = out["passages"][0]
    assert top["doc"].endswith("bicycle.pdf") and top["page"] == 2 and top["section"] == "Chain"
    assert "three hundred" in top["text"]
    assert out["analysis"]["analyser"] == "rules" and out["adapter"] is None
    check_citations(out)


def test_english_docx_two_needs(helix_bin, kb):
    out = ask(helix_bin, kb, "How long should a telescope cool outside and how often should tomatoes be watered?",
              "-k", "2")
    kinds = [p["kind"] for p in out["analysis"]["points"]]
    assert kinds.count("sub_question") == 2
    # One passage per need, from the DOCX and the Markdown file.
    found = {(p["doc"].rsplit("/", 1)[1], p["section"]) for p in out["passages"]}
    assert found == {("astronomy.docx", "Telescopes"), ("tomatoes.md", "Growing Tomatoes > Watering")}, found
    check_citations(out)


def test_chinese(helix_bin, kb):
    out = ask(helix_bin, kb, "普洱茶产自哪里？", "-k", "2", "--rerank")
    assert out["passages"][0]["doc"].endswith("tea_zh.txt") and "云南" in out["passages"][0]["text"]
    check_citations(out)


def test_model_analyser_and_text_output(helix_bin, kb):
    out = ask(helix_bin, kb, "What pressure do road tyres need?", "--analyser", "model")
    assert out["analysis"]["analyser"] in ("model", "rules (model reply unusable)")
    assert out["analysis"]["points"]
    assert out["passages"][0]["doc"].endswith("bicycle.pdf")
    p = helix(helix_bin, "ask", "--kb", "docs", "--kb-dir", str(kb), "What pressure do road tyres need?",
              "--show-points", "-n", "24", "--budget", "200")
    assert p.stdout.startswith("Knowledge points (rules):")
    assert "sub_question" not in p.stdout.split("\n\n")[0]  # one clause: no sub-questions


def test_errors(helix_bin, kb):
    p = helix(helix_bin, "ask", "how?", check=False)
    assert p.returncode == 1 and "--kb NAME" in p.stderr
    p = helix(helix_bin, "ask", "--kb", "missing", "--kb-dir", str(kb), "how?", check=False)
    assert p.returncode == 1 and "helix kb create missing" in p.stderr
    p = helix(helix_bin, "ask", "--kb", "docs", "--kb-dir", str(kb), "how?", "--analyser", "magic", check=False)
    assert p.returncode == 1 and "rules or model" in p.stderr


def test_kb_query_points_json(helix_bin, kb):
    """The entry the retrieval evaluation uses for the knowledge-point path."""
    p = helix(helix_bin, "kb", "query", "docs", "How often should tomatoes be watered and what pressure do road tyres need?",
              "--points", "--json", "-k", "3", "--kb-dir", str(kb))
    hits = json.loads(p.stdout)
    assert [h["n"] for h in hits] == [1, 2, 3]
    assert all({"doc", "text", "score", "page", "section", "points"} <= set(h) for h in hits)
    docs = {h["doc"].rsplit("/", 1)[1] for h in hits}
    assert {"tomatoes.md", "bicycle.pdf"} <= docs


def test_lora_replaces_the_installed_adapter(helix_bin, kb, default_model, tmp_path):
    """`--lora FILE` is applied instead of the installed assistant adapter, never on top of it: here the
    installed one is not a GGUF at all, so loading it as well would fail."""
    data = tmp_path / "data"
    (data / "helix" / "adapters").mkdir(parents=True)
    (data / "helix" / "adapters" / "assistant.gguf").write_bytes(b"not an adapter")
    (data / "helix" / "models").symlink_to(os.path.dirname(os.path.abspath(default_model)))  # model and encoder
    mine = tmp_path / "mine.gguf"
    helix(helix_bin, "lora", "random", default_model, str(mine), "--rank", "2", "--std", "0", "--targets", "attn_q")
    env = dict(os.environ, XDG_DATA_HOME=str(data))
    args = [helix_bin, "ask", "--kb", "docs", "--kb-dir", str(kb), "What pressure do road tyres need?", "--json",
            "-n", "8", "--budget", "200"]
    p = subprocess.run(args + ["--lora", str(mine)], capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["adapter"] == str(mine)
    p = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)  # the installed one is used ...
    assert p.returncode == 1 and "assistant.gguf" in p.stderr  # ... and its damage reported by name
